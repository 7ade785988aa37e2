"""``.npy`` arrays read as one vector column (monitor.sources.npy)."""

from __future__ import annotations

import numpy as np
import pytest

from monitor.errors import SourceError
from monitor.profile import compute_profile, profile_source
from monitor.sources.files import FileSource, format_of
from monitor.sources.npy import BATCH_ROWS, COLUMN, read_npy


def test_batches_hold_the_array_rows_in_order(tmp_path) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2 * BATCH_ROWS + 17, 5)).astype(np.float32)
    path = tmp_path / "emb.npy"
    np.save(path, x)
    assert format_of(path) == "npy"
    batches = list(FileSource((str(path),)).iter_batches())
    assert [b.num_rows for b in batches] == [BATCH_ROWS, BATCH_ROWS, 17]
    assert batches[0].schema.names == [COLUMN]
    assert str(batches[0].schema.field(COLUMN).type) == "fixed_size_list<item: float>[5]"
    back = np.concatenate([b.column(0).flatten().to_numpy().reshape(-1, 5) for b in batches])
    assert np.array_equal(back, x)


def test_profile_of_an_npy_file_matches_numpy(tmp_path) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(4)
    x = rng.normal(loc=2.0, size=(9000, 8))
    path = tmp_path / "emb.npy"
    np.save(path, x)
    col = profile_source(FileSource((str(path),)), workers=1).columns[COLUMN]
    v = col.vector
    assert col.kind == "vector" and v is not None and v.n == 9000
    np.testing.assert_allclose(v.mean, x.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(v.m2 / (v.n - 1), x.var(axis=0, ddof=1), rtol=1e-10)


def test_fortran_order_and_float16(tmp_path) -> None:  # type: ignore[no-untyped-def]
    x = np.asfortranarray(np.arange(30, dtype=np.float16).reshape(10, 3))
    path = tmp_path / "f.npy"
    np.save(path, x)
    batch = next(read_npy(path))
    assert str(batch.schema.field(COLUMN).type) == "fixed_size_list<item: float>[3]"
    assert np.array_equal(batch.column(0).flatten().to_numpy().reshape(10, 3), x.astype(np.float32))


@pytest.mark.parametrize("array, words", [(np.zeros(4), "2-D"), (np.zeros((2, 2, 2)), "2-D"),
                                          (np.array([["a"]]), "numbers")])
def test_not_a_matrix_of_numbers_names_the_file(tmp_path, array, words) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "bad.npy"
    np.save(path, array)
    with pytest.raises(SourceError, match=f"bad.npy.*{words}"):
        list(read_npy(path))


def test_stream_reader_equals_memory_map(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """An object of a datastore is read from a stream; the batches are the same."""
    from monitor.sources import npy

    x = np.random.default_rng(5).normal(size=(BATCH_ROWS + 3, 4)).astype(np.float32)
    path = tmp_path / "s.npy"
    np.save(path, x)

    class Obj:
        def __init__(self, p):  # type: ignore[no-untyped-def]
            self.p = p

        def open(self, sequential: bool = True):  # type: ignore[no-untyped-def]
            return open(self.p, "rb")

        def __str__(self) -> str:
            return "obj"

    streamed = compute_profile(npy._read_stream(Obj(path))).columns[COLUMN].vector
    mapped = compute_profile(read_npy(path)).columns[COLUMN].vector
    assert streamed is not None and mapped is not None
    assert np.array_equal(streamed.mean, mapped.mean) and np.array_equal(streamed.sample, mapped.sample)
