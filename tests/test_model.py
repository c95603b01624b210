"""CRTResponseModel: the scikit-learn contract, families, the kinds registry, collinearity groups, the fallback,
the shared training set, and the analysis set."""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from lvmd import load_cohort
from lvmd.bundle import ModelBundle
from lvmd.config import StudyConfig
from lvmd.errors import LvmdError, ModelError
from lvmd.model import (CRTResponseModel, ImageKind, TrainingSet, analysis_set, kinds, parse_family,
                        register_kind)
from lvmd.model.selection import select_clinical
from lvmd.polar import disc_mask, pixel_coordinates
from lvmd.stats import univariate


def _config(iterations: int = 30) -> StudyConfig:
    config = StudyConfig()
    config.features.iterations = iterations
    config.features.pca_components = 16
    return config


class PlantedFeatures:
    """A test kind: per-patient features looked up from a table chosen by the test (what an extractor 'learns' is
    then known exactly). Saved as JSON."""

    def __init__(self, table: pd.DataFrame):
        self.table = table

    def fit(self, maps):
        self.fitted_ = True
        return self

    def transform(self, maps) -> pd.DataFrame:
        ids = [str(p).split("~")[0] for p in maps.patient_id]
        return self.table.loc[ids].set_axis(pd.Index(maps.patient_id, name="patient_id"))

    def save(self, folder):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "table.json").write_text(json.dumps(self.table.to_dict(orient="split")))  # floats exactly

    @classmethod
    def load(cls, folder):
        split = json.loads((folder / "table.json").read_text())
        return cls(pd.DataFrame(split["data"], index=split["index"], columns=split["columns"]))


@pytest.fixture(scope="module")
def cohort(small_cohort_dir):
    return load_cohort(small_cohort_dir)


@pytest.fixture
def planted(cohort, monkeypatch):
    """Register kind ``planted``: F30 predicts response best; F28 and F35 each correlate with F30 (r ~ 0.78) but
    barely with each other -- the paper's AE #30 versus AE #28 + #35 layout."""
    y = cohort.response().fillna(0).to_numpy()
    rng = np.random.default_rng(0)
    f30 = 1.5 * y + rng.normal(size=len(y))
    v = rng.normal(scale=0.8, size=len(y))
    table = pd.DataFrame({"F30": f30, "F28": f30 + v, "F35": f30 - v, "F1": rng.normal(size=len(y))},
                         index=cohort.table.index)
    monkeypatch.setitem(kinds._KINDS, "planted",
                        ImageKind("planted", lambda config, seed, n: PlantedFeatures(table), PlantedFeatures.load,
                                  "planted test features"))
    return table


def test_sklearn_contract(cohort):
    config = _config()
    model = CRTResponseModel("clinical+psd", config, random_state=4)
    assert model.get_params() == {"family": "clinical+psd", "config": config, "random_state": 4}
    with pytest.raises(NotFittedError):
        model.predict_proba(cohort)
    assert model.fit(cohort) is model
    proba = model.predict_proba(cohort)
    assert proba.shape == (len(cohort), 2) and np.allclose(proba.sum(axis=1), 1)
    lp = model.decision_function(cohort)
    assert np.allclose(np.log(proba[:, 1] / proba[:, 0]), lp)
    assert set(model.predict(cohort)) <= {0, 1}
    assert model.family_.name == "clinical+psd" and model.variables_[-1] == "psd_deg"
    copy = clone(model)
    assert copy.get_params()["family"] == "clinical+psd" and not hasattr(copy, "models_")
    again = clone(model).fit(cohort)
    np.testing.assert_array_equal(again.logit_.params, model.logit_.params)
    # fit(table, maps) is the same model as fit(cohort)
    from_table = CRTResponseModel("clinical+psd", config, random_state=4).fit(cohort.table, cohort.maps)
    np.testing.assert_array_equal(from_table.logit_.params, model.logit_.params)


def test_families_are_parsed_once():
    family = parse_family("clinical+ae+psd")
    assert family.name == "clinical+psd+ae" and family.label == "clinical + PSD + AE"
    assert family.conventional_columns == ["psd_deg"] and family.kinds == ("ae",)
    assert family.base.name == "clinical+psd" and parse_family(family) is family
    assert parse_family("pca").name == "pca" and not parse_family("pca").clinical
    with pytest.raises(ModelError, match="'foo' is not clinical, psd, pbw or an image-feature kind"):
        parse_family("clinical+foo")
    with pytest.raises(ModelError, match="twice"):
        parse_family("clinical+psd+psd")
    with pytest.raises(ModelError, match="reserved"):
        register_kind(ImageKind("psd", None, None, ""))


def test_collinearity_groups_primary_and_alternative(cohort, planted):
    model = CRTResponseModel("clinical+psd+planted", _config()).fit(cohort)
    primary, alternative = model.models_
    assert primary.image_features == ["F30"] and primary.role == "primary"
    assert sorted(alternative.image_features) == ["F28", "F35"] and alternative.role == "alternative"
    assert model.variables_ == model.selection_.clinical + ["psd_deg", "F30"]
    ranked = model.selection_.significant
    assert ranked[0] == "F30" and model.selection_.groups == [["F30"], [v for v in ranked if v in ("F28", "F35")]]
    assert primary.label == "clinical + PSD + F30"
    assert alternative.label == "clinical + PSD + " + " + ".join(alternative.image_features)
    assert model.apparent_auc_ == primary.apparent_auc > 0.75
    lp_alt = model.decision_function(cohort, model=1)
    assert lp_alt.shape == (len(cohort),) and not np.allclose(lp_alt, model.decision_function(cohort))


def test_two_kinds_in_one_family_screened_together(cohort, planted, tmp_path):
    config = _config(20)
    model = CRTResponseModel("clinical+psd+ae+planted", config).fit(cohort)
    screened = model.selection_.image_screening.summary.index
    assert {"AE1", "F30", "F28"} <= set(screened) and len(screened) == 4 + 64
    assert len(sum(model.selection_.groups, [])) <= config.stats.max_image_features
    assert model.models_[0].image_features[0] == "F30"  # the most significant feature of either kind leads
    assert "planted" in model.extractor_.kinds
    ModelBundle(model).save(tmp_path / "b")
    assert json.loads((tmp_path / "b" / "extractor" / "kinds.json").read_text()) == model.extractor_.kinds
    loaded = ModelBundle.load(tmp_path / "b").model
    np.testing.assert_array_equal(loaded.predict_proba(cohort), model.predict_proba(cohort))


def test_clinical_fallback_is_the_most_significant_candidate(cohort):
    config = _config()
    config.stats.enter_p = 1e-12
    model = CRTResponseModel("clinical", config).fit(cohort)
    data = analysis_set(cohort, config=config).data
    p = univariate(data, "response", [c for c in config.stats.clinical]).summary["p"]
    assert model.variables_ == [p.idxmin()]
    assert model.selection_.fallback.startswith("no clinical candidate reached p < 1e-12")
    passing = select_clinical(univariate(data, "response", config.stats.clinical), 0.1)
    assert passing[1] == "" and passing[0] == [v for v in config.stats.clinical if p[v] < 0.1]


def test_shared_training_set_gives_the_same_models(cohort):
    config = _config()
    training = TrainingSet(cohort, config=config)
    shared = {f: CRTResponseModel(f, config).fit(training) for f in ("clinical+psd+ae", "clinical+pbw+ae")}
    assert len(training.fitted_kinds) == 1  # one autoencoder for both families
    alone = CRTResponseModel("clinical+pbw+ae", config).fit(cohort)
    assert alone.variables_ == shared["clinical+pbw+ae"].variables_
    np.testing.assert_array_equal(alone.logit_.params, shared["clinical+pbw+ae"].logit_.params)
    other = _config()
    other.stats.enter_p = 0.2
    with pytest.raises(ModelError, match="another configuration or seed"):
        CRTResponseModel("clinical", other).fit(training)
    with pytest.raises(ModelError, match="another configuration or seed"):
        CRTResponseModel("clinical", config, random_state=9).fit(training)


def test_analysis_set_states_every_exclusion(cohort):
    table = cohort.table.copy()
    table.loc[table.index[3], "smoking"] = np.nan
    table.loc[table.index[5], "lvesv_ml"] = 12.0
    aset = analysis_set(table, cohort.maps, StudyConfig())
    reasons = {e.patient_id: e.reason for e in aset.excluded}
    assert reasons[table.index[3]].startswith("missing smoking")
    assert "implausible" in reasons[table.index[5]]
    assert table.index[3] not in aset.data.index and list(aset.maps.patient_id) == list(aset.data.index)
    assert aset.data[["psd_deg", "pbw_deg"]].notna().all().all()
    with pytest.raises(LvmdError, match="same response"):
        analysis_set(table.assign(lvesv_followup_ml=table["lvesv_ml"]), cohort.maps, StudyConfig())


def test_state_round_trip_and_repr(cohort):
    model = CRTResponseModel("clinical+psd+pca", _config()).fit(cohort)
    state = json.loads(json.dumps(model.state()))
    again = CRTResponseModel.from_state(state, model.extractor_)
    np.testing.assert_array_equal(again.predict_proba(cohort), model.predict_proba(cohort))
    assert again.table_columns() == [v for v in model.variables_ if v != "psd_deg" and not v.startswith("PC")]
    text = repr(model.models_[0])
    assert text.startswith("SubModel (clinical + PSD") and "odds_ratio" in text and "array(" not in text
    assert "Variable selection" in repr(model.selection_)


def _ring_maps(n: int, late: np.ndarray, seed: int) -> np.ndarray:
    """Synthetic phase maps: 130 deg everywhere, the outer ring (basal) 60 deg later where ``late``, noise 5 deg."""
    rho, _ = pixel_coordinates()
    rng = np.random.default_rng(seed)
    maps = 130 + 60 * late[:, None, None] * (rho > 0.7)[None] + rng.normal(scale=5, size=(n, 64, 64))
    return np.where(disc_mask()[None], maps % 360, np.nan)


def test_pca_finds_a_planted_map_difference(cohort):
    # The response is tied to a basal delay planted in the maps: the PCA family must select a component carrying it.
    y = cohort.response().fillna(0).to_numpy()
    late = np.where(np.random.default_rng(1).random(len(y)) < 0.85, y, 1 - y)
    model = CRTResponseModel("clinical+pca", _config()).fit(cohort.table, _ring_maps(len(y), late, 2))
    assert model.selection_.groups and model.models_[0].image_features
    base = CRTResponseModel("clinical", _config()).fit(cohort)
    assert model.apparent_auc_ > base.apparent_auc_ + 0.05
