"""Set overlap of a column's distinct values between baseline and target: the
drift metric ``new_values`` (:func:`new_values`, returning an :class:`Overlap`).

A high-cardinality column whose values are replaced wholesale (tail numbers,
product codes, user agents) can leave every distribution metric at 0 in profile
mode: beyond the profile's category cap both sides are one "other" cell.
``new_values`` asks instead which share of the target's distinct values the
baseline never had. Profiles carry a theta sketch of each column's distinct
values (:class:`monitor.profile.theta.DistinctSketch`), and theta sketches
estimate set differences: Dasgupta, Lang, Rhodes & Thaler (2016), "A Framework
for Estimating Stream Expression Cardinalities" (ICDT 2016), as implemented by
Apache DataSketches' ``theta_a_not_b``.

Under no drift the share is not 0: a sample of a long-tailed column misses many
of its rare values, so another sample of the same data shows them as new (on
random halves of flights' ``dest`` at 100 rows a side, up to 0.56; Zipf-like
columns of 10,000 to 200,000 rows, 0.4 to 0.7). Decisions therefore subtract
the share expected without drift (:func:`no_drift_allowance`, a permutation
argument on the pooled rows per value), as the other deciding metrics subtract
their sampling noise.

Pure functions; no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import datasketches
import numpy as np
from scipy import special, stats


if TYPE_CHECKING:
    from monitor.drift.inputs import ColumnInput
    from monitor.drift.metrics import CategoryCounts
    from monitor.profile.theta import DistinctSketch

__all__ = ["IDENTIFIER_NOTE", "IDENTIFIER_RATIO", "LEGACY_REASON", "Overlap", "new_values", "no_drift_allowance"]

IDENTIFIER_RATIO = 0.5
"""A column with more than this many distinct values per non-missing value on
either side is a near-unique identifier: new values are its nature, not drift."""
IDENTIFIER_NOTE = "near-unique identifier: not judged on overlap"
LEGACY_REASON = ("the {side} profile was stored before distinct-value sketches were kept (profile format 1 or 2, "
                 "K-minimum-values hashes), so its distinct values cannot be compared with the other side's")
OVERLAP_ALPHA = 0.05
"""Tail probability of the new-values allowance (its one-sided upper bound under a random split)."""
_Z = float(stats.norm.ppf(1 - OVERLAP_ALPHA))


@dataclass(frozen=True)
class Overlap:
    """How the target's distinct values overlap the baseline's.

    :ivar value: ``|T \\ B| / |T|``, the share of the target's distinct values that
        the baseline does not have (0..1); None when undefined (see ``reason``).
    :ivar new_distinct: estimated ``|T \\ B|``; ``target_distinct`` ``|T|`` and
        ``baseline_distinct`` ``|B|`` likewise (exact when ``estimate`` is False).
    :ivar new_mass: share of the target's non-missing rows whose value is new (0..1).
    :ivar identifier: distinct / values above :data:`IDENTIFIER_RATIO` on either
        side: the metric is reported but decides nothing.
    :ivar estimate: True when ``value`` or ``new_mass`` is an estimate (a sketch
        beyond its exact range, or rows of values the category counts do not list).
    :ivar null_share: the share expected without drift, and ``allowance`` the
        one-sided 95% bound of it that decisions subtract (:func:`no_drift_allowance`);
        None when the rows per value are not known.
    :ivar sampled: the target values the estimate rests on (those whose hash is
        below both sketches' theta); None when computed from the category counts.
    """

    value: float | None
    new_distinct: float | None
    target_distinct: float | None
    baseline_distinct: float | None
    new_mass: float | None
    identifier: bool
    estimate: bool
    null_share: float | None = None
    allowance: float | None = None
    sampled: int | None = None
    reason: str | None = None

    @property
    def decision(self) -> float | None:
        """The number compared with the thresholds: ``max(0, value - allowance)``;
        None for a near-unique identifier or without an allowance (it never decides)."""
        if self.identifier or self.value is None or self.allowance is None:
            return None
        return max(0.0, self.value - self.allowance)

    @property
    def note(self) -> str | None:
        """What the column's reason says about this metric: :data:`IDENTIFIER_NOTE` or None."""
        return IDENTIFIER_NOTE if self.identifier else None

    @property
    def detail(self) -> Mapping[str, Any]:
        """The metric's ``detail``: new_distinct, target_distinct, baseline_distinct,
        new_mass, identifier, estimate, null_share, noise_allowance (and sampled,
        note, reason when set)."""
        out: dict[str, Any] = {"new_distinct": self.new_distinct, "target_distinct": self.target_distinct,
                               "baseline_distinct": self.baseline_distinct, "new_mass": self.new_mass,
                               "identifier": self.identifier, "estimate": self.estimate,
                               "null_share": self.null_share, "noise_allowance": self.allowance}
        if self.sampled is not None:
            out["sampled"] = self.sampled
        if self.identifier:
            out["note"] = IDENTIFIER_NOTE
        if self.reason:
            out["reason"] = self.reason
        return out


def _undefined(reason: str, identifier: bool = False) -> Overlap:
    return Overlap(None, None, None, None, None, identifier, False, reason=reason)


def _is_identifier(distinct: float, values: int) -> bool:
    return values > 0 and distinct / values > IDENTIFIER_RATIO


def new_values(baseline: ColumnInput, target: ColumnInput) -> Overlap:
    """The share of the target's distinct values that do not occur in the baseline.

    Formula: ``|T \\ B| / |T|`` over the distinct non-missing values ``B`` of the
    baseline and ``T`` of the target. Exact from the category counts when both
    sides list every value (no "other" bucket: exact mode, and profiles under the
    category cap); otherwise from the two theta sketches: ``theta_a_not_b(T, B)``
    keeps the target hashes below ``theta = min(theta_T, theta_B)`` absent from
    the baseline, and the value is their number over the number of target hashes
    below the same ``theta`` (a ratio of two counts in one uniform sample of the
    distinct values, exact when both sketches are exact, i.e. hold at most 4,096
    values).

    ``new_mass`` is the share of target rows whose value is new: exact when every
    listed target category's membership is known and the target has no "other"
    bucket; otherwise ``(N_known + U * r) / m``, where ``N_known`` counts the rows
    of listed target categories known to be new (absent from the baseline's list
    when that list is complete, else tested against the baseline sketch's
    retained hashes when the category's hash falls below ``theta_B``), ``U`` the
    rows of the other target values (its "other" bucket and listed categories
    whose membership is unknown), ``r`` the estimated new share among those
    values' distinct values, ``(|T \\ B| - n_new) / (|T| - n_known)`` clipped to
    0..1, and ``m`` the target's non-missing values. It assumes the unlisted new
    and old values are equally frequent on average (under no drift new values
    are the rarer ones, so it then overstates the mass).

    Decision: ``max(0, value - allowance)`` with the no-drift allowance of
    :func:`no_drift_allowance` from the rows per value (category counts, or the
    rows the sketches count for the values they sample). A column with more than
    :data:`IDENTIFIER_RATIO` distinct values per value on either side is a
    near-unique identifier (``identifier``): reported, never deciding. Undefined
    (``value`` None, with a reason) when a side has no theta sketch (a profile
    stored before format 3) or no values.

    Units: share of the target's distinct values (0..1).
    Direction: higher = more drift.
    Source: theta sketch set difference, Dasgupta et al. 2016 "A Framework for
    Estimating Stream Expression Cardinalities"; Apache DataSketches
    ``theta_a_not_b``.
    """
    bc, tc = baseline.categories, target.categories
    if bc is not None and tc is not None and not bc.other and not tc.other:
        return _from_counts(bc, tc)
    for side, col in (("baseline", baseline), ("target", target)):
        if col.distinct is None:
            return _undefined(LEGACY_REASON.format(side=side))
    return _from_sketches(baseline, target)


def no_drift_allowance(baseline_rows: np.ndarray, target_rows: np.ndarray, n: int, m: int) -> tuple[float, float]:
    """The share of the target's distinct values expected to be new without drift,
    and its one-sided ``1 - OVERLAP_ALPHA`` (95%) upper bound: ``(share, allowance)``.

    A permutation argument on the pooled rows (Fisher's randomisation: with no
    drift every split of the pooled ``n + m`` values into a baseline of ``n`` and a
    target of ``m`` is equally likely): a value with ``c`` pooled rows is new in the
    target with probability ``C(n + m - c, m - c) / C(n + m, m)`` (all ``c`` rows
    drawn into the target) and in the target at all with ``1 - C(n + m - c, m) /
    C(n + m, m)`` (hypergeometric). ``share = E_new / E_T``, the sums of these over
    the values; ``allowance = share + z * sd`` with ``z`` the standard normal's
    ``1 - OVERLAP_ALPHA`` quantile and ``sd`` the delta-method standard deviation of
    the ratio, values taken as independent: ``sd**2 = sum(p_new (1 - p_new) +
    share**2 p_in (1 - p_in) - 2 share p_new (1 - p_in)) / E_T**2``.

    :param baseline_rows: rows of each value in the baseline (0 if absent), aligned
        with ``target_rows``; every value or a uniform sample of the distinct values.
    :param n: the baseline's non-missing values; ``m`` the target's.
    """
    c = (np.asarray(baseline_rows, dtype=np.float64) + np.asarray(target_rows, dtype=np.float64))
    c = c[c > 0]
    total = float(n + m)
    base = special.gammaln(total - c + 1) - special.gammaln(total + 1)
    with np.errstate(invalid="ignore"):
        log_new = np.where(c <= m, base + special.gammaln(m + 1.0) - special.gammaln(np.maximum(m - c, 0) + 1),
                           -np.inf)
        log_out = np.where(c <= n, base + special.gammaln(n + 1.0) - special.gammaln(np.maximum(n - c, 0) + 1),
                           -np.inf)
    p_new, p_in = np.exp(log_new), -np.expm1(log_out)
    expected = float(p_in.sum())
    if expected <= 0:
        return 0.0, 0.0
    share = float(p_new.sum()) / expected
    var = p_new * (1 - p_new) + share * share * p_in * (1 - p_in) - 2 * share * p_new * (1 - p_in)
    return share, share + _Z * math.sqrt(max(0.0, float(var.sum()))) / expected


def _from_counts(b: CategoryCounts, t: CategoryCounts) -> Overlap:
    base = {c: n for c, n in b.counts.items() if n}
    targ = {c: n for c, n in t.counts.items() if n}
    if not targ or not base:
        return _undefined("a side has no values")
    new = [c for c in targ if c not in base]
    identifier = _is_identifier(len(base), b.total) or _is_identifier(len(targ), t.total)
    labels = list(base.keys() | targ.keys())
    null, allowance = no_drift_allowance(np.array([base.get(c, 0) for c in labels]),
                                         np.array([targ.get(c, 0) for c in labels]), b.total, t.total)
    mass = sum(targ[c] for c in new) / t.total
    return Overlap(len(new) / len(targ), float(len(new)), float(len(targ)), float(len(base)), mass,
                   identifier, False, null, allowance)


def _from_sketches(baseline: ColumnInput, target: ColumnInput) -> Overlap:
    from monitor.profile.theta import THETA_SEED

    b_sketch, t_sketch = baseline.distinct, target.distinct
    assert b_sketch is not None and t_sketch is not None
    t_theta, b_theta = t_sketch.theta, b_sketch.theta
    if t_theta.is_empty() or b_theta.is_empty():
        return _undefined("a side has no values")
    t_est, b_est = float(t_theta.get_estimate()), float(b_theta.get_estimate())
    identifier = _is_identifier(b_est, baseline.values) or _is_identifier(t_est, target.values)
    new = datasketches.theta_a_not_b(THETA_SEED).compute(t_theta, b_theta)
    theta = np.uint64(int(new.theta64))
    t_in, b_in = t_sketch.hashes < theta, b_sketch.hashes < theta
    sampled = int(np.count_nonzero(t_in))
    if sampled == 0:
        return Overlap(None, None, t_est, b_est, None, identifier, True, sampled=0,
                       reason="no target value falls in the baseline sketch's sample (the baseline has far more "
                              "distinct values than the target), so the overlap cannot be estimated")
    value = int(new.num_retained) / sampled
    new_distinct = float(new.get_estimate())
    exact = not t_theta.is_estimation_mode() and not b_theta.is_estimation_mode()
    mass, mass_estimated = _new_mass(baseline, target, b_sketch, value, new_distinct, t_est)
    null = allowance = None
    reason = None
    if t_sketch.counts is not None and b_sketch.counts is not None:
        pooled = np.union1d(t_sketch.hashes[t_in], b_sketch.hashes[b_in])
        null, allowance = no_drift_allowance(b_sketch.rows_of(pooled), t_sketch.rows_of(pooled),
                                             baseline.values, target.values)
    else:
        reason = "the sketches do not count rows per value, so the share expected without drift is unknown"
    return Overlap(value, new_distinct, t_est, b_est, mass, identifier, mass_estimated or not exact, null,
                   allowance, sampled, reason)


def _label_hashes(labels: list[str], numeric: bool) -> np.ndarray:
    """Theta hashes of category labels as the profile hashed the values: numbers
    (categories of an integer column) as float64, other labels as strings."""
    import pyarrow as pa

    from monitor.profile.theta import theta_hash_floats, theta_hash_strings

    if numeric:
        return theta_hash_floats(np.array([float(c) for c in labels], dtype=np.float64))
    return theta_hash_strings(pa.array(labels, type=pa.string()))


def _new_mass(baseline: ColumnInput, target: ColumnInput, b_sketch: DistinctSketch, value: float,
              new_distinct: float, t_est: float) -> tuple[float | None, bool]:
    """(new_mass, whether it is estimated); see :func:`new_values`."""
    tc, bc = target.categories, baseline.categories
    if tc is None or not tc.total:
        return None, True
    listed = {c: n for c, n in tc.counts.items() if n}
    base_listed = set(bc.counts) if bc is not None else set()
    base_complete = bc is not None and not bc.other
    unknown = [c for c in listed if c not in base_listed and not base_complete]
    new_known = [c for c in listed if c not in base_listed and base_complete]
    if unknown:
        try:
            hashes = _label_hashes(unknown, (target.base_kind or target.kind) == "integer")
        except ValueError:
            hashes = None
        if hashes is not None:
            testable = hashes < np.uint64(int(b_sketch.theta.theta64))
            absent = ~np.isin(hashes, b_sketch.hashes)
            new_known += [c for c, ok, gone in zip(unknown, testable, absent) if ok and gone]
            unknown = [c for c, ok in zip(unknown, testable) if not ok]
    rest = tc.other + sum(listed[c] for c in unknown)
    known = len(listed) - len(unknown)
    mass = float(sum(listed[c] for c in new_known))
    if rest:
        spare = t_est - known
        share = (new_distinct - len(new_known)) / spare if spare >= 1 else value
        mass += rest * min(1.0, max(0.0, share))
    return mass / tc.total, rest > 0
