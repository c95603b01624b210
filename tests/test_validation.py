"""Honest validation: the null check, executor independence, failures, bad input and the CLI outputs."""

import time

import numpy as np
import pandas as pd
import pytest

from lvmd.cohort import join
from lvmd.config import StudyConfig
from lvmd.errors import LvmdError
from lvmd.simulate import simulate_cohort
from lvmd.validation import calibration, net_benefit, nri_idi, validate

FAMILIES = ("clinical+psd", "clinical+psd+ae")


@pytest.fixture(scope="module")
def null_cohort():
    sim = simulate_cohort(103, seed=5, null=True, maps_only=True)
    return join(sim.clinical, sim.maps, "null cohort")


def _fast_config():
    config = StudyConfig()
    config.features.pca_components = 16
    return config


def test_null_cohort_gain_is_overfitting(null_cohort):
    res = validate(null_cohort, _fast_config(), folds=5, repeats=3, bootstrap=0, families=FAMILIES, fast=True,
                   workers=2, stability_seeds=0)
    g = res.gain
    assert g["cv_gain_low"] < 0 < g["cv_gain_high"]  # the honest gain's CI covers zero
    assert g["apparent_gain"] > g["cv_gain"] + 0.02  # the in-sample gain is not honest
    row = res.summary.set_index("model").loc["clinical+psd+ae"]
    assert row["apparent_auc"] > row["cv_auc"]
    assert not res.failures


def test_identical_results_across_executors(null_cohort):
    kwargs = dict(folds=3, repeats=1, bootstrap=2, families=("clinical", "clinical+psd+ae"), fast=True,
                  stability_seeds=0)
    serial = validate(null_cohort, _fast_config(), workers=1, **kwargs)
    dask = validate(null_cohort, _fast_config(), scheduler="local:2", **kwargs)
    pd.testing.assert_frame_equal(serial.summary, dask.summary)
    pd.testing.assert_frame_equal(serial.predictions, dask.predictions)


def test_unreachable_scheduler_fails_fast(null_cohort):
    started = time.perf_counter()
    with pytest.raises(LvmdError, match="no Dask scheduler answered"):
        validate(null_cohort, folds=3, repeats=1, bootstrap=0, scheduler="tcp://127.0.0.1:9", fast=True)
    assert time.perf_counter() - started < 15


def test_too_many_folds(null_cohort):
    with pytest.raises(LvmdError, match="more than the 45 patients of the smaller response class"):
        validate(null_cohort, folds=60, repeats=1, bootstrap=0)


def test_metric_helpers():
    rng = np.random.default_rng(0)
    p = rng.uniform(0.05, 0.95, 4000)
    y = (rng.random(4000) < p).astype(int)
    intercept, slope = calibration(y, p)
    assert abs(intercept) < 0.1 and abs(slope - 1) < 0.1
    nb = net_benefit(y, p, [0.5])
    assert nb[0] == pytest.approx(np.mean((p >= 0.5) & (y == 1)) - np.mean((p >= 0.5) & (y == 0)))
    same = nri_idi(y, p, p)
    assert same["nri"] == 0 and same["idi"] == 0
    better = nri_idi(y, np.clip(p + 0.1 * (2 * y - 1), 0, 1), p)
    assert better["nri"] > 1.9 and better["idi"] == pytest.approx(0.2, abs=0.01)


def test_validate_cli(small_cohort_dir, tmp_path, cli):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[features]\npca_components = 16\n")
    res = cli("validate", str(small_cohort_dir), "--out", str(tmp_path / "v"), "--folds", "3", "--repeats", "1",
              "--bootstrap", "2", "--fast", "--stability-seeds", "2", "--config", str(cfg), "--quiet")
    assert res.returncode == 0, res.stderr
    table = pd.read_csv(tmp_path / "v" / "validation.csv")
    assert list(table.columns[:8]) == ["model", "apparent_auc", "cv_auc", "cv_auc_low", "cv_auc_high",
                                       "optimism_corrected_auc", "calibration_intercept", "calibration_slope"]
    assert "brier" in table.columns
    assert list(table["model"]) == ["clinical", "clinical+psd", "clinical+pbw", "clinical+psd+ae", "clinical+psd+pca"]
    assert table["brier"].between(0, 1).all() and (table["cv_auc_low"] <= table["cv_auc"]).all()
    html = (tmp_path / "v" / "report.html").read_text()
    assert "Apparent (in-sample) and honest AUC side by side" in html and "--fast" in html
    # 79 patients in 3 folds: 52 training maps cannot carry 64 latent features; the cap is stated.
    assert "autoencoder latent dimension in the folds: 51" in html
    for name in ("predictions.csv", "feature_selection.csv", "calibration.png", "decision_curve.png", "stability.csv"):
        assert (tmp_path / "v" / name).exists()
    res = cli("validate", str(small_cohort_dir), "--out", str(tmp_path / "w"), "--scheduler", "tcp://127.0.0.1:9")
    assert res.returncode == 2 and "no Dask scheduler answered" in res.stderr and not (tmp_path / "w").exists()


def flaky_task(payload):
    """Fails once for key 1 (marker file), always for key 2."""
    marker = payload["marker"]
    if payload["key"] == 2:
        raise RuntimeError("always broken")
    if payload["key"] == 1 and not marker.exists():
        marker.write_text("failed once")
        raise RuntimeError("transient")
    return {"key": payload["key"], "value": payload["key"] * 10}


def test_failed_task_retried_once_then_reported(tmp_path):
    from lvmd.validation import run_tasks

    payloads = [{"key": k, "marker": tmp_path / "m"} for k in range(4)]
    results, failures = run_tasks(flaky_task, payloads, workers=2)
    assert [r["value"] for r in results] == [0, 10, 30]
    assert failures == [(2, "RuntimeError: always broken")]
