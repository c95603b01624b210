"""The static (non-beating) anatomy around the heart, laid out from a :class:`TorsoCase`.

Organs are simple solids -- ellipsoids, capsules, an elliptic cylinder -- placed relative to the body outline and
to the LV (the diaphragm lies under the LV's lowest epicardial point; liver, stomach, spleen and gut loops below
it). Positions are jittered by ``anatomy_seed``. Nothing here moves over the cardiac cycle: the gut does not beat.

Each solid carries a tracer concentration (relative to LV myocardium) and a linear attenuation coefficient at
140 keV (soft tissue 0.15/cm, lung 0.05/cm, vertebral bone 0.25/cm).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .case import TorsoCase, ellipsoid_distance

MU_SOFT = 0.15  # 1/cm at 140 keV (water 0.154)
MU_LUNG = 0.05
MU_BONE = 0.25


@dataclass
class Solid:
    """A solid with a soft (one-voxel) edge: ``kind`` is 'ellipsoid', 'capsule' or 'cylinder' (along z)."""

    name: str
    kind: str
    centre: np.ndarray  # ellipsoid / cylinder centre; capsule first end
    size: np.ndarray  # ellipsoid semi-axes (x, y, z); cylinder (semi-x, semi-y, -); capsule (radius, -, -)
    activity: float | None  # None: keeps the activity underneath (attenuation only)
    mu: float
    end: np.ndarray | None = None  # capsule second end

    def signed_distance(self, x, y, z) -> np.ndarray:
        """Approximate signed distance (mm) to the surface, negative inside."""
        if self.kind == "capsule":
            p0, p1 = self.centre, self.end
            seg = p1 - p0
            t = ((x - p0[0]) * seg[0] + (y - p0[1]) * seg[1] + (z - p0[2]) * seg[2]) / float(seg @ seg)
            t = np.clip(t, 0.0, 1.0)
            return np.sqrt((x - p0[0] - t * seg[0]) ** 2 + (y - p0[1] - t * seg[1]) ** 2
                           + (z - p0[2] - t * seg[2]) ** 2) - self.size[0]
        dx, dy = x - self.centre[0], y - self.centre[1]
        if self.kind == "cylinder":
            terms = [(dx, self.size[0]), (dy, self.size[1])]
        else:
            terms = [(dx, self.size[0]), (dy, self.size[1]), (z - self.centre[2], self.size[2])]
        return ellipsoid_distance(terms)

    def occupancy(self, x, y, z, voxel_mm: float) -> np.ndarray:
        """Fraction of each voxel inside the solid (linear ramp one voxel wide across the surface)."""
        return np.clip(0.5 - self.signed_distance(x, y, z) / voxel_mm, 0.0, 1.0)


def _ellipsoid(name, centre, semi, activity, mu=MU_SOFT) -> Solid:
    return Solid(name, "ellipsoid", np.asarray(centre, float), np.asarray(semi, float), activity, mu)


def diaphragm_levels(case: TorsoCase) -> tuple[float, float]:
    """(left, right) hemidiaphragm heights (z, mm): under the LV's lowest epicardial point; the right dome higher."""
    rng = np.random.default_rng([case.anatomy_seed, 1])
    lowest = float(case.epicardium()["points"][:, 2].min())
    left = lowest - 4.0
    return left, left + rng.uniform(10.0, 25.0)


def gut_loops(case: TorsoCase) -> list[Solid]:
    """Gut loops (capsules) below the inferior wall; the first is the hottest, its surface ``gut_gap_mm`` from the
    end-diastolic epicardium. Activities are relative weights (the hottest 1); :mod:`.render` scales them to
    ``gut_ratio``."""
    if case.gut_loops <= 0 or case.gut_ratio <= 0:
        return []
    rng = np.random.default_rng([case.anatomy_seed, 2])
    epi = case.epicardium()
    inferior = (np.abs(((epi["theta_anat"] - 270.0 + 180.0) % 360.0) - 180.0) <= 70.0) & (
        epi["rho"] > 0.3) & (epi["rho"] < 0.9)
    candidates = np.flatnonzero(inferior)
    loops = []
    for k in range(case.gut_loops):
        idx = rng.choice(candidates)
        anchor, normal = epi["points"][idx], epi["normals"][idx]
        direction = normal + np.array([0.0, 0.0, -0.8]) + rng.normal(scale=0.25, size=3)
        direction /= np.linalg.norm(direction)
        radius = rng.uniform(11.0, 20.0)
        half_length = rng.uniform(15.0, 40.0)
        along = np.cross(direction, rng.normal(size=3))
        along /= np.linalg.norm(along)
        gap = case.gut_gap_mm if k == 0 else case.gut_gap_mm + rng.uniform(10.0, 50.0)
        weight = 1.0 if k == 0 else rng.uniform(0.15, 0.8)
        centre = anchor + direction * (gap + radius)
        loop = Solid(f"gut{k}", "capsule", centre - half_length * along, np.array([radius, 0.0, 0.0]), weight,
                     MU_SOFT, centre + half_length * along)
        loops.append(_set_gap(loop, epi["points"], gap, direction))
    return loops


def _set_gap(loop: Solid, epicardium: np.ndarray, gap: float, direction: np.ndarray) -> Solid:
    """Slide a loop along ``direction`` until its surface lies ``gap`` mm from the nearest epicardial sample."""
    for _ in range(4):
        current = float(loop.signed_distance(*epicardium.T).min())
        shift = (gap - current) * direction
        loop = Solid(loop.name, loop.kind, loop.centre + shift, loop.size, loop.activity, loop.mu, loop.end + shift)
    return loop


def layout(case: TorsoCase) -> list[Solid]:
    """Every static solid, in painting order (later solids replace the activity of earlier ones where they overlap).

    The beating heart is not here (see :mod:`.render`); the heart's envelope is carved out of the lungs there.
    """
    rng = np.random.default_rng([case.anatomy_seed, 3])
    jitter = lambda s=8.0: rng.normal(scale=s, size=3)  # noqa: E731 - a local shorthand for position noise
    bx, by = case.body_centre_mm
    w, d = case.body_half_width_mm, case.body_half_depth_mm
    z_left, z_right = diaphragm_levels(case)
    lv = case.equator_mm
    apex = case.apex_mm
    solids = [Solid("body", "cylinder", np.array([bx, by, 0.0]), np.array([w, d, 0.0]), case.background_activity,
                    MU_SOFT)]
    if case.breast_mm > 0:
        for side in (-1.0, 1.0):
            solids.append(_ellipsoid("breast", [bx + side * 0.45 * w, by - d + 15.0, lv[2] - 20.0],
                                     [65.0, case.breast_mm + 15.0, 60.0], case.background_activity))
    for side, z_dia in ((1.0, z_left), (-1.0, z_right)):
        centre = np.array([bx + side * 0.52 * w, by + 0.05 * d, z_dia + 165.0]) + jitter(5.0)
        solids.append(_ellipsoid("lung", centre, [0.40 * w, 0.72 * d, 175.0], case.lung_activity, MU_LUNG))
    solids.append(Solid("spine", "cylinder", np.array([bx, by + 0.62 * d, 0.0]), np.array([22.0, 20.0, 0.0]),
                        None, MU_BONE))
    liver_top_right = z_right - case.liver_gap_mm
    liver_top_left = z_left - case.liver_gap_mm
    # right lobe about 1.6 L and left lobe about 0.25 L for a 36 x 24 cm trunk (adult liver 1.2-1.8 L)
    solids.append(_ellipsoid("liver", np.array([bx - 0.45 * w, by + 0.05 * d, liver_top_right - 70.0]) + jitter(),
                             [0.42 * w, 0.60 * d, 70.0], case.liver_activity))
    solids.append(_ellipsoid("liver", np.array([bx + 0.02 * w, by - 0.40 * d, liver_top_left - 30.0]) + jitter(5.0),
                             [0.30 * w, 0.30 * d, 30.0], case.liver_activity))
    solids.append(_ellipsoid("spleen", np.array([bx + 0.68 * w, by + 0.42 * d, z_left - 65.0]) + jitter(),
                             [26.0, 45.0, 55.0], case.spleen_activity))
    for side in (-1.0, 1.0):
        solids.append(_ellipsoid("kidney", np.array([bx + side * 0.40 * w, by + 0.55 * d, z_left - 150.0]) + jitter(),
                                 [28.0, 25.0, 55.0], case.kidney_activity))
    if case.stomach_activity > 0:
        solids.append(_ellipsoid("stomach", np.array([apex[0] + 15.0, by + 0.05 * d, z_left - 50.0]) + jitter(),
                                 [45.0, 40.0, 45.0], case.stomach_activity))
    if case.gallbladder_activity > 0:
        solids.append(_ellipsoid("gallbladder", np.array([bx - 0.25 * w, by - 0.45 * d, z_right - 105.0]) + jitter(),
                                 [16.0, 16.0, 35.0], case.gallbladder_activity))
    return solids
