"""Datastores in the configuration: validation, secrets kept out of every dump
and message, ``*_file`` secrets, dataset definitions (versions) unchanged for
local files, and how dataset paths map to object keys. The reads against real
servers are in test_datastores_s3.py, test_datastores_azure.py,
test_datastores_http.py and test_sql_source.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from monitor.cli import main
from monitor.config import DatasetConfig, load_config, parse_config
from monitor.config.datastores import datastore_from_json, datastore_to_json
from monitor.errors import ConfigError, SourceError
from monitor.sources.datastores import dataset_source
from monitor.sources.remote import ObjectStore, clean_message, object_store

SECRET = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY"


def s3(**extra: Any) -> dict[str, Any]:
    return {"kind": "s3", "bucket": "lake", "endpoint_url": "http://127.0.0.1:9", **extra}


def problems(data: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(data)
    return info.value.problems


def test_a_dataset_on_an_s3_datastore_keeps_its_keys_and_gets_its_store(tmp_path: Path) -> None:
    config = parse_config({"datastores": {"lake": s3(access_key_id="AK", secret_access_key=SECRET)},
                           "datasets": {"f": {"datastore": "lake", "path": "flights/*.parquet"},
                                        "local": {"path": "data/a.csv"}}}, tmp_path)
    remote, local = config.datasets["f"], config.datasets["local"]
    assert remote.paths == ("flights/*.parquet",)  # a key inside the bucket, not resolved as a local path
    assert remote.store is config.datastores["lake"] and local.store is None
    assert local.paths == (str(tmp_path / "data" / "a.csv"),)
    source = dataset_source(remote)
    assert isinstance(source.store, ObjectStore) and source.store.key_of("flights/a.parquet") == "lake/flights/a.parquet"


def test_the_definition_of_a_local_dataset_has_no_datastore_keys() -> None:
    """Versions are definitions found by hash: a dataset of an older release must
    keep its definition, so no new version is registered on upgrade."""
    ds = DatasetConfig.model_validate({"path": "/data/x.parquet", "timestamp_column": None})
    assert set(ds.definition()) == {"path", "format", "columns", "types"}
    query = DatasetConfig.model_validate({"datastore": "db", "query": "SELECT 1", "params": {"a": 1}})
    assert query.definition()["query"] == "SELECT 1" and query.definition()["params"] == {"a": 1}
    assert "path" not in query.definition()


@pytest.mark.parametrize(("data", "expected"), [
    ({"datastores": {"lake": s3()}, "datasets": {"d": {"datastore": "nope", "path": "a.csv"}}},
     "datasets.d.datastore: unknown datastore 'nope'"),
    ({"datastores": {"lake": s3()}, "datasets": {"d": {"datastore": "lake", "query": "SELECT 1"}}},
     "datasets.d.query: datastore 'lake' is s3, not sql: give a path"),
    ({"datastores": {"db": {"kind": "sql", "url": "sqlite://"}}, "datasets": {"d": {"datastore": "db", "path": "x"}}},
     "datasets.d.path: datastore 'db' is sql: give a query"),
    ({"datasets": {"d": {"path": "a.csv", "query": "SELECT 1"}}},
     "datasets.d: set path (files or objects), query (SQL) or collection (Qdrant), one of them"),
    ({"datasets": {"d": {"query": "SELECT 1"}}}, "datasets.d: a query needs datastore: the name of an sql datastore"),
    ({"datastores": {"lake": s3(secret_access_key="x", secret_access_key_file="f", access_key_id="a")}},
     "datastores.lake.s3: set secret_access_key or secret_access_key_file, not both"),
    ({"datastores": {"lake": s3(access_key_id="a")}},
     "datastores.lake.s3: access_key_id and secret_access_key (or secret_access_key_file) go together"),
    ({"datastores": {"lake": {"kind": "s3"}}}, "datastores.lake.s3.bucket: Field required"),
    ({"datastores": {"lake": {"kind": "ftp"}}}, "datastores.lake: Input tag 'ftp' found using 'kind' does not match"),
    ({"datastores": {"w": {"kind": "http", "base_url": "ftp://x"}}}, "datastores.w.http.base_url: String should match"),
    ({"datastores": {"db": {"kind": "sql"}}}, "datastores.db.sql: set url (an SQLAlchemy URL) or url_file"),
    ({"datastores": {"b": {"kind": "azure_blob", "container": "c", "account_key": "k"}}},
     "datastores.b.azure_blob: an account_key or sas_token needs account_name or account_url"),
    ({"datastores": {"lake": s3()}, "datasets": {"d": {"datastore": "lake", "collection": "c"}}},
     "datasets.d.collection: datastore 'lake' is s3, not qdrant"),
    ({"datastores": {"q": {"kind": "qdrant", "path": "q"}}, "datasets": {"d": {"datastore": "q", "path": "x"}}},
     "datasets.d.path: datastore 'q' is qdrant: give a collection"),
    ({"datastores": {"q": {"kind": "qdrant", "path": "q"}}, "datasets": {"d": {"datastore": "q", "query": "SELECT 1"}}},
     "datasets.d.query: datastore 'q' is qdrant, not sql"),
    ({"datasets": {"d": {"collection": "c"}}}, "datasets.d: a collection needs datastore: the name of a qdrant datastore"),
    ({"datastores": {"q": {"kind": "qdrant", "url": "http://h:6333", "path": "p"}}},
     "datastores.q.qdrant: set url (a Qdrant server) or path (a local-mode folder), one of them"),
    ({"datastores": {"q": {"kind": "qdrant", "path": "p", "api_key": "k"}}},
     "datastores.q.qdrant: an api_key is for a server (url), not a local-mode path"),
])
def test_bad_datastore_configuration_is_named_by_its_key(data: dict[str, Any], expected: str) -> None:
    found = problems(data)
    assert any(p.startswith(expected) for p in found), found


def test_secrets_are_in_no_dump_repr_or_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAKE_SECRET", SECRET)
    monkeypatch.setenv("DB_URL", f"postgresql+psycopg://monitor:{SECRET}@127.0.0.1:9/db")
    data = {"datastores": {"lake": s3(access_key_id="AK", secret_access_key="${LAKE_SECRET}"),
                           "db": {"kind": "sql", "url": "${DB_URL}"},
                           "web": {"kind": "http", "base_url": "http://127.0.0.1:9/", "headers": {
                               "Authorization": "Bearer ${LAKE_SECRET}"}}},
            "datasets": {"d": {"datastore": "lake", "path": "a.parquet"}}}
    config = parse_config(data, tmp_path)
    for text in (config.model_dump_json(), repr(config), str(config.model_dump()), json.dumps(
            config.datasets["d"].definition())):
        assert SECRET not in text
    # the secret is still there for the connection, and for our own child process over a pipe
    assert config.datastores["lake"].secret_access_key.get_secret_value() == SECRET
    assert datastore_from_json(datastore_to_json(config.datastores["db"])).url.get_secret_value().count(SECRET) == 1
    data["monitors"] = {"m": {"dataset": "d", "schedule": {"every": "1d"}, "treshold": 1}}
    assert all(SECRET not in p for p in problems(data))


def test_file_secrets_are_read_at_connection_relative_to_the_file(tmp_path: Path) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "lake").write_text(SECRET + "\n")
    (tmp_path / "monitors.yaml").write_text(yaml.safe_dump({
        "datastores": {"lake": s3(access_key_id="AK", secret_access_key_file="secrets/lake"),
                       "gone": s3(access_key_id="AK", secret_access_key_file="secrets/missing")},
        "datasets": {"d": {"datastore": "lake", "path": "a.parquet"}, "g": {"datastore": "gone", "path": "a"}}}))
    config = load_config(tmp_path / "monitors.yaml")
    assert config.datastores["lake"].secret_access_key_file == str(tmp_path / "secrets" / "lake")
    store = dataset_source(config.datasets["d"]).store
    assert store.fs.secret == SECRET and store.secrets == (SECRET,)
    with pytest.raises(ConfigError, match=r"datastore 'gone' secret_access_key_file: cannot read .*secrets/missing"):
        dataset_source(config.datasets["g"])


def test_client_messages_lose_secrets_and_signatures() -> None:
    exc = RuntimeError(f"403 for https://acct.blob.core.windows.net/c/x?sv=2021&sig=abc%2Fdef&se=1 key {SECRET}\nmore")
    text = clean_message(exc, [SECRET])
    assert SECRET not in text and "abc%2Fdef" not in text and "sig=***" in text and "more" not in text
    assert clean_message(ValueError("AccountKey=Zm9vYmFy;x"), []) == "AccountKey=***;x"


def test_object_keys_and_urls_of_a_store() -> None:
    store = object_store("lake", parse_config({"datastores": {"lake": s3()}}).datastores["lake"])
    assert store.key_of("/flights/a.parquet") == "lake/flights/a.parquet"
    assert store.key_of("s3://lake/flights/a.parquet") == "lake/flights/a.parquet"
    assert store.url_of("lake/flights/a.parquet") == "s3://lake/flights/a.parquet"
    with pytest.raises(SourceError, match=r"datastore 'lake' \(s3\): s3://other/a.parquet is outside 'lake'"):
        store.key_of("s3://other/a.parquet")
    with pytest.raises(SourceError, match="is not a s3 URL"):
        store.key_of("https://example.org/a.parquet")
    with pytest.raises(SourceError, match="not an s3://, az:// or http"):
        object_store(None, url="ftp://x/y")


def test_profile_of_a_missing_local_path_and_an_unknown_datastore_are_usage_errors(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["profile", str(tmp_path / "nothing.csv")])
    assert result.exit_code == 2 and "nothing.csv: no such file or folder" in result.output
    (tmp_path / "m.yaml").write_text(yaml.safe_dump({"datastores": {"lake": s3()}}))
    result = CliRunner().invoke(main, ["profile", "a.parquet", "--datastore", "pond", "-c", str(tmp_path / "m.yaml")])
    assert result.exit_code == 2 and "--datastore: unknown datastore 'pond'" in result.output
