"""Wall samples to 64x64 bullseye polar maps (design.md orientation), bilinear in (rho, theta)."""

from __future__ import annotations

import numpy as np

from ..polar import disc_mask, pixel_coordinates


def samples_to_bullseye(values: np.ndarray, grid_rho: np.ndarray, n_angles: int, circular: bool = False) -> np.ndarray:
    """Interpolate a (K * n_angles) sample grid onto the 64x64 bullseye; NaN outside the disc.

    ``circular=True`` interpolates phases (degrees) through their unit vectors, so 350 and 10 blend to 0, not 180.
    """
    grid = np.asarray(values, dtype=float).reshape(len(grid_rho), n_angles)
    rho, theta = pixel_coordinates()
    mask = disc_mask()
    r = rho[mask]
    t = theta[mask]
    ri = np.interp(r, grid_rho, np.arange(len(grid_rho)))
    r0 = np.floor(ri).astype(int)
    r1 = np.minimum(r0 + 1, len(grid_rho) - 1)
    fr = ri - r0
    ti = t / (360.0 / n_angles) - 0.5
    t0 = np.floor(ti).astype(int)
    ft = ti - t0
    t0 %= n_angles
    t1 = (t0 + 1) % n_angles

    def blend(g: np.ndarray) -> np.ndarray:
        return ((1 - fr) * ((1 - ft) * g[r0, t0] + ft * g[r0, t1]) + fr * ((1 - ft) * g[r1, t0] + ft * g[r1, t1]))

    out = np.full(mask.shape, np.nan)
    if circular:
        rad = np.radians(grid)
        out[mask] = np.degrees(np.arctan2(blend(np.sin(rad)), blend(np.cos(rad)))) % 360.0
    else:
        out[mask] = blend(grid)
    return out
