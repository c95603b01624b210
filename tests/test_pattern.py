"""Pattern features on maps whose answers are known in closed form: a pure circumferential gradient, a pure patch
field, rotated copies, a constant map, a map straddling 0/360; robustness; input contract; bad input."""

import numpy as np
import pandas as pd
import pytest
from scipy import special
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from lvmd.errors import ModelError
from lvmd.features import (DEFAULT_FEATURES, CircumferentialHarmonic, LateRegion, PatternFeatures, PhaseCoherence,
                           PhaseHistogram, RegionalDelay, SynchronousFraction)
from lvmd.io.polarmaps import PolarMaps
from lvmd.polar import disc_mask, pixel_coordinates

RHO, THETA = pixel_coordinates()
MASK = disc_mask()
ROTATION_INVARIANT = ["local_coherence", "global_coherence", "spatial_coherence", "harmonic_amplitude_deg",
                      "harmonic_fraction", "late_extent", "late_compactness", "late_rho", "late_perfusion_pct",
                      "late_scar_fraction", "synchronous_fraction", "psd_deg", "pbw_deg", "entropy_pct",
                      "base_apex_delay_deg"]


def disc(values) -> np.ndarray:
    return np.where(MASK, values, np.nan)


def gradient(amplitude: float, late_deg: float, mean: float = 150.0) -> np.ndarray:
    """A pure circumferential first harmonic: latest at ``late_deg``, half range ``amplitude``."""
    return disc((mean + amplitude * np.cos(np.radians(THETA - late_deg))) % 360.0)


def sector(lo: float, hi: float, rho_lo: float, rho_hi: float) -> np.ndarray:
    return MASK & ((THETA - lo) % 360.0 <= (hi - lo) % 360.0) & (RHO >= rho_lo) & (RHO <= rho_hi)


def every_feature(maps, perfusion=None) -> pd.DataFrame:
    """All features of all transformers (PolarMaps input when perfusion is given)."""
    maps = np.asarray(maps, float)
    if maps.ndim == 2:
        maps = maps[None]
    X = maps if perfusion is None else PolarMaps(np.array([f"p{i}" for i in range(len(maps))]), maps,
                                                 np.broadcast_to(perfusion, maps.shape).copy())
    parts = [PhaseCoherence(), CircumferentialHarmonic(), RegionalDelay(), LateRegion(), SynchronousFraction(),
             PhaseHistogram()]
    return pd.concat([p.fit_transform(X).reset_index(drop=True) for p in parts], axis=1)


# --- pure circumferential gradient ------------------------------------------------------------------------------

def test_gradient_harmonic_is_exact():
    f = every_feature(gradient(40.0, 30.0)).iloc[0]
    assert f["harmonic_amplitude_deg"] == pytest.approx(40.0, abs=1e-9)
    assert f["harmonic_cos"] == pytest.approx(np.cos(np.radians(30.0)), abs=1e-9)
    assert f["harmonic_sin"] == pytest.approx(np.sin(np.radians(30.0)), abs=1e-9)
    unsmoothed = CircumferentialHarmonic(smoothing_px=0).fit_transform(gradient(40.0, 30.0)[None]).iloc[0]
    assert unsmoothed["harmonic_fraction"] == pytest.approx(1.0, abs=1e-12)
    assert f["harmonic_fraction"] == pytest.approx(1.0, abs=1e-4)  # smoothing bends the sweep only at the apex


def test_gradient_coherence_closed_form():
    # Phases A cos(u) with u uniform on the circle: mean resultant length J0(A) (A in radians).
    for amplitude in (20.0, 40.0, 70.0):
        maps = gradient(amplitude, 0.0)[None]
        raw = PhaseCoherence(smoothing_px=0).fit_transform(maps).iloc[0]
        assert raw["global_coherence"] == pytest.approx(special.j0(np.radians(amplitude)), abs=2e-3)
        smoothed = PhaseCoherence().fit_transform(maps).iloc[0]
        assert smoothed["global_coherence"] == pytest.approx(raw["global_coherence"], abs=0.01)
    f = every_feature(gradient(40.0, 0.0)).iloc[0]
    assert f["local_coherence"] > 0.98
    assert f["spatial_coherence"] > 0.85


def test_gradient_histogram_and_synchrony_closed_form():
    a, w = 40.0, 20.0
    f = every_feature(gradient(a, 75.0)).iloc[0]
    # A cos(u), u uniform: SD A / sqrt(2); P(|A cos u| <= w) = 1 - (2 / pi) arccos(w / A).
    assert f["psd_deg"] == pytest.approx(a / np.sqrt(2.0), rel=0.01)
    assert f["synchronous_fraction"] == pytest.approx(1.0 - 2.0 / np.pi * np.arccos(w / a), abs=0.02)
    assert f["pbw_deg"] <= 2 * a


def test_gradient_late_region_is_the_late_half():
    f = every_feature(gradient(50.0, 300.0)).iloc[0]
    assert f["late_extent"] == pytest.approx(0.5, abs=0.02)
    assert f["late_compactness"] == pytest.approx(1.0)
    assert np.degrees(np.arctan2(f["late_sin"], f["late_cos"])) % 360 == pytest.approx(300.0, abs=1.0)
    # Weights depend on the angle only, so the radial centroid is the half-disc's: mean rho of a disc = 2/3.
    assert f["late_rho"] == pytest.approx(2.0 / 3.0, abs=0.02)


def test_gradient_septal_lateral_delay_closed_form():
    # Pixels are uniform in angle within each ring: the mean of A cos(theta - t0) over the lateral region (120-degree
    # sectors in the mid and basal rings, a 90-degree sector apically) minus the septum is
    # 2 A cos(t0) [w_m sin(60)/(pi/3) + w_a sin(45)/(pi/4)], w the area shares of the rings in the region.
    a, t0 = 50.0, 30.0
    w_mid_basal = (1.0 - 0.4**2) / 3.0
    w_apical = (0.4**2 - 0.15**2) / 4.0
    mean_cos = (w_mid_basal * np.sin(np.pi / 3) / (np.pi / 3) + w_apical * np.sin(np.pi / 4) / (np.pi / 4)) / (
        w_mid_basal + w_apical)
    f = every_feature(gradient(a, t0)).iloc[0]
    assert f["septal_lateral_delay_deg"] == pytest.approx(2 * a * np.cos(np.radians(t0)) * mean_cos, rel=0.015)
    assert f["base_apex_delay_deg"] == pytest.approx(0.0, abs=0.5)


# --- pure patch field -------------------------------------------------------------------------------------------

def patch_field(delay: float = 80.0, base: float = 140.0):
    patch = sector(-30.0, 30.0, 0.4, 0.9)
    return disc((base + delay * patch) % 360.0), patch


def test_patch_location_extent_and_viability():
    phase, patch = patch_field()
    share = patch.sum() / MASK.sum()
    assert share == pytest.approx((0.9**2 - 0.4**2) / 6.0, abs=0.005)  # the sector's area share
    scar_in_patch = disc(np.where(patch, 30.0, 80.0))
    f = every_feature(phase, scar_in_patch).iloc[0]
    assert f["late_extent"] == pytest.approx(share, abs=0.01)
    assert f["late_compactness"] == pytest.approx(1.0)
    assert f["late_cos"] == pytest.approx(1.0, abs=1e-3) and f["late_sin"] == pytest.approx(0.0, abs=1e-3)
    # Radial centroid of an annular sector between r1 and r2: (2/3)(r2^3 - r1^3) / (r2^2 - r1^2).
    assert f["late_rho"] == pytest.approx(2 / 3 * (0.9**3 - 0.4**3) / (0.9**2 - 0.4**2), abs=0.02)
    assert f["late_scar_fraction"] > 0.9 and f["late_perfusion_pct"] < 36.0
    septal_scar = disc(np.where(sector(150.0, 210.0, 0.3, 1.0), 30.0, 80.0))
    g = every_feature(phase, septal_scar).iloc[0]
    assert g["late_scar_fraction"] == 0.0 and g["late_perfusion_pct"] == pytest.approx(80.0)


def test_patch_histogram_closed_form():
    d = 80.0
    phase, patch = patch_field(d)
    p = patch.sum() / MASK.sum()
    f = every_feature(phase).iloc[0]
    assert f["psd_deg"] == pytest.approx(d * np.sqrt(p * (1 - p)), rel=1e-9)
    assert f["pbw_deg"] == pytest.approx(d, abs=1e-9)  # the patch holds more than 5 % of the wall
    assert f["entropy_pct"] == pytest.approx(-(p * np.log(p) + (1 - p) * np.log(1 - p)) / np.log(60) * 100, rel=1e-9)
    assert f["synchronous_fraction"] == pytest.approx(1 - p, abs=1e-12)
    assert f["harmonic_cos"] == pytest.approx(1.0, abs=1e-6)
    assert f["septal_lateral_delay_deg"] > 0


def test_two_patches_compactness_is_the_larger_share():
    big, small = sector(-40.0, 40.0, 0.4, 0.95), sector(150.0, 190.0, 0.5, 0.9)
    phase = disc(140.0 + 80.0 * (big | small))
    f = every_feature(phase).iloc[0]
    assert f["late_extent"] == pytest.approx((big.sum() + small.sum()) / MASK.sum(), abs=0.01)
    assert f["late_compactness"] == pytest.approx(big.sum() / (big.sum() + small.sum()), abs=0.03)
    assert f["late_cos"] == pytest.approx(1.0, abs=1e-3)  # the main (larger) region decides the location


# --- rotation, wrap, constant ------------------------------------------------------------------------------------

def asymmetric_map(rng) -> tuple[np.ndarray, np.ndarray]:
    phase = gradient(35.0, 20.0) + 60.0 * sector(200.0, 250.0, 0.5, 0.8) + rng.normal(0, 4.0, MASK.shape)
    perfusion = disc(np.where(sector(180.0, 260.0, 0.3, 1.0), 35.0, 80.0))
    return disc(phase % 360.0), perfusion


def test_rotated_copy():
    phase, perfusion = asymmetric_map(np.random.default_rng(0))
    # np.rot90 turns the bullseye 90 degrees counter-clockwise: what was at theta is now at theta + 90.
    f = every_feature(phase, perfusion).iloc[0]
    g = every_feature(np.rot90(phase), np.rot90(perfusion)).iloc[0]
    for name in ROTATION_INVARIANT:
        assert g[name] == pytest.approx(f[name], rel=1e-9, abs=1e-9), name
    for prefix in ("harmonic", "late"):
        turned = np.degrees(np.arctan2(g[f"{prefix}_sin"], g[f"{prefix}_cos"]) - np.arctan2(f[f"{prefix}_sin"],
                                                                                          f[f"{prefix}_cos"]))
        assert turned % 360.0 == pytest.approx(90.0, abs=1e-6), prefix
    half = every_feature(np.rot90(phase, 2), np.rot90(perfusion, 2)).iloc[0]
    assert half["septal_lateral_delay_deg"] == pytest.approx(-f["septal_lateral_delay_deg"], rel=1e-9)


def test_phase_offset_and_wrap_change_nothing():
    phase, perfusion = asymmetric_map(np.random.default_rng(1))
    f = every_feature(phase, perfusion).iloc[0]
    for shift in (192.0, 200.5, 230.25):  # each puts the map across 0/360; 192 keeps the entropy bins aligned
        shifted = (phase + shift) % 360.0
        assert np.nanmax(shifted) - np.nanmin(shifted) > 300.0
        g = every_feature(shifted, perfusion).iloc[0]
        for name in f.index:
            if name == "entropy_pct" and shift != 192.0:
                assert g[name] == pytest.approx(f[name], abs=1.5)  # the histogram's bin grid moves under the map
            else:
                assert g[name] == pytest.approx(f[name], rel=1e-7, abs=1e-7), (name, shift)


def test_constant_map():
    f = every_feature(disc(np.full(MASK.shape, 133.0)), disc(np.full(MASK.shape, 70.0))).iloc[0]
    expected = {"local_coherence": 1.0, "global_coherence": 1.0, "spatial_coherence": 0.0,
                "harmonic_amplitude_deg": 0.0, "harmonic_cos": 0.0, "harmonic_sin": 0.0, "harmonic_fraction": 0.0,
                "septal_lateral_delay_deg": 0.0, "base_apex_delay_deg": 0.0, "late_extent": 0.0,
                "late_compactness": 0.0, "late_cos": 0.0, "late_sin": 0.0, "late_rho": RHO[MASK].mean(),
                "late_perfusion_pct": 70.0, "late_scar_fraction": 0.0, "synchronous_fraction": 1.0, "psd_deg": 0.0,
                "pbw_deg": 0.0, "entropy_pct": 0.0}
    for name, value in expected.items():
        assert f[name] == pytest.approx(value, abs=1e-9), name


# --- robustness -------------------------------------------------------------------------------------------------

def patchy(rng, psd: float) -> np.ndarray:
    """Several scattered late patches at random places (no single wavefront), scaled to a phase SD."""
    bumps = np.zeros(MASK.shape)
    for _ in range(5):
        t0, r0 = rng.uniform(0, 360), rng.uniform(0.2, 0.9)
        bumps += np.exp(-0.5 * (((THETA - t0 + 180) % 360 - 180) / 25.0) ** 2 - 0.5 * ((RHO - r0) / 0.12) ** 2)
    return bumps / bumps[MASK].std() * psd


def test_noise_holes_and_psd_levels():
    rng = np.random.default_rng(5)
    hole = sector(100.0, 140.0, 0.6, 1.0)
    coherent, scattered = [], []
    for psd in (20.0, 50.0, 90.0):
        for mean in (100.0, 200.0):
            g = gradient(psd * np.sqrt(2.0), 250.0, mean) + rng.normal(0, 8.0, MASK.shape)
            g[hole] = np.nan
            coherent.append(g % 360.0)
            p = mean + patchy(rng, psd) + rng.normal(0, 8.0, MASK.shape)
            p[hole] = np.nan
            scattered.append(disc(p % 360.0))
    fc, fs = every_feature(np.stack(coherent)), every_feature(np.stack(scattered))
    assert np.isfinite(fc.to_numpy()).all() and np.isfinite(fs.to_numpy()).all()
    direction = np.degrees(np.arctan2(fc["harmonic_sin"], fc["harmonic_cos"])) % 360
    assert np.all(np.abs(direction - 250.0) < 5.0)
    late = np.degrees(np.arctan2(fc["late_sin"], fc["late_cos"])) % 360
    assert np.all(np.abs(late - 250.0) < 10.0)
    # "How" is told apart at every amount of dyssynchrony and phase offset.
    for name in ("spatial_coherence", "harmonic_fraction"):
        assert fc[name].min() > fs[name].max(), name
    assert fc["harmonic_fraction"].min() > 0.8


# --- input contract ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def cohort_maps():
    from lvmd.simulate import simulate_cohort

    return simulate_cohort(20, seed=2, maps_only=True).maps


def test_input_forms_agree(cohort_maps):
    with_perf = PatternFeatures().fit(cohort_maps)
    f = with_perf.transform(cohort_maps)
    assert list(f.columns) == list(DEFAULT_FEATURES) and f.index.name == "patient_id"
    assert list(f.index) == list(cohort_maps.patient_id) and np.isfinite(f.to_numpy()).all()
    stacked = np.stack([cohort_maps.phase, cohort_maps.perfusion], axis=1)
    np.testing.assert_allclose(PatternFeatures().fit_transform(stacked).to_numpy(), f.to_numpy())
    phase_only = PatternFeatures().fit_transform(cohort_maps.phase)
    assert "late_scar_fraction" not in phase_only and isinstance(phase_only.index, pd.RangeIndex)
    rows = pd.DataFrame(cohort_maps.phase.reshape(20, -1), index=pd.Index(cohort_maps.patient_id, name="id"))
    from_rows = PatternFeatures().fit_transform(rows)
    assert list(from_rows.index) == list(rows.index)
    np.testing.assert_allclose(from_rows.to_numpy(), f[phase_only.columns].to_numpy())
    assert list(with_perf.get_feature_names_out()) == list(f.columns)


def test_sklearn_contract(cohort_maps):
    model = PatternFeatures(radius_px=3.0, perfusion=False)
    assert clone(model).get_params()["radius_px"] == 3.0
    y = np.arange(20) % 2
    pipe = make_pipeline(PatternFeatures(), StandardScaler(), LogisticRegression()).fit(cohort_maps.phase, y)
    assert pipe.predict_proba(cohort_maps.phase).shape == (20, 2)
    assert PatternFeatures(perfusion=False).fit_transform(cohort_maps).shape == (20, len(DEFAULT_FEATURES) - 2)


def test_bad_input(cohort_maps):
    with pytest.raises(ModelError, match="not \\(n, 64, 64\\)"):
        PatternFeatures().fit(np.zeros((3, 32, 32)))
    with pytest.raises(ModelError, match="all NaN"):
        PatternFeatures().fit(np.full((2, 64, 64), np.nan))
    with pytest.raises(ModelError, match="radius_px"):
        PhaseCoherence(radius_px=-1).fit(cohort_maps)
    with pytest.raises(ModelError, match="perfusion = 'yes'"):
        LateRegion(perfusion="yes").fit(cohort_maps)
    with pytest.raises(ModelError, match="no perfusion maps"):
        LateRegion(perfusion=True).fit(cohort_maps.phase)
    fitted = PatternFeatures().fit(cohort_maps)
    with pytest.raises(ModelError, match="fitted with perfusion"):
        fitted.transform(cohort_maps.phase)
    fraction = PolarMaps(cohort_maps.patient_id, cohort_maps.phase, cohort_maps.perfusion / 100.0)
    with pytest.raises(ModelError, match="% of maximum"):
        PatternFeatures().fit_transform(fraction)
    before = cohort_maps.phase.copy()
    PatternFeatures().fit_transform(cohort_maps)
    assert np.array_equal(before, cohort_maps.phase, equal_nan=True)  # inputs never modified


def test_remembered_features_are_the_computed_ones(cohort_maps):
    fitted = PatternFeatures().fit(cohort_maps)
    first = fitted.transform(cohort_maps)
    fresh = fitted._features(cohort_maps.phase.astype(float), cohort_maps.perfusion.astype(float))
    np.testing.assert_array_equal(first.to_numpy(), fresh)
    backwards = cohort_maps.subset(list(cohort_maps.patient_id[::-1]))
    np.testing.assert_array_equal(fitted.transform(backwards).to_numpy(), first.to_numpy()[::-1])
    # the parameters are part of the key: another radius changes the local coherence, not the harmonic
    other = PatternFeatures(radius_px=2.0).fit(cohort_maps).transform(cohort_maps)
    assert (other["local_coherence"] > first["local_coherence"]).all()
    np.testing.assert_array_equal(other["harmonic_fraction"], first["harmonic_fraction"])
    # and the perfusion maps: changed perfusion, changed viability
    halved = PolarMaps(cohort_maps.patient_id, cohort_maps.phase, cohort_maps.perfusion / 2.0 + 1.0)
    changed = fitted.transform(halved)
    assert (changed["late_perfusion_pct"] < first["late_perfusion_pct"]).all()
