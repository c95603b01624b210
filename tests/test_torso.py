"""The anatomical torso bench: its geometry, timing and truth, its acquisitions, and the issue-14 acceptance figures
of lvmd's engine on fixed bench cases (the full pattern x gates x gut matrix on two entry paths; pass rates over
other seeds are in docs/torso-bench.md)."""

from __future__ import annotations


import numpy as np
import pytest
from scipy import ndimage

from lvmd.errors import LvmdError
from lvmd.torso import (Defect, Rendered, TorsoCase, project, random_case, render, short_axis_study, transaxial_study,
                        write_projection_file)
from lvmd.torso.acquire import detector_angles, transaxial_volume
from lvmd.torso.anatomy import MU_BONE, MU_LUNG, MU_SOFT, diaphragm_levels, gut_loops, layout
from lvmd.torso.bench import run_case
from lvmd.torso.render import HeartSampler, gate_times, pulse
from lvmd.torso.score import (distance_to_segment, localisation_errors, phase_mean, phase_sd, psd_tolerance,
                              sample_truth, structure_at)

QUIET = dict(liver_activity=0.0, spleen_activity=0.0, kidney_activity=0.0, gut_ratio=0.0, lung_activity=0.0,
             background_activity=0.02, blood_activity=0.05)


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """lvmd's reconstruction runs in these tests; on a shared 2-core machine torch's thread pool thrashes."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def ray_phases(case: TorsoCase, rhos, thetas, fwhm_mm: float = 12.0) -> np.ndarray:
    """Reference measurement on the noise-free LV: first-harmonic phase (gate-centre times) of the maximum count
    along a ray from the true axis, after a Gaussian resolution blur -- what 'the local wall's count curve' means."""
    rendered = render(case)
    sigma = fwhm_mm / 2.3548 / case.voxel_mm
    vols = np.stack([ndimage.gaussian_filter(v, sigma) for v in rendered.lv])
    lat, ant = case.display_frame
    lb = case.lv_dimensions["apex_to_base"]
    radii = np.linspace(0.0, 1.5 * (case.lv_dimensions["mid_radius"] + case.wall_mm), 40)
    times = (np.arange(case.gates) + 0.5) / case.gates
    out = []
    for rho in rhos:
        for theta in thetas:
            d = np.cos(np.radians(theta)) * lat + np.sin(np.radians(theta)) * ant
            vox = case.to_voxel(case.apex_mm - rho * lb * case.apex_direction + radii[:, None] * d).T
            curve = np.stack([ndimage.map_coordinates(v, vox, order=1) for v in vols]).max(axis=1)
            coef = (curve * np.exp(-2j * np.pi * times)).sum()
            out.append((rho, theta, -np.angle(coef, deg=True) % 360.0))
    return np.array(out)


def wrapped(a):
    return (np.asarray(a) + 180.0) % 360.0 - 180.0


# --- geometry and pose ----------------------------------------------------------------------------------------------


def test_pose_points_left_anterior_inferior_and_frame_is_right_handed():
    case = TorsoCase(azimuth_deg=45.0, elevation_deg=30.0)
    u = case.apex_direction
    assert u[0] > 0 and u[1] < 0 and u[2] < 0  # left, anterior, inferior
    np.testing.assert_allclose(u, [np.cos(np.radians(30)) * np.sqrt(0.5), -np.cos(np.radians(30)) * np.sqrt(0.5),
                                   -0.5], atol=1e-12)
    lat, ant = case.display_frame
    np.testing.assert_allclose([lat @ lat, ant @ ant, lat @ ant, lat @ u, ant @ u], [1, 1, 0, 0, 0], atol=1e-12)
    np.testing.assert_allclose(np.cross(ant, u), lat, atol=1e-12)
    assert ant[2] > 0  # anterior wall faces up (superior) as in the vertical long axis
    assert lat[0] > 0 and lat[1] > 0  # lateral wall faces patient left-posterior; septum right-anterior
    rolled = TorsoCase(roll_deg=30.0).anatomical_frame[0]
    assert np.degrees(np.arccos(rolled @ TorsoCase().display_frame[0])) == pytest.approx(30.0)


@pytest.mark.parametrize("edv, sphericity, beta", [(80.0, 0.5, 0.0), (150.0, 0.65, 0.1), (250.0, 0.8, 0.2)])
def test_rendered_cavity_holds_the_end_diastolic_volume(edv, sphericity, beta):
    case = TorsoCase(edv_ml=edv, sphericity=sphericity, base_beyond_equator=beta, base_tilt_mm=0.0)
    dims = case.lv_dimensions
    # the closed form itself
    g = (1 + beta) - (1 + beta**3) / 3
    assert np.pi * dims["cavity_radius"] ** 2 * dims["cavity_half_length"] * g / 1000.0 == pytest.approx(edv)
    assert 2 * dims["cavity_radius"] / (dims["cavity_half_length"] * (1 + beta)) == pytest.approx(sphericity)
    sampler = HeartSampler(case, supersample=3)
    cavity = sampler.structures_at(0.0, at_rest=True)["lv_cavity"].sum() * sampler.hf**3 / 1000.0
    assert cavity == pytest.approx(edv, rel=0.04)


def test_lv_centre_is_the_centroid_of_the_rendered_wall():
    case = TorsoCase(base_tilt_mm=8.0, roll_deg=25.0, edv_ml=200.0, sphericity=0.75)
    sampler = HeartSampler(case, supersample=3)
    wall = sampler.structures_at(0.0, at_rest=True)["lv_wall"]
    centroid = (sampler.xyz * wall[:, None]).sum(axis=0) / wall.sum()
    np.testing.assert_allclose(case.centre_mm, centroid, atol=0.5)
    lb = case.lv_dimensions["apex_to_base"]
    along = (case.apex_mm - case.centre_mm) @ case.apex_direction
    assert 0.3 * lb < along < 0.7 * lb  # in the middle of the LV, on its axis
    assert np.linalg.norm(case.apex_mm - along * case.apex_direction - case.centre_mm) < 1.5


def test_myocardial_counts_are_constant_over_the_cycle_and_the_wall_thickens():
    for pattern in ("lbbb", "random"):  # regional timing: each segment shortens with its own pulse
        case = TorsoCase(pattern=pattern, delay_deg=120.0, gates=16, thickening=0.45, descent_mm=14.0,
                         dispersion_deg=8.0, pattern_seed=52)
        lv = render(case).lv.sum(axis=(1, 2, 3))
        assert lv.max() / lv.min() - 1 < 0.015  # mass conserved: myocardial counts do not beat
    sync = TorsoCase(thickening=0.4, descent_mm=12.0, base_tilt_mm=0.0, wall_mm=10.0)
    sampler = HeartSampler(sync, supersample=4)
    t_peak = sync.onset_deg / 360.0 + sync.systole_fraction / 2.0
    rest, peak = (sampler.structures_at(t, at_rest=r)["lv_wall"] for t, r in ((0.0, True), (t_peak, False)))
    band = (sampler.ax > 0.45 * 94) & (sampler.ax < 0.55 * 94)
    thickness = [w[band].sum() / (band.sum() and 1) for w in (rest, peak)]
    assert thickness[1] / thickness[0] == pytest.approx(1.4 * (1 - 12.0 / sampler.geom.lb), rel=0.06)
    base_rest = sampler.ax[rest > 0.5].max()
    base_peak = sampler.ax[peak > 0.5].max()
    assert base_rest - base_peak == pytest.approx(12.0, abs=1.5)  # the valve plane descends by descent_mm
    np.testing.assert_allclose(np.linalg.norm(sync.base_centre_mm(0.0) - sync.base_centre_mm(1.0)), 12.0)


def test_pulse_and_gate_times():
    assert pulse(0.3, 0.1, 0.4) == pytest.approx(1.0)
    assert pulse(0.1, 0.1, 0.4) == pytest.approx(0.0)
    assert pulse(0.0, 0.9, 0.4) == pytest.approx(0.5)  # wraps through the R wave
    times = gate_times(TorsoCase(gates=8))
    assert times.shape == (8, 4) and np.all(np.diff(times.ravel()) > 0)
    np.testing.assert_allclose(times.mean(axis=1), (np.arange(8) + 0.5) / 8)


# --- the true phase ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("gates", [8, 16])
def test_true_phase_is_the_count_curve_first_harmonic_phase(gates):
    case = TorsoCase(gates=gates, roll_deg=12.0, base_tilt_mm=6.0, apical_thinning=0.25, onset_deg=40.0,
                     systole_fraction=0.55)
    assert case.true_phase(0.5, 33.0) == pytest.approx(40.0 + 0.55 * 180.0)
    r = ray_phases(case, np.linspace(0.15, 0.65, 6), np.arange(0.0, 360.0, 30.0))
    err = np.abs(wrapped(r[:, 2] - case.true_phase(r[:, 0], r[:, 1])))
    # exact up to the aliasing of harmonics T-1 and T+1 of the curve onto the first (sampling at T gates)
    assert np.median(err) < 0.3 and err.max() < 1.5


def test_true_phase_follows_regional_delays():
    lbbb = TorsoCase(pattern="lbbb", delay_deg=100.0, gates=16, roll_deg=-8.0)
    r = ray_phases(lbbb, np.linspace(0.25, 0.7, 4), np.arange(0.0, 360.0, 20.0))
    err = np.abs(wrapped(r[:, 2] - lbbb.true_phase(r[:, 0], r[:, 1])))
    assert np.median(err) < 3.0 and np.percentile(err, 90) < 7.0  # blur mixes neighbours a little
    assert lbbb.true_phase(0.5, 0.0 - 8.0) - lbbb.true_phase(0.5, 180.0 - 8.0) == pytest.approx(100.0, abs=1.0)
    step = TorsoCase(pattern="two_region", delay_deg=72.0, gates=16, step_centre_deg=0.0, step_width_deg=180.0)
    r = ray_phases(step, [0.3, 0.5], np.arange(0.0, 360.0, 15.0))
    far = np.abs(wrapped(r[:, 1] - 90.0)) > 45.0
    far &= np.abs(wrapped(r[:, 1] - 270.0)) > 45.0
    assert np.abs(wrapped(r[far, 2] - step.true_phase(r[far, 0], r[far, 1]))).max() < 1.5
    assert phase_sd(step.true_phase_map()[np.isfinite(step.true_phase_map())]) == pytest.approx(36.0, abs=0.6)


def test_valve_plane_is_in_anti_phase_above_the_systolic_base():
    case = TorsoCase(descent_mm=14.0, base_tilt_mm=0.0, la_activity=0.5)
    lb = case.lv_dimensions["apex_to_base"]
    r = ray_phases(case, [(lb - 6.0) / lb], np.arange(0.0, 360.0, 30.0))
    assert np.median(np.abs(wrapped(r[:, 2] - case.true_phase(0.5, 0.0)))) > 120.0


def test_non_viable_wall_has_no_true_phase():
    case = TorsoCase(defects=(Defect(rho=0.6, theta_deg=270.0, radius=0.3, depth=0.8),))
    assert np.isnan(case.true_phase(0.6, 270.0))
    assert np.isfinite(case.true_phase(0.6, 90.0))
    assert case.uptake_at(0.6, 270.0) == pytest.approx(0.2)


# --- anatomy --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("gap", [0.0, 10.0, 35.0, 60.0])
def test_gut_loop_sits_at_the_requested_distance_below_the_inferior_wall(gap):
    case = TorsoCase(gut_ratio=8.0, gut_gap_mm=gap, gut_loops=3, anatomy_seed=5)
    rendered = render(case)
    assert rendered.gut_gap_mm == pytest.approx(gap, abs=0.3)
    assert rendered.gut_ratio == pytest.approx(8.0, rel=0.02)
    hottest = gut_loops(case)[0]
    sampler = HeartSampler(case, supersample=3)
    wall = sampler.structures_at(0.0, at_rest=True)["lv_wall"] > 0.5
    measured = hottest.signed_distance(*sampler.xyz[wall].T).min()
    assert measured == pytest.approx(gap, abs=2.5)  # dense check against the rendered wall (sub-voxel samples)
    centre = (hottest.centre + hottest.end) / 2.0
    assert centre[2] < case.centre_mm[2]  # below the LV
    assert structure_at(case, case.to_voxel(centre)) == "gut"


def test_gut_and_liver_do_not_beat():
    case = TorsoCase(gut_ratio=6.0, gut_gap_mm=5.0, liver_activity=1.0, stomach_activity=1.0)
    rendered = render(case)
    heart = HeartSampler(case)
    near_heart = np.zeros(case.grid**3, bool)
    near_heart[heart.voxel] = True
    changing = np.abs(rendered.activity - rendered.activity[0]).max(axis=0).ravel() > 1e-6
    assert not np.any(changing & ~near_heart)
    assert rendered.extracardiac_ratio >= rendered.gut_ratio


def test_organs_lie_where_anatomy_puts_them():
    case = TorsoCase()
    solids = {s.name: s for s in layout(case)}
    left, right = diaphragm_levels(case)
    lowest = case.epicardium()["points"][:, 2].min()
    assert left < lowest and right > left
    livers = [s for s in layout(case) if s.name == "liver"]
    assert all(s.centre[2] + s.size[2] <= right - case.liver_gap_mm + 25.0 for s in livers)
    assert livers[0].centre[0] < case.body_centre_mm[0] < case.centre_mm[0]  # liver right, heart left
    assert case.centre_mm[1] < case.body_centre_mm[1]  # heart anterior
    assert solids["spine"].centre[1] > case.body_centre_mm[1]  # spine posterior


def test_attenuation_map_values():
    case = TorsoCase()
    mu = render(case).mu
    n, h = case.grid, case.voxel_mm
    def at(point_mm):
        return mu[tuple(np.round(case.to_voxel(point_mm)).astype(int))]
    bx, by = case.body_centre_mm
    assert at([bx + 0.52 * case.body_half_width_mm, by, 120.0]) == pytest.approx(MU_LUNG, abs=1e-6)
    assert at([bx, by + 0.62 * case.body_half_depth_mm, 150.0]) == pytest.approx(MU_BONE, abs=1e-6)
    assert at([bx - 0.45 * case.body_half_width_mm, by, -120.0]) == pytest.approx(MU_SOFT, abs=1e-6)
    assert at(case.centre_mm) == pytest.approx(MU_SOFT, abs=1e-6)  # heart tissue, not lung
    assert mu[0, 0, n // 2] == 0.0 and mu.max() <= MU_BONE + 1e-6
    assert h == 6.8 and MU_SOFT == 0.15 and MU_LUNG == 0.05


# --- random cases ---------------------------------------------------------------------------------------------------


def test_random_cases_are_deterministic_and_overridable():
    a, b = random_case(7), random_case(7)
    assert a == b and random_case(8) != a
    np.testing.assert_array_equal(render(a).activity, render(b).activity)
    small = a.with_(views=30, gates=8, collimator="")
    np.testing.assert_array_equal(project(small), project(small))
    assert not np.array_equal(project(small), project(small.with_(noise_seed=small.noise_seed + 1)))
    fixed = random_case(7, gut_ratio=9.0, pattern="lbbb")
    assert fixed.gut_ratio == 9.0 and fixed.pattern == "lbbb" and fixed.edv_ml == a.edv_ml
    with pytest.raises(LvmdError, match="no_such_field"):
        random_case(7, no_such_field=1)
    with pytest.raises(LvmdError, match="gates"):
        TorsoCase(gates=4)


def test_random_cases_span_the_clinical_ranges():
    cases = [random_case(s) for s in range(60)]
    get = lambda name: np.array([getattr(c, name) for c in cases])  # noqa: E731
    assert get("edv_ml").min() >= 80 and get("edv_ml").max() <= 250
    assert 9 <= get("wall_mm").min() and get("wall_mm").max() <= 12
    assert 0.2 <= get("thickening").min() and get("thickening").max() <= 0.5
    assert 8 <= get("descent_mm").min() and get("descent_mm").max() <= 15
    assert get("gut_ratio").max() <= 10 and (get("gut_ratio") >= 6).mean() > 0.15
    assert ((get("gut_gap_mm") <= 2) & (get("gut_ratio") > 0)).sum() >= 5  # gut touching the inferior wall
    assert set(get("gates")) == {8, 16} and set(get("views")) == {30, 60}
    assert len(set(get("pattern"))) == 5
    assert 20 <= get("azimuth_deg").min() and get("azimuth_deg").max() <= 75
    assert all(c.radius_mm > max(c.body_half_width_mm, c.body_half_depth_mm) for c in cases)


# --- acquisition ----------------------------------------------------------------------------------------------------


def test_projections_round_trip_through_dicom(tmp_path):
    from lvmd.scanner import read_projections

    case = TorsoCase(gates=8, views=30, collimator="", attenuation=False, scatter_fraction=0.0,
                     counts_per_view=2e6, last_gate_fraction=0.8, rv_activity=0.0, la_activity=0.0, **QUIET)
    rendered = render(case)
    counts = project(case, rendered)
    assert counts.shape == (8, 30, 64, 64)
    per_view = counts.sum(axis=(2, 3)).mean(axis=1)
    np.testing.assert_allclose(per_view.sum(), 2e6, rtol=2e-3)
    assert per_view[-1] / per_view[:-1].mean() == pytest.approx(0.8, rel=0.01)
    path = write_projection_file(case, tmp_path / "torso.dcm", rendered)
    back = read_projections(path)
    assert back.gated and back.counts.shape == (8, 30, 64, 64)
    np.testing.assert_allclose(np.sort(back.proj_meta.angles.numpy()), np.sort(detector_angles(case) % 360), atol=1e-3)
    np.testing.assert_array_equal(np.sort(back.counts.sum(axis=(0, 2, 3))), np.sort(counts.sum(axis=(0, 2, 3))))


def test_object_axes_survive_projection_dicom_and_lvmd_reconstruction(tmp_path):
    """A hot sphere off-centre in x, y and z comes back where it was put: the bench and lvmd agree on the axes."""
    from lvmd.scanner import read_projections, reconstruct

    case = TorsoCase(gates=8, views=30, collimator="", attenuation=False, scatter_fraction=0.0, counts_per_view=1e6)
    target = np.array([44.0, 22.0, 37.0])  # voxels: patient left, anterior, superior of the grid centre
    grid = np.indices((64, 64, 64)).transpose(1, 2, 3, 0)
    sphere = (np.linalg.norm(grid - target, axis=-1) <= 2.5).astype(np.float32) + 0.01
    rendered = Rendered(np.repeat(sphere[None], 8, axis=0), np.zeros_like(sphere), np.full_like(sphere, 0.01),
                        sphere[None], 0.0, 0.0, np.nan)
    volume = reconstruct(read_projections(write_projection_file(case, tmp_path / "s.dcm", rendered)),
                         iterations=3, subsets=5, butterworth_cutoff=None).mean(axis=0)
    weights = np.clip(volume - 0.3 * volume.max(), 0, None)
    centroid = (grid * weights[..., None]).reshape(-1, 3).sum(axis=0) / weights.sum()
    np.testing.assert_allclose(centroid, target, atol=0.3)


def test_short_axis_study_uses_the_true_axis_and_display_orientation():
    case = TorsoCase(counts_per_view=2e7, defects=(Defect(0.5, 90.0, 0.35, 0.6),), apical_thinning=0.0, **QUIET)
    study, truth = short_axis_study(case, margin_apex_mm=20.0, margin_base_mm=30.0, offset_vox=(1.5, -1.0))
    assert study.counts.shape[0] == 8 and study.counts.shape[2:] == (64, 64)
    assert truth.apex[0] == pytest.approx(20.0 / case.voxel_mm, abs=0.8)
    np.testing.assert_allclose(truth.apex[1:], [31.5 + 1.5, 31.5 - 1.0], atol=1e-6)
    summed = study.counts.sum(axis=0)
    mid = int(round(truth.centre[0]))
    image = summed[mid]
    rows, cols = np.indices(image.shape)
    ring = image > 0.5 * image.max()
    assert np.average(rows[ring], weights=image[ring]) == pytest.approx(truth.centre[1], abs=1.2)
    assert np.average(cols[ring], weights=image[ring]) == pytest.approx(truth.centre[2], abs=1.2)
    r0, c0 = truth.centre[1:]
    radius = (case.lv_dimensions["mid_radius"]) / case.voxel_mm
    value = lambda dr, dc: ndimage.map_coordinates(image, [[r0 + dr], [c0 + dc]], order=1)[0]  # noqa: E731
    anterior, inferior = value(-radius, 0.0), value(radius, 0.0)
    septal, lateral = value(0.0, -radius), value(0.0, radius)
    assert anterior < 0.75 * inferior  # the anterior defect sits at the top (rows run anterior -> inferior)
    assert septal > 0.75 * lateral


def test_clipped_export_peaks_at_the_ceiling_in_every_gate():
    case = TorsoCase(export_ceiling=255, counts_per_view=5e4)
    study = transaxial_study(case)
    peaks = study.counts.reshape(case.gates, -1).max(axis=1)
    np.testing.assert_array_equal(peaks, 255.0)
    np.testing.assert_array_equal(study.counts, np.round(study.counts))


@pytest.mark.slow
def test_image_domain_noise_matches_the_projection_path(tmp_path):
    from lvmd.scanner import read_projections, reconstruct

    case = TorsoCase(gates=8, liver_activity=1.0, gut_ratio=0.0)
    rendered = render(case)
    recon = reconstruct(read_projections(write_projection_file(case, tmp_path / "c.dcm", rendered)))
    image = transaxial_volume(case, rendered)
    liver = [s for s in layout(case) if s.name == "liver"][0]
    box = tuple(slice(int(c) - 3, int(c) + 4) for c in case.to_voxel(liver.centre))
    cv = [float((v[(slice(None),) + box].std(axis=0) / v[(slice(None),) + box].mean(axis=0)).mean())
          for v in (recon, image)]
    assert 1 / 1.5 < cv[1] / cv[0] < 1.5


# --- scoring --------------------------------------------------------------------------------------------------------


def test_phase_metrics_unwrap_at_the_largest_gap():
    assert phase_sd([350.0, 10.0]) == pytest.approx(10.0)
    assert phase_mean([350.0, 10.0]) == pytest.approx(0.0)
    step = np.r_[np.full(50, 100.0), np.full(50, 172.0)]
    assert phase_sd(step) == pytest.approx(36.0)
    assert psd_tolerance(36.0) == pytest.approx(4.32) and psd_tolerance(10.0) == 4.0


def test_localisation_errors_measure_centre_and_axis():
    case = TorsoCase()
    u, h = case.apex_direction, case.voxel_mm
    midpoint, cavity = case.centre_zone_mm
    assert distance_to_segment(case.centre_mm, case.centre_zone_mm) < 0.5  # the wall centroid is in the zone
    assert 5.0 < (midpoint - cavity) @ u < 25.0  # the long-axis midpoint is apical of the cavity centroid
    on_axis = localisation_errors(case, case.centre_vox + 5.0 / h * u, u)
    assert on_axis["centre_err_mm"] < 0.5 and on_axis["centre_axial_mm"] == pytest.approx(5.0) and on_axis["localised"]
    lat = case.display_frame[0]
    off = localisation_errors(case, case.to_voxel(case.centre_mm + 12.0 * lat), u)
    assert off["centre_err_mm"] == pytest.approx(12.0, abs=0.5) and off["centre_radial_mm"] == pytest.approx(12.0)
    assert not off["localised"]
    basal = localisation_errors(case, case.to_voxel(cavity - 15.0 * u), u)
    assert basal["centre_err_mm"] == pytest.approx(15.0, abs=0.01) and not basal["localised"]
    flipped = localisation_errors(case, case.centre_vox, -u)
    assert flipped["axis_err_deg"] == pytest.approx(180.0) and not flipped["localised"]


def test_run_case_records_failures_instead_of_raising():
    row = run_case(TorsoCase(gut_ratio=0.0), "transaxial")
    assert {"centre_err_mm", "psd_true", "psd_err", "error", "gut_band"} <= set(row)
    with pytest.raises(ValueError):
        run_case(TorsoCase(), "sinogram")


# --- acceptance of the issue-14 engine on fixed bench cases -------------------------------------------------------------

HIGH_COUNTS = dict(counts_per_view=1.2e6, dispersion_deg=0.0, defects=(), last_gate_fraction=1.0)
# The accuracy matrix: every pattern with 8 and 16 gates, without and with a gut loop 8x the LV touching the
# inferior wall, on the transaxial and the short-axis entry paths. "High counts" is 1000x clinical (1.2e8 counts per
# view), where counting noise puts 1-4 deg on each sample's phase, so what is measured is the method's own accuracy
# (at 100x, 2-7 deg: a hot gut's own noise alone then takes some synchronous LVs past the 4 deg tolerance; the pass
# rates at 100x and at clinical counts are in docs/torso-bench.md).
MATRIX_COUNTS = dict(counts_per_view=1.2e8, dispersion_deg=0.0, defects=(), last_gate_fraction=1.0)
MATRIX_PATTERNS = {"synchronous": {}, "lbbb": dict(delay_deg=100.0), "anterior_late": dict(delay_deg=90.0),
                   "two_region": dict(delay_deg=72.0, step_centre_deg=0.0, step_width_deg=180.0, step_rho_min=0.0)}
MATRIX_GUT = {"no-gut": dict(gut_ratio=0.0), "hot-gut": dict(gut_ratio=8.0, gut_gap_mm=0.5)}
MATRIX = [(p, g, gut) for p in MATRIX_PATTERNS for g in (8, 16) for gut in MATRIX_GUT]
MATRIX_SEED = 1500


def matrix_case(pattern: str, gates: int, gut: str):
    """The fixed bench case of one cell of the accuracy matrix."""
    return random_case(MATRIX_SEED + MATRIX.index((pattern, gates, gut)), pattern=pattern, gates=gates,
                       **MATRIX_COUNTS, **MATRIX_PATTERNS[pattern], **MATRIX_GUT[gut])


def _matrix_params():
    for path in ("transaxial", "short-axis"):
        for cell in MATRIX:
            yield pytest.param(path, *cell, id=f"{path}-{cell[0]}-{cell[1]}g-{cell[2]}")


@pytest.mark.parametrize("path, pattern, gates, gut", list(_matrix_params()))
def test_engine_meets_the_acceptance_figures(path, pattern, gates, gut):
    """PSD within max(4 deg, 12 %) of truth and mean phase within 5 deg, at the result's own samples."""
    row = run_case(matrix_case(pattern, gates, gut), path)
    assert row["error"] == ""
    assert row["localised"], row
    assert row["psd_ok"], (row["psd_est"], row["psd_true"])
    assert row["mean_ok"], (row["mean_est"], row["mean_true"])


@pytest.mark.parametrize("path", ["transaxial", "short-axis"])
def test_weak_samples_out_of_phase_beside_a_gut_loop_are_left_out(path):
    """A synchronous 16-gate LV beside a gut loop 8x its level (seed base 1700 of the matrix). Transaxial: two weak wall
    samples read the gut's spill in anti-phase to all their neighbours and took the PSD to 10.3 against a true 0.
    Short axis: one sample at a twelfth of its neighbours' amplitude and 56 deg off took it to 5.2."""
    cell = ("synchronous", 16, "hot-gut")
    case = random_case(1700 + MATRIX.index(cell), pattern="synchronous", gates=16, **MATRIX_COUNTS, **MATRIX_GUT["hot-gut"])
    row = run_case(case, path)
    assert row["localised"] and row["psd_ok"], (row["psd_est"], row["psd_true"])
    assert row["psd_est"] < 4.0


@pytest.mark.parametrize("path", ["transaxial", "short-axis"])
def test_the_apical_cap_is_centred_on_the_lv_axis(path):
    """An LBBB-like 16-gate LV beside a gut loop 8x its level (seed base 1900 of the matrix). Transaxial: with
    whole-voxel ring centres (6.8 mm) the cap's rays sat off the apex, its septal half read the septum's phase 40-48 deg
    early, and the mean phase was 5.9 deg early. Short axis: the cap's rays ran parallel to the axis and met the dome
    obliquely, the first peak jumping a slice from one side to the other, and recovery tripled the contrast the cap read
    from the walls around it: mean 5.2 deg early (-4.5 with the dome met square-on and the cap taken as measured, -2.9
    with the cap's rays set on the wall's own axis rather than the ring centre that the gut's spill pulls)."""
    cell = ("lbbb", 16, "hot-gut")
    case = random_case(1900 + MATRIX.index(cell), pattern="lbbb", gates=16, **MATRIX_COUNTS, **MATRIX_PATTERNS["lbbb"],
                       **MATRIX_GUT["hot-gut"])
    row = run_case(case, path)
    assert row["localised"] and row["psd_ok"], (row["psd_est"], row["psd_true"])
    assert row["mean_ok"], row["mean_err"]
    assert abs(row["mean_err"]) <= 3.5, row["mean_err"]


def test_rays_that_cannot_follow_the_base_are_left_out_at_the_base():
    """An LBBB-like 16-gate LV beside a gut loop 8x its level (seed base 1700 of the matrix, short-axis path): the
    basal inferior rays stay in their slice beside the gut, read the base's descent at the base slice (a fifth of the
    wall's amplitude, 40-100 deg off) and took the PSD to 37.4 against a true 32.2. Without the gut none is left out."""
    from lvmd.phase import analyze_study
    from lvmd.torso.bench import _short_axis_layout

    cell = ("lbbb", 16, "hot-gut")
    found = {}
    for gut in ("hot-gut", "no-gut"):
        case = random_case(1700 + MATRIX.index(cell), pattern="lbbb", gates=16, **MATRIX_COUNTS, **MATRIX_PATTERNS["lbbb"],
                           **MATRIX_GUT[gut])
        study, _ = short_axis_study(case, render(case), **_short_axis_layout(case))
        result = analyze_study(study)
        samples = result.samples
        truth = sample_truth(case, samples["rho"].to_numpy(), samples["theta_deg"].to_numpy())
        assert abs(result.metrics["psd_deg"] - truth["psd_true"]) <= psd_tolerance(truth["psd_true"]), gut
        found[gut] = result.qc["untracked_base_samples"]
    assert 5 <= found["hot-gut"] <= 25
    assert found["no-gut"] == 0


def test_engine_base_sensitivity_on_synchronous_with_valve_motion():
    """PSD moves <= 3 deg when the base moves a slice (its accuracy at these counts: the sync acceptance case)."""
    case = random_case(1410, pattern="synchronous", gates=16, descent_mm=15.0, la_activity=0.6, gut_ratio=3.0,
                       gut_gap_mm=20.0, **HIGH_COUNTS)
    row = run_case(case, "transaxial")
    assert row["error"] == "" and row["localised"], row
    assert row["base_sensitivity_deg"] <= 3.0
    assert abs(row["mean_err"]) <= 5.0


@pytest.mark.slow
def test_engine_on_raw_projections_with_hot_gut(tmp_path):
    case = random_case(1420, pattern="lbbb", delay_deg=110.0, gates=8, views=60, gut_ratio=6.0, gut_gap_mm=10.0,
                       **HIGH_COUNTS)
    row = run_case(case, "projections", workdir=tmp_path)
    assert row["error"] == ""
    assert row["localised"], row
    assert row["psd_ok"] and row["mean_ok"], row


def test_fixed_acceptance_cases_are_what_they_claim():
    for cell in MATRIX:
        case = matrix_case(*cell)
        assert (case.pattern, case.gates) == cell[:2]
        rendered = render(case)
        expected = MATRIX_GUT[cell[2]]
        assert rendered.gut_ratio == pytest.approx(expected["gut_ratio"], rel=0.05)  # the bench calibrates within 3 %
        if expected["gut_ratio"]:
            assert rendered.gut_gap_mm == pytest.approx(expected["gut_gap_mm"], abs=0.3)


def test_engine_flags_a_clipped_export():
    case = random_case(1430, pattern="synchronous", gut_ratio=2.0, gut_gap_mm=30.0, export_ceiling=255, **HIGH_COUNTS)
    study, _ = short_axis_study(case)
    from lvmd.phase import analyze_study

    result = analyze_study(study)
    warnings = " ".join(str(w) for w in (getattr(result, "qc", None) or {}).get("warnings", []))
    assert "clip" in warnings.lower() or "satur" in warnings.lower()


@pytest.mark.parametrize("seed", [1503, 1504])
def test_anterior_delay_reads_in_the_anterior_segments_from_a_transaxial_volume(seed):
    """The short axis lvmd cuts from a transaxial volume has the clinical frame (transaxial -> vertical long axis ->
    short axis: 12 o'clock is patient-superior perpendicular to the axis), so an anterior delay lands in the anterior
    segments. With anterior-plus-superior as 12 o'clock (lvmd 0.1) these cases read latest in segment 6 and
    anterior minus inferior 44-45 deg."""
    from lvmd.phase import analyze_study
    from lvmd.scanner import from_transaxial

    case = random_case(seed, pattern="anterior_late", delay_deg=90.0, gut_ratio=0.0, roll_deg=0.0, **HIGH_COUNTS)
    result = analyze_study(from_transaxial(transaxial_study(case)).gated())
    phase = result.segments["phase_deg"]
    anterior, inferior = np.nanmean(phase.reindex([1, 7, 13])), np.nanmean(phase.reindex([4, 10, 15]))
    assert result.latest_segment in (1, 7, 13)
    assert (anterior - inferior + 180) % 360 - 180 > 55


def test_engine_flags_a_clipped_transaxial_export():
    """A transaxial file whose every gate peaks at 255 is flagged: the check runs on the file's own counts, since the
    short-axis resampling interpolates the ceiling away. The same file unclipped is not flagged."""
    from lvmd.batch import merge_scanner_qc
    from lvmd.phase import analyze_study
    from lvmd.scanner import from_transaxial

    flags = []
    for ceiling in (255, None):
        case = random_case(1430, pattern="synchronous", gut_ratio=2.0, gut_gap_mm=30.0, export_ceiling=ceiling,
                           **HIGH_COUNTS)
        scanner = from_transaxial(transaxial_study(case))
        result = analyze_study(scanner.gated())
        merge_scanner_qc(result, scanner.qc)
        flags.append((result.qc["clipping"], result.qc["clipping_detail"]["ceiling"],
                      any("clipped" in w for w in result.qc["warnings"])))
    assert flags == [(True, 255, True), (False, None, False)]


def test_engine_flags_a_short_gate_and_not_noise_at_16_gates():
    """A short last gate (bad-beat rejection) is named from static activity; a well-gated 16-gate study at clinical
    counts, whose LV counts per gate wander by noise, is not flagged."""
    from lvmd.phase import analyze_study

    layout = dict(margin_apex_mm=25.0, margin_base_mm=35.0)
    short, _ = short_axis_study(random_case(1001, gates=16, last_gate_fraction=0.8), **layout)
    assert any(w.startswith("gate 16 holds 8") for w in analyze_study(short).warnings)
    steady, _ = short_axis_study(random_case(1001, gates=16, last_gate_fraction=1.0), **layout)
    assert not any("gating dropouts" in w for w in analyze_study(steady).warnings)


def test_engine_picks_a_dilated_lv_over_a_bright_rv():
    """EDV 243 mL with a bright RV crescent: the LV, a cup open at the base, is taken clearly (with the octant shell
    detector, whose weakest octant looked into the open base, the margin over the RV was below 0.3)."""
    row = run_case(random_case(1009), "transaxial")
    assert row["localised"], row
    assert row["qc_reorientation_margin"] > 0.5
    assert "another structure" not in row["qc_warnings"]


@pytest.mark.parametrize("pattern, lateral_minus_septal", [("synchronous", 0.0), ("lbbb", None)])
def test_base_descent_is_followed_wall_by_wall(pattern, lateral_minus_septal):
    """Each wall's base descends with that wall's own shortening: in an LBBB-like LV the lateral base descends
    later than the septal one by about the lateral delay (the bench's meridians shorten with their own pulse)."""
    from lvmd.phase.base import apex_position, find_base
    from lvmd.phase.geometry import locate_lv

    case = random_case(11, pattern=pattern, delay_deg=100.0, gates=16, gut_ratio=0.0, **MATRIX_COUNTS)
    study, _ = short_axis_study(case)
    geometry = locate_lv(study.counts, study.spacing_mm)
    base = find_base(study.counts, geometry, study.spacing_mm, apex_position(study.summed(), geometry))
    descent = base.frame.base - base.frame.base_per_gate  # (gates, sectors), sector s centred on (s + 1/2) 60 deg
    assert descent.shape == (16, 6) and descent.min() >= 0
    t = (np.arange(16) + 0.5) / 16
    timing = -np.degrees(np.angle(descent.T @ np.exp(-2j * np.pi * t))) % 360  # first-harmonic peak, degrees
    measured = np.mean(timing[[0, 5]]) - np.mean(timing[[2, 3]])  # lateral (330-30 deg) minus septal (120-240)
    centres = (np.arange(6) + 0.5) * 60.0
    true = case.true_phase(np.full(6, 0.7), centres)
    expected = np.mean(true[[0, 5]]) - np.mean(true[[2, 3]]) if lateral_minus_septal is None else lateral_minus_septal
    assert abs(measured - expected) <= 20.0, (timing, true)
