"""Soak test of the daemon: many monitors on short schedules, for minutes.

Writes ``--monitors`` small CSV files (one dataset each, ``--rows`` rows),
configures one monitor per dataset on a 1-minute schedule, runs
``drift-monitor run --http 127.0.0.1:0 --log-format json`` for ``--minutes``,
then stops it with SIGTERM and prints:

- runs due (the catch-up at start plus every whole minute after each monitor's
  first run, until the stop), runs done and runs skipped, read from ``/metrics``
  just before the stop (``drift_monitor_runs_total``,
  ``drift_monitor_skipped_runs_total``) and checked against the skip warnings
  in the log;
- p50 and p99 start lateness: seconds between a run's scheduled time and its
  start, from the ``lateness_seconds`` field of the daemon's JSON log lines;
- peak resident memory of the daemon's process tree (the daemon and any worker
  processes), sampled from ``/proc`` every 0.5 s;
- the stop: exit code and seconds from SIGTERM to exit;
- the first ten ERROR lines of the log (the reasons of failed runs).

Example::

    python bench/service_soak.py --minutes 5
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from prometheus_client.parser import text_string_to_metric_families

PORT = re.compile(r"on http://127\.0\.0\.1:(\d+)")


def write_data(folder: Path, monitors: int, rows: int) -> Path:
    """One small CSV per monitor and the YAML configuration; returns its path."""
    rng = np.random.default_rng(1)
    datasets, config_monitors = {}, {}
    for i in range(monitors):
        name = f"ds{i:03d}"
        frame = pd.DataFrame({"amount": rng.normal(100, 10, rows), "count": rng.integers(0, 50, rows),
                              "colour": rng.choice(["red", "green", "blue"], rows)})
        frame.to_csv(folder / f"{name}.csv", index=False)
        datasets[name] = {"path": f"{name}.csv"}
        config_monitors[f"m{i:03d}"] = {"dataset": name, "schedule": {"every": "1m"}}
    config = {"store": "store/monitor.db", "reports_dir": "reports", "datasets": datasets,
              "monitors": config_monitors}
    path = folder / "monitors.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def tree_rss(pid: int) -> int:
    """Resident bytes of ``pid`` and its descendants (0 for processes gone meanwhile)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        todo += children.get(current, [])
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


def scrape(port: int) -> dict[str, float]:
    """Sums of the soak's counters over their labels."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30).read().decode()
    sums: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in ("drift_monitor_runs_total", "drift_monitor_skipped_runs_total"):
                key = sample.name + ("" if "outcome" not in sample.labels else f":{sample.labels['outcome']}")
                sums[key] = sums.get(key, 0.0) + sample.value
    return sums


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values``, nearest rank; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def soak(folder: Path, minutes: float) -> dict[str, Any]:
    """Run the daemon over ``folder``'s configuration for ``minutes``; the figures."""
    log_path = folder / "daemon.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "monitor", "run", "-c", str(folder / "monitors.yaml"),
                                 "--http", "127.0.0.1:0", "--log-format", "json"], stdout=log, stderr=log)
    port, peak, started = None, 0, time.monotonic()
    while time.monotonic() - started < minutes * 60 and proc.poll() is None:
        peak = max(peak, tree_rss(proc.pid))
        if port is None and (found := PORT.search(log_path.read_text())):
            port = int(found.group(1))
        time.sleep(0.5)
    if port is None or proc.poll() is not None:
        raise SystemExit(f"the daemon did not come up; see {log_path}")
    counts = scrape(port)
    stop_at = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(120)
    stop_seconds = time.monotonic() - stop_at
    return summarise(log_path, counts, peak, code, stop_seconds)


def summarise(log_path: Path, counts: dict[str, float], peak: int, code: int, stop_seconds: float) -> dict[str, Any]:
    """The printed figures, from the log and the last scrape."""
    entries = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
    runs = [e for e in entries if e.get("outcome") and e.get("lateness_seconds") is not None]
    lateness = [float(e["lateness_seconds"]) for e in runs]
    skips = [e for e in entries if "skipped:" in e["message"]]
    first = {}
    for e in runs:
        first.setdefault(e["monitor"], _time(e) - float(e["lateness_seconds"]) - float(e["duration_seconds"]))
    end = max((_time(e) for e in entries), default=0.0)
    due = sum(1 + int((end - t0) // 60) for t0 in first.values())
    done = sum(v for k, v in counts.items() if k.startswith("drift_monitor_runs_total"))
    return {
        "runs_due": due, "runs_done": int(done), "runs_failed": int(counts.get("drift_monitor_runs_total:failed", 0)),
        "runs_skipped": int(counts.get("drift_monitor_skipped_runs_total", 0)), "skips_logged": len(skips),
        "lateness_p50_s": round(percentile(lateness, 0.5), 3), "lateness_p99_s": round(percentile(lateness, 0.99), 3),
        "lateness_max_s": round(max(lateness, default=math.nan), 3),
        "peak_rss_mib": round(peak / 2**20, 1), "exit_code": code, "stop_seconds": round(stop_seconds, 2),
        "errors_logged": [e["message"] for e in entries if e["level"] == "ERROR"][:10],
    }


def _time(entry: dict[str, Any]) -> float:
    return pd.Timestamp(entry["time"]).timestamp()


def main() -> None:
    """Parse the options, run the soak and print the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=5.0, help="how long the daemon runs (default 5)")
    parser.add_argument("--monitors", type=int, default=200, help="monitors, one small dataset each (default 200)")
    parser.add_argument("--rows", type=int, default=1000, help="rows per dataset file (default 1000)")
    parser.add_argument("--keep", action="store_true", help="keep the working folder and print its path")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="soak-"))
    write_data(folder, args.monitors, args.rows)
    figures = {"monitors": args.monitors, "minutes": args.minutes, "cpus": len(os.sched_getaffinity(0)),
               **soak(folder, args.minutes)}
    if args.keep:
        figures["folder"] = str(folder)
    else:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
