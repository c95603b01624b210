"""Wall sampling: count curves at fixed positions of the LV wall, by the maximal-count method of ECTb.

Short-axis slices between the first ring slice and the base are sampled by rays at fixed angles from the slice's LV
centre; the apical cap by rays from the first ring slice's centre at polar angles from the axis (ECTb's spherical
apex sampling). A short-axis row's bullseye radius is its position between the mid-wall apex and the end-diastolic
base; the cap's rings share out the radius below the first ring slice in proportion to their polar angle. On each
ray the wall is located on the summed image -- clipped at the LV's own level, so hotter activity beyond the wall is a
plateau, not a target -- as the first local maximum above 40 % of the LV level going outward; a ray whose wall strays
from its neighbours' (it ran into extracardiac activity, or a defect) takes their median instead. In every gate the
maximal count within a window around the wall is the sample's count. Extracardiac activity masked by the localisation
is set to zero first.

The base moves towards the apex in systole (8-15 mm). When a per-gate base position is given, the short-axis rows
follow it: a row at fraction f of the apex-to-base distance at end-diastole is sampled at the same fraction in every
gate, so that each sample follows the same myocardium through the cycle instead of watching the base leave its
slice (which would read as a wall beating in anti-phase). The base may be given per angular sector (each wall
shortens with its own timing: in LBBB the lateral base descends late), and a ray that moves keeps to the wall of the
slice it has moved to (its radius and the LV centre there). A ray stays in its slice where following the base would
carry it through static activity: near masked activity, or where the time-averaged image changes along its path by
more than the myocardium's own variation (the tail of a hot gut loop a few centimetres away is enough).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from .geometry import LvGeometry
from .locate import CLIP_ABOVE_LEVEL

RAY_STEP = 0.5  # voxels
WALL_WINDOW_MM = 5.0
WALL_THRESHOLD = 0.4
WALL_STRAY_MM = 6.0  # a ray's wall farther than this from its neighbours' median is replaced by that median
SPILL_REACH_MM = 15.0  # extracardiac activity this close behind a wall spills onto it
STATIC_CROSSING = 0.1  # a tracked ray whose time-averaged count changes by more than this x LV level stays in its slice


@dataclass
class AxialFrame:
    """Continuous positions along the LV axis (slice units) that map rows to the bullseye and follow the base.

    Attributes
    ----------
    apex : float
        Mid-wall apex position (rho = 0).
    base : float
        End-diastolic base (the valve plane; rho = 1).
    base_per_gate : numpy.ndarray or None
        Base position in every gate (the valve plane's descent), shape (T,), or in every gate and angular sector,
        shape (T, S) (sector s centred on theta (s + 1/2) 360 / S degrees: each wall shortens with its own timing);
        None: the base does not move.
    """

    apex: float
    base: float
    base_per_gate: np.ndarray | None = None

    def rho(self, z) -> np.ndarray:
        """Bullseye radius of axial position(s) ``z``."""
        return (np.asarray(z, float) - self.apex) / max(self.base - self.apex, 1e-6)

    def tracked(self, z, gate: int, theta_deg) -> np.ndarray:
        """Where the myocardium at end-diastolic positions ``z`` (K,) lies in ``gate`` at angles ``theta_deg`` (A,):
        shape (K, A)."""
        z = np.asarray(z, float)[:, None]
        theta = np.asarray(theta_deg, float)
        if self.base_per_gate is None:
            return np.broadcast_to(z, (len(z), len(theta)))
        base = np.asarray(self.base_per_gate, float)[gate]
        if base.ndim == 1:  # per sector: circular linear interpolation between sector centres
            sectors = len(base)
            position = (theta * sectors / 360.0 - 0.5) % sectors
            lower = np.floor(position).astype(int)
            frac = position - lower
            base = (1.0 - frac) * base[lower] + frac * base[(lower + 1) % sectors]
        scale = (base - self.apex) / max(self.base - self.apex, 1e-6)
        return self.apex + (z - self.apex) * np.broadcast_to(scale, theta.shape)[None, :]


@dataclass
class WallSamples:
    """Per-sample count curves and their bullseye coordinates.

    Attributes
    ----------
    curves : numpy.ndarray, shape (N, T)
        Maximal count in each gate.
    rho, theta : numpy.ndarray, shape (N,)
        Bullseye position of each sample (rho 0 = apex, 1 = base; theta degrees, see :mod:`lvmd.polar`).
    grid_rho : numpy.ndarray, shape (K,)
        The rho of each row of the sample grid (samples are stored row-major, K rows x n_angles).
    n_angles : int
    row_slice : numpy.ndarray, shape (K,)
        Short-axis slice of each row (NaN for the apical cap rows).
    positions_mm : numpy.ndarray, shape (N, 3)
        Wall position of each sample (slice, row, col in mm) on the summed image.
    summed : numpy.ndarray, shape (N,)
        Each sample's count on the summed image at its wall position (not clipped: extracardiac spill shows).
    untracked : numpy.ndarray of bool, shape (N,)
        Short-axis samples kept in their slice while the base moves (near extracardiac activity or crossing a static
        gradient); False for the apical cap and for samples that follow the base.
    near_masked_mm : numpy.ndarray, shape (N,)
        Distance (mm) from each sample's wall position to the nearest masked extracardiac voxel (inf if none).
    """

    curves: np.ndarray
    rho: np.ndarray
    theta: np.ndarray
    grid_rho: np.ndarray
    n_angles: int
    row_slice: np.ndarray
    positions_mm: np.ndarray
    summed: np.ndarray
    untracked: np.ndarray
    near_masked_mm: np.ndarray

    def rows(self, keep: np.ndarray) -> "WallSamples":
        """The samples of the grid rows where ``keep`` (bool, one per row) is true."""
        per_sample = np.repeat(keep, self.n_angles)
        return WallSamples(self.curves[per_sample], self.rho[per_sample], self.theta[per_sample], self.grid_rho[keep],
                           self.n_angles, self.row_slice[keep], self.positions_mm[per_sample], self.summed[per_sample],
                           self.untracked[per_sample], self.near_masked_mm[per_sample])


def _first_peak(profile: np.ndarray, threshold: float) -> np.ndarray:
    """Index of the first local maximum above ``threshold`` along the last axis (global maximum if none)."""
    left = np.concatenate([np.full(profile.shape[:-1] + (1,), -np.inf), profile[..., :-1]], axis=-1)
    right = np.concatenate([profile[..., 1:], np.full(profile.shape[:-1] + (1,), -np.inf)], axis=-1)
    peak = (profile >= left) & (profile >= right) & (profile >= threshold)
    has = peak.any(axis=-1)
    first = np.argmax(peak, axis=-1)
    return np.where(has, first, np.argmax(profile, axis=-1))


def _ring_fit(wall: np.ndarray, spilled: np.ndarray, angles_rad: np.ndarray) -> np.ndarray:
    """Wall radii (slices x angles) where each spilled ray takes the value of a smooth ring (mean + first two angular
    harmonics) fitted to its slice's clean rays (their median when fewer than a third are clean)."""
    design = np.column_stack([np.ones_like(angles_rad), np.cos(angles_rad), np.sin(angles_rad),
                              np.cos(2 * angles_rad), np.sin(2 * angles_rad)])
    out = wall.copy()
    for z in np.flatnonzero(spilled.any(axis=1)):
        clean = ~spilled[z]
        if clean.sum() >= max(len(angles_rad) // 3, design.shape[1] + 1):
            coef, *_ = np.linalg.lstsq(design[clean], wall[z, clean], rcond=None)
            out[z, ~clean] = design[~clean] @ coef
        else:
            out[z, ~clean] = np.median(wall[z, clean]) if clean.any() else np.median(wall)
    return out


def _steady(wall: np.ndarray, stray: float) -> np.ndarray:
    """Wall radii (slices x angles) whose outliers take the median of their neighbours (+-2 angles, +-1 slice)."""
    padded = np.concatenate([wall[:, -2:], wall, wall[:, :2]], axis=1)
    median = ndimage.median_filter(padded, size=(3, 5), mode="nearest")[:, 2:-2]
    return np.where(np.abs(wall - median) > stray, median, wall)


def _wall_axis_at(wall: np.ndarray, centres: np.ndarray, slices: np.ndarray, sin: np.ndarray, cos: np.ndarray,
                  z: float) -> np.ndarray:
    """LV centre (row, col) at slice ``z`` on a straight line through the wall's own centres in the ring slices.

    A slice's ring centre comes from the ring score, which spill from activity inside the LV region pulls (bench, a
    gut loop 8x the LV: 0.7 voxel off at the first ring slice, and the cap's septal half read the septum's phase,
    mean phase 4.5 deg early). The wall's own centre is its radii's first angular harmonic; a line through those of
    every ring slice (the LV's axis is straight) steadies it. With fewer than three slices the ring centre stands.
    """
    if len(slices) < 3:
        return centres[int(z)].astype(float)
    own = centres[slices] + np.stack([-(wall * sin).mean(axis=1), (wall * cos).mean(axis=1)], axis=1) * 2.0
    return np.array([np.polyval(np.polyfit(slices, own[:, k], 1), z) for k in (0, 1)])


def crop_to_lv(counts: np.ndarray, geometry: LvGeometry, margin: float, last_slice: int):
    """The part of the study around the LV (all work below is on it): counts, geometry, offsets (z, y, x)."""
    T, Z, Y, X = counts.shape
    z0, z1 = max(geometry.apex_slice - 4, 0), min(max(geometry.base_slice, last_slice) + 4, Z)
    y0 = max(int(np.floor(geometry.centres[:, 0].min() - margin)), 0)
    y1 = min(int(np.ceil(geometry.centres[:, 0].max() + margin)) + 1, Y)
    x0 = max(int(np.floor(geometry.centres[:, 1].min() - margin)), 0)
    x1 = min(int(np.ceil(geometry.centres[:, 1].max() + margin)) + 1, X)
    cropped = counts[:, z0:z1, y0:y1, x0:x1]
    if geometry.extracardiac is not None and geometry.extracardiac[z0:z1, y0:y1, x0:x1].any():
        cropped = cropped * ~geometry.extracardiac[None, z0:z1, y0:y1, x0:x1]
    return cropped, (z0, y0, x0)


def sample_wall(counts: np.ndarray, geometry: LvGeometry, spacing_mm: tuple[float, float, float],
                frame: AxialFrame, last_slice: int | None = None, n_angles: int = 40, cap_rings: int = 2,
                smoothing_mm: float = 2.5) -> WallSamples:
    """Sample the LV wall of a gated (T, Z, Y, X) study: short-axis rows up to ``last_slice`` plus an apical cap.

    ``frame`` maps rows to the bullseye and, with a per-gate base, makes rows follow the valve plane.
    ``smoothing_mm`` is the SD of a Gaussian applied to each gate first (noise control); 0 disables it.
    """
    dz, dy, dx = spacing_mm
    pix = (dy + dx) / 2.0
    last = geometry.base_slice if last_slice is None else int(last_slice)
    R = geometry.radius_vox
    counts, (oz, oy, ox) = crop_to_lv(counts, geometry, 1.9 * R + max(WALL_WINDOW_MM / pix, 1.0) + 4, last)
    T, Z, Y, X = counts.shape
    mask = None if geometry.extracardiac is None else geometry.extracardiac[oz:oz + Z, oy:oy + Y, ox:ox + X]
    centres = geometry.centres[oz:oz + Z] - np.array([oy, ox], float)
    apex, lo, last = geometry.apex_slice - oz, geometry.ring_slice - oz, min(last - oz, Z - 1)
    level = geometry.level
    unclipped = ndimage.gaussian_filter(counts.sum(axis=0).astype(np.float64), 0.5)
    summed = np.minimum(unclipped, CLIP_ABOVE_LEVEL * level)
    threshold = WALL_THRESHOLD * level
    angles = (np.arange(n_angles) + 0.5) * 360.0 / n_angles
    sin, cos = np.sin(np.radians(angles)), np.cos(np.radians(angles))
    half = max(WALL_WINDOW_MM / pix, 1.0)
    offsets = np.arange(-half, half + 1e-9, RAY_STEP)

    # Short-axis rays on the summed image: the wall radius of every (slice, angle), steadied against strays.
    slices = np.arange(lo, last + 1)
    radii = np.arange(0.3 * R, 1.9 * R, RAY_STEP)
    cy, cx = centres[slices, 0][:, None, None], centres[slices, 1][:, None, None]
    zz = np.broadcast_to(slices[:, None, None].astype(float), (len(slices), n_angles, len(radii)))
    hot = ndimage.map_coordinates(unclipped, [zz.ravel(), (cy - radii * sin[None, :, None]).ravel(),
                                              (cx + radii * cos[None, :, None]).ravel()], order=1,
                                  mode="nearest").reshape(zz.shape)
    peak = _first_peak(np.minimum(hot, CLIP_ABOVE_LEVEL * level), threshold)
    # A ray with hotter-than-myocardium activity right behind its wall (spill from a liver or gut loop against the
    # wall) cannot place the wall itself: it takes the ring's shape from the clean rays of its slice. Nor can it search
    # for the maximal count, which would climb into the spill, where the epicardium's inward systolic motion reads as
    # a count curve in anti-phase: it is sampled at one point on the inner half of the wall.
    behind = (np.arange(len(radii))[None, None, :] >= peak[..., None]) & (
        radii[None, None, :] <= radii[peak][..., None] + SPILL_REACH_MM / pix)
    spilled = (np.where(behind, hot, 0.0).max(axis=-1) > CLIP_ABOVE_LEVEL * level)
    if mask is not None:
        # Masked activity was set to zero, but its blurred tail still climbs towards the mask's edge.
        masked = ndimage.map_coordinates(mask.astype(np.float32), [zz.ravel(), (cy - radii * sin[None, :, None]).ravel(),
                                                                 (cx + radii * cos[None, :, None]).ravel()], order=0,
                                         mode="constant").reshape(zz.shape)
        spilled |= np.where(behind, masked, 0.0).max(axis=-1) > 0.5
    wall = _steady(_ring_fit(radii[peak], spilled, np.radians(angles)), WALL_STRAY_MM / pix)
    # Rays near masked activity in 3-D (above or below their slice too) stay in their slice: following the base
    # would carry them through the static spill's gradient, which reads as a count curve of the base's timing.
    fixed = spilled.copy()
    if mask is not None and mask.any():
        distance = ndimage.distance_transform_edt(~mask, sampling=(dz, dy, dx))
        at_wall = ndimage.map_coordinates(distance, [np.broadcast_to(slices[:, None].astype(float), wall.shape).ravel(),
                                                     (centres[slices, 0][:, None] - wall * sin[None, :]).ravel(),
                                                     (centres[slices, 1][:, None] + wall * cos[None, :]).ravel()],
                                          order=1, mode="nearest").reshape(wall.shape)
        fixed |= at_wall <= SPILL_REACH_MM

    # Apical cap: rays from the LV's axis at the first ring slice out to the dome, ring k at a polar angle of
    # (k + 1/2) / cap_rings x 90 deg from the axis, so that every ray meets the dome about square-on (ECTb's spherical
    # apex sampling). Rays parallel to the axis met the dome's side obliquely: the first peak along them jumped a whole
    # slice from one side of the cap to the other, and the septal half of an LBBB-like cap read the septum's phase
    # (bench, short axis, seed base 1900, 16 gates, hot gut: cap 40 deg early, mean phase 5.2 deg early).
    r_cap = float(np.median(wall[0])) if len(wall) else R
    polar = np.radians(90.0 * (np.arange(cap_rings) + 0.5) / cap_rings)
    direction = np.stack([-np.cos(polar)[:, None] * np.ones(n_angles) / dz,
                          -np.sin(polar)[:, None] * sin[None, :] / dy,
                          np.sin(polar)[:, None] * cos[None, :] / dx])  # voxels per mm, (3, rings, angles)
    step_mm = RAY_STEP * min(dz, dy, dx)
    reach = np.arange(0.3 * r_cap * pix, max((lo - apex + 3) * dz, 1.9 * R * pix), step_mm)
    origin = np.array([lo, *_wall_axis_at(wall, centres, slices, sin, cos, lo)])
    along = origin[:, None, None, None] + direction[..., None] * reach
    cap_profile = ndimage.map_coordinates(summed, along.reshape(3, -1), order=1, mode="nearest").reshape(along.shape[1:])
    t_wall = reach[_first_peak(cap_profile, threshold)]
    t_off = np.arange(-WALL_WINDOW_MM, WALL_WINDOW_MM + 1e-9, step_mm)  # the dome is met square-on: no voxel floor
    cap_window = origin[:, None, None, None] + direction[..., None] * np.clip(t_wall[..., None] + t_off, 0, None)
    cap_coords = cap_window.reshape(3, -1)
    cap_hit = origin[:, None, None] + direction * t_wall
    z_win_cap, crow, ccol = cap_window

    # Where each gate's myocardium lies: rows follow the base (rays near masked activity stay in their slice), and
    # a tracked ray keeps to the wall: its radius and the LV centre are those of the slice it has moved to (the LV
    # narrows towards the apex, so the end-diastolic slice's radius would leave the wall behind).
    def track(fixed: np.ndarray):
        """Each gate's slice, wall radius and LV centre (row, col) of every (slice, angle) ray, shape (T, S, A)."""
        z_t = np.stack([np.where(fixed, slices[:, None].astype(float),
                                 np.clip(frame.tracked(slices + oz, g, angles) - oz, 0, Z - 1)) for g in range(T)])
        at = np.clip(z_t - lo, 0, len(slices) - 1)
        below = np.minimum(np.floor(at).astype(int), len(slices) - 2) if len(slices) > 1 else np.zeros(at.shape, int)
        frac = at - below if len(slices) > 1 else np.zeros(at.shape)
        upper = np.minimum(below + 1, len(slices) - 1)
        column = np.arange(n_angles)[None, None, :]
        wall_t = (1 - frac) * wall[below, column] + frac * wall[upper, column]
        return z_t, wall_t, [np.interp(z_t, np.arange(Z), centres[:, k]) for k in (0, 1)]

    z_t, wall_t, centre_t = track(fixed)
    # A tracked ray follows the same myocardium in every gate, so the time-averaged image at its wall point hardly
    # changes along its path (bench: <= 6 % of the LV level). Where it changes more, the path crosses a static
    # gradient -- the tail of extracardiac activity too faint to mask, or spill inside the LV region, which is never
    # masked -- and following the base would read that gradient as a count curve with the base's timing: such rays
    # stay in their slice. The row beyond the base (read only for the base sensitivity) is left alone: the wall
    # tapers there anyway. (Reading the whole sampling window instead of the wall point fixed too many rays: on the
    # bench's accuracy matrix it passed 77 of 80 short-axis cases against 79.)
    along = ndimage.map_coordinates(unclipped, [z_t.ravel(), (centre_t[0] - wall_t * sin[None, None, :]).ravel(),
                                                (centre_t[1] + wall_t * cos[None, None, :]).ravel()],
                                    order=1, mode="nearest").reshape(z_t.shape)
    crossing = (np.ptp(along, axis=0) > STATIC_CROSSING * level) & (slices <= geometry.base_slice - oz)[:, None]
    if (crossing & ~fixed).any():
        fixed = fixed | crossing
        z_t, wall_t, centre_t = track(fixed)
    r_t = np.clip(wall_t[..., None] + np.where(spilled[None, ..., None], -0.5 * half, offsets), 0, None)
    rows_w = centre_t[0][..., None] - r_t * sin[None, None, :, None]
    cols_w = centre_t[1][..., None] + r_t * cos[None, None, :, None]

    # Light 3-D smoothing of every gate (as a reconstruction post-filter would) before the maximal-count search,
    # on the smallest box holding every sampling point.
    smoothing_vox = smoothing_mm / np.array([dz, dy, dx])
    lo_corner = np.floor(np.array([min(z_win_cap.min(), z_t.min()), min(rows_w.min(), crow.min()),
                                   min(cols_w.min(), ccol.min())]) - 3 * smoothing_vox - 1).astype(int)
    hi_corner = np.ceil(np.array([max(last, z_t.max()), max(rows_w.max(), crow.max()), max(cols_w.max(), ccol.max())])
                        + 3 * smoothing_vox + 2).astype(int)
    lo_corner = np.maximum(lo_corner, 0)
    hi_corner = np.minimum(hi_corner, [Z, Y, X])
    box = counts[:, lo_corner[0]:hi_corner[0], lo_corner[1]:hi_corner[1], lo_corner[2]:hi_corner[2]]
    smoothed = ndimage.gaussian_filter(box, (0, *smoothing_vox), truncate=3.0) if smoothing_mm > 0 else box
    cap_b = cap_coords - lo_corner[:, None]
    curves_sa = np.empty((len(slices) * n_angles, T))
    curves_cap = np.empty((cap_rings * n_angles, T))
    for g in range(T):
        z_win = np.broadcast_to(z_t[g][..., None], rows_w.shape[1:]).ravel() - lo_corner[0]
        values = ndimage.map_coordinates(smoothed[g], [z_win, rows_w[g].ravel() - lo_corner[1],
                                                       cols_w[g].ravel() - lo_corner[2]], order=1, mode="nearest")
        curves_sa[:, g] = values.reshape(len(slices) * n_angles, len(offsets)).max(axis=1)
        values = ndimage.map_coordinates(smoothed[g], cap_b, order=1, mode="nearest")
        curves_cap[:, g] = values.reshape(cap_rings * n_angles, len(t_off)).max(axis=1)

    rho_sa = frame.rho(slices + oz)
    rho_cap = frame.rho(lo + oz - 0.5) * (np.arange(cap_rings) + 0.5) / cap_rings  # linear in the ring's polar angle
    grid_rho = np.concatenate([np.clip(rho_cap, 0, None), rho_sa])
    curves = np.concatenate([curves_cap, curves_sa])
    rho = np.repeat(grid_rho, n_angles)
    theta = np.tile(angles, len(grid_rho))
    cap_pos = (cap_hit.reshape(3, -1) + np.array([oz, oy, ox], float)[:, None]).T
    sa_pos = np.stack([np.repeat(slices + oz, n_angles).astype(float),
                       (cy[:, :, 0] - wall * sin[None, :]).ravel() + oy, (cx[:, :, 0] + wall * cos[None, :]).ravel() + ox],
                      axis=1)
    positions = np.concatenate([cap_pos, sa_pos]) * np.array([dz, dy, dx])
    wall_points = (np.concatenate([cap_pos, sa_pos]) - np.array([oz, oy, ox])).T  # in the cropped volume
    wall_counts = ndimage.map_coordinates(unclipped, wall_points, order=1, mode="nearest")
    row_slice = np.concatenate([np.full(cap_rings, np.nan), (slices + oz).astype(float)])
    near_masked = np.full(len(wall_counts), np.inf)
    if mask is not None and mask.any():
        near_masked = ndimage.map_coordinates(distance, wall_points, order=1, mode="nearest")
    untracked = np.concatenate([np.zeros(cap_rings * n_angles, bool), fixed.ravel()]) if frame.base_per_gate is not None \
        else np.zeros(len(rho), bool)
    return WallSamples(curves, rho, theta, grid_rho, n_angles, row_slice, positions, wall_counts, untracked, near_masked)
