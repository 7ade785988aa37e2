"""The statistics engine: two profiles (or two data copies) → per-column drift
metrics, severities and a dataset verdict.

Pure functions, no I/O. :func:`compare_profiles` works from two
:class:`~monitor.profile.DatasetProfile` objects alone, so snapshots years apart
can be compared without their data; :func:`compare_data` (exact mode) computes the
same metrics from two Arrow tables with scipy and numpy, and is the oracle the
profile numbers are checked against.

Decisions use effect sizes, each guarded by a test of "no change" at the
dataset's false-alarm rate split over the deciding pairs (see
:mod:`monitor.drift.noise` and ``docs/metrics.md``): a column with fewer than
``min_values`` values on either side is "insufficient data" for its
distribution (its missing rate still decides); p-value metrics decide only where
thresholds are set for them, and then under a Benjamini-Hochberg correction
across columns.

Example::

    result = compare_profiles(baseline_profile, target_profile,
                              DriftSettings.from_config({"psi": {"warning": 0.2}}, 100, 0.05))
    result.verdict.drifted, [c.column for c in result.drifted_columns()]
    json.dumps(result.to_dict())

Modules: the formulas in :mod:`monitor.drift.metrics` and their registry in
:mod:`monitor.drift.registry`; thresholds and their validation in
:mod:`monitor.drift.settings`; a column's inputs (from a profile) in
:mod:`monitor.drift.inputs`; measuring, deciding and the verdict in
:mod:`monitor.drift.compare`, the noise tests in :mod:`monitor.drift.noise`
and what a column's report shows in :mod:`monitor.drift.display`; the two sides
of a comparison in :mod:`monitor.drift.sides`; the set overlap of distinct values
(``new_values``) in :mod:`monitor.drift.overlap`; exact mode in
:mod:`monitor.drift.exact`; the
result types in :mod:`monitor.drift.results`. Their public names are importable
from here.
"""

from __future__ import annotations

from monitor.drift.compare import compare_profiles
from monitor.drift.exact import compare_data
from monitor.drift.registry import METRIC_FUNCTIONS, METRICS, Metric, metric_table
from monitor.drift.results import ColumnDrift, DatasetDrift, MetricResult, Verdict
from monitor.drift.settings import DriftSettings, Severity, Threshold, threshold_problems

__all__ = [
    "METRICS",
    "METRIC_FUNCTIONS",
    "ColumnDrift",
    "DatasetDrift",
    "DriftSettings",
    "Metric",
    "MetricResult",
    "Severity",
    "Threshold",
    "Verdict",
    "compare_data",
    "compare_profiles",
    "metric_table",
    "threshold_problems",
]
