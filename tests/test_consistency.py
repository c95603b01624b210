"""One model from study to bedside: for every family, the variables and apparent AUC that `lvmd analyze` reports
equal those that `lvmd validate` refits on the full data and those that `lvmd fit` saves; `lvmd evaluate` on the
training cohort is perfectly calibrated and on another cohort reproduces the bundle's predictions."""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from lvmd.config import StudyConfig
from lvmd.features import DEFAULT_FEATURES

FAMILIES = StudyConfig().stats.families
CONFIG = "[features]\niterations = 40\npca_components = 16\n[report]\nformats = [\"png\"]\n"


@pytest.fixture(scope="module")
def runs(small_cohort_dir, tmp_path_factory):
    """analyze, validate (3 folds, 2 bootstrap resamples, --fast) and fit of every family, once for the module."""
    from .conftest import run_cli

    root = tmp_path_factory.mktemp("runs")
    config = root / "study.toml"
    config.write_text(CONFIG)
    cohort = str(small_cohort_dir)
    done = {"analyze": run_cli("analyze", cohort, "--out", str(root / "a"), "--config", str(config), "--quiet"),
            "validate": run_cli("validate", cohort, "--out", str(root / "v"), "--config", str(config), "--folds", "3",
                                "--repeats", "1", "--bootstrap", "2", "--fast", "--stability-seeds", "2", "--quiet")}
    for family in FAMILIES:  # one of them also estimates its optimism (its bootstrap's full-data model is saved)
        optimism = ["--optimism", "2", "--fast"] if family == "clinical+psd" else []
        done[family] = run_cli("fit", cohort, "--out", str(root / family), "--config", str(config), "--family", family,
                               *optimism)
    for name, res in done.items():
        assert res.returncode == 0, f"{name}: {res.stderr[-2000:]}"
    return root, done


def _not_strict_json(token: str):
    raise AssertionError(f"model.json holds {token}: not strict JSON")


def test_analyze_validate_and_fit_report_the_same_models(runs):
    root, _ = runs
    analyzed = pd.read_csv(root / "a" / "models.csv").set_index(["family", "model"])
    validated = pd.read_csv(root / "v" / "models.csv").set_index(["family", "model"])
    assert set(analyzed.index.get_level_values("family")) == set(FAMILIES)
    # every model, primary and alternative: same variables, same apparent AUC
    assert list(analyzed.index) == list(validated.index)
    assert (analyzed["variables"] == validated["variables"]).all() and (analyzed["role"] == validated["role"]).all()
    np.testing.assert_allclose(analyzed["apparent_auc"], validated["apparent_auc"], rtol=0, atol=1e-9)
    summary = pd.read_csv(root / "v" / "validation.csv").set_index("model")
    for family in FAMILIES:
        saved = json.loads((root / family / "model.json").read_text(), parse_constant=_not_strict_json)
        primary = analyzed.loc[family]
        primary = primary[primary["role"] == "primary"].iloc[0]
        state = saved["model"]
        assert state["family"] == family
        assert " + ".join(state["models"][0]["variables"]) == primary["variables"]
        assert saved["performance"]["apparent_auc"] == pytest.approx(primary["apparent_auc"], abs=1e-9)
        assert [m["label"] for m in state["models"]] == list(analyzed.loc[family].index)
        assert summary.loc[family, "apparent_auc"] == pytest.approx(primary["apparent_auc"], abs=1e-6)  # 6 digits
        assert summary.loc[family, "variables_full_data"] == primary["variables"]
        corrected = saved["performance"]["optimism_corrected_auc"]
        assert (corrected is not None) == (family == "clinical+psd") and (corrected is None or 0.5 < corrected < 1)


def test_validate_outputs(runs):
    root, done = runs
    table = pd.read_csv(root / "v" / "validation.csv")
    assert list(table.columns[:8]) == ["model", "apparent_auc", "cv_auc", "cv_auc_low", "cv_auc_high",
                                       "optimism_corrected_auc", "calibration_intercept", "calibration_slope"]
    assert list(table["model"]) == FAMILIES
    assert table["brier"].between(0, 1).all() and (table["cv_auc_low"] <= table["cv_auc"]).all()
    gains = pd.read_csv(root / "v" / "gains.csv")
    assert list(gains["family"]) == [f for f in FAMILIES if "+ae" in f or "+pca" in f or "+pattern" in f]
    assert {"clinical+psd+pattern", "clinical+psd+ae+pattern"} <= set(gains["family"])
    assert (gains["cv_gain_low"] <= gains["cv_gain"]).all() and (gains["cv_gain"] <= gains["cv_gain_high"]).all()
    reclass = pd.read_csv(root / "v" / "reclassification.csv")
    assert set(reclass["measure"]) == {"nri_continuous", "idi"} and len(reclass) == 2 * len(gains)
    html = (root / "v" / "report.html").read_text()
    assert "Apparent (in-sample) and honest AUC side by side" in html and "--fast" in html
    # 79 patients in 3 folds: 52 training maps cannot carry 64 latent features; the cap is stated.
    assert "image features per fit in the folds: ae 51/52, pca 16" in html
    for name in ("predictions.csv", "feature_selection.csv", "calibration.png", "decision_curve.png", "stability.csv",
                 "manifest.json"):
        assert (root / "v" / name).exists()
    selection = pd.read_csv(root / "v" / "feature_selection.csv")
    assert set(selection["family"]) <= set(gains["family"]) and (selection["fraction_of_folds"] <= 1).all()
    # the pattern family's folds choose pattern features (the small lvmd cohort carries its planted pattern)
    pattern = selection[selection["family"] == "clinical+psd+pattern"]
    assert len(pattern) and set(pattern["feature"]) <= set(DEFAULT_FEATURES) | {f"{f}_class" for f in DEFAULT_FEATURES}
    assert "clinical+psd+ae gain over clinical+psd" in done["validate"].stdout


@pytest.fixture(scope="module")
def other_cohort(tmp_path_factory):
    from lvmd.simulate import simulate_cohort

    folder = tmp_path_factory.mktemp("other")
    simulate_cohort(60, seed=11, maps_only=True).write(folder)
    return folder


def test_evaluate_on_the_training_cohort_is_perfectly_calibrated(runs, small_cohort_dir, tmp_path, cli):
    root, _ = runs
    for family in ("clinical+psd", "clinical+psd+ae"):
        res = cli("evaluate", str(root / family), str(small_cohort_dir), "--out", str(tmp_path / family))
        assert res.returncode == 0, res.stderr
        perf = pd.read_csv(tmp_path / family / "performance.csv", index_col="measure")
        assert abs(perf.loc["calibration_in_the_large", "estimate"]) < 1e-6
        assert perf.loc["calibration_slope", "estimate"] == pytest.approx(1.0, abs=1e-6)
        saved = json.loads((root / family / "model.json").read_text())
        assert perf.loc["auc", "estimate"] == pytest.approx(saved["performance"]["apparent_auc"], abs=1e-9)
        recal = pd.read_csv(tmp_path / family / "recalibration.csv", index_col="term")
        np.testing.assert_allclose(recal["recalibrated"], recal["coefficient"], atol=1e-5)


def test_evaluate_on_another_cohort(runs, other_cohort, tmp_path, cli):
    root, _ = runs
    bundle = root / "clinical+psd+ae"
    res = cli("evaluate", str(bundle), str(other_cohort), "--out", str(tmp_path / "e"))
    assert res.returncode == 0, res.stderr
    out = tmp_path / "e"
    for name in ("performance", "recalibration", "calibration_curve", "decision_curve"):
        assert (out / f"{name}.csv").exists() and (out / f"{name}.md").exists()
    for name in ("roc_curve", "calibration", "decision_curve"):
        assert (out / f"{name}.png").exists()
    html = (out / "report.html").read_text()
    assert all(word in html for word in ("Calibration-in-the-large", "Calibration slope", "Brier", "recalibration"))
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["headline"]["patients"] == 60 - len(manifest["excluded"])
    # the predictions are the bundle's: the same probabilities as `lvmd predict` on the same patients
    clinical = pd.read_csv(other_cohort / "clinical.csv")
    clinical.drop(columns=["lvesv_followup_ml"]).to_csv(tmp_path / "patients.csv", index=False)
    res = cli("predict", str(bundle), "--clinical", str(tmp_path / "patients.csv"), "--maps",
              str(other_cohort / "polarmaps.npz"), "--json")
    assert res.returncode == 0, res.stderr
    predicted = {r["patient_id"]: r["probability"] for r in map(json.loads, res.stdout.splitlines())}
    evaluated = pd.read_csv(out / "predictions.csv", index_col="patient_id")
    for pid, row in evaluated.iterrows():
        assert row["probability"] == pytest.approx(predicted[pid], rel=1e-9)
    perf = pd.read_csv(out / "performance.csv", index_col="measure")
    recal = pd.read_csv(out / "recalibration.csv", index_col="term")
    a, b = perf.loc["recalibration_intercept", "estimate"], perf.loc["calibration_slope", "estimate"]
    expected = b * recal["coefficient"] + np.where(recal.index == "const", a, 0.0)
    np.testing.assert_allclose(recal["recalibrated"], expected, rtol=1e-9)
    y, p = evaluated["response"].to_numpy(), evaluated["probability"].to_numpy()
    assert perf.loc["brier", "estimate"] == pytest.approx(np.mean((y - p) ** 2), rel=1e-8)
    assert perf.loc["auc", "estimate"] == pytest.approx(roc_auc_score(y, p), rel=1e-8)
