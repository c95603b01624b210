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
from functools import lru_cache

from scipy import fft as sfft
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


@lru_cache(maxsize=64)
def _kernel_spectra(radius: float, half_width: float, shape: tuple[int, int]) -> np.ndarray:
    """FFTs of the four quadrant kernels and the inner-disc kernel, each centred at the origin, zero-padded."""
    size = int(np.ceil(radius + half_width)) + 1
    yy, xx = np.mgrid[-size:size + 1, -size:size + 1].astype(float)
    r = np.hypot(yy, xx)
    ang = np.degrees(np.arctan2(-yy, xx)) % 360.0
    ring = np.abs(r - radius) <= half_width
    kernels = []
    for q in range(4):
        sector = ring & (((ang - 45.0 - 90.0 * q) % 360.0) < 90.0)
        kernels.append(sector / sector.sum())
    inner = r <= max(radius - 2 * half_width, 0.6 * radius, 1.0)
    kernels.append(inner / inner.sum())
    padded = np.zeros((5, *shape))
    padded[:, : 2 * size + 1, : 2 * size + 1] = np.stack(kernels)
    padded = np.roll(padded, (-size, -size), axis=(1, 2))  # kernel centre at index (0, 0): a 'same'-aligned result
    return sfft.rfft2(padded, axes=(1, 2))


def ring_score(spectrum: np.ndarray, shape: tuple[int, int], image_shape: tuple[int, int], radius_vox: float,
               half_width_vox: float) -> np.ndarray:
    """Ring-detector score of every voxel of an image (given by its 2-D spectrum per slice) as an LV centre."""
    responses = sfft.irfft2(spectrum[None] * _kernel_spectra(radius_vox, half_width_vox, shape)[:, None],
                            s=shape, axes=(2, 3))[..., : image_shape[0], : image_shape[1]]
    return responses[:4].min(axis=0) - responses[4]


def _best_ring(image: np.ndarray, pix: float, radii: list[float], near: tuple[float, float] | None):
    """Best ring-detector score over radii (voxels) in a (Z, Y, X) image, optionally within 2 voxels of ``near``.

    Returns ``(score, (z, y, x), radius, score_volume)`` or None when no radius fits the field of view.
    """
    Z, Y, X = image.shape
    half_width = max(RING_HALF_WIDTH_MM / pix, 1.0)
    fitting = [r for r in radii if 2 * (r + 2) < min(Y, X)]
    if not fitting:
        return None
    pad = int(np.ceil(max(fitting) + half_width)) + 1
    shape = (sfft.next_fast_len(Y + pad, real=True), sfft.next_fast_len(X + pad, real=True))
    spectrum = sfft.rfft2(image, s=shape, axes=(1, 2))  # one transform of the image, reused for every kernel
    best = None
    for r in fitting:
        score = ring_score(spectrum, shape, (Y, X), r, half_width)
        if near is not None:
            cy, cx = int(round(near[0])), int(round(near[1]))
            window = np.full_like(score, -np.inf)
            ys, xs = slice(max(cy - 2, 0), cy + 3), slice(max(cx - 2, 0), cx + 3)
            window[:, ys, xs] = score[:, ys, xs]
            score = window
        idx = np.unravel_index(int(np.argmax(score)), score.shape)
        if best is None or score[idx] > best[0]:
            best = (float(score[idx]), tuple(int(v) for v in idx), float(r), score)
    return best


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
    # Only slices with appreciable activity can hold the LV.
    active = np.flatnonzero(image.reshape(Z, -1).max(axis=1) >= 0.15)
    z_lo, z_hi = int(active.min()), int(active.max()) + 1
    # Coarse search over radii on a 2x2-binned image, then the best radius at full resolution.
    binned = image[z_lo:z_hi, : Y // 2 * 2, : X // 2 * 2].reshape(z_hi - z_lo, Y // 2, 2, X // 2, 2).mean(axis=(2, 4))
    hint = None if centre is None else (centre[0] / 2.0, centre[1] / 2.0)
    coarse = _best_ring(binned, 2 * pix, [r / (2 * pix) for r in WALL_RADII_MM], hint)
    if coarse is None:
        raise SpectError(f"{study_id}: no LV found (field of view too small for an LV ring); "
                         "give the centre, apex and base slices manually (--centre, --apex, --base)")
    _, (_, yc, xc), r_coarse, _ = coarse
    hint = centre if centre is not None else (2 * yc + 0.5, 2 * xc + 0.5)
    # Full resolution, best radius only, on a window around the coarse centre (the kernels reach 2r + margin).
    reach = int(np.ceil(4 * r_coarse + 2 * max(RING_HALF_WIDTH_MM / pix, 1.0))) + 6
    y_lo, x_lo = max(int(hint[0]) - reach, 0), max(int(hint[1]) - reach, 0)
    y_hi, x_hi = min(int(hint[0]) + reach + 1, Y), min(int(hint[1]) + reach + 1, X)
    fine = _best_ring(image[z_lo:z_hi, y_lo:y_hi, x_lo:x_hi], pix, [2 * r_coarse], (hint[0] - y_lo, hint[1] - x_lo))
    if fine is None or fine[0] < 0.1:
        raise SpectError(f"{study_id}: no LV found (no myocardial ring around a cavity); "
                         "give the centre, apex and base slices manually (--centre, --apex, --base)")
    top, (z0, y0, x0), radius, partial = fine
    z0, y0, x0 = z0 + z_lo, y0 + y_lo, x0 + x_lo
    score = np.full((Z, Y, X), -np.inf)
    score[z_lo:z_hi, y_lo:y_hi, x_lo:x_hi] = partial
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
