"""Pattern classes: mixtures judged by ICL on training values only, posteriors against scikit-learn's own mixture,
the clipping that keeps the class monotone, the exact JSON round trip, and the pattern kind's transformer on maps
whose classes are known (pure gradients versus patch fields)."""

import json

import numpy as np
import pandas as pd
import pytest
from scipy import ndimage
from sklearn.mixture import GaussianMixture

from lvmd.errors import ModelError
from lvmd.features import ClassifiedPatternFeatures, FeatureClasses, PatternFeatures
from lvmd.polar import disc_mask, pixel_coordinates


def _bimodal(rng, n_low=150, n_high=100) -> np.ndarray:
    return np.r_[rng.normal(0.0, 1.0, n_low), rng.normal(5.0, 0.5, n_high)]


def test_bimodal_feature_gets_the_mixtures_posterior_of_the_upper_component():
    rng = np.random.default_rng(1)
    x = 20.0 + 3.0 * _bimodal(rng)  # in some unit: the step standardises before fitting
    fitted = FeatureClasses(random_state=0).fit(pd.DataFrame({"a": x}))
    out = fitted.transform(pd.DataFrame({"a": x}))
    assert list(out.columns) == ["a", "a_class"] and fitted.class_names_ == ["a_class"]
    np.testing.assert_array_equal(out["a"], x)
    mixture = fitted.mixtures_["a"]
    # the planted classes: 60 % at 20 (SD 3), 40 % at 35 (SD 1.5)
    assert mixture.means == pytest.approx((20.0, 35.0), abs=0.6)
    assert mixture.sds == pytest.approx((3.0, 1.5), rel=0.15)
    assert mixture.weights == pytest.approx((0.6, 0.4), abs=0.01)
    # scikit-learn's mixture on the standardised values, its posterior at the value clipped between the means
    z = ((x - x.mean()) / x.std())[:, None]
    reference = GaussianMixture(2, n_init=4, init_params="k-means++", random_state=0).fit(z)
    upper = int(np.argmax(reference.means_.ravel()))
    lo, hi = np.sort(reference.means_.ravel())
    expected = reference.predict_proba(np.clip(z, lo, hi))[:, upper]
    np.testing.assert_allclose(out["a_class"], expected, atol=1e-9)
    # the planted classes are recovered: every value far from the midpoint is classified correctly
    assert np.all(out["a_class"][:150][x[:150] < 26] < 0.01) and np.all(out["a_class"][150:] > 0.99)
    row = fitted.bimodality_.loc["a"]
    assert row["kept"] and row["icl_gain"] == pytest.approx(row["bic_gain"] - 2 * row["entropy"])


@pytest.mark.parametrize("name, draw", [
    ("normal", lambda rng: rng.normal(0, 1, 300)),
    ("lognormal", lambda rng: rng.lognormal(0, 0.6, 300)),  # skewed: BIC prefers two components, ICL does not
    ("student_t3", lambda rng: rng.standard_t(3, 300)),  # heavy tails: the same
    ("five_percent_outliers", lambda rng: np.r_[rng.normal(0, 1, 285), rng.normal(8, 0.5, 15)]),
    ("constant", lambda rng: np.full(300, 2.5)),
])
def test_unimodal_or_outlier_features_get_no_class(name, draw):
    x = draw(np.random.default_rng(1))
    fitted = FeatureClasses().fit(pd.DataFrame({name: x}))
    assert fitted.mixtures_ == {} and list(fitted.transform(pd.DataFrame({name: x})).columns) == [name]
    row = fitted.bimodality_.loc[name]
    assert not row["kept"]
    if name in ("lognormal", "student_t3"):
        assert row["bic_gain"] > 10  # BIC alone would have split it; ICL or the share rule does not
    if name == "five_percent_outliers":
        assert row["smaller_share"] < 0.10


def test_transform_uses_the_training_mixtures_only_and_is_monotone():
    rng = np.random.default_rng(2)
    train = pd.DataFrame({"a": _bimodal(rng), "b": rng.normal(0, 1, 250)})
    fitted = FeatureClasses().fit(train)
    mixture = fitted.mixtures_["a"]
    new = pd.DataFrame({"a": np.r_[rng.normal(5.0, 0.5, 40), -10.0, 20.0, np.nan], "b": np.zeros(43)},
                       index=[f"N{i}" for i in range(43)])
    out = fitted.transform(new)
    assert list(out.columns) == ["a", "b", "a_class"] and out.index.equals(new.index)
    w, m, s = mixture.weights, mixture.means, mixture.sds

    def posterior(v):  # closed form, at the value clipped between the means
        v = min(max(v, m[0]), m[1])
        dens = [w[k] / s[k] * np.exp(-0.5 * ((v - m[k]) / s[k]) ** 2) for k in (0, 1)]
        return dens[1] / (dens[0] + dens[1])

    np.testing.assert_allclose(out["a_class"][:42], [posterior(v) for v in new["a"][:42]], rtol=1e-10, atol=1e-15)
    assert np.isnan(out["a_class"].iloc[42])
    # one row alone gives what it gives in a batch: nothing is refitted on new data
    assert fitted.transform(new.iloc[[3]])["a_class"].iloc[0] == out["a_class"].iloc[3]
    assert FeatureClasses().fit(new.iloc[:42]).mixtures_ == {}  # the new data alone are not bimodal
    grid = np.linspace(-20, 30, 501)
    values = mixture.upper_posterior(grid)
    assert np.all(np.diff(values) >= 0)
    assert values[0] == pytest.approx(posterior(m[0]), rel=1e-10) and values[-1] == pytest.approx(posterior(m[1]))
    with pytest.raises(ModelError, match="'a'"):
        fitted.transform(new[["b"]])


def test_saved_mixtures_round_trip_exactly_and_are_checked(tmp_path):
    rng = np.random.default_rng(3)
    train = pd.DataFrame({"a": _bimodal(rng), "b": rng.normal(0, 1, 250), "c": -_bimodal(rng)})
    fitted = FeatureClasses(random_state=5).fit(train)
    fitted.save(tmp_path / "classes.json")
    loaded = FeatureClasses.load(tmp_path / "classes.json")
    assert loaded.mixtures_ == fitted.mixtures_ and list(loaded.mixtures_) == ["a", "c"]
    assert loaded.get_params() == fitted.get_params()
    pd.testing.assert_frame_equal(loaded.bimodality_, fitted.bimodality_, check_exact=True)
    np.testing.assert_array_equal(loaded.transform(train).to_numpy(), fitted.transform(train).to_numpy())
    meta = json.loads((tmp_path / "classes.json").read_text())
    for change, message in [({"mixtures": {"a": {**meta["mixtures"]["a"], "means": [1.0, 0.0]}}}, "not a valid"),
                            ({"mixtures": {"z": meta["mixtures"]["a"]}}, "'z' is not one of the saved features"),
                            ({"config": {**meta["config"], "min_share": 0.7}}, "min_share = 0.7"),
                            ({"mixtures": {"a": {"weights": [0.5]}}}, "mixture 'a'")]:
        (tmp_path / "bad.json").write_text(json.dumps({**meta, **change}))
        with pytest.raises(ModelError, match=message):
            FeatureClasses.load(tmp_path / "bad.json")


def _class_maps(rng, n_each=30):
    """Pure circumferential gradients (one wavefront, any direction and amount) and smoothed random patch fields
    (patchy delays): two known classes of phase coherence, each varying continuously within itself."""
    rho, theta = pixel_coordinates()
    maps = []
    for _ in range(n_each):
        amplitude, direction = rng.uniform(20, 80), rng.uniform(0, 360)
        maps.append(100 + amplitude * np.cos(np.radians(theta - direction)))
    for _ in range(n_each):
        field = ndimage.gaussian_filter(rng.normal(0, 1, (64, 64)), rng.uniform(1.0, 2.5))
        maps.append(100 + rng.uniform(20, 80) * field / field.std())
    maps = np.stack(maps) % 360.0
    return np.where(disc_mask()[None], maps, np.nan)


def test_pattern_kind_adds_the_coherence_class_of_gradients_and_patch_fields(tmp_path):
    maps = _class_maps(np.random.default_rng(4))
    kind = ClassifiedPatternFeatures().fit(maps)
    out = kind.transform(maps)
    features = PatternFeatures().fit_transform(maps)
    pd.testing.assert_frame_equal(out[features.columns], features)
    assert "spatial_coherence_class" in out.columns
    assert np.all(out["spatial_coherence_class"][:30] > 0.99) and np.all(out["spatial_coherence_class"][30:] < 0.01)
    assert list(out.columns) == list(kind.get_feature_names_out())
    kind.save(tmp_path / "k")
    assert {p.name for p in (tmp_path / "k").iterdir()} == {"model.json", "classes.json"}
    np.testing.assert_array_equal(ClassifiedPatternFeatures.load(tmp_path / "k").transform(maps).to_numpy(),
                                  out.to_numpy())
    # a folder saved before the class step existed loads as the plain features
    PatternFeatures().fit(maps).save(tmp_path / "old")
    pd.testing.assert_frame_equal(ClassifiedPatternFeatures.load(tmp_path / "old").transform(maps), features)
