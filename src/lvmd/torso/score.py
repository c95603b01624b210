"""Score what lvmd made of a torso case against the case's truth.

The truth metrics are computed here, from the definitions in docs/data-format.md (PSD = SD of the sample phases
after rotating them so that the largest empty arc sits at the 0/360 wrap), not by calling lvmd's phase code: the bench
must not share the assumptions of the engine it judges.
"""

from __future__ import annotations

import numpy as np

from .anatomy import diaphragm_levels, gut_loops, layout
from .case import TorsoCase, ellipsoid_distance
from .render import heart_geometry

CENTRE_TOLERANCE_MM = 10.0
AXIS_TOLERANCE_DEG = 10.0


def _unwrapped(phases_deg) -> tuple[np.ndarray, float]:
    """Finite phases shifted so that the largest empty arc of the circle sits at the 0/360 wrap, and the shift."""
    phases = np.asarray(phases_deg, float)
    phases = phases[np.isfinite(phases)] % 360.0
    if phases.size == 0:
        return phases, float("nan")
    p = np.sort(phases)
    gaps = np.diff(np.concatenate([p, [p[0] + 360.0]]))
    start = p[(int(np.argmax(gaps)) + 1) % p.size]  # first phase after the largest gap
    return (phases - start) % 360.0, float(start)


def phase_sd(phases_deg) -> float:
    """Phase standard deviation (degrees) after rotating the largest empty arc to the wrap (population SD)."""
    shifted, start = _unwrapped(phases_deg)
    return float(shifted.std()) if shifted.size else float("nan")


def phase_mean(phases_deg) -> float:
    """Mean phase (degrees, [0, 360)) with the same unwrapping as :func:`phase_sd`."""
    shifted, start = _unwrapped(phases_deg)
    return float((shifted.mean() + start) % 360.0) if shifted.size else float("nan")


def angle_difference(a, b) -> float:
    """Signed difference a - b of two angles in degrees, in [-180, 180)."""
    return float((a - b + 180.0) % 360.0 - 180.0)


def psd_tolerance(true_psd: float) -> float:
    """The acceptance tolerance on PSD: max(4 degrees, 12 % of the truth)."""
    return max(4.0, 0.12 * true_psd)


def distance_to_segment(point, ends) -> float:
    """Distance from a point to the segment between two points."""
    p, a, b = (np.asarray(v, float) for v in (point, *ends))
    t = np.clip((p - a) @ (b - a) / max(float((b - a) @ (b - a)), 1e-12), 0.0, 1.0)
    return float(np.linalg.norm(p - a - t * (b - a)))


def localisation_errors(case: TorsoCase, centre_vox, apex_direction) -> dict:
    """Centre error (mm) and axis error (degrees) of a result, in object voxel coordinates.

    ``centre_err_mm`` is the distance to the LV's centre zone (:attr:`TorsoCase.centre_zone_mm`: the stretch of the
    true axis between the long-axis midpoint and the cavity centroid, where the usual definitions of the LV centre
    lie); the radial (off the true axis) and axial parts of the offset from the wall's centroid are reported too.
    """
    h = case.voxel_mm
    point = (np.asarray(centre_vox, float) - (case.grid - 1) / 2.0) * h
    delta = point - case.centre_mm
    u = case.apex_direction
    along = float(delta @ u)
    out = {"centre_err_mm": distance_to_segment(point, case.centre_zone_mm),
           "centre_radial_mm": float(np.linalg.norm(delta - along * u)), "centre_axial_mm": along,
           "axis_err_deg": float("nan")}
    if apex_direction is not None:
        a = np.asarray(apex_direction, float)
        cos = float(a @ u / np.linalg.norm(a))
        out["axis_err_deg"] = float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))
    ok_axis = apex_direction is None or out["axis_err_deg"] <= AXIS_TOLERANCE_DEG
    out["localised"] = bool(out["centre_err_mm"] <= CENTRE_TOLERANCE_MM and ok_axis)
    return out


def structure_at(case: TorsoCase, point_vox) -> str:
    """Name of the structure nearest a point (voxel coordinates): where a mislocalised centre landed.

    The structure whose surface is nearest (inside counts as negative distance) among the end-diastolic LV, RV and
    left atrium and every static solid with activity; when none lies within 15 mm, "abdomen (between organs)" below
    the left hemidiaphragm and "chest (elsewhere)" above it.
    """
    p = (np.asarray(point_vox, float) - (case.grid - 1) / 2.0) * case.voxel_mm
    g = heart_geometry(case)
    rel = p - case.apex_mm
    ax = float(rel @ -case.apex_direction)
    lat_d, ant_d = case.display_frame
    lat_a, ant_a = case.anatomical_frame
    lat, ant = float(rel @ lat_d), float(rel @ ant_d)
    dist_lv = float(ellipsoid_distance([(ax - g.c_mid, g.c_mid), (np.hypot(lat, ant), g.a_mid)]))
    candidates = {
        "LV": max(abs(dist_lv) - case.wall_mm / 2.0 if dist_lv > 0 else -1.0, ax - g.lb),
        "RV": float(ellipsoid_distance([(ax - g.rv_axial, g.rv_semi[0]), (float(rel @ -lat_a) - g.rv_offset,
                                                                          g.rv_semi[1]), (float(rel @ ant_a), g.rv_semi[2])])),
        "valve plane / LA": float(ellipsoid_distance([(ax - g.la_axial, g.la_semi[0]),
                                                      (np.hypot(lat - g.la_offset[0], ant - g.la_offset[1]),
                                                       g.la_semi[1])])),
    }
    if candidates["LV"] <= 0:
        return "LV"
    for solid in [s for s in layout(case)[1:] if s.activity] + gut_loops(case):
        name = "gut" if solid.name.startswith("gut") else solid.name
        candidates[name] = min(candidates.get(name, np.inf), float(solid.signed_distance(*p)))
    name, distance = min(candidates.items(), key=lambda kv: kv[1])
    if distance <= 15.0:
        return name
    return "abdomen (between organs)" if p[2] < diaphragm_levels(case)[0] else "chest (elsewhere)"


def sample_truth(case: TorsoCase, rho, theta_deg) -> dict:
    """True PSD and mean phase at a result's own sample positions (non-viable samples left out)."""
    true = case.true_phase(np.asarray(rho, float), np.asarray(theta_deg, float))
    return {"psd_true": phase_sd(true), "mean_true": phase_mean(true), "n_viable": int(np.isfinite(true).sum())}
