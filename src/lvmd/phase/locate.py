"""Automatic LV localisation in a short-axis study: centre per slice, apex and base slices, wall radius.

A ring detector finds the LV: in each slice the image is correlated with the four quadrants of an annulus and with
the disc inside it; the score is the weakest quadrant's mean minus the inner disc's mean. A myocardial ring with a
cold cavity scores high in every quadrant; a hot solid blob (liver, gut) scores about zero, and the edge of one
scores low in the quadrants that miss it -- so extracardiac activity hotter than the myocardium does not attract
the detector, and the LV may sit anywhere in the field of view.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ..errors import SpectError

WALL_RADII_MM = (14.0, 19.0, 24.0, 30.0, 36.0)  # candidate mid-wall radii of the LV
RING_HALF_WIDTH_MM = 4.0


@dataclass
class LvGeometry:
    """Where the LV is: per-slice centre (row, col), the slices it spans and its mid-wall radius.

    Attributes
    ----------
    centres : numpy.ndarray, shape (Z, 2)
        LV axis position (row, col) in every slice (voxels).
    apex_slice : int
        First slice that holds apical myocardium.
    ring_slice : int
        First slice (from the apex) where the wall is a ring around a cavity; slices before it form the apical cap.
    base_slice : int
        Last slice holding myocardium.
    radius_vox : float
        Mid-ventricular mid-wall radius (voxels, in-plane).
    """

    centres: np.ndarray
    apex_slice: int
    ring_slice: int
    base_slice: int
    radius_vox: float


def _kernels(radius: float, half_width: float) -> tuple[list[np.ndarray], np.ndarray]:
    size = int(np.ceil(radius + half_width)) + 1
    yy, xx = np.mgrid[-size:size + 1, -size:size + 1].astype(float)
    r = np.hypot(yy, xx)
    ang = np.degrees(np.arctan2(-yy, xx)) % 360.0
    ring = np.abs(r - radius) <= half_width
    quadrants = []
    for q in range(4):
        sector = ring & (((ang - 45.0 - 90.0 * q) % 360.0) < 90.0)
        quadrants.append(sector / sector.sum())
    inner = r <= max(radius - 2 * half_width, 0.6 * radius, 1.0)
    return quadrants, inner / inner.sum()


def ring_score(image: np.ndarray, radius_vox: float, half_width_vox: float) -> np.ndarray:
    """Ring-detector score of every voxel of a (Z, Y, X) image as a candidate LV centre."""
    quadrants, inner = _kernels(radius_vox, half_width_vox)
    kernels = np.stack([*quadrants, inner])
    k = kernels.shape[-1]
    Z, Y, X = image.shape
    shape = (Y + k - 1, X + k - 1)
    spectrum = np.fft.rfft2(image, shape)  # one transform of the image, reused by the five kernels
    full = np.fft.irfft2(spectrum[None] * np.fft.rfft2(kernels[:, ::-1, ::-1], shape)[:, None], shape)
    h = k // 2
    responses = full[..., h:h + Y, h:h + X]
    return responses[:4].min(axis=0) - responses[4]


def locate_lv(summed: np.ndarray, spacing_mm: tuple[float, float, float], centre: tuple[float, float] | None = None,
              apex_slice: int | None = None, base_slice: int | None = None, study_id: str = "study") -> LvGeometry:
    """Find the LV in an ungated (Z, Y, X) short-axis image.

    Parameters
    ----------
    summed : numpy.ndarray
        Sum over gates.
    spacing_mm : tuple
        (dz, dy, dx).
    centre : (row, col), optional
        Manual LV axis position, used in every slice.
    apex_slice, base_slice : int, optional
        Manual apex and base slices (0-based, apex < base).

    Raises
    ------
    SpectError
        No ring-shaped LV found (pointing to the manual overrides).
    """
    dz, dy, dx = spacing_mm
    pix = (dy + dx) / 2.0
    Z, Y, X = summed.shape
    image = ndimage.gaussian_filter(summed.astype(np.float64), (0, 0.7, 0.7))
    peak = float(image.max())
    if peak <= 0:
        raise SpectError(f"{study_id}: empty field of view")
    image /= peak
    best = (-np.inf, None, None)
    for radius_mm in WALL_RADII_MM:
        r = radius_mm / pix
        if 2 * (r + 2) >= min(Y, X):
            continue
        score = ring_score(image, r, max(RING_HALF_WIDTH_MM / pix, 1.0))
        if centre is not None:
            cy, cx = int(round(centre[0])), int(round(centre[1]))
            window = np.full_like(score, -np.inf)
            window[:, max(cy - 2, 0):cy + 3, max(cx - 2, 0):cx + 3] = score[:, max(cy - 2, 0):cy + 3, max(cx - 2, 0):cx + 3]
            score = window
        idx = np.unravel_index(int(np.argmax(score)), score.shape)
        if score[idx] > best[0]:
            best = (float(score[idx]), idx, (r, score))
    top, idx, found = best
    if idx is None or top < 0.1:
        raise SpectError(f"{study_id}: no LV found (no myocardial ring around a cavity); "
                         "give the centre, apex and base slices manually (--centre, --apex, --base)")
    radius, score = found
    z0, y0, x0 = (int(v) for v in idx)
    # Per-slice centre: the ring score's maximum within 2 voxels of the global centre, in slices with a ring.
    centres = np.tile(np.array([y0, x0], dtype=float), (Z, 1))
    ring = np.zeros(Z, dtype=bool)
    for z in range(Z):
        window = score[z, max(y0 - 2, 0):y0 + 3, max(x0 - 2, 0):x0 + 3]
        ring[z] = window.max() >= 0.35 * top
        if ring[z] and centre is None:
            wy, wx = np.unravel_index(int(np.argmax(window)), window.shape)
            centres[z] = (max(y0 - 2, 0) + wy, max(x0 - 2, 0) + wx)
    if centre is not None:
        centres[:] = centre
    lo = z0
    while lo > 0 and ring[lo - 1]:
        lo -= 1
    hi = z0
    while hi < Z - 1 and ring[hi + 1]:
        hi += 1
    # The apical cap: slices below the first ring whose centre region is still myocardial (>= 50 % of the LV max).
    yy, xx = np.ogrid[0:Y, 0:X]
    disc = (yy - y0) ** 2 + (xx - x0) ** 2 <= (1.3 * radius) ** 2
    lv_max = max(float(image[z][disc].max()) for z in range(lo, hi + 1))
    apex = lo
    while apex > 0 and image[apex - 1][disc].max() >= 0.5 * lv_max:
        apex -= 1
    centres[:lo] = centres[lo]
    centres[hi + 1:] = centres[hi]
    if apex_slice is not None:
        apex = int(apex_slice)
        lo = max(lo, apex + 1) if lo > apex else apex + 1
    if base_slice is not None:
        hi = int(base_slice)
    if not (0 <= apex < lo <= hi < Z):
        raise SpectError(f"{study_id}: apex slice {apex}, first ring slice {lo} and base slice {hi} are inconsistent "
                         f"in a {Z}-slice volume; check the manual apex/base slices")
    return LvGeometry(centres, int(apex), int(lo), int(hi), float(radius))
