"""Datasets on object stores and HTTP servers, against real servers on
127.0.0.1 (tests/servers.py): moto's S3 with signature checking, Azurite's
blob service and an HTTP file server with Range requests. The same flights
months as on the local disk give the same snapshots and the same comparison
(every metric within 1e-12); only the selected columns' bytes are fetched; a
wrong secret, a missing bucket or container fail the snapshot with a reason
naming the datastore and never the secret, in the store, the output or the logs."""

from __future__ import annotations

import logging
import math
import sqlite3
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import yaml
from click.testing import CliRunner

from monitor.cli import main
from monitor.config import load_config
from monitor.service.runner import run_monitor
from monitor.store import Store

MONTHS = ("2013-01", "2013-02", "2013-07")
WRONG = "not-the-secret-0123456789abcdefXYZ"


@pytest.fixture(scope="module")
def months(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """January, February and July 2013 as one Parquet file each (the shipped example's files)."""
    from monitor.example import prepare_flights

    folder = tmp_path_factory.mktemp("flights") / "flights"
    prepare_flights(folder)
    for path in folder.glob("*.parquet"):
        if path.stem not in MONTHS:
            path.unlink()
    return folder


def monitors_on(baseline_dataset: str, target_dataset: str) -> dict[str, Any]:
    return {"dataset": target_dataset, "schedule": {"every": "1d"}, "baseline": {"dataset": baseline_dataset}}


def write_config(folder: Path, datastores: dict[str, Any], datasets: dict[str, Any],
                 monitors: dict[str, Any]) -> Path:
    path = folder / "monitors.yaml"
    path.write_text(yaml.safe_dump({"store": "store/monitor.db", "reports_dir": "reports", "datastores": datastores,
                                    "datasets": datasets, "monitors": monitors}))
    return path


def local_datasets(months: Path) -> dict[str, Any]:
    return {"local_winter": {"path": [str(months / "2013-01.parquet"), str(months / "2013-02.parquet")]},
            "local_july": {"path": str(months / "2013-07.parquet")}}


def metrics_of(result: dict[str, Any]) -> dict[tuple[str, str], Any]:
    return {(c["column"], m["name"]): m["value"] for c in result["columns"] for m in c["metrics"]}


def assert_same_comparison(local: dict[str, Any], remote: dict[str, Any]) -> None:
    a, b = metrics_of(local), metrics_of(remote)
    assert a.keys() == b.keys() and len(a) > 50
    for key, value in a.items():
        other = b[key]
        if value is None or other is None:
            assert value is other, key
        else:
            assert math.isclose(value, other, rel_tol=1e-12, abs_tol=1e-12), (key, value, other)
    assert local["verdict"] == remote["verdict"] and local["verdict"]["drifted"] is True


def run_pair(config_path: Path) -> tuple[dict[str, Any], dict[str, Any], Store]:
    """Run the monitors ``local`` and ``remote`` twice each (baseline, then
    comparison) and return the two comparisons' results."""
    config = load_config(config_path)
    store = Store(config.store)
    out = []
    for name in ("local", "remote"):
        first = run_monitor(config, name, store)
        assert first.status == "completed", first.reason
        result = run_monitor(config, name, store)
        assert result.status == "completed" and result.comparison_id is not None, result.reason
        out.append(store.get_comparison(result.comparison_id).result)
    return out[0], out[1], store


def assert_secret_nowhere(secret: str, store_path: Path, *texts: str) -> None:
    for text in texts:
        assert secret not in text
    with sqlite3.connect(store_path) as db:
        for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
            for row in db.execute(f'SELECT * FROM "{table}"').fetchall():
                assert secret not in repr(row), table


# ------------------------------------------------------------------------ S3


def s3_store(server: Any, bucket: str, secret: str | None = None) -> dict[str, Any]:
    return {"kind": "s3", "bucket": bucket, "endpoint_url": server.endpoint_url, "region": server.region,
            "access_key_id": server.key, "secret_access_key": server.secret if secret is None else secret}


def test_s3_glob_snapshots_and_comparison_equal_the_local_files(s3_server: Any, months: Path, tmp_path: Path) -> None:
    bucket = s3_server.new_bucket("flights")
    s3_server.put_folder(bucket, "flights", months)
    config = write_config(tmp_path, {"lake": s3_store(s3_server, bucket)}, {
        **local_datasets(months),
        "s3_winter": {"datastore": "lake", "path": "flights/2013-0[12].parquet"},  # a glob over the bucket
        "s3_july": {"datastore": "lake", "path": "s3://" + bucket + "/flights/2013-07.parquet"},
    }, {"local": monitors_on("local_winter", "local_july"), "remote": monitors_on("s3_winter", "s3_july")})
    local, remote, store = run_pair(config)
    assert_same_comparison(local, remote)
    winter = store.list_snapshots("s3_winter")[0]
    assert winter.row_count == sum(pq.read_metadata(months / f"{m}.parquet").num_rows for m in MONTHS[:2])
    assert winter.fingerprint == store.list_snapshots("s3_winter")[-1].fingerprint  # same objects, same ETags
    store.close()


def test_s3_reads_only_the_selected_columns_bytes(s3_server: Any, months: Path, tmp_path: Path) -> None:
    bucket = s3_server.new_bucket("cols")
    key = "flights/2013-07.parquet"
    s3_server.put(bucket, key, months / "2013-07.parquet")
    meta = pq.read_metadata(months / "2013-07.parquet")
    schema = meta.schema.to_arrow_schema()
    wanted = ["dep_delay", "carrier"]
    chunks = sum(meta.row_group(g).column(schema.get_field_index(c)).total_compressed_size
                 for g in range(meta.num_row_groups) for c in wanted)
    config = write_config(tmp_path, {"lake": s3_store(s3_server, bucket)}, {
        "july": {"datastore": "lake", "path": key, "columns": {"include": wanted}}}, {})
    result = CliRunner().invoke(main, ["snapshot", "create", "july", "-c", str(config), "--format", "json"])
    assert result.exit_code == 0, result.output
    fetched, size = s3_server.bytes_sent(bucket, key), (months / "2013-07.parquet").stat().st_size
    # the two column chunks and the footer (its last 64 KiB at most), nothing of the other 17 columns
    assert chunks <= fetched <= chunks + meta.serialized_size + (64 << 10) < size / 3, (fetched, chunks, size)


def test_s3_wrong_secret_and_missing_bucket_fail_naming_the_datastore_never_the_secret(
        s3_server: Any, months: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    bucket = s3_server.new_bucket("auth")
    s3_server.put_folder(bucket, "flights", months)
    config = write_config(tmp_path, {
        "badkey": s3_store(s3_server, bucket, secret=WRONG),
        "nobucket": s3_store(s3_server, "no-such-bucket-here"),
        "lake": s3_store(s3_server, bucket),
    }, {"a": {"datastore": "badkey", "path": "flights/*.parquet"},
        "b": {"datastore": "nobucket", "path": "flights/*.parquet"},
        "c": {"datastore": "lake", "path": "flights/2013-07.parquet"}},
        {"ma": monitors_on("a", "a"), "mb": monitors_on("b", "b"), "mc": monitors_on("c", "c")})
    caplog.set_level(logging.DEBUG)
    run = CliRunner().invoke(main, ["-vv", "run", "--once", "-c", str(config), "--format", "json"])
    assert run.exit_code == 1, run.output  # two monitors failed; the third ran
    cfg = load_config(config)
    with Store(cfg.store) as store:
        (a,), (b,), (c,) = (store.list_snapshots(n) for n in "abc")
        assert (a.status, b.status, c.status) == ("failed", "failed", "completed")
        assert a.reason.startswith("datastore 'badkey' (s3): cannot list s3://")
        assert "signature we calculated does not match" in a.reason, a.reason
        assert "datastore 'nobucket'" in b.reason and "bucket 'no-such-bucket-here' not found" in b.reason, b.reason
    check = CliRunner().invoke(main, ["datastore", "check", "badkey", "-c", str(config)])
    assert check.exit_code == 1 and "datastore 'badkey' (s3)" in check.output
    assert_secret_nowhere(WRONG, Path(cfg.store), run.output, check.output, caplog.text)
    assert_secret_nowhere(s3_server.secret, Path(cfg.store), run.output, check.output, caplog.text)


def test_profile_and_compare_files_read_s3_urls_with_the_environment(
        s3_server: Any, months: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bucket = s3_server.new_bucket("env")
    s3_server.put_folder(bucket, "m", months)
    for name, value in {"AWS_ACCESS_KEY_ID": s3_server.key, "AWS_SECRET_ACCESS_KEY": s3_server.secret,
                        "AWS_ENDPOINT_URL": s3_server.endpoint_url, "AWS_DEFAULT_REGION": s3_server.region}.items():
        monkeypatch.setenv(name, value)
    remote = CliRunner().invoke(main, ["profile", f"s3://{bucket}/m/2013-0[12].parquet", "--format", "json"])
    local = CliRunner().invoke(main, ["profile", str(months / "2013-0[12].parquet"), "--format", "json"])
    assert remote.exit_code == 0 == local.exit_code, remote.output
    assert remote.stdout == local.stdout
    both = [CliRunner().invoke(main, ["compare-files", a, b, "--format", "json"]) for a, b in (
        (f"s3://{bucket}/m/2013-01.parquet", f"s3://{bucket}/m/2013-07.parquet"),
        (str(months / "2013-01.parquet"), str(months / "2013-07.parquet")))]
    assert [r.exit_code for r in both] == [0, 0]
    import json

    assert_same_comparison(json.loads(both[1].stdout), json.loads(both[0].stdout))


# -------------------------------------------------------------------- Azure


def test_azure_blob_snapshots_and_comparison_equal_the_local_files(azurite: Any, months: Path, tmp_path: Path) -> None:
    container = azurite.new_container("flights")
    azurite.put_folder(container, "flights", months)
    config = write_config(tmp_path, {"blobs": {"kind": "azure_blob", "container": container,
                                               "connection_string": azurite.connection_string()}}, {
        **local_datasets(months),
        "az_winter": {"datastore": "blobs", "path": "flights/2013-0[12].parquet"},
        "az_july": {"datastore": "blobs", "path": "flights/2013-07.parquet"},
    }, {"local": monitors_on("local_winter", "local_july"), "remote": monitors_on("az_winter", "az_july")})
    local, remote, store = run_pair(config)
    assert_same_comparison(local, remote)
    store.close()


def test_azure_wrong_key_and_missing_container_fail_naming_the_datastore(
        azurite: Any, months: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    container = azurite.new_container("auth")
    azurite.put_folder(container, "flights", months)
    wrong = "V1JPTkdLRVlXUk9OR0tFWVdST05HS0VZV1JPTkdLRVk="
    config = write_config(tmp_path, {
        "badkey": {"kind": "azure_blob", "container": container, "connection_string": azurite.connection_string(wrong)},
        "nocontainer": {"kind": "azure_blob", "container": "no-such-container",
                        "connection_string": azurite.connection_string()},
    }, {"a": {"datastore": "badkey", "path": "flights/*.parquet"},
        "b": {"datastore": "nocontainer", "path": "flights/*.parquet"}},
        {"ma": monitors_on("a", "a"), "mb": monitors_on("b", "b")})
    caplog.set_level(logging.DEBUG)
    run = CliRunner().invoke(main, ["-vv", "run", "--once", "-c", str(config), "--format", "json"])
    assert run.exit_code == 1, run.output
    cfg = load_config(config)
    with Store(cfg.store) as store:
        (a,), (b,) = (store.list_snapshots(n) for n in "ab")
        assert a.status == b.status == "failed"
        assert a.reason.startswith("datastore 'badkey' (azure_blob)"), a.reason
        assert "datastore 'nocontainer'" in b.reason and "not found" in b.reason, b.reason
    assert_secret_nowhere(wrong, Path(cfg.store), run.output, caplog.text)
    assert_secret_nowhere(azurite.account_key, Path(cfg.store), run.output, caplog.text)


# --------------------------------------------------------------------- HTTP


def test_http_csv_gives_the_local_results_and_a_missing_token_fails(http_files: Any, months: Path,
                                                                     tmp_path: Path) -> None:
    import pyarrow.csv as pa_csv

    for month in ("2013-01", "2013-07"):
        table = pq.read_table(months / f"{month}.parquet")
        pa_csv.write_csv(table, tmp_path / f"{month}.csv")
        http_files.put(f"exports/{month}.csv", tmp_path / f"{month}.csv")
    token = "Bearer s3cr3t-t0ken-for-the-test"
    http_files.authorization = token
    config = write_config(tmp_path, {
        "web": {"kind": "http", "base_url": http_files.url_of(""), "headers": {"Authorization": token}},
        "anon": {"kind": "http", "base_url": http_files.url_of("")},
    }, {"local_jan": {"path": str(tmp_path / "2013-01.csv")}, "local_jul": {"path": str(tmp_path / "2013-07.csv")},
        "web_jan": {"datastore": "web", "path": "exports/2013-01.csv"},
        "web_jul": {"datastore": "web", "path": http_files.url_of("exports/2013-07.csv")},
        "anon_jul": {"datastore": "anon", "path": "exports/2013-07.csv"}},
        {"local": monitors_on("local_jan", "local_jul"), "remote": monitors_on("web_jan", "web_jul"),
         "anon": monitors_on("anon_jul", "anon_jul")})
    local, remote, store = run_pair(config)
    assert_same_comparison(local, remote)
    failed = run_monitor(load_config(config), "anon", store)
    assert failed.status == "failed"
    (snap,) = store.list_snapshots("anon_jul")
    assert snap.reason.startswith("datastore 'anon' (http): cannot reach") and "401" in snap.reason
    assert_secret_nowhere(token.split()[1], Path(load_config(config).store), snap.reason)
    store.close()


def test_profile_reads_an_az_url_with_the_connection_string_variable(azurite: Any, months: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    container = azurite.new_container("env")
    azurite.put(container, "m/2013-07.parquet", months / "2013-07.parquet")
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite.connection_string())
    remote = CliRunner().invoke(main, ["profile", f"az://{container}/m/2013-07.parquet", "--format", "json"])
    local = CliRunner().invoke(main, ["profile", str(months / "2013-07.parquet"), "--format", "json"])
    assert remote.exit_code == 0 == local.exit_code, remote.output
    assert remote.stdout == local.stdout
    missing = CliRunner().invoke(main, ["profile", f"az://{container}/m/2013-08.parquet"])
    assert missing.exit_code == 1 and f"az://{container}/m/2013-08.parquet: object not found" in missing.output
    assert azurite.account_key not in missing.output


def test_azure_account_url_with_a_key_from_a_file(azurite: Any, months: Path, tmp_path: Path) -> None:
    container = azurite.new_container("keyed")
    azurite.put(container, "m/2013-07.parquet", months / "2013-07.parquet")
    (tmp_path / "key").write_text(azurite.account_key + "\n")
    config = write_config(tmp_path, {"blobs": {
        "kind": "azure_blob", "container": container, "account_url": azurite.blob_endpoint,
        "account_name": azurite.account, "account_key_file": str(tmp_path / "key")}},
        {"jul": {"datastore": "blobs", "path": "m/"}}, {})  # a prefix: its Parquet objects
    result = CliRunner().invoke(main, ["snapshot", "create", "jul", "-c", str(config), "--format", "json"])
    assert result.exit_code == 0, result.output
    with Store(load_config(config).store) as store:
        (snap,) = store.list_snapshots("jul")
    assert snap.row_count == pq.read_metadata(months / "2013-07.parquet").num_rows
    assert azurite.account_key not in result.output
