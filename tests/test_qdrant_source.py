"""Qdrant collections as sources (monitor.sources.qdrant), in qdrant-client's local mode."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("qdrant_client")

from qdrant_client import QdrantClient, models  # noqa: E402

from monitor.config import DatasetConfig  # noqa: E402
from monitor.config.datastores import QdrantDatastore  # noqa: E402
from monitor.errors import SourceError  # noqa: E402
from monitor.profile import profile_source  # noqa: E402
from monitor.sources.datastores import dataset_source  # noqa: E402
from monitor.sources.files import FileSource  # noqa: E402

POINTS, DIM = 10_000, 32


def _dataset(folder, collection: str = "docs", **keys):  # type: ignore[no-untyped-def]
    store = QdrantDatastore(kind="qdrant", path=str(folder))
    return DatasetConfig(datastore="vectors", collection=collection, **keys).with_store(store)


@pytest.fixture(scope="module")
def collection(tmp_path_factory):  # type: ignore[no-untyped-def]
    """A local-mode collection of 10,000 seeded 32-dimensional vectors (ids 0..N-1, Euclidean
    distance: stored as given) with payload fields, and the same vectors as float32."""
    folder = tmp_path_factory.mktemp("qdrant")
    x = np.random.default_rng(20).normal(loc=0.5, size=(POINTS, DIM)).astype(np.float32)
    client = QdrantClient(path=str(folder))
    try:
        client.create_collection("docs", vectors_config=models.VectorParams(size=DIM, distance=models.Distance.EUCLID))
        payloads = [{"topic": f"t{i % 7}", "score": i % 3 + (0.5 if i % 2 else 0)} | ({"tag": i} if i % 5 else {})
                    for i in range(POINTS)]
        client.upsert("docs", points=models.Batch(ids=list(range(POINTS)), vectors=x.tolist(), payloads=payloads))
    finally:
        client.close()
    return folder, x


def test_profile_of_a_collection_equals_that_of_the_same_npy(collection, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Same vectors, same order, same batch rows (4,096): count, mean and m2 equal
    (1e-12 relative), the sample equal exactly (its keys are seeded by each
    batch's bytes, equal here because the batches are; other batch boundaries
    would give another, equally uniform, sample), the norms' sketches equal in
    count and extremes (KLL compacts at random, so not bit for bit)."""
    folder, x = collection
    npy = tmp_path / "docs.npy"
    np.save(npy, x)
    from_npy = profile_source(FileSource((str(npy),)), workers=1).columns["vector"]
    prof = profile_source(dataset_source(_dataset(folder)), workers=1)
    from_qdrant = prof.columns["vector"]
    a, b = from_qdrant.vector, from_npy.vector
    assert a is not None and b is not None
    assert from_qdrant.kind == from_npy.kind == "vector"
    assert from_qdrant.count == from_npy.count == POINTS and a.n == b.n == POINTS and a.dim == DIM
    np.testing.assert_allclose(a.mean, b.mean, rtol=1e-12)
    np.testing.assert_allclose(a.m2, b.m2, rtol=1e-12)
    np.testing.assert_allclose(a.mean, x.astype(np.float64).mean(axis=0), rtol=1e-9)
    np.testing.assert_allclose(a.m2 / (POINTS - 1), x.astype(np.float64).var(axis=0, ddof=1), rtol=1e-9)
    # the KLL sketch compacts at random: equal counts and extremes, and both
    # sketches' quantiles within the rank error (1.3%, checked at 3%) of numpy's
    norms = np.sort(np.linalg.norm(x.astype(np.float64), axis=1))
    assert a.norms.n == b.norms.n == POINTS
    assert a.norms.get_min_value() == b.norms.get_min_value() and a.norms.get_max_value() == b.norms.get_max_value()
    for rank in (0.1, 0.25, 0.5, 0.75, 0.9):
        low, high = np.quantile(norms, rank - 0.03), np.quantile(norms, rank + 0.03)
        assert low <= a.norms.get_quantile(rank) <= high and low <= b.norms.get_quantile(rank) <= high
    assert np.array_equal(a.keys, b.keys) and np.array_equal(a.sample, b.sample)
    # payload fields as columns, ids as a column
    assert sorted(prof.columns) == ["id", "score", "tag", "topic", "vector"]
    assert prof.columns["tag"].missing == POINTS // 5
    assert prof.columns["id"].count == POINTS


def test_batches_and_payload_types(collection) -> None:  # type: ignore[no-untyped-def]
    folder, x = collection
    batches = list(dataset_source(_dataset(folder, with_payload=("score",))).iter_batches())
    assert [b.num_rows for b in batches] == [4096, 4096, POINTS - 8192]
    schema = batches[0].schema
    assert schema.names == ["id", "score", "vector"]
    assert str(schema.field("score").type) == "double" and str(schema.field("id").type) == "int64"
    ids = np.concatenate([b.column("id").to_numpy() for b in batches])
    assert np.array_equal(ids, np.arange(POINTS))
    got = np.concatenate([b.column("vector").flatten().to_numpy().reshape(-1, DIM) for b in batches])
    assert np.array_equal(got, x)
    score = np.concatenate([b.column("score").to_numpy() for b in batches])
    i = np.arange(POINTS)
    assert np.array_equal(score, i % 3 + np.where(i % 2 == 1, 0.5, 0.0))


def test_missing_collection_names_datastore_and_collection(collection) -> None:  # type: ignore[no-untyped-def]
    folder, _ = collection
    source = dataset_source(_dataset(folder, collection="nope"))
    with pytest.raises(SourceError, match=r"datastore 'vectors': collection 'nope': collection not found"):
        list(source.iter_batches())
    with pytest.raises(SourceError, match="collection 'nope'"):
        source.fingerprint()


def test_fingerprint_follows_the_point_count(collection, tmp_path) -> None:  # type: ignore[no-untyped-def]
    folder, x = collection
    own = tmp_path / "q"
    client = QdrantClient(path=str(own))
    try:
        client.create_collection("c", vectors_config=models.VectorParams(size=DIM, distance=models.Distance.EUCLID))
        client.upsert("c", points=[models.PointStruct(id=i, vector=x[i].tolist()) for i in range(10)])
    finally:
        client.close()
    source = dataset_source(_dataset(own, collection="c"))
    first = source.fingerprint()
    assert source.fingerprint() == first
    client = QdrantClient(path=str(own))
    try:
        client.upsert("c", points=[models.PointStruct(id=10, vector=x[10].tolist())])
    finally:
        client.close()
    assert source.fingerprint() != first


def test_unreachable_server_is_named_without_the_key() -> None:
    store = QdrantDatastore(kind="qdrant", url="http://127.0.0.1:9", api_key="s3cret-key", timeout=2)
    ds = DatasetConfig(datastore="remote", collection="docs").with_store(store)
    with pytest.raises(SourceError, match="datastore 'remote': collection 'docs'") as err:
        list(dataset_source(ds).iter_batches())
    assert "s3cret-key" not in str(err.value)


def test_configuration_rules() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="one of them"):
        DatasetConfig(path="x.parquet", collection="c", datastore="v")
    with pytest.raises(ValidationError, match="needs datastore"):
        DatasetConfig(collection="c")
    with pytest.raises(ValidationError, match="go with a collection"):
        DatasetConfig(path="x.parquet", vector_name="v")
    with pytest.raises(ValidationError, match="url .* or path"):
        QdrantDatastore(kind="qdrant")
    assert "collection" not in DatasetConfig(path="x.parquet").definition()


def test_configuration_file_with_a_local_folder_and_datastore_check(collection, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A path relative to the configuration file; ``datastore check`` reaches the
    datastore and lists the collection; the key never shows in a dump."""
    import os

    from monitor.config import load_config
    from monitor.config.datastores import datastore_from_json, datastore_to_json
    from monitor.service.datastores import datastore_check

    folder, _ = collection
    config_dir = tmp_path / "conf"
    config_dir.mkdir()
    rel = os.path.relpath(folder, config_dir)
    (config_dir / "monitor.yaml").write_text(
        "datastores:\n"
        f"  vectors: {{kind: qdrant, path: {rel}}}\n"
        "  remote: {kind: qdrant, url: 'http://127.0.0.1:9', api_key: s3cret-key, timeout: 2}\n"
        "datasets:\n"
        "  docs: {datastore: vectors, collection: docs, with_payload: [topic]}\n")
    config = load_config(config_dir / "monitor.yaml")
    assert config.datastores["vectors"].path == os.path.normpath(folder)
    assert "s3cret-key" not in repr(config.datastores["remote"]) + str(config.datastores["remote"].model_dump())
    assert datastore_from_json(datastore_to_json(config.datastores["remote"])) == config.datastores["remote"]
    checked = datastore_check(config, "vectors")
    assert checked["ok"] and checked["kind"] == "qdrant", checked
    assert checked["datasets"][0]["inputs"][0]["input"] == "datastore 'vectors': collection 'docs'"
    remote = datastore_check(config, "remote")
    assert not remote["ok"] and "datastore 'remote'" in remote["error"] and "s3cret-key" not in remote["error"]
