"""`drift-monitor serve`: a real server on 127.0.0.1 over the flights example
(tests/conftest.py), read with plain HTTP requests."""

from __future__ import annotations

import http.client
import json
import os
import re
import select
import shutil
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from conftest import serving
from monitor.store import Store

HTML = "text/html; charset=utf-8"
MONITORS = ["january", "weekly_vs_january", "weekly_vs_trailing"]


def request(base: str, path: str, method: str = "GET", body: bytes | None = None) -> tuple[int, dict[str, str], bytes]:
    """Send ``method path`` exactly as given (no client-side normalising);
    :returns: status, headers (lower-case names) and body."""
    url = urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    try:
        conn.putrequest(method, path, skip_host=False, skip_accept_encoding=True)
        conn.putheader("Content-Length", str(len(body or b"")))
        conn.endheaders(body)
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def get_json(base: str, path: str) -> tuple[int, Any]:
    status, headers, body = request(base, path)
    assert headers["content-type"] == "application/json", (path, headers)
    return status, json.loads(body)


def store_of(flights_run: Path) -> Store:
    return Store(flights_run / "example-store" / "monitor.db")


def reports_of(flights_run: Path) -> Path:
    return flights_run / "reports"


def config_copy(flights_run: Path, folder: Path, reports: Path) -> Path:
    """The flights configuration with absolute paths and another reports folder."""
    config = yaml.safe_load((flights_run / "config" / "flights.yaml").read_text())
    config["store"] = str(flights_run / "example-store" / "monitor.db")
    config["reports_dir"] = str(reports)
    config["datasets"]["flights"]["path"] = str(flights_run / "example-data" / "flights")
    path = folder / "flights.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def without_generated(html: str, links: bool = True) -> list[str]:
    """The page's lines but those stating when it was generated; without the
    links' targets unless ``links``."""
    lines = [line for line in html.splitlines() if "generated" not in line.lower()]
    return lines if links else [re.sub(r'href="[^"]*"', "href", line) for line in lines]


# --------------------------------------------------------------------- pages


def test_index_report_and_history_are_the_files_on_disk(flights_run: Path, flights_url: str) -> None:
    reports = reports_of(flights_run)
    report = next(reports.glob("flights/weekly_vs_january_20130708__vs__*.html"))
    for path, file in [("/", "index.html"), ("/index.html", "index.html"),
                       ("/" + report.relative_to(reports).as_posix(), report.relative_to(reports)),
                       ("/weekly_vs_january/history.html", "weekly_vs_january/history.html")]:
        status, headers, body = request(flights_url, path)
        assert (status, headers["content-type"]) == (200, HTML), path
        assert body == (reports / file).read_bytes(), path
        assert int(headers["content-length"]) == len(body)
        assert headers["x-content-type-options"] == "nosniff"


def test_head_is_get_without_the_body(flights_run: Path, flights_url: str) -> None:
    status, headers, body = request(flights_url, "/weekly_vs_trailing/history.html", "HEAD")
    assert (status, headers["content-type"], body) == (200, HTML, b"")
    assert int(headers["content-length"]) == (reports_of(flights_run) / "weekly_vs_trailing/history.html").stat().st_size


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "BREW"])
@pytest.mark.parametrize("path", ["/", "/weekly_vs_january/history.html", "/api/monitors"])
def test_other_methods_are_405_with_allow(flights_url: str, method: str, path: str) -> None:
    status, headers, body = request(flights_url, path, method, b'{"x": 1}')
    assert status == 405 and headers["allow"] == "GET, HEAD"
    if path.startswith("/api"):
        assert headers["content-type"] == "application/json"
        assert json.loads(body) == {"error": f"method {method} not allowed: use GET or HEAD", "status": 405}


OUTSIDE = [
    "/../config/flights.yaml",
    "/%2e%2e/config/flights.yaml",
    "/%2E%2E/%2E%2E/etc/passwd",
    "/flights/..%2f..%2fconfig/flights.yaml",
    "/flights/%2e%2e%2f%2e%2e%2fconfig%2fflights.yaml",
    "/..%5c..%5cconfig%5cflights.yaml",
    "//etc/passwd",
    "/%2Fetc%2Fpasswd",
    "/etc/passwd",
    "/flights/./../../config/flights.yaml",
    "/index.html%00.yaml",
    "/%c0%ae%c0%ae/config/flights.yaml",
    "../config/flights.yaml",
]


@pytest.mark.parametrize("path", OUTSIDE)
def test_paths_out_of_the_reports_folder_are_404(flights_run: Path, flights_url: str, path: str) -> None:
    assert (flights_run / "config" / "flights.yaml").is_file()  # what the paths aim at exists
    status, headers, body = request(flights_url, path)
    assert status == 404, (path, body[:200])
    assert b"reports_dir" not in body and b"root:" not in body


def test_symlinks_out_of_the_reports_folder_are_404(flights_run: Path, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    shutil.copytree(reports_of(flights_run), reports)
    (reports / "secret.html").symlink_to(flights_run / "config" / "flights.yaml")
    (reports / "config").symlink_to(flights_run / "config", target_is_directory=True)
    (reports / "inside.html").symlink_to(reports / "index.html")
    with serving(config_copy(flights_run, tmp_path, reports)) as url:
        for path in ("/secret.html", "/config/flights.yaml"):
            status, _, body = request(url, path)
            assert status == 404 and b"reports_dir" not in body, path
        status, _, body = request(url, "/inside.html")  # a link that stays inside is served
        assert status == 200 and body == (reports / "index.html").read_bytes()


def test_hidden_files_and_unknown_pages_are_404(flights_run: Path, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    shutil.copytree(reports_of(flights_run), reports)
    (reports / ".index.html.x.tmp").write_text("half a page")
    with serving(config_copy(flights_run, tmp_path, reports)) as url:
        for path in ("/.index.html.x.tmp", "/nothing.html", "/nobody/history.html", "/january/history.html",
                     "/flights/a__vs__b.html", "/other/weekly_vs_january_20130708__vs__january_20130101.html"):
            status, headers, _ = request(url, path)
            assert (status, headers["content-type"]) == (404, "text/plain; charset=utf-8"), path


# ------------------------------------------------------- rendered from the store


def test_a_missing_history_page_is_rendered_from_the_store(flights_run: Path, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    shutil.copytree(reports_of(flights_run), reports)
    (reports / "weekly_vs_trailing" / "history.html").unlink()
    with serving(config_copy(flights_run, tmp_path, reports)) as url:
        status, headers, body = request(url, "/weekly_vs_trailing/history.html")
    assert (status, headers["content-type"]) == (200, HTML)
    on_disk = (reports_of(flights_run) / "weekly_vs_trailing" / "history.html").read_text()
    # the same page, but that its links to the reports lead to where the store
    # says they were written (the folder copied from)
    assert without_generated(body.decode(), links=False) == without_generated(on_disk, links=False)
    assert not (reports / "weekly_vs_trailing" / "history.html").exists()  # served, not written


def test_every_page_is_rendered_over_an_empty_reports_folder(flights_run: Path, tmp_path: Path) -> None:
    reports = tmp_path / "empty"
    reports.mkdir()
    with serving(config_copy(flights_run, tmp_path, reports)) as url, store_of(flights_run) as store:
        comparisons = store.list_comparisons()
        for record in comparisons:
            path = Path(record.report_path or "").relative_to(reports_of(flights_run)).as_posix()
            status, headers, body = request(url, "/" + path)
            assert (status, headers["content-type"]) == (200, HTML), path
            on_disk = (reports_of(flights_run) / path).read_text()
            assert without_generated(body.decode()) == without_generated(on_disk), path
        for monitor in ("weekly_vs_january", "weekly_vs_trailing"):
            status, _, body = request(url, f"/{monitor}/history.html")
            assert status == 200 and f"{monitor}</span>" in body.decode()
            for column in {c["column"] for r in comparisons if r.monitor == monitor for c in r.result["columns"]}:
                assert f">{column}<" in body.decode(), (monitor, column)
        profiles = sorted(reports_of(flights_run).rglob("profile.html"))
        assert profiles
        # profile pages are rendered from the store too: January's (a monitor that compares nothing),
        # and late weeks' (written after their monitor's first comparison, so linking its history)
        for page in [p for p in profiles if p.parent.name.startswith("january_")] + profiles[-3:]:
            path = page.relative_to(reports_of(flights_run)).as_posix()
            status, headers, body = request(url, "/" + path)
            assert (status, headers["content-type"]) == (200, HTML), path
            assert without_generated(body.decode()) == without_generated(page.read_text()), path
        assert request(url, "/flights/no_such_snapshot/profile.html")[0] == 404
        status, headers, body = request(url, "/")
        assert (status, headers["content-type"]) == (200, HTML)
        assert b"__vs__" not in body  # the index lists the reports on disk: none
    assert list(reports.iterdir()) == []


# ----------------------------------------------------------------------- api


def test_api_monitors_gives_each_monitor_with_its_latest_verdict(flights_run: Path, flights_url: str) -> None:
    status, body = get_json(flights_url, "/api/monitors")
    assert status == 200
    assert [m["name"] for m in body["monitors"]] == MONITORS
    with store_of(flights_run) as store:
        for entry in body["monitors"]:
            newest = store.list_comparisons(monitor=entry["name"], limit=1)
            assert entry["dataset"] == "flights" and entry["configured"] is True
            assert entry["enabled"] is (entry["name"] != "january")
            if not newest:
                assert entry["latest"] is None and entry["history"] is None
                continue
            latest, record = entry["latest"], newest[0]
            assert (latest["id"], latest["target"], latest["baseline"]) == (record.id, record.target_name,
                                                                             record.baseline_name)
            assert (latest["drifted"], latest["severity"]) == (record.drifted, record.severity)
            assert latest["drifted_columns"] == record.result["verdict"]["drifted_columns"]
            assert entry["history"] == f"/{entry['name']}/history.html"
            assert request(flights_url, entry["history"])[0] == 200


def test_api_comparisons_lists_newest_first_with_filters(flights_run: Path, flights_url: str) -> None:
    with store_of(flights_run) as store:
        every = store.list_comparisons()
    status, body = get_json(flights_url, "/api/comparisons")
    assert status == 200 and body["limit"] == 50
    assert [c["id"] for c in body["comparisons"]] == [r.id for r in every] and len(every) == 7
    for summary, record in zip(body["comparisons"], every):
        assert summary["url"] == f"/api/comparisons/{record.id}"
        assert (summary["monitor"], summary["dataset"], summary["target"]) == (record.monitor, "flights",
                                                                              record.target_name)
        assert summary["magnitude"] == pytest.approx(record.result["verdict"]["magnitude"])
        status, _, page = request(flights_url, summary["report"])
        assert status == 200 and page == Path(record.report_path or "").read_bytes()
    status, body = get_json(flights_url, "/api/comparisons?monitor=weekly_vs_january&limit=2")
    assert [c["id"] for c in body["comparisons"]] == [r.id for r in every if r.monitor == "weekly_vs_january"][:2]
    status, body = get_json(flights_url, "/api/comparisons?dataset=flights&monitor=weekly_vs_trailing")
    assert len(body["comparisons"]) == 4 and {c["monitor"] for c in body["comparisons"]} == {"weekly_vs_trailing"}
    assert get_json(flights_url, "/api/comparisons?dataset=nothing")[1]["comparisons"] == []


@pytest.mark.parametrize("query,message", [
    ("limit=0", "limit must be a whole number from 1 to 1000, not '0'"),
    ("limit=1001", "limit must be a whole number from 1 to 1000, not '1001'"),
    ("limit=ten", "limit must be a whole number from 1 to 1000, not 'ten'"),
    ("limit=-1", "limit must be a whole number from 1 to 1000, not '-1'"),
    ("monitr=weekly", "unknown query parameter 'monitr' (known: dataset, limit, monitor)"),
])
def test_api_comparisons_bad_queries_are_400(flights_url: str, query: str, message: str) -> None:
    assert get_json(flights_url, f"/api/comparisons?{query}") == (400, {"error": message, "status": 400})


def test_api_comparison_is_the_stored_result(flights_run: Path, flights_url: str) -> None:
    with store_of(flights_run) as store:
        record = store.list_comparisons(monitor="weekly_vs_trailing", limit=1)[0]
    status, body = get_json(flights_url, f"/api/comparisons/{record.id}")
    assert status == 200
    assert body["result"] == json.loads(json.dumps(record.result))
    assert body["baseline_spec"] == record.baseline_spec and body["baseline_spec"]["kind"] == "trailing"
    assert (body["id"], body["target"], body["drifted"]) == (record.id, record.target_name, record.drifted)
    assert get_json(flights_url, "/api/comparisons/999999") == (404, {"error": "comparison 999999 not found",
                                                                       "status": 404})
    assert get_json(flights_url, "/api/comparisons/x")[0] == 404


def test_api_snapshots_lists_a_datasets_snapshots(flights_run: Path, flights_url: str) -> None:
    with store_of(flights_run) as store:
        snaps = store.list_snapshots("flights")
    status, body = get_json(flights_url, "/api/snapshots/flights")
    assert status == 200 and body["dataset"] == "flights"
    assert [(s["id"], s["name"], s["row_count"], s["status"]) for s in body["snapshots"]] == [
        (s.id, s.name, s.row_count, s.status) for s in snaps]
    assert body["snapshots"][0]["window_start"] == snaps[0].window_start.isoformat()  # type: ignore[union-attr]
    assert get_json(flights_url, "/api/snapshots/nothing") == (404, {"error": "no such dataset: 'nothing'",
                                                                     "status": 404})
    status, body = get_json(flights_url, "/api/nothing")
    assert status == 404 and body["status"] == 404 and "/api/monitors" in body["error"]


def test_api_reads_while_a_writer_holds_the_store(flights_run: Path, flights_url: str) -> None:
    writer = sqlite3.connect(flights_run / "example-store" / "monitor.db", isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("UPDATE comparisons SET severity = 'changing' WHERE id = (SELECT MAX(id) FROM comparisons)")
        status, body = get_json(flights_url, "/api/comparisons?limit=1")
        # the reader sees the last committed state, not the open write, and does not wait for it
        assert status == 200 and body["comparisons"][0]["severity"] != "changing"
    finally:
        writer.execute("ROLLBACK")
        writer.close()


def test_healthz_answers_whether_the_store_opens(flights_run: Path, flights_url: str, tmp_path: Path) -> None:
    assert get_json(flights_url, "/healthz") == (200, {"status": "ok", "problems": []})
    config = yaml.safe_load(config_copy(flights_run, tmp_path, tmp_path / "reports").read_text())
    config["store"] = str(tmp_path / "none" / "monitor.db")
    (tmp_path / "none.yaml").write_text(yaml.safe_dump(config))
    with serving(tmp_path / "none.yaml") as url:
        status, body = get_json(url, "/healthz")
        assert status == 503 and body["status"] == "unavailable" and "does not exist" in body["problems"][0]
        status, body = get_json(url, "/api/monitors")
        assert status == 503 and "does not exist" in body["error"]
        assert request(url, "/")[0] == 200  # the pages on disk (none: an empty index) need no store
    assert not (tmp_path / "none").exists()


# ----------------------------------------------------------------------- cli


@pytest.fixture
def serve_process(flights_run: Path) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor", "serve", "-c", str(flights_run / "config" / "flights.yaml"), "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    yield proc
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def test_the_serve_command_binds_localhost_and_stops_on_sigterm(serve_process: subprocess.Popen[str]) -> None:
    assert serve_process.stdout is not None
    assert select.select([serve_process.stdout], [], [], 60)[0], "serve printed nothing"
    line = serve_process.stdout.readline()
    found = re.search(r"on (http://127\.0\.0\.1:\d+)/ \(Ctrl-C stops\)", line)
    assert found, line
    status, headers, body = request(found.group(1), "/")
    assert (status, headers["content-type"]) == (200, HTML) and b"weekly_vs_january" in body
    serve_process.send_signal(signal.SIGTERM)
    assert serve_process.wait(60) == 0, serve_process.stdout.read()


def test_a_report_whose_file_and_snapshots_are_gone_is_404(flights_run: Path, tmp_path: Path) -> None:
    """Retention removed a comparison's target snapshot and the report file is
    not on disk: the page cannot be rendered again, and that is a 404, not a
    store failure (503)."""
    shutil.copy(flights_run / "example-store" / "monitor.db", tmp_path / "monitor.db")
    config = yaml.safe_load(config_copy(flights_run, tmp_path, tmp_path / "empty").read_text())
    config["store"] = str(tmp_path / "monitor.db")
    (tmp_path / "empty").mkdir()
    (tmp_path / "flights.yaml").write_text(yaml.safe_dump(config))
    with Store(tmp_path / "monitor.db") as store:
        record = next(c for c in store.list_comparisons(monitor="weekly_vs_january")
                      if c.target_name == "weekly_vs_january_20130708")
        removed, _ = store.prune([record.target_snapshot_id])
        assert len(removed) == 1
    path = "/" + Path(record.report_path or "").relative_to(reports_of(flights_run)).as_posix()
    with serving(tmp_path / "flights.yaml") as url:
        assert request(url, path)[0] == 404
        assert request(url, "/weekly_vs_january/history.html")[0] == 200  # the history keeps its point
