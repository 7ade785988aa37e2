"""One streaming pass over Arrow record batches → a mergeable :class:`DatasetProfile`.

Every per-column summary is mergeable, so a profile can be computed per file, row
group or column group, in parallel, and merged
(``profile(A + B) == merge(profile(A), profile(B))``). The statistics and their
definitions (they match pandas; the tests hold them to it):

- **Count**: rows. **Missing Count**: null values, and NaN in float columns (as
  ``Series.isna``). **Not Missing Count** = Count - Missing Count. **Percent
  missing** = 100 * Missing / Count. **Error Count**: values present that do not
  parse as the column's declared or inferred kind (e.g. ``"abc"`` in a CSV column
  declared integer); they are neither missing nor part of the statistics.
  **Empty count**: empty strings ``""`` in string and categorical columns.
- **Min**, **Max**: exact, over non-missing values, infinities included.
- **Mean**, **Variance**, **Standard Deviation** (sample, ``ddof=1``, as
  ``Series.var``/``Series.std``), **Skewness** (adjusted Fisher-Pearson G1, as
  ``Series.skew``) and **Kurtosis** (bias-corrected excess kurtosis G2, as
  ``Series.kurt``) over the finite values. They come from the count, mean and
  central moment sums M2, M3, M4, merged with the pairwise formulas of Chan,
  Golub & LeVeque (1979) and Pébay (2008, SAND2008-6212, eq. 3.1), kept for the
  values scaled by a power of two so that they stay finite for any finite values
  (see :class:`~monitor.profile.sketches.Moments`). Positive and negative
  infinities and zeros are counted apart.
- **Quantiles** 0.1%, 1%, 5%, 25%, 50%, 75%, 95%, 99%, 99.9% and the CDF, over
  finite values. Exact (``numpy.quantile``'s default linear interpolation, as
  ``Series.quantile``) while the column has at most :data:`~monitor.profile.numeric.EXACT_DISTINCT`
  distinct finite values or at most ``k`` values; beyond, from an Apache
  DataSketches KLL sketch with ``k`` = :data:`~monitor.profile.numeric.DEFAULT_K`. See
  :attr:`NumericSummary.rank_error` for the bound.
- **Distinct count**: from an Apache DataSketches theta sketch (Dasgupta et
  al. 2016) of the distinct non-missing values with ``k = 2**lg_k`` =
  4,096 nominal entries (:data:`~monitor.profile.theta.THETA_LG_K` = 12): exact up to
  k distinct values; above, an estimate with relative standard error about
  ``1/sqrt(k)`` = 1.6%. The sketches also estimate set overlap between two
  profiles (the drift metric ``new_values``).
- **Category frequencies** for string, categorical and boolean columns (and
  integer columns inferred categorical): the ``category_cap`` most frequent, the
  rest counted as "other"; exact while the column has at most
  ``10 * category_cap`` distinct values, beyond from a Misra-Gries summary of
  ``10 * category_cap`` counters (Agarwal et al. 2012, "Mergeable summaries"),
  each count low by at most :attr:`CategorySummary.error`.
- **String length** min, mean and max, in characters, of non-missing strings.

Kinds: integer, decimal, string, boolean, datetime, categorical, and vector (a
list of numbers: embeddings, summarised by :mod:`monitor.profile.vectors`). A column's
kind comes from its Arrow type, from a ``types`` override, or, for text columns
(CSV), from :func:`monitor.sources.csv_types.infer_kind` on the first batch.
Categorical inference, on the whole profile: a string column whose distinct
values all fit in the exact counts and number at most ``category_cap`` and at
most half its non-missing values is categorical; so is an integer column with at
most :data:`~monitor.profile.columns.SMALL_INT_CATEGORIES` distinct values, each occurring on average at
least twice. A dictionary-encoded Arrow column is categorical.

Datetimes are profiled as float seconds since the Unix epoch, UTC, at microsecond
resolution; a timestamp without a timezone (and a date) is taken to be UTC;
timestamps with a timezone are converted to UTC. :attr:`ColumnProfile.timezone`
records the source's zone. See ``docs/profile.md``.

A profile asked for one (``row_sample=k``) also keeps a uniform sample of
whole rows, for the multivariate drift test (:mod:`monitor.profile.rows`).

Modules: the model (:class:`ColumnProfile`, :class:`DatasetProfile`, merging)
in :mod:`monitor.profile.model`; profiling in :mod:`monitor.profile.engine`; the
summaries in :mod:`monitor.profile.sketches` (moments, category counts),
:mod:`monitor.profile.theta` (the distinct-value theta sketch and its
vectorised hashes), :mod:`monitor.profile.numeric` (the
numeric summary) and :mod:`monitor.profile.kll` (batches compacted into KLL
sketches); kinds in :mod:`monitor.profile.columns`; accumulation in
:mod:`monitor.profile.accumulators`; reading a file source with worker
processes in :mod:`monitor.profile.parallel`; the stored form in
:mod:`monitor.profile.serialize`, the row sample in :mod:`monitor.profile.rows`, the table and JSON forms in
:mod:`monitor.profile.table`, and values converted to their kind in
:mod:`monitor.profile.values`. Their public names are importable from here.
"""

from __future__ import annotations

from monitor.profile.accumulators import ColumnAccumulator, ProfileState
from monitor.profile.columns import (
    KINDS,
    NUMERIC_KINDS,
    SMALL_INT_CATEGORIES,
    TEXT_KINDS,
    ColumnSpec,
    column_spec,
    kind_of,
)
from monitor.profile.engine import (
    column_profile,
    compute_profile,
    finish_profile,
    profile_source,
)
from monitor.profile.kll import (
    compact_sorted,
    compact_to_sketch,
    compaction_level,
    kll_capacity,
)
from monitor.profile.model import (
    FORMAT_VERSION,
    QUANTILE_RANKS,
    ColumnProfile,
    DatasetProfile,
)
from monitor.profile.numeric import (
    DEFAULT_K,
    EXACT_DISTINCT,
    PRECOMPACT_MIN,
    SKETCH_SLICE,
    NumericSummary,
    value_counts,
)
from monitor.profile.parallel import (
    PARALLEL_MIN_CELLS,
    Progress,
    resolve_specs,
    run_in_workers,
    run_task,
)
from monitor.profile.serialize import (
    READABLE_VERSIONS,
    pack_sketch,
    profile_from_records,
    profile_to_records,
    unpack_sketch,
)
from monitor.profile.sketches import (
    COUNTER_FACTOR,
    DEFAULT_CATEGORY_CAP,
    CategoryCounter,
    CategorySummary,
    Moments,
    misra_gries_cut,
)
from monitor.profile.table import TABLE_COLUMNS, profile_json, profile_table
from monitor.profile.theta import (
    THETA_LG_K,
    THETA_SEED,
    DistinctSketch,
    retained_hashes,
    sketch_of_hashes,
    theta_hash_floats,
    theta_hash_strings,
)
from monitor.profile.values import coerce, finite_values, typed_batch
from monitor.profile.rows import ROW_SAMPLE_SIZE, RowSample
from monitor.profile.vectors import SAMPLE_SIZE, VectorSummary, is_vector_type, vector_values

__all__ = [
    "COUNTER_FACTOR", "DEFAULT_CATEGORY_CAP", "DEFAULT_K", "EXACT_DISTINCT", "FORMAT_VERSION",
    "KINDS", "NUMERIC_KINDS", "PARALLEL_MIN_CELLS", "PRECOMPACT_MIN", "QUANTILE_RANKS",
    "READABLE_VERSIONS", "SKETCH_SLICE", "SMALL_INT_CATEGORIES", "TABLE_COLUMNS", "TEXT_KINDS", "THETA_LG_K",
    "THETA_SEED", "SAMPLE_SIZE", "ROW_SAMPLE_SIZE", "RowSample", "VectorSummary", "is_vector_type", "vector_values",
    "CategoryCounter", "CategorySummary", "ColumnAccumulator", "ColumnProfile", "ColumnSpec",
    "DatasetProfile", "DistinctSketch", "Moments", "NumericSummary", "ProfileState", "Progress", "coerce",
    "column_profile", "column_spec", "compact_to_sketch", "compaction_level", "compute_profile", "compact_sorted",
    "finish_profile", "finite_values", "kind_of", "kll_capacity",
    "misra_gries_cut", "pack_sketch", "profile_from_records", "profile_json", "profile_source",
    "profile_table", "profile_to_records", "resolve_specs", "retained_hashes", "run_in_workers", "run_task", "sketch_of_hashes",
    "theta_hash_floats", "theta_hash_strings", "typed_batch", "unpack_sketch",
    "value_counts",
]
