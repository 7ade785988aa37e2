"""Drift of vector (embedding) columns, measured on the distribution as a whole:
the formulas (pure functions on numpy arrays), the permutation null that
guards them, and the column's measures.

Conventions: ``X`` (shape ``(n_s, d)``) is the baseline's reservoir sample,
``Y`` (``(m_s, d)``) the target's; ``n`` and ``m`` the vectors each side
summarised (``n_s <= n``); means and variances are of all vectors.

- ``cosine_distance``: ``1 - <mu_b, mu_t> / (|mu_b| |mu_t|)`` (units: none, 0..2).
- ``mean_distance``: ``sqrt(mean_j ((mu_t,j - mu_b,j) / s_j)^2)``, ``s_j^2`` the
  pooled per-dimension variance: the root-mean-square shift of the dimensions,
  in standard deviations (Cohen's d per dimension, averaged in square).
- ``mmd``: the unbiased estimate of the squared maximum mean discrepancy
  (Gretton et al. 2012, *A Kernel Two-Sample Test*, JMLR 13, eq. 3) with the
  Gaussian kernel ``exp(-|x - y|^2 / (2 sigma^2))``, ``sigma`` the median
  distance between the pooled samples' vectors (the median heuristic).
- ``classifier_auc``: ROC AUC of a logistic regression telling the target's
  sample from the baseline's (scikit-learn, features standardised), fitted on
  a stratified half of the pooled samples and scored on the other, held-out
  half (Lopez-Paz & Oquab 2017, *Revisiting Classifier Two-Sample Tests*).

Noise (one false-alarm rate per comparison, :mod:`monitor.drift.noise`): the
two samples are pooled and split at random :data:`PERMUTATIONS` times (seeded
from the samples' bytes); ``mmd`` and the two mean distances are computed on
each split, and each null distribution is summarised by its mean, variance
and skewness (:class:`~monitor.drift.noise.NullFit`, read at the per-pair
level). The mean distances are measured on all vectors but permuted on the
samples: each split's means become the pooled mean of all vectors plus the
split's deviations scaled by ``sqrt((1/n + 1/m) / (1/n_s + 1/m_s))`` (1 when
the samples are all the vectors), the size the difference of the means has
under no drift.
The AUC is guarded by its Mann-Whitney null over the held-out rows: ``z = (AUC
- 1/2) / sqrt((n_h + m_h + 1) / (12 n_h m_h))``, one-sided, exact in
distribution given the fitted model (cross-validated AUCs are not: their folds'
models share rows, and on random halves of the digits p fell under 0.05 in 11
of 100 splits).
"""

from __future__ import annotations

import contextlib
import math
import zlib
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import stats

from monitor.drift.noise import NullFit

if TYPE_CHECKING:
    from monitor.profile.vectors import VectorSummary

Array = np.ndarray

PERMUTATIONS = 300
"""Random splits of the pooled samples for the permutation null."""
MIN_SAMPLE = 5
"""Vectors each side's sample needs for the domain classifier."""


@dataclass(frozen=True)
class VectorSide:
    """One side of a vector column, as a comparison sees it.

    :ivar n: vectors summarised; ``dim`` their length.
    :ivar mean: mean vector ``(dim,)``; ``variance`` per-dimension variance ``(dim,)`` (ddof 1).
    :ivar sample: uniform sample of the vectors, ``(k, dim)`` float64.
    """

    n: int
    dim: int
    mean: Array
    variance: Array
    sample: Array


def vector_side(summary: VectorSummary) -> VectorSide:
    """The :class:`VectorSide` of a profile's :class:`~monitor.profile.vectors.VectorSummary`."""
    return VectorSide(summary.n, summary.dim, summary.mean, summary.variance, summary.sample.astype(np.float64))


# ---------------------------------------------------------------------------
# formulas


def cosine_distance(mean_b: Array, mean_t: Array) -> float | None:
    """Cosine distance of the two mean vectors; None when a mean is the zero vector.

    Formula: ``1 - <mean_b, mean_t> / (|mean_b| |mean_t|)``. Units: none, 0..2.
    Direction: higher = more drift. Source: cosine distance (``scipy.spatial.distance.cosine``).
    """
    nb, nt = float(np.linalg.norm(mean_b)), float(np.linalg.norm(mean_t))
    if nb == 0 or nt == 0:
        return None
    return float(max(0.0, 1.0 - float(np.dot(mean_b, mean_t)) / (nb * nt)))


def pooled_std(var_b: Array, n: int, var_t: Array, m: int) -> Array:
    """Per-dimension pooled standard deviation ``sqrt(((n-1) v_b + (m-1) v_t) / (n + m - 2))``."""
    vb = np.nan_to_num(var_b) * max(n - 1, 0)
    vt = np.nan_to_num(var_t) * max(m - 1, 0)
    out: Array = np.sqrt((vb + vt) / max(n + m - 2, 1))
    return out


def mean_distance(mean_b: Array, mean_t: Array, scale: Array) -> float | None:
    """Standardised Euclidean distance of the means, per dimension.

    Formula: ``sqrt(mean_j ((mean_t,j - mean_b,j) / scale_j)^2)``, ``scale`` the pooled per-dimension
    standard deviation (:func:`pooled_std`); dimensions with ``scale == 0`` and equal means are left
    out. Units: standard deviations (root mean square over the dimensions). Direction: higher = more
    drift. Source: Cohen's d (Cohen 1988) per dimension, averaged in square (the Euclidean distance
    of the standardised means over ``sqrt(dim)``). None when a dimension without variance changed
    its mean (an infinite shift) or no dimension varies.
    """
    diff = np.asarray(mean_t, dtype=np.float64) - np.asarray(mean_b, dtype=np.float64)
    varies = scale > 0
    if np.any(~varies & (diff != 0)) or not varies.any():
        return None
    return float(np.sqrt(np.mean((diff[varies] / scale[varies]) ** 2)))


def median_bandwidth(z: Array) -> float:
    """Median distance between the pairs of rows of ``z`` (``(k, d)``; pairs ``i < j``), the RBF
    kernel's ``sigma``; 1 when it is 0."""
    return _median_of(_squared_distances(z))


def _median_of(d2: Array) -> float:
    upper = d2[np.triu_indices(d2.shape[0], k=1)]
    sigma = float(np.sqrt(np.median(upper))) if upper.size else 0.0
    return sigma if sigma > 0 else 1.0


def kernel_matrix(z: Array) -> tuple[float, Array]:
    """The median-heuristic ``sigma`` of ``z`` and its :func:`rbf_kernel` matrix, from one distance matrix."""
    d2 = _squared_distances(z)
    sigma = _median_of(d2)
    d2 *= -1.0 / (2.0 * sigma * sigma)
    return sigma, np.exp(d2, out=d2)


def _squared_distances(z: Array) -> Array:
    sq = np.einsum("ij,ij->i", z, z)
    d2: Array = np.maximum(sq[:, None] + sq[None, :] - 2.0 * (z @ z.T), 0.0)
    return d2


def rbf_kernel(z: Array, sigma: float) -> Array:
    """Gaussian kernel matrix ``exp(-|z_i - z_j|^2 / (2 sigma^2))`` of the rows of ``z``."""
    out: Array = np.exp(-_squared_distances(z) / (2.0 * sigma * sigma))
    return out


def mmd2_unbiased(kernel: Array, n: int) -> float:
    """Unbiased squared maximum mean discrepancy from the kernel matrix of ``[X; Y]``, ``X`` its first ``n`` rows.

    Formula: ``sum_{i!=j} k(x_i,x_j) / (n(n-1)) + sum_{i!=j} k(y_i,y_j) / (m(m-1)) - 2 mean k(x, y)``
    (can be slightly negative without drift). Units: squared distance in the kernel's feature space
    (0..2 for the RBF kernel). Direction: higher = more drift. Source: Gretton et al. 2012, "A Kernel
    Two-Sample Test", JMLR 13, eq. 3.
    """
    return float(_mmd2_many(kernel, _labels(kernel.shape[0], n)[:, None])[0])


def _labels(total: int, n: int) -> Array:
    out = np.zeros(total)
    out[:n] = 1.0
    return out


def _mmd2_many(kernel: Array, a: Array) -> Array:
    """Unbiased MMD² for each column of the 0/1 indicator matrix ``a`` (``(k, draws)``, 1 = first sample)."""
    b = 1.0 - a
    n, m = a[:, 0].sum(), b[:, 0].sum()
    diag = np.diag(kernel)
    ka = kernel @ a
    kxx = np.einsum("ij,ij->j", a, ka) - diag @ a
    kxy = np.einsum("ij,ij->j", b, ka)
    kyy = np.einsum("ij,ij->j", b, kernel @ b) - diag @ b
    out: Array = kxx / (n * (n - 1)) + kyy / (m * (m - 1)) - 2.0 * kxy / (n * m)
    return out


@dataclass(frozen=True)
class ClassifierTest:
    """The domain classifier's result on two samples of vectors.

    :ivar auc: ROC AUC on the held-out half (0..1; 0.5 = indistinguishable).
    :ivar p_value: one-sided Mann-Whitney p-value of ``auc > 1/2`` (:func:`auc_p`) for the
        held-out rows: ``held_baseline`` of the baseline's and ``held_target`` of the target's.
    """

    auc: float
    p_value: float
    held_baseline: int
    held_target: int


def classifier_auc(x: Array, y: Array, seed: int = 0) -> ClassifierTest:
    """ROC AUC of a logistic regression separating ``y`` (label 1) from ``x`` (label 0), on held-out rows.

    The pooled rows are split in two stratified halves (``train_test_split(test_size=0.5,
    stratify=labels, random_state=seed)``); ``StandardScaler`` + ``LogisticRegression(max_iter=1000)``
    is fitted on one half and its decision values on the other give the AUC
    (``sklearn.metrics.roc_auc_score``). BLAS runs on one thread here.

    Formula: ``P(score(y) > score(x))`` over held-out rows. Units: ROC AUC, 0..1. Direction: higher
    = more drift (0.5 = indistinguishable, 1 = separable). Source: Lopez-Paz & Oquab 2017,
    "Revisiting Classifier Two-Sample Tests"; scikit-learn.

    :param x: the baseline's sample, shape ``(n, d)``; ``y`` the target's, ``(m, d)``; each with at
        least 2 rows.
    :raises ImportError: when scikit-learn is not installed (the ``vectors`` extra).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    data = np.concatenate([x, y])
    labels = np.concatenate([np.zeros(len(x)), np.ones(len(y))])
    train, test = train_test_split(np.arange(len(labels)), test_size=0.5, stratify=labels,
                                   random_state=seed % (2**31))
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    with one_thread():  # small fits: threaded BLAS costs 10-30x more than it saves
        model.fit(data[train], labels[train])
        scores = model.decision_function(data[test])
    auc = float(roc_auc_score(labels[test], scores))
    held_target = int(labels[test].sum())
    held_baseline = len(test) - held_target
    return ClassifierTest(auc, auc_p(auc, held_baseline, held_target), held_baseline, held_target)


def auc_p(auc: float, n: int, m: int) -> float:
    """One-sided p-value of ``AUC > 1/2`` from the Mann-Whitney null: ``z = (auc - 1/2) /
    sqrt((n + m + 1) / (12 n m))``, ``1 - Phi(z)``."""
    return float(stats.norm.sf((auc - 0.5) / math.sqrt((n + m + 1) / (12.0 * n * m))))


# ---------------------------------------------------------------------------
# the permutation null


def _fit(values: Array) -> NullFit:
    skew = float(stats.skew(values)) if values.std() > 0 else 0.0
    return NullFit(float(values.mean()), float(values.var(ddof=1)), skew, int(values.size))


def seed_of(x: Array, y: Array) -> int:
    """A seed from the bytes of both samples: the same samples give the same splits."""
    return zlib.crc32(np.ascontiguousarray(x).tobytes() + np.ascontiguousarray(y).tobytes())


@dataclass(frozen=True)
class PermutationNull:
    """Null distributions of a vector column's statistics from random splits of the pooled samples.

    :ivar mmd: of the unbiased MMD²; ``mean_sq`` of ``mean_distance**2``; ``cosine`` of
        ``cosine_distance``, the last two of the means of all vectors (see :func:`permutation_null`).
    :ivar scale: ``(1/n + 1/m) / (1/n_s + 1/m_s)``.
    :ivar mmd_p: the permutation p-value of the observed MMD², ``(1 + #{null >= observed}) / (1 + draws)``.
    """

    mmd: NullFit
    mean_sq: NullFit
    cosine: NullFit
    scale: float
    mmd_p: float


def permutation_null(b: VectorSide, t: VectorSide, kernel: Array, observed_mmd: float, scale: Array,
                     draws: int = PERMUTATIONS) -> PermutationNull:
    """Split the pooled samples ``draws`` times (seeded by :func:`seed_of`) and fit each statistic's null.

    MMD² is computed on each split of the samples. The mean distances are of the means of all
    vectors, whose null is built from each split: the pooled mean of all vectors plus the split's
    deviations from the samples' mean scaled by ``sqrt((1/n + 1/m) / (1/n_s + 1/m_s))``, which gives
    the difference of the means the covariance it has under no drift at sizes ``n`` and ``m``.

    :param kernel: the RBF kernel matrix of ``[b.sample; t.sample]``.
    :param scale: per-dimension pooled standard deviation (of all vectors) standardising the mean distance.
    """
    x, y = b.sample, t.sample
    ns, ms = len(x), len(y)
    z = np.concatenate([x, y])
    rng = np.random.default_rng(seed_of(x, y))
    a = np.zeros((ns + ms, draws))
    for j in range(draws):
        a[rng.permutation(ns + ms)[:ns], j] = 1.0
    mmd = _mmd2_many(kernel, a)
    ratio = (1.0 / b.n + 1.0 / t.n) / (1.0 / ns + 1.0 / ms)
    pooled = (b.n * b.mean + t.n * t.mean) / (b.n + t.n)
    centre, spread = z.mean(axis=0), math.sqrt(ratio)
    mx = pooled + spread * ((a.T @ z) / ns - centre)
    my = pooled + spread * (((1.0 - a).T @ z) / ms - centre)
    varies = scale > 0
    diff = (my - mx)[:, varies] / scale[varies]
    mean_sq = np.mean(diff * diff, axis=1) if varies.any() else np.zeros(draws)
    norms = np.linalg.norm(mx, axis=1) * np.linalg.norm(my, axis=1)
    cos = 1.0 - np.einsum("ij,ij->i", mx, my) / np.where(norms > 0, norms, 1.0)
    p = (1.0 + float(np.sum(mmd >= observed_mmd))) / (1.0 + draws)
    return PermutationNull(_fit(mmd), _fit(mean_sq), _fit(np.maximum(cos, 0.0)), ratio, p)


def guard_detail(null: NullFit, alpha: float) -> dict[str, Any]:
    """What a guard read from a null distribution, for a result's detail."""
    return {"null_mean": null.mean, "draws": null.draws, "alpha": alpha}


def one_thread() -> Any:
    """A context in which BLAS runs on one thread (threadpoolctl, when installed): the matrices here
    are small, and threaded BLAS on a shared machine costs more than it saves."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - installed with scikit-learn
        return contextlib.nullcontext()
    return threadpool_limits(limits=1)


@cache
def sklearn_available() -> bool:
    """Whether scikit-learn (the ``vectors`` extra) can be imported."""
    try:
        import sklearn  # noqa: F401
    except ImportError:
        return False
    return True
