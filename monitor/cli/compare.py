"""``compare``, ``compare-files`` and ``metrics``: drift between two profiles."""

from __future__ import annotations

import contextlib
import sys
from datetime import UTC
from pathlib import Path
from typing import Any

import click

from monitor.cli.common import (
    cli_source,
    datastore_options,
    EXIT_DRIFT,
    config_option,
    echo_json,
    format_option,
    handle_errors,
    load,
    open_store,
    text_table,
)


@click.command()
@click.argument("snapshots", nargs=-1, required=True, metavar="[DATASET] BASELINE TARGET")
@config_option
@format_option("text", "json")
@click.option("--report", "report_path", type=click.Path(dir_okay=False), default=None,
              help="Also write the HTML report to this file.")
@click.option("--exact", is_flag=True, help="Compute from the data copies with scipy instead of the profiles.")
@click.option("--fail-on-drift", is_flag=True, help="Exit 3 when drift is found.")
@handle_errors
def compare(snapshots: tuple[str, ...], config_path: str, fmt: str,
            report_path: str | None, exact: bool, fail_on_drift: bool) -> None:
    """Compare two snapshots of a dataset (DATASET BASELINE TARGET, snapshot
    names), or any two snapshots (BASELINE TARGET, each DATASET:SNAPSHOT in the
    store, or a snapshot file: file:PATH or PATH.dmsnap; no config is needed
    when both are files).

    Example:

        drift-monitor compare flights snapshot_a snapshot_b --report drift.html

        drift-monitor compare flights:january other:february

        drift-monitor compare flights:january exports/february.dmsnap
    """
    if len(snapshots) == 3:
        _compare_in_dataset(*snapshots, config_path, fmt, report_path, exact, fail_on_drift)
    elif len(snapshots) == 2:
        _compare_refs(*snapshots, config_path, fmt, report_path, exact, fail_on_drift)
    else:
        raise click.UsageError("compare takes DATASET BASELINE TARGET (snapshot names) or BASELINE TARGET "
                               "(each DATASET:SNAPSHOT, file:PATH or PATH.dmsnap)")


def _compare_in_dataset(dataset: str, baseline: str, target: str, config_path: str, fmt: str,
                        report_path: str | None, exact: bool, fail_on_drift: bool) -> None:
    """``compare DATASET BASELINE TARGET``: two snapshots of one dataset."""
    from monitor.service import runner

    config = load(config_path)
    settings = _settings_for_dataset(config, dataset)
    with open_store(config) as store:
        base, tgt = store.get_snapshot(dataset, baseline), store.get_snapshot(dataset, target)
        result = runner.compare(store, base, tgt, settings, exact=exact).to_dict()
        result["conditions"] = _conditions(store, config, base, tgt)
    meta = {"dataset": dataset, "baseline": base.name, "target": tgt.name,
            "baseline_kind": "snapshot", "baseline_snapshots": [base.name]}
    _emit_comparison(result, meta, fmt, report_path, (base, tgt), fail_on_drift)


def _compare_refs(baseline: str, target: str, config_path: str, fmt: str,
                  report_path: str | None, exact: bool, fail_on_drift: bool) -> None:
    """``compare BASELINE TARGET``: snapshots of any datasets, or snapshot files.
    The thresholds are those of the target dataset's first monitor (the
    defaults without a configuration)."""
    from monitor.drift import DriftSettings
    from monitor.service.refs import compare_sides, is_file_ref, parse_ref, resolve_pair

    refs = [parse_ref(r) for r in (baseline, target)]
    stored = not all(is_file_ref(r) for r in (baseline, target))
    config = load(config_path) if stored or Path(config_path).is_file() else None
    with open_store(config) if stored else contextlib.nullcontext() as store:
        base, tgt = resolve_pair(store, refs[0].text, refs[1].text)
        settings = DriftSettings() if config is None else _settings_for_dataset(config, tgt.dataset)
        result = compare_sides(store, base, tgt, settings, exact=exact).to_dict()
        both = base.record is not None and tgt.record is not None and base.dataset == tgt.dataset
        result["conditions"] = _conditions(store, config, base.record, tgt.record) if both else []
    meta = {"dataset": tgt.dataset, "baseline": base.label, "target": tgt.label,
            "baseline_dataset": base.dataset, "target_dataset": tgt.dataset,
            "baseline_kind": "file" if base.file is not None else "snapshot", "baseline_snapshots": [base.name]}
    _emit_comparison(result, meta, fmt, report_path, (base, tgt), fail_on_drift)


def _conditions(store: Any, config: Any, base: Any, tgt: Any) -> list[dict[str, str]]:
    """The conditions of ``tgt`` against ``base`` by the ``expect`` of the monitor that took it."""
    from monitor.service import conditions

    if tgt.monitor not in config.monitors:
        return []
    return [c.to_dict() for c in conditions.evaluate(store, config.monitors[tgt.monitor], tgt.monitor, tgt, [base])]


def _settings_for_dataset(config: Any, dataset: str) -> Any:
    """Thresholds of the first monitor of the dataset, else the defaults."""
    from monitor.drift import DriftSettings
    from monitor.service.runner import settings_for

    for mon in config.monitors.values():
        if mon.dataset == dataset:
            return settings_for(mon)
    return DriftSettings()


def _emit_comparison(result: dict[str, Any], meta: dict[str, Any], fmt: str, report_path: str | None,
                     snaps: tuple[Any, Any] | None, fail_on_drift: bool) -> None:
    if report_path:
        _write_single_report(result, meta, report_path, snaps)
    if fmt == "json":
        echo_json({**meta, **result})
    else:
        click.echo(_comparison_text(result, meta))
    if report_path and fmt != "json":
        click.echo(f"report: {report_path}")
    if fail_on_drift and result["verdict"]["drifted"]:
        sys.exit(EXIT_DRIFT)


def _write_single_report(result: dict[str, Any], meta: dict[str, Any], path: str, snaps: tuple[Any, Any] | None) -> None:
    from datetime import datetime

    from monitor import report

    now = datetime.now(UTC)
    page = report.comparison_context(
        result, dataset=meta["dataset"], monitor=None, baseline_name=meta["baseline"],
        baseline_created=snaps[0].created_at if snaps else now, target_name=meta["target"],
        target_created=snaps[1].created_at if snaps else now, generated_at=now,
    )
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(report.render_comparison(page), encoding="utf-8")


_VERDICT_WORDS = {"drift": "DRIFT", "no_drift": "no drift", "insufficient_data": "insufficient data"}


def _comparison_text(result: dict[str, Any], meta: dict[str, Any]) -> str:
    v = result["verdict"]
    lines = [
        f"{meta['dataset']}: {meta['target']} vs baseline {meta['baseline']} ({result.get('mode', 'profile')})",
        (f"verdict: {_VERDICT_WORDS.get(str(v.get('status')), 'DRIFT' if v['drifted'] else 'no drift')}, "
        f"severity {v['severity']}, "
        f"{v['drifted_columns']}/{v['columns_compared']} columns drifted"),
    ]
    lines += [f"condition {c['kind']}: {c['detail']}" for c in result.get("conditions") or ()]
    for c in result["columns"]:
        decided = ", ".join(f"{m['name']}={_num(m['value'])}" for m in c["metrics"] if m.get("decides"))
        lines.append(f"  {c['column']:<24} {c['status']:<18} {c['severity']:<9} {decided}")
    return "\n".join(lines)


def _num(value: Any) -> str:
    return "-" if value is None else f"{value:.4g}" if isinstance(value, float) else str(value)




@click.command("compare-files")
@click.argument("reference")
@click.argument("current")
@format_option("text", "json")
@click.option("--report", "report_path", type=click.Path(dir_okay=False), default=None, help="Write the HTML report here.")
@click.option("--exact", is_flag=True, help="Compute from the data with scipy instead of the profiles.")
@click.option("--fail-on-drift", is_flag=True, help="Exit 3 when drift is found.")
@datastore_options
@handle_errors
def compare_files(reference: str, current: str, fmt: str, report_path: str | None, exact: bool, fail_on_drift: bool,
                  datastore: str | None, config_path: str | None) -> None:
    """Compare two data files (REFERENCE is the baseline) with no config; each
    may be a file, a folder, a glob, an s3://, az:// or https:// URL, or a path
    inside --datastore NAME of the -c configuration (see ``profile``).

    Example:

        drift-monitor compare-files january.parquet july.parquet --report drift.html --fail-on-drift
    """
    from monitor import drift
    from monitor.profile import profile_source

    sources = [cli_source(p, datastore, config_path) for p in (reference, current)]
    if exact:
        tables = [s.read_table() for s in sources]
        result = drift.compare_data(tables[0], tables[1]).to_dict()
    else:
        result = drift.compare_profiles(profile_source(sources[0]), profile_source(sources[1])).to_dict()
    meta = {"dataset": Path(current).stem, "baseline": Path(reference).name, "target": Path(current).name}
    _emit_comparison(result, meta, fmt, report_path, None, fail_on_drift)


@click.command()
@format_option("table", "json")
def metrics(fmt: str) -> None:
    """List the drift metrics: name, column kinds, direction and default thresholds.

    Example:

        drift-monitor metrics --format json
    """
    from monitor.drift import metric_table

    rows = metric_table()
    if fmt == "json":
        echo_json(rows)
        return
    flat = [{**r, "kinds": ",".join(r["kinds"])} for r in rows]
    click.echo(text_table(flat, ["name", "kinds", "direction", "warning", "critical", "source"]))


