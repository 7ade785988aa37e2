"""A snapshot's profile page: Azure ML's profile table, one row per column,
with a small distribution chart per column.

The caller (the service, which reads the store and summarises the profile)
hands :func:`profile_page_context` one record per column that has the fields
of :class:`ColumnFigures` (the profile package's ``ColumnSummary`` has them)
and the snapshot's facts; this module formats them into a frozen
:class:`ProfilePage` and lays out each column's :class:`SparkChart`: the bars
of a numeric column's histogram (its bins and shares as given), or of the
shares of its most frequent categories. It computes no statistic.

Every number cell carries its full-precision value in ``data-value`` (a
datetime's as seconds since the Unix epoch, UTC; a duration's in seconds) and
every bar its share in ``data-share``, so a reader or a test can check the page
against the data without parsing formatted text.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol

from monitor.report.format import _utc, fmt, pct

PROFILE_META_NAME = "drift-monitor-profile"
"""``name`` of the ``<meta>`` tag that holds a profile page's summary as JSON."""
PROFILE_META_VERSION = 1
SPARK_WIDTH = 120
SPARK_HEIGHT = 30
QUANTILE_LABELS = ("0.1%", "1%", "5%", "25%", "50%", "75%", "95%", "99%", "99.9%")
"""The table's quantile columns, as Azure ML names them (ranks 0.001 .. 0.999)."""


class HistogramFigures(Protocol):
    """What the page reads of a column's histogram (see the profile package's ``Histogram``)."""

    @property
    def edges(self) -> tuple[float, ...]: ...
    @property
    def shares(self) -> tuple[float, ...]: ...
    @property
    def clipped(self) -> bool: ...
    @property
    def below(self) -> float: ...
    @property
    def above(self) -> float: ...
    @property
    def exact(self) -> bool: ...


class ColumnFigures(Protocol):
    """What the page reads of one column (see the profile package's ``ColumnSummary``:
    the units, and which fields a kind has)."""

    @property
    def name(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def count(self) -> int: ...
    @property
    def missing(self) -> int: ...
    @property
    def not_missing(self) -> int: ...
    @property
    def percent_missing(self) -> float: ...
    @property
    def errors(self) -> int: ...
    @property
    def empty(self) -> int: ...
    @property
    def distinct(self) -> int: ...
    @property
    def distinct_error(self) -> float: ...
    @property
    def min(self) -> float | bool | None: ...
    @property
    def max(self) -> float | bool | None: ...
    @property
    def quantiles(self) -> tuple[tuple[float, float], ...]: ...
    @property
    def mean(self) -> float | None: ...
    @property
    def std(self) -> float | None: ...
    @property
    def variance(self) -> float | None: ...
    @property
    def skewness(self) -> float | None: ...
    @property
    def kurtosis(self) -> float | None: ...
    @property
    def is_exact(self) -> bool: ...
    @property
    def rank_error(self) -> float: ...
    @property
    def histogram(self) -> HistogramFigures | None: ...
    @property
    def categories(self) -> tuple[tuple[str, float], ...]: ...
    @property
    def other_share(self) -> float: ...
    @property
    def category_error(self) -> float: ...


# --------------------------------------------------------------------------- #
# the page context


@dataclass(frozen=True)
class SparkBar:
    """One bar of a column's distribution chart.

    :ivar share: the share of values it stands for (0..1), as ``data-share`` text.
    :ivar low: a histogram bin's lower edge, full precision (``None`` for a category).
    :ivar label: a category's label (``None`` for a bin).
    """

    x: float
    y: float
    width: float
    height: float
    css: str
    tooltip: str
    share: str
    low: str | None = None
    high: str | None = None
    label: str | None = None


@dataclass(frozen=True)
class SparkChart:
    """A column's distribution as small bars (SVG user units)."""

    width: int
    height: int
    bars: tuple[SparkBar, ...]
    title: str
    note: str | None = None
    """Shown under the chart: ``"p0.1–p99.9"`` when the tails are cut, ``"no values"`` when empty."""


@dataclass(frozen=True)
class ProfileCell:
    """One cell of the profile table.

    :ivar stat: the statistic's key (``min``, ``p50``, ``mean``, ...), the cell's ``data-stat``.
    :ivar text: the value formatted for a reader.
    :ivar value: the value in full precision, the cell's ``data-value`` (``None``: no value).
    :ivar note: a tooltip (how the value was estimated, its unit).
    :ivar estimated: the value comes from a sketch (drawn in italics).
    """

    stat: str
    text: str
    value: str | None = None
    note: str | None = None
    estimated: bool = False


@dataclass(frozen=True)
class ProfileRow:
    """One column of the profile table."""

    name: str
    kind: str
    cells: tuple[ProfileCell, ...]
    chart: SparkChart
    rank_error: str | None = None
    """The bound on the quantiles' normalised rank error, full precision, when
    they are estimated (the row's ``data-rank-error``); ``None`` when exact."""


@dataclass(frozen=True)
class ProfilePage:
    """Context of ``profile.html``: one snapshot's profile.

    :ivar headers: ``(stat, label)`` of the table's columns after the name, in
        the order of each row's cells.
    """

    dataset: str
    snapshot: str
    version: int
    monitor: str | None
    created_at: datetime
    window_start: datetime | None
    window_end: datetime | None
    rows: int
    fingerprint: str | None
    columns: tuple[ProfileRow, ...]
    headers: tuple[tuple[str, str], ...]
    generated_at: datetime
    estimated: bool
    """Whether any cell is estimated from a sketch."""
    index_href: str | None = None
    """Relative link to the reports index, when the page lives next to one."""
    history_href: str | None = None
    """Relative link to the history page of the snapshot's monitor, when there is one."""

    @property
    def title(self) -> str:
        """Page title: ``"flights: snapshot_20240501T060000Z profile"``."""
        return f"{self.dataset}: {self.snapshot} profile"

    @property
    def meta_json(self) -> str:
        """The summary the index reads back from the page, as JSON."""
        return json.dumps({
            "version": PROFILE_META_VERSION, "dataset": self.dataset, "snapshot": self.snapshot,
            "monitor": self.monitor, "created_at": _utc(self.created_at).isoformat(),
            "window_start": None if self.window_start is None else _utc(self.window_start).isoformat(),
            "window_end": None if self.window_end is None else _utc(self.window_end).isoformat(),
            "rows": self.rows, "columns": len(self.columns),
        }, sort_keys=True, ensure_ascii=False)


HEADERS: tuple[tuple[str, str], ...] = (
    ("kind", "Type"), ("min", "Min"), ("max", "Max"), ("count", "Count"), ("missing", "Missing count"),
    ("not_missing", "Not missing count"), ("percent_missing", "Percent missing"), ("errors", "Error count"),
    ("empty", "Empty count"),
    *((f"p{label[:-1]}", f"{label} quantile") for label in QUANTILE_LABELS),
    ("mean", "Mean"), ("std", "Standard deviation"), ("variance", "Variance"), ("skewness", "Skewness"),
    ("kurtosis", "Kurtosis"), ("distinct", "Distinct count"),
)


def profile_page_context(
    columns: Sequence[ColumnFigures], *, dataset: str, snapshot: str, version: int, created_at: datetime,
    rows: int, fingerprint: str | None = None, monitor: str | None = None, window_start: datetime | None = None,
    window_end: datetime | None = None, generated_at: datetime | None = None,
) -> ProfilePage:
    """Build the profile page of one snapshot.

    :param columns: one record per column, in column order, with the fields of
        :class:`ColumnFigures`.
    :param version: the dataset definition's version the snapshot was taken with.
    :param generated_at: when the page is made; now if ``None``.
    """
    built = tuple(_row(col) for col in columns)
    return ProfilePage(
        dataset=dataset, snapshot=snapshot, version=version, monitor=monitor, created_at=_utc(created_at),
        window_start=None if window_start is None else _utc(window_start),
        window_end=None if window_end is None else _utc(window_end), rows=rows, fingerprint=fingerprint,
        columns=built, headers=HEADERS, generated_at=_utc(generated_at or datetime.now(timezone.utc)),
        estimated=any(cell.estimated for row in built for cell in row.cells),
    )


# --------------------------------------------------------------------------- #
# cells


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _full(value: float | int | bool) -> str:
    """A number in full precision (``repr``: reads back to the same float)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value) if isinstance(value, int) else repr(float(value))


def timestamp_text(seconds: float) -> str:
    """Seconds since the Unix epoch as ``"2013-01-01 10:00:00"`` (UTC; microseconds
    when there are any); ``fmt`` of the number when it is beyond the calendar."""
    try:
        moment = _EPOCH + timedelta(microseconds=round(seconds * 1e6))
    except (OverflowError, ValueError):
        return fmt(seconds)
    return moment.strftime("%Y-%m-%d %H:%M:%S" + (".%f" if moment.microsecond else ""))


def duration_text(seconds: float) -> str:
    """A duration in seconds in its largest unit: ``"105.3 days"``, ``"2.5 h"``, ``"12 s"``."""
    for unit, size in (("days", 86400.0), ("h", 3600.0), ("min", 60.0)):
        if abs(seconds) >= size:
            return f"{fmt(seconds / size)} {unit}"
    return f"{fmt(seconds)} s"


def _number_cell(stat: str, value: float | bool | None, col: ColumnFigures, *, duration: bool = False,
                 estimated: bool = False, note: str | None = None) -> ProfileCell:
    """A cell of a number in the column's unit (a datetime column's: a UTC time)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ProfileCell(stat, "—")
    if isinstance(value, bool):
        return ProfileCell(stat, _full(value), _full(value))
    if col.kind == "datetime" and math.isfinite(value):
        text = duration_text(value) if duration else timestamp_text(value)
        note = note or ("a duration" if duration else "UTC")
    else:
        text = fmt(value)
    return ProfileCell(stat, text, _full(value), note, estimated)


def _count_cell(stat: str, value: int) -> ProfileCell:
    return ProfileCell(stat, fmt(int(value)), _full(int(value)))


def _quantile_cells(col: ColumnFigures) -> list[ProfileCell]:
    values = {round(rank * 10000): value for rank, value in col.quantiles}
    estimated = not col.is_exact
    note = f"from the quantile sketch: within ±{pct(col.rank_error)} of rank" if estimated else None
    return [
        _number_cell(f"p{label[:-1]}", values.get(round(float(label[:-1]) * 100)), col, estimated=estimated,
                     note=note)
        for label in QUANTILE_LABELS
    ]


def _distinct_cell(col: ColumnFigures) -> ProfileCell:
    if col.distinct_error > 0:
        note = f"estimated from a theta sketch: relative standard error {pct(col.distinct_error)}"
        return ProfileCell("distinct", "≈ " + fmt(int(col.distinct)), _full(int(col.distinct)), note, True)
    return _count_cell("distinct", col.distinct)


def _cells(col: ColumnFigures) -> tuple[ProfileCell, ...]:
    percent = col.percent_missing
    return (
        ProfileCell("kind", col.kind, col.kind),
        _number_cell("min", col.min, col), _number_cell("max", col.max, col),
        _count_cell("count", col.count), _count_cell("missing", col.missing),
        _count_cell("not_missing", col.not_missing),
        ProfileCell("percent_missing", fmt(percent, 3) + "%", _full(percent)),
        _count_cell("errors", col.errors), _count_cell("empty", col.empty),
        *_quantile_cells(col),
        _number_cell("mean", col.mean, col), _number_cell("std", col.std, col, duration=True),
        _number_cell("variance", col.variance, col), _number_cell("skewness", col.skewness, col),
        _number_cell("kurtosis", col.kurtosis, col), _distinct_cell(col),
    )


def _row(col: ColumnFigures) -> ProfileRow:
    bound = None if col.is_exact or not col.quantiles else _full(float(col.rank_error))
    return ProfileRow(col.name, col.kind, _cells(col), spark_chart(col), bound)


# --------------------------------------------------------------------------- #
# the distribution chart


def _bars(shares: Sequence[float], css: Sequence[str], tips: Sequence[str],
          extra: Sequence[dict[str, Any]]) -> tuple[SparkBar, ...]:
    """Bars side by side across the chart, heights relative to the largest share."""
    count = len(shares)
    top = max(shares, default=0.0)
    slot = SPARK_WIDTH / count if count else 0.0
    gap = 1.0 if slot >= 3 else 0.0
    out = []
    for i, share in enumerate(shares):
        height = (SPARK_HEIGHT - 2) * share / top if top > 0 else 0.0
        if 0 < height < 1:
            height = 1.0  # a value present is never invisible
        out.append(SparkBar(
            x=round(i * slot, 2), y=round(SPARK_HEIGHT - height, 2), width=round(max(slot - gap, 0.5), 2),
            height=round(height, 2), css=css[i], tooltip=tips[i], share=_full(float(share)), **extra[i],
        ))
    return tuple(out)


def _edge_text(value: float, col: ColumnFigures) -> str:
    return timestamp_text(value) if col.kind == "datetime" else fmt(value)


def _histogram_chart(col: ColumnFigures, hist: HistogramFigures) -> SparkChart:
    edges, shares = hist.edges, hist.shares
    first, last = _edge_text(edges[0], col), _edge_text(edges[-1], col)
    approx = "" if hist.exact else f" (from the quantile sketch: each share within ±{pct(2 * col.rank_error)})"
    title = (f"Distribution of {col.name}: {len(shares)} equal-width bin{'s' if len(shares) != 1 else ''} "
             f"from {first} to {last}{approx}")
    note = None
    if hist.clipped:
        title += (f"; the tails are long, so the bins span the 0.1% to 99.9% quantiles: "
                  f"{pct(hist.below)} of the values are below, {pct(hist.above)} above")
        note = "p0.1–p99.9"
    tips = [f"{_edge_text(lo, col)} to {_edge_text(hi, col)}: {pct(s)}"
            for lo, hi, s in zip(edges, edges[1:], shares)]
    extra = [{"low": _full(lo), "high": _full(hi)} for lo, hi in zip(edges, edges[1:])]
    bars = _bars(shares, ["bin"] * len(shares), tips, extra)
    return SparkChart(SPARK_WIDTH, SPARK_HEIGHT, bars, title, note)


def _category_chart(col: ColumnFigures) -> SparkChart:
    cats = list(col.categories)
    shares = [share for _, share in cats]
    css, tips = ["category"] * len(cats), [f"{label}: {pct(share)}" for label, share in cats]
    extra: list[dict[str, Any]] = [{"label": label} for label, _ in cats]
    if col.other_share > 0:
        shares.append(col.other_share)
        css.append("other")
        tips.append(f"other values: {pct(col.other_share)}")
        extra.append({"label": None})
    title = f"Most frequent values of {col.name}, share of the values counted"
    if col.other_share > 0:
        title += f"; all others together {pct(col.other_share)}"
    if col.category_error > 0:
        title += f" (each share may be low by up to {pct(col.category_error)})"
    return SparkChart(SPARK_WIDTH, SPARK_HEIGHT, _bars(shares, css, tips, extra), title)


def spark_chart(col: ColumnFigures) -> SparkChart:
    """The distribution chart of a column: its histogram's bars when it has
    one, else its top categories' shares (and an "other" bar), else an empty
    chart noting there are no values."""
    if col.histogram is not None:
        return _histogram_chart(col, col.histogram)
    if col.categories:
        return _category_chart(col)
    return SparkChart(SPARK_WIDTH, SPARK_HEIGHT, (), f"{col.name}: no values to draw", "no values")
