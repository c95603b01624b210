"""The pattern kind through CRTResponseModel: screening then a ridge fit whose penalty inner cross-validation
chose, its combination with the paper's rule (ae+pattern), the bundle round trip, predictions and the CLI."""

import json

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from sklearn.metrics import roc_auc_score

from lvmd import load_cohort
from lvmd.bundle import ModelBundle
from lvmd.config import StudyConfig
from lvmd.errors import ModelError
from lvmd.features import ClassifiedPatternFeatures, FeatureClasses, PatternFeatures
from lvmd.formulas import Z975, expit
from lvmd.model import CRTResponseModel, TrainingSet
from lvmd.predict import predict_patients
from lvmd.stats.penalised import PENALTY_GRID, cross_validated_penalty, fit_ridge_logit


def _config(iterations: int = 20) -> StudyConfig:
    config = StudyConfig()
    config.features.iterations = iterations
    config.features.pca_components = 16
    return config


@pytest.fixture(scope="module")
def cohort(small_cohort_dir):
    return load_cohort(small_cohort_dir)


@pytest.fixture(scope="module")
def training(cohort):
    return TrainingSet(cohort, config=_config())


def _univariate_p(data: pd.DataFrame, column: str) -> float:
    """Wald p of one feature in a logistic model fitted by statsmodels directly."""
    res = sm.Logit(data["response"], sm.add_constant(data[[column]])).fit(disp=0)
    return float(res.pvalues[column])


def test_pattern_family_screens_then_shrinks(training):
    model = CRTResponseModel("clinical+psd+pattern", training.config).fit(training)
    kind = ClassifiedPatternFeatures(classes=FeatureClasses(random_state=training.seed))
    features = kind.fit_transform(training.maps).set_axis(training.data.index)
    assert any(c.endswith("_class") for c in features.columns), "the small cohort's coherence falls in two classes"
    data = training.data.join(features)
    p = {c: _univariate_p(data, c) for c in features.columns}
    expected = sorted((c for c in features.columns if p[c] < 0.05), key=p.get)
    assert expected, "the small lvmd cohort carries its planted pattern"
    assert model.selection_.penalised == expected and model.selection_.groups == []
    clinical, _ = training.clinical_selection()
    assert model.variables_ == clinical + ["psd_deg"] + expected
    penalty, losses = cross_validated_penalty(data, "response", model.variables_, expected, seed=0)
    assert model.logit_.method == "ridge" and model.logit_.penalty == penalty and penalty in PENALTY_GRID
    reference = fit_ridge_logit(data, "response", model.variables_, expected, penalty)
    np.testing.assert_array_equal(model.logit_.params, reference.params)
    assert model.models_[0].label == f"clinical + PSD + PATTERN (ridge, {len(expected)} features)"
    y = training.data["response"].to_numpy()
    assert model.apparent_auc_ == pytest.approx(roc_auc_score(y, model.decision_function(training.data,
                                                                                        training.maps)), abs=1e-12)
    np.testing.assert_allclose(model.predict_proba(training.data, training.maps)[:, 1],
                               expit(model.decision_function(training.data, training.maps)), rtol=1e-12)
    shown = model.selection_.summary
    assert (shown.loc[expected, "entry"] == "ridge").all() and (shown.loc[expected, "models"] == "1").all()


def test_ae_plus_pattern_keeps_the_papers_groups_and_adds_the_ridge_block(training):
    ae = CRTResponseModel("clinical+psd+ae", training.config).fit(training)
    both = CRTResponseModel("clinical+psd+ae+pattern", training.config).fit(training)
    pattern = CRTResponseModel("clinical+psd+pattern", training.config).fit(training)
    assert both.selection_.groups == ae.selection_.groups and both.selection_.significant == ae.selection_.significant
    assert both.selection_.penalised == pattern.selection_.penalised
    assert len(both.models_) == len(ae.models_)
    for mixed, paper in zip(both.models_, ae.models_):
        assert mixed.variables == paper.variables + both.selection_.penalised
        assert mixed.penalised == both.selection_.penalised and mixed.logit.method == "ridge"
    assert set(both.extractor_.kinds) == {"ae", "pattern"}


def test_nothing_significant_gives_exactly_the_base_model(cohort):
    config = _config()
    config.stats.significance = 1e-12
    base = CRTResponseModel("clinical+psd", config).fit(cohort)
    model = CRTResponseModel("clinical+psd+pattern", config).fit(cohort)
    assert model.selection_.penalised == [] and model.extractor_ is None
    assert model.models_[0].label == "clinical + PSD + PATTERN (no feature selected)"
    np.testing.assert_array_equal(model.logit_.params, base.logit_.params)
    assert model.logit_.method == "mle" and model.apparent_auc_ == base.apparent_auc_


def test_bundle_round_trip_is_exact_and_predictions_carry_the_bayesian_interval(training, cohort, tmp_path):
    model = CRTResponseModel("clinical+psd+pattern", training.config).fit(training)
    ModelBundle(model).save(tmp_path / "b")
    assert {p.name for p in (tmp_path / "b" / "extractor" / "pattern").iterdir()} == {"model.json", "classes.json"}
    saved = json.loads((tmp_path / "b" / "model.json").read_text())["model"]
    assert saved["models"][0]["penalised"] == model.selection_.penalised
    assert saved["models"][0]["penalty"] == model.logit_.penalty and saved["models"][0]["estimation"] == "ridge"
    loaded = ModelBundle.load(tmp_path / "b").model
    assert loaded.selection_.summary.equals(model.selection_.summary)
    assert loaded.logit_.penalised == model.logit_.penalised and loaded.logit_.penalty == model.logit_.penalty
    table = cohort.table.drop(columns=["psd_deg", "pbw_deg"])
    before = predict_patients(model, table, cohort.maps).summary
    after = predict_patients(loaded, table, cohort.maps).summary
    np.testing.assert_array_equal(before[["probability", "ci_low", "ci_high"]].to_numpy(),
                                  after[["probability", "ci_low", "ci_high"]].to_numpy())
    x = np.concatenate([[1.0], loaded.design(table.iloc[:1], cohort.maps.subset(table.index[:1])).to_numpy()[0]])
    eta, se = x @ loaded.logit_.params, np.sqrt(x @ loaded.logit_.cov @ x)
    assert after["ci_low"].iloc[0] == pytest.approx(expit(eta - Z975 * se), rel=1e-12)
    assert "Bayesian covariance" in (tmp_path / "b" / "MODEL_CARD.md").read_text()


def test_saved_pattern_features_are_checked(cohort, tmp_path):
    PatternFeatures().fit(cohort.maps).save(tmp_path / "p")
    meta = json.loads((tmp_path / "p" / "model.json").read_text())
    assert meta["uses_perfusion"] is True and len(meta["feature_names"]) == 17
    for change, message in [({"feature_names": meta["feature_names"][:-1]}, "do not match"),
                            ({"transformer": "PhaseCoherence"}, "not PatternFeatures"),
                            ({"config": {**meta["config"], "radius_px": -1}}, "radius_px = -1"),
                            ({"format_version": 9}, "format version 1")]:
        (tmp_path / "p" / "model.json").write_text(json.dumps({**meta, **change}))
        with pytest.raises(ModelError, match=message):
            PatternFeatures.load(tmp_path / "p")


def test_simulate_mechanism_from_the_cli(tmp_path, cli):
    res = cli("simulate", "--n", "30", "--seed", "2", "--maps-only", "--mechanism", "how", "--out", str(tmp_path / "h"))
    assert res.returncode == 0, res.stderr
    assert "mechanism how" in res.stdout
    truth = pd.read_csv(tmp_path / "h" / "truth.csv")
    assert set(truth["mechanism"]) == {"how"} and set(truth["pattern"]) == {"coherent", "patchy"}
    assert (truth["favourable"] == (truth["pattern"] == "coherent")).all()
    res = cli("simulate", "--n", "30", "--maps-only", "--null", "--out", str(tmp_path / "n"))
    assert res.returncode == 0 and "no pattern effect (--null)" in res.stdout
    assert set(pd.read_csv(tmp_path / "n" / "truth.csv")["null"]) == {1}
    res = cli("simulate", "--mechanism", "when", "--out", str(tmp_path / "x"))
    assert res.returncode == 2 and "invalid choice: 'when'" in res.stderr and not (tmp_path / "x").exists()


def test_ridge_block_that_cannot_be_estimated_is_left_out(training, monkeypatch):
    # where the ridge fit does not converge (the unpenalised terms separate the outcome: small cohorts), the family
    # is fitted without its ridge block, as the base model would be, and its label says why; never an exception
    import lvmd.model.estimator as estimator

    def not_estimable(df, outcome, variables, penalised, penalty):
        fit = fit_ridge_logit(df, outcome, variables, penalised, penalty)
        return type(fit)(fit.names, np.full_like(fit.params, np.nan), fit.cov, np.nan, fit.n, fit.events, True,
                         "ridge", False, fit.rows, "not estimable: the penalised Newton iterations did not converge",
                         fit.penalty, fit.penalised)

    monkeypatch.setattr(estimator, "fit_ridge_logit", not_estimable)
    model = CRTResponseModel("clinical+psd+pattern", training.config).fit(training)
    base = CRTResponseModel("clinical+psd", training.config).fit(training)
    assert model.variables_ == base.variables_ and model.selection_.penalised == []
    np.testing.assert_allclose(model.logit_.params, base.logit_.params)
    assert model.models_[0].label.endswith("ridge block not entered, the other terms separate the outcome")
