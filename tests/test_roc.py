"""DeLong ROC analysis against R's pROC on the aSAH data (tests/data)."""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from lvmd.errors import StatsError
from lvmd.stats import delong_test, roc_auc

from .conftest import DATA

TOL = 1e-9


@pytest.fixture(scope="module")
def asah():
    data = pd.read_csv(DATA / "asah.csv")
    ref = json.loads((DATA / "asah-proc-reference.json").read_text())
    return data, (data["outcome"] == "Poor").astype(int).to_numpy(), ref


@pytest.mark.parametrize("marker", ["s100b", "ndka", "wfns"])
def test_auc_variance_ci_match_proc(asah, marker):
    data, y, ref = asah
    r = roc_auc(y, data[marker])
    assert r.auc == pytest.approx(ref["auc"][marker], abs=TOL)
    assert r.variance == pytest.approx(ref["delong_variance"][marker], abs=TOL)
    assert r.ci == pytest.approx(tuple(ref["delong_ci95"][marker]), abs=TOL)
    assert r.auc == pytest.approx(roc_auc_score(y, data[marker]), abs=1e-12)


def test_ci_subset_females(asah):
    data, y, ref = asah
    female = (data["gender"] == "Female").to_numpy()
    r = roc_auc(y[female], data["ndka"][female])
    low, auc, high = ref["delong_ci95_ndka_females_only"]
    assert (r.ci[0], r.auc, r.ci[1]) == pytest.approx((low, auc, high), abs=1e-9)


def test_covariances(asah):
    data, y, ref = asah
    for pair, value in ref["delong_covariance"].items():
        a, b = pair.split("|")
        assert delong_test(y, data[a], data[b]).covariance == pytest.approx(value, abs=TOL)


def test_paired_delong(asah):
    data, y, ref = asah
    for case in ref["paired_delong_test"]:
        t = delong_test(y, data[case["roc1"]], data[case["roc2"]], paired=True)
        assert t.statistic == pytest.approx(case["z"], abs=TOL)
        assert t.p_value == pytest.approx(case["p_two_sided"], abs=TOL)
        assert t.ci == pytest.approx(tuple(case["ci95_difference"]), abs=TOL)
        if "p_greater" in case:
            assert t.p_one_sided("greater") == pytest.approx(case["p_greater"], abs=TOL)
            assert t.p_one_sided("less") == pytest.approx(case["p_less"], abs=TOL)


def test_unpaired_delong(asah):
    data, y, ref = asah
    for case in ref["unpaired_delong_test"]:
        t = delong_test(y, data[case["roc1"]], data[case["roc2"]], paired=False)
        assert t.statistic == pytest.approx(case["d"], abs=TOL)
        assert t.p_value == pytest.approx(case["p_two_sided"], abs=TOL)


def test_partial_auc(asah):
    data, y, ref = asah
    pa = ref["partial_auc"]
    for marker in ("wfns", "ndka"):
        r = roc_auc(y, data[marker])
        assert r.partial_auc((1, 0.9)) == pytest.approx(pa["specificity_1_to_0.9"][marker], abs=TOL)
        assert r.partial_auc((1, 0.9), correct=True) == pytest.approx(
            pa["specificity_1_to_0.9_mcclish_corrected"][marker], abs=TOL)
        assert r.partial_auc((0.9, 0.8)) == pytest.approx(pa["specificity_0.9_to_0.8"][marker], abs=TOL)
        assert r.partial_auc((1, 0.9), focus="sensitivity") == pytest.approx(pa["sensitivity_1_to_0.9"][marker], abs=TOL)


def test_youden_and_coords(asah):
    data, y, ref = asah
    r = roc_auc(y, data["s100b"])
    best = r.youden()
    expected = ref["youden_best_threshold_s100b"]
    assert best["threshold"] == pytest.approx(expected["threshold"], abs=1e-12)
    assert best["specificity"] == pytest.approx(expected["specificity"], abs=TOL)
    assert best["sensitivity"] == pytest.approx(expected["sensitivity"], abs=TOL)
    coords = r.coords([c["threshold"] for c in ref["coords_s100b"]])
    for (_, row), c in zip(coords.iterrows(), ref["coords_s100b"]):
        assert row["specificity"] == pytest.approx(c["specificity"], abs=1e-7)
        assert row["sensitivity"] == pytest.approx(c["sensitivity"], abs=1e-7)


def test_direction_and_bad_input():
    r = roc_auc([0, 0, 1, 1], [0.9, 0.8, 0.1, 0.2])
    assert r.direction == ">" and r.auc == 1.0
    with pytest.raises(StatsError, match="single class"):
        roc_auc([1, 1, 1], [0.1, 0.2, 0.3])
    with pytest.raises(StatsError, match="not binary"):
        roc_auc([0, 1, 2], [0.1, 0.2, 0.3])
    with pytest.raises(StatsError, match="mismatched lengths"):
        roc_auc([0, 1, 1], [0.1, 0.2])


def test_large_ties_match_sklearn():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 5000)
    s = np.round(rng.normal(size=5000) + y, 1)
    assert roc_auc(y, s, direction="<").auc == pytest.approx(roc_auc_score(y, s), abs=1e-12)


def test_identical_roc_curves_are_a_result_not_an_error():
    # Defect: "DeLong test undefined" raised whenever two models gave the same ranking (e.g. no feature selected).
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 80)
    s = rng.normal(size=80) + y
    for other in (s, 3 * s + 1):  # the same score, and a monotone transform of it: identical ROC curves
        t = delong_test(y, s, other)
        assert t.auc1 - t.auc2 == 0 and t.p_value == 1.0 and t.statistic == 0 and t.ci == (0.0, 0.0)
        assert "identical ROC curves" in t.note
    assert "array(" not in repr(t) and "_cases" not in repr(roc_auc(y, s))
