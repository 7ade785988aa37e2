"""The report's PCA scatter of a vector column: the projection against
scikit-learn's PCA, and the SVG drawing both sides' points."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import numpy as np
import pyarrow as pa
import pytest

pytest.importorskip("sklearn")

from sklearn.decomposition import PCA  # noqa: E402

from monitor import report  # noqa: E402
from monitor.drift import compare_profiles  # noqa: E402
from monitor.drift.display import SCATTER_POINTS, pca_scatter  # noqa: E402
from monitor.profile import compute_profile  # noqa: E402


def _profile(x: np.ndarray):  # type: ignore[no-untyped-def]
    col = pa.FixedSizeListArray.from_arrays(pa.array(x.astype(np.float32).ravel()), x.shape[1])
    return compute_profile([pa.RecordBatch.from_arrays([col], ["emb"])])


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(8)
    scale = np.linspace(3.0, 0.2, 12)
    return rng.normal(size=(700, 12)) * scale, rng.normal(loc=0.4, size=(900, 12)) * scale


def test_projection_matches_sklearn_up_to_sign() -> None:
    b, t = _data()
    shown = pca_scatter(b, t, limit=10_000)
    assert shown is not None
    pca = PCA(n_components=2, svd_solver="full").fit(np.concatenate([b, t]))
    np.testing.assert_allclose(shown["explained"], pca.explained_variance_ratio_, rtol=1e-10)
    expected = pca.transform(np.concatenate([b, t]))
    got = np.array(shown["baseline"] + shown["target"])
    for axis in range(2):
        sign = np.sign(expected[:, axis] @ got[:, axis])
        np.testing.assert_allclose(got[:, axis], sign * expected[:, axis], rtol=1e-4, atol=1e-4 * np.abs(expected).max())


def test_at_most_limit_points_per_side() -> None:
    b, t = _data()
    shown = pca_scatter(b, t)
    assert shown is not None
    assert len(shown["baseline"]) == SCATTER_POINTS and len(shown["target"]) == SCATTER_POINTS
    assert pca_scatter(b[:0], t) is None


def test_report_draws_both_samples_and_the_metric_table() -> None:
    b, t = _data()
    drift = compare_profiles(_profile(b), _profile(t))
    col = drift.to_dict()["columns"][0]
    pca = col["display"]["vector"]["pca"]
    assert len(pca["baseline"]) == SCATTER_POINTS and len(pca["target"]) == SCATTER_POINTS
    when = datetime(2026, 1, 1, tzinfo=timezone.utc)
    page = report.comparison_context(drift.to_dict(), dataset="docs", monitor=None, baseline_name="jan",
                                     baseline_created=when, target_name="feb", target_created=when)
    html = report.render_comparison(page)
    svg = re.search(r'<svg class="chart scatter".*?</svg>', html, re.S)
    assert svg is not None
    assert svg.group(0).count('data-side="baseline"') == SCATTER_POINTS
    assert svg.group(0).count('data-side="target"') == SCATTER_POINTS
    xs = [float(v) for v in re.findall(r'cx="([-0-9.]+)"', svg.group(0))]
    ys = [float(v) for v in re.findall(r'cy="([-0-9.]+)"', svg.group(0))]
    assert min(xs) >= 56 and max(xs) <= 420 - 14 and min(ys) >= 12 and max(ys) <= 340 - 44
    share = 100 * pca["explained"][0]
    assert re.search(rf"PC1 \({share:.3g}% of variance\)", svg.group(0)), svg.group(0)[-400:]
    assert "PC2 (" in svg.group(0)
    assert '<table class="metrics">' in html and "mmd" in html.lower()
