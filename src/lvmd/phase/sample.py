"""Wall sampling: count curves at fixed positions of the LV wall, by the maximal-count method of ECTb.

Short-axis slices between the first ring slice and the base are sampled by rays at fixed angles from the slice's LV
centre; the apical cap by rays parallel to the long axis on rings around the axis. On each ray the wall is located
on the summed image (the first local maximum above 40 % of the LV maximum, going outward, so that hotter activity
beyond the wall is ignored) and, in every gate, the maximal count within a window around it is the sample's count.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from .locate import LvGeometry

RAY_STEP = 0.5  # voxels
WALL_WINDOW_MM = 5.0
WALL_THRESHOLD = 0.4


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
    """

    curves: np.ndarray
    rho: np.ndarray
    theta: np.ndarray
    grid_rho: np.ndarray
    n_angles: int


def _first_peak(profile: np.ndarray, threshold: float) -> np.ndarray:
    """Index of the first local maximum above ``threshold`` along the last axis (global maximum if none)."""
    left = np.concatenate([np.full(profile.shape[:-1] + (1,), -np.inf), profile[..., :-1]], axis=-1)
    right = np.concatenate([profile[..., 1:], np.full(profile.shape[:-1] + (1,), -np.inf)], axis=-1)
    peak = (profile >= left) & (profile >= right) & (profile >= threshold)
    has = peak.any(axis=-1)
    first = np.argmax(peak, axis=-1)
    return np.where(has, first, np.argmax(profile, axis=-1))


def _crop_to_lv(counts: np.ndarray, geometry: LvGeometry, margin: float) -> tuple[np.ndarray, LvGeometry]:
    """The part of the study around the LV (all work below is on it), with the geometry shifted to match."""
    T, Z, Y, X = counts.shape
    z0, z1 = max(geometry.apex_slice - 4, 0), min(geometry.base_slice + 3, Z)
    y0 = max(int(np.floor(geometry.centres[:, 0].min() - margin)), 0)
    y1 = min(int(np.ceil(geometry.centres[:, 0].max() + margin)) + 1, Y)
    x0 = max(int(np.floor(geometry.centres[:, 1].min() - margin)), 0)
    x1 = min(int(np.ceil(geometry.centres[:, 1].max() + margin)) + 1, X)
    shifted = LvGeometry(geometry.centres[z0:z1] - np.array([y0, x0], float), geometry.apex_slice - z0,
                         geometry.ring_slice - z0, geometry.base_slice - z0, geometry.radius_vox)
    return counts[:, z0:z1, y0:y1, x0:x1], shifted


def sample_wall(counts: np.ndarray, geometry: LvGeometry, spacing_mm: tuple[float, float, float],
                n_angles: int = 40, cap_rings: int = 2, smoothing_mm: float = 2.5) -> WallSamples:
    """Sample the LV wall of a gated (T, Z, Y, X) study at ``n_angles`` angles per slice plus an apical cap.

    ``smoothing_mm`` is the SD of a Gaussian applied to each gate first (noise control); 0 disables it.
    """
    dz, dy, dx = spacing_mm
    pix = (dy + dx) / 2.0
    counts, geometry = _crop_to_lv(counts, geometry, 1.9 * geometry.radius_vox + max(WALL_WINDOW_MM / pix, 1.0) + 4)
    T, Z, Y, X = counts.shape
    smoothing_vox = smoothing_mm / np.array([dz, dy, dx])
    summed = ndimage.gaussian_filter(counts.sum(axis=0).astype(np.float64), 0.5)
    angles = (np.arange(n_angles) + 0.5) * 360.0 / n_angles
    rad = np.radians(angles)
    R = geometry.radius_vox
    yy, xx = np.ogrid[0:Y, 0:X]
    lv_max = max(float(summed[z][(yy - geometry.centres[z, 0]) ** 2 + (xx - geometry.centres[z, 1]) ** 2
                                 <= (1.3 * R) ** 2].max()) for z in range(geometry.ring_slice, geometry.base_slice + 1))
    threshold = WALL_THRESHOLD * lv_max
    half = max(WALL_WINDOW_MM / pix, 1.0)
    offsets = np.arange(-half, half + 1e-9, RAY_STEP)

    # Short-axis rays.
    slices = np.arange(geometry.ring_slice, geometry.base_slice + 1)
    radii = np.arange(0.3 * R, 1.9 * R, RAY_STEP)
    cy = geometry.centres[slices, 0][:, None, None]
    cx = geometry.centres[slices, 1][:, None, None]
    zz = np.broadcast_to(slices[:, None, None].astype(float), (len(slices), n_angles, len(radii)))
    rows = cy - radii[None, None, :] * np.sin(rad)[None, :, None]
    cols = cx + radii[None, None, :] * np.cos(rad)[None, :, None]
    profile = ndimage.map_coordinates(summed, [zz.ravel(), rows.ravel(), cols.ravel()], order=1, mode="nearest")
    wall = radii[_first_peak(profile.reshape(zz.shape), threshold)]
    r_win = np.clip(wall[..., None] + offsets, 0, None)
    z_win = np.broadcast_to(slices[:, None, None].astype(float), r_win.shape)
    rows_w = cy - r_win * np.sin(rad)[None, :, None]
    cols_w = cx + r_win * np.cos(rad)[None, :, None]
    sa_coords = np.stack([z_win.ravel(), rows_w.ravel(), cols_w.ravel()])

    # Apical cap: rays parallel to the long axis on rings inside the first ring slice's wall.
    lo = geometry.ring_slice
    r_cap = float(np.median(wall[0])) if len(wall) else R
    ring_r = (np.arange(cap_rings) + 0.5) / cap_rings * r_cap
    z_start = max(geometry.apex_slice - 3, 0)
    z_path = np.arange(z_start, lo + 1 + 1e-9, RAY_STEP)
    c0 = geometry.centres[lo]
    crow = c0[0] - ring_r[:, None] * np.sin(rad)[None, :]
    ccol = c0[1] + ring_r[:, None] * np.cos(rad)[None, :]
    zc = np.broadcast_to(z_path, (cap_rings, n_angles, len(z_path)))
    cap_profile = ndimage.map_coordinates(
        summed, [zc.ravel(), np.repeat(crow.ravel(), len(z_path)), np.repeat(ccol.ravel(), len(z_path))],
        order=1, mode="nearest").reshape(zc.shape)
    z_wall = z_path[_first_peak(cap_profile, threshold)]
    half_z = max(WALL_WINDOW_MM / dz, 1.0)
    z_off = np.arange(-half_z, half_z + 1e-9, RAY_STEP)
    z_win_cap = np.clip(z_wall[..., None] + z_off, 0, Z - 1)
    cap_coords = np.stack([z_win_cap.ravel(), np.repeat(crow.ravel(), len(z_off)), np.repeat(ccol.ravel(), len(z_off))])

    curves_sa = np.empty((len(slices) * n_angles, T))
    curves_cap = np.empty((cap_rings * n_angles, T))
    # Light 3-D smoothing of every gate (as a reconstruction post-filter would) before the maximal-count search.
    smoothed = ndimage.gaussian_filter(counts, (0, *smoothing_vox), truncate=3.0) if smoothing_mm > 0 else counts
    for g in range(T):
        frame = smoothed[g]
        values = ndimage.map_coordinates(frame, sa_coords, order=1, mode="nearest")
        curves_sa[:, g] = values.reshape(len(slices) * n_angles, len(offsets)).max(axis=1)
        values = ndimage.map_coordinates(frame, cap_coords, order=1, mode="nearest")
        curves_cap[:, g] = values.reshape(cap_rings * n_angles, len(z_off)).max(axis=1)

    extent = geometry.base_slice - geometry.apex_slice + 1
    rho_sa = (slices - geometry.apex_slice + 0.5) / extent
    rho_edge = (lo - geometry.apex_slice) / extent
    rho_cap = rho_edge * (np.arange(cap_rings) + 0.5) / cap_rings
    grid_rho = np.concatenate([rho_cap, rho_sa])
    curves = np.concatenate([curves_cap, curves_sa])
    rho = np.repeat(grid_rho, n_angles)
    theta = np.tile(angles, len(grid_rho))
    return WallSamples(curves, rho, theta, grid_rho, n_angles)
