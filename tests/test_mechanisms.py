"""Map-generating mechanisms (where, how, null): each plants what it documents; lvmd's default is unchanged."""

import hashlib

import numpy as np
import pytest

from lvmd.errors import LvmdError
from lvmd.features import PatternFeatures
from lvmd.mechanisms import LATERAL_ARC_DEG, favourable_pattern
from lvmd.phase.metrics import phase_metrics
from lvmd.polar import disc_mask
from lvmd.simulate import simulate_cohort
from lvmd.stats import roc_auc

# sha256 of simulate_cohort(40, seed=7, maps_only=True) made by the code before mechanisms existed (this machine).
GOLDEN = {
    "clinical.csv": "f6765e6b1f7c5aa48a7929074dccada69e154e344b9790535419063a9ca12994",
    "truth.csv": "21b8931e8871683fc8d557806f702c9f8c6732d50d3bd8f0e2ab637651e01722",
    "phase": "be8dccde5d6b120f83b19dc9e94b6994eafee71d7d6d6ac199c0c1bc3f5c46cd",
    "perfusion": "3d5620662a8da98a87bcade57c8fa9b6d785e3d2be1fdd747bc65886b7adb577",
}


@pytest.fixture(scope="module")
def cohorts():
    return {m: simulate_cohort(800, seed=21, mechanism=m, maps_only=True) for m in ("where", "how", "null")}


def test_default_mechanism_unchanged(tmp_path):
    cohort = simulate_cohort(40, seed=7, maps_only=True)
    assert cohort.truth.equals(simulate_cohort(40, seed=7, maps_only=True, mechanism="lvmd").truth)
    cohort.write(tmp_path)
    for name in ("clinical.csv", "truth.csv"):
        assert hashlib.sha256((tmp_path / name).read_bytes()).hexdigest() == GOLDEN[name], name
    for kind in ("phase", "perfusion"):
        digest = hashlib.sha256(np.ascontiguousarray(getattr(cohort.maps, kind)).tobytes()).hexdigest()
        assert digest == GOLDEN[kind], kind
    assert "favourable" not in cohort.truth and list(favourable_pattern(cohort.truth)) == list(
        (cohort.truth["pattern"] == "coherent").astype(int))


def test_pattern_probabilities(cohorts):
    for mechanism, (p1, p0) in (("where", (0.75, 0.35)), ("how", (0.75, 0.35)), ("null", (0.55, 0.55))):
        truth = cohorts[mechanism].truth
        assert set(truth["mechanism"]) == {mechanism}
        rates = truth.groupby("response")["favourable"].mean()
        assert rates[1] == pytest.approx(p1, abs=0.06) and rates[0] == pytest.approx(p0, abs=0.06), mechanism
        # The exact posterior is calibrated in the large.
        assert truth["response_probability"].mean() == pytest.approx(truth["response"].mean(), abs=0.03)
    assert cohorts["null"].truth["null"].eq(1).all()
    assert set(cohorts["null"].truth["pattern"]) == {"lateral_late", "other_late", "coherent", "patchy"}


def test_where_plants_the_late_direction(cohorts):
    truth = cohorts["where"].truth
    lo, hi = LATERAL_ARC_DEG
    offset = (truth["late_region_deg"] - lo) % 360.0
    in_arc = offset <= hi - lo
    lateral = truth["pattern"] == "lateral_late"
    assert in_arc[lateral].all() and not in_arc[~lateral].any()


def test_how_keeps_location_and_amount_uninformative(cohorts):
    c = cohorts["how"]
    fav = favourable_pattern(c.truth).astype(bool)
    for group in (fav, ~fav):
        angles = np.radians(c.truth["late_region_deg"][group])
        assert np.hypot(np.cos(angles).mean(), np.sin(angles).mean()) < 0.15  # late direction spread all round
    assert abs(c.clinical["psd_deg"][fav].mean() - c.clinical["psd_deg"][~fav].mean()) < 8.0
    assert roc_auc(fav.astype(int), c.clinical["psd_deg"]).auc < 0.62


def test_maps_are_realistic_and_varied(cohorts):
    phase = cohorts["how"].maps.phase
    inside = phase[:, disc_mask()]
    finite = np.isfinite(inside)
    assert np.all((inside[finite] >= 0) & (inside[finite] < 360))
    holes = (~finite).any(axis=1).mean()
    assert 0.05 < holes < 0.15
    # Mean phase (ECTb convention: unwrapped at the largest empty arc) drawn in 100-200 degrees.
    mean_phase = np.array([phase_metrics(row[np.isfinite(row)])["mean_phase_deg"] for row in inside])
    assert np.percentile(mean_phase, 5) < 110 and np.percentile(mean_phase, 95) > 190
    assert np.all((mean_phase > 95) & (mean_phase < 205))  # a hole or noise moves it a little
    assert ((np.nanmax(inside, axis=1) - np.nanmin(inside, axis=1)) > 300).mean() > 0.1  # many maps straddle 0/360


def test_pattern_features_see_each_planted_pattern(cohorts):
    # The physical measure matched to each mechanism separates its planted pattern.
    checks = {"where": ["late_cos", "harmonic_cos", "septal_lateral_delay_deg"],
              "how": ["spatial_coherence", "harmonic_fraction"]}
    for mechanism, names in checks.items():
        c = cohorts[mechanism]
        features = PatternFeatures().fit_transform(c.maps)
        fav = favourable_pattern(c.truth)
        for name in names:
            assert roc_auc(fav, features[name]).auc > 0.85, (mechanism, name)
    lvmd = simulate_cohort(200, seed=21, maps_only=True)
    features = PatternFeatures().fit_transform(lvmd.maps)
    assert roc_auc(favourable_pattern(lvmd.truth), features["spatial_coherence"]).auc > 0.85


def test_mechanisms_deterministic_and_phantom_mode(tmp_path):
    for k in (1, 2):
        (tmp_path / f"c{k}").mkdir()
        simulate_cohort(20, seed=5, mechanism="how", maps_only=True).write(tmp_path / f"c{k}")
    for name in ("clinical.csv", "polarmaps.npz", "truth.csv"):
        assert (tmp_path / "c1" / name).read_bytes() == (tmp_path / "c2" / name).read_bytes(), name
    # phantom mode: the engine measures each map's PSD from its gated study (20 patients: with 10, one study the
    # engine reads 18 deg high decides the correlation)
    measured = simulate_cohort(20, seed=1, mechanism="where", workers=1)
    assert np.corrcoef(measured.clinical["psd_deg"], measured.truth["psd_target_deg"])[0, 1] > 0.9


def test_bad_mechanism():
    with pytest.raises(LvmdError, match="--mechanism 'lbbb' is not one of lvmd, where, how, null"):
        simulate_cohort(20, mechanism="lbbb")


def test_phase_just_below_360_is_written_inside_the_range(monkeypatch, tmp_path):
    # 360 - 1e-5 rounds to 360.0 in float32, which readers refuse; the written map must wrap it to 0
    import lvmd.simulate as simulate
    from lvmd import load_cohort

    def render(rng, delay):
        return np.where(np.isfinite(delay), np.nextafter(360.0, 0.0), np.nan)

    monkeypatch.setattr(simulate, "render_phase", render)
    simulate.simulate_cohort(12, seed=1, mechanism="how", maps_only=True).write(tmp_path)
    phase = load_cohort(tmp_path).maps.phase
    inside = np.isfinite(phase)
    assert inside.any() and (phase[inside] == 0.0).all()
