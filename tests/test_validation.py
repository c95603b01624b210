"""Honest validation: the null check, executor independence, failures, bad input and the CLI outputs."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lvmd.cohort import join
from lvmd.config import StudyConfig
from lvmd.errors import LvmdError
from lvmd.executor import run_tasks
from lvmd.simulate import simulate_cohort
from lvmd.stats import calibration, net_benefit
from lvmd.validation import validate

FAMILIES = ("clinical+psd", "clinical+psd+ae")


@pytest.fixture(scope="module")
def null_cohort():
    sim = simulate_cohort(103, seed=5, null=True, maps_only=True)
    return join(sim.clinical, sim.maps, "null cohort")


def _fast_config():
    """Few AE iterations for the full-data models too (--fast shortens only those inside the folds)."""
    config = StudyConfig()
    config.features.pca_components = 16
    config.features.iterations = 50
    return config


def test_null_cohort_gain_is_overfitting(null_cohort):
    res = validate(null_cohort, _fast_config(), folds=5, repeats=3, bootstrap=0, families=FAMILIES, fast=True,
                   workers=2, stability_seeds=0)
    g = res.gains.set_index("family").loc["clinical+psd+ae"]
    assert g["base"] == "clinical+psd"
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


def test_unreachable_scheduler_fails_before_any_work(null_cohort, monkeypatch):
    """The scheduler is asked, with a 10 s timeout, before anything is fitted (no timing assertion: the machine is
    shared, so what is checked is the order of events and the timeout handed to Dask)."""
    import dask.distributed

    from lvmd.model import CRTResponseModel

    asked = {}

    def refusing_client(address, **kwargs):
        asked.update(address=address, **kwargs)
        raise OSError("connection refused")

    def no_fit(*args, **kwargs):
        raise AssertionError("a model was fitted before the scheduler answered")

    monkeypatch.setattr(dask.distributed, "Client", refusing_client)
    monkeypatch.setattr(CRTResponseModel, "fit", no_fit)
    with pytest.raises(LvmdError, match="no Dask scheduler answered"):
        validate(null_cohort, folds=3, repeats=1, bootstrap=0, scheduler="tcp://127.0.0.1:9", fast=True)
    assert asked == {"address": "tcp://127.0.0.1:9", "timeout": "10s"}


def test_too_many_folds(null_cohort):
    with pytest.raises(LvmdError, match="more than the 45 patients of the smaller response class"):
        validate(null_cohort, folds=60, repeats=1, bootstrap=0)


def test_metric_helpers():
    rng = np.random.default_rng(0)
    p = rng.uniform(0.05, 0.95, 4000)
    y = (rng.random(4000) < p).astype(int)
    cal = calibration(y, p)
    assert abs(cal.citl) < 0.1 and abs(cal.slope - 1) < 0.1 and cal.citl_ci[0] < 0 < cal.citl_ci[1]
    assert cal.brier == pytest.approx(np.mean((y - p) ** 2))
    nb = net_benefit(y, p, [0.5])
    assert nb[0] == pytest.approx(np.mean((p >= 0.5) & (y == 1)) - np.mean((p >= 0.5) & (y == 0)))
    # Too extreme predictions (logit doubled) have slope 1/2; shifted ones a CITL equal to minus the shift.
    lp = np.log(p / (1 - p))
    assert calibration(y, linear_predictor=2 * lp).slope == pytest.approx(0.5 * cal.slope, rel=1e-6)
    assert calibration(y, linear_predictor=lp + 0.7).citl == pytest.approx(cal.citl - 0.7, abs=1e-6)


def test_unreachable_scheduler_fails_fast_from_the_cli(small_cohort_dir, tmp_path, cli):
    res = cli("validate", str(small_cohort_dir), "--out", str(tmp_path / "w"), "--scheduler", "tcp://127.0.0.1:9")
    assert res.returncode == 2 and "no Dask scheduler answered" in res.stderr and not (tmp_path / "w").exists()


@dataclass(frozen=True)
class FlakyTask:
    key: int
    marker: Path


@dataclass(frozen=True)
class FlakyResult:
    key: int
    value: int


def flaky_task(task: FlakyTask) -> FlakyResult:
    """Fails once for key 1 (marker file), always for key 2."""
    if task.key == 2:
        raise RuntimeError("always broken")
    if task.key == 1 and not task.marker.exists():
        task.marker.write_text("failed once")
        raise RuntimeError("transient")
    return FlakyResult(task.key, task.key * 10)


def test_failed_task_retried_once_then_reported(tmp_path):
    results, failures = run_tasks(flaky_task, [FlakyTask(k, tmp_path / "m") for k in range(4)], workers=2)
    assert [r.value for r in results] == [0, 10, 30]
    assert failures == [(2, "RuntimeError: always broken")]


def test_identical_models_are_a_result(null_cohort):
    # Defect: "DeLong test undefined" killed `lvmd validate` when the AE family selected no feature in any fold.
    config = _fast_config()
    config.stats.significance = 1e-12  # no AE feature can enter: the AE family is clinical + PSD in every fold
    res = validate(null_cohort, config, folds=3, repeats=2, bootstrap=0, families=FAMILIES, fast=True, workers=2,
                   stability_seeds=0)
    g = res.gains.set_index("family").loc["clinical+psd+ae"]
    assert g["cv_gain"] == 0 and g["apparent_gain"] == 0 and g["delong_p_median"] == 1.0
    assert (g["cv_gain_low"], g["cv_gain_high"]) == (0.0, 0.0)
    assert "identical out-of-fold predictions to clinical+psd in 2 of 2 repeats" in g["note"]
    np.testing.assert_array_equal(res.predictions["clinical+psd+ae"], res.predictions["clinical+psd"])
    nri = res.reclassification.set_index("measure")
    assert nri.loc["nri_continuous", "estimate"] == 0 and nri.loc["idi", "estimate"] == 0
