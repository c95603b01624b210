"""The LV in a short-axis study: centre per slice, apical cap, ring slices, extracardiac mask.

The LV is found by the shared beating-heart localisation (:func:`lvmd.phase.locate.find_beating_lv`) with the
short-axis ring detector; this module then follows it slice by slice. Extracardiac activity (anything hotter than
the myocardium can be, outside the LV's cylinder) is masked before the wall is sampled, and every level is relative
to the LV's own peak, never to the field of view's brightest voxel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ..errors import SpectError
from .locate import (CLIP_ABOVE_LEVEL, EXTRACARDIAC_HOT, WALL_RADII_MM, Candidate, Localisation, find_beating_lv,
                     ring_scores, top_candidates)

APEX_LEVEL = 0.5  # the apical cap holds slices whose centre region reaches this fraction of the LV level
RING_SLICE_FRACTION = 0.35  # a slice is a ring slice when its ring score reaches this fraction of the best


@dataclass
class LvGeometry:
    """Where the LV is: per-slice centre (row, col), the slices it spans, its mid-wall radius and its level.

    Attributes
    ----------
    centres : numpy.ndarray, shape (Z, 2)
        LV axis position (row, col) in every slice (voxels).
    apex_slice : int
        First slice that holds apical myocardium.
    ring_slice : int
        First slice (from the apex) where the wall is a ring around a cavity; slices before it form the apical cap.
    base_slice : int
        Last slice sampled as myocardium (see :mod:`lvmd.phase.base`).
    radius_vox : float
        Mid-ventricular mid-wall radius (voxels, in-plane).
    level : float
        The LV's peak level on the summed image (counts summed over gates); thresholds are relative to it.
    localisation : Localisation or None
        How the LV was found and how sure lvmd is.
    extracardiac : numpy.ndarray or None
        Bool (Z, Y, X) mask of extracardiac activity set aside before sampling.
    extracardiac_ratio : float
        Peak of the activity outside the LV region over the LV level.
    """

    centres: np.ndarray
    apex_slice: int
    ring_slice: int
    base_slice: int
    radius_vox: float
    level: float = 0.0
    localisation: Localisation | None = None
    extracardiac: np.ndarray | None = None
    extracardiac_ratio: float = 0.0


def _short_axis_search(pix_mm: float):
    """Ring-detector search (on 2x2-binned slices when pixels are fine): the best ring slice of each in-plane local
    maximum, in full-resolution (slice, row, col) voxels; ``near`` (slice may be NaN) keeps those within about
    8 mm of it in-plane."""
    f = 2 if pix_mm < 5.0 else 1

    def search(image: np.ndarray, near: np.ndarray | None) -> list[Candidate]:
        active = np.flatnonzero(image.reshape(image.shape[0], -1).max(axis=1) >= 0.3)
        if not len(active):
            return []
        z0 = int(active.min())
        image = image[z0:int(active.max()) + 1]
        Z, Y, X = image.shape
        binned = image[:, : Y // f * f, : X // f * f].reshape(Z, Y // f, f, X // f, f).mean(axis=(2, 4))
        radii = [r / (f * pix_mm) for r in WALL_RADII_MM if 2 * (r / (f * pix_mm) + 2) < min(Y, X) / f]
        if not radii:
            return []
        score, radius = ring_scores(binned, f * pix_mm, radii)
        offset = (f - 1) / 2.0
        if near is not None:
            yy, xx = np.ogrid[0:Y // f, 0:X // f]
            far = (f * yy + offset - near[1]) ** 2 + (f * xx + offset - near[2]) ** 2 > max(8.0 / pix_mm, 2.0) ** 2
            score = np.where(far[None], -np.inf, score)
        best_z = np.argmax(score, axis=0)
        plane = np.take_along_axis(score, best_z[None], axis=0)[0]
        plane_r = np.take_along_axis(radius, best_z[None], axis=0)[0]
        found = top_candidates(plane, plane_r, 24.0 / (f * pix_mm))
        return [Candidate(k.score, np.array([z0 + best_z[int(k.centre[0]), int(k.centre[1])], f * k.centre[0] + offset,
                                             f * k.centre[1] + offset], float), f * k.radius_vox) for k in found]

    return search


def _central_prior(shape: tuple[int, int, int]):
    """A short-axis file is reoriented around the LV: mildly prefer centres near the middle of the slices."""
    Y, X = shape[1:]

    def prior(c) -> float:
        d = np.hypot((c[1] - (Y - 1) / 2) / (Y / 2), (c[2] - (X - 1) / 2) / (X / 2))
        return float(1.0 - 0.4 * min(d, 1.0) ** 2)

    return prior


def locate_lv(counts: np.ndarray, spacing_mm: tuple[float, float, float], centre: tuple[float, float] | None = None,
              apex_slice: int | None = None, base_slice: int | None = None, study_id: str = "study",
              mask_radius_mm: float | None = None) -> LvGeometry:
    """Find the LV in a gated (T, Z, Y, X) short-axis study (or a summed (Z, Y, X) image: shape only).

    Parameters
    ----------
    counts : numpy.ndarray
        Gated counts (motion is the strongest evidence) or their sum over gates.
    spacing_mm : tuple
        (dz, dy, dx).
    centre : (row, col), optional
        Operator's LV axis position, used in every slice; no automatic score can veto it.
    apex_slice, base_slice : int, optional
        Operator's apex and base slices (0-based, apex < base).
    mask_radius_mm : float, optional
        Operator's mask: activity farther than this from the LV axis is ignored.

    Raises
    ------
    SpectError
        No beating ring-shaped LV found, or inconsistent manual slices.
    """
    counts = np.asarray(counts)
    dz, dy, dx = spacing_mm
    pix = (dy + dx) / 2.0
    Z, Y, X = counts.shape[-3:]
    if mask_radius_mm is not None and mask_radius_mm <= 0:
        raise SpectError(f"{study_id}: mask radius {mask_radius_mm} mm must be positive")
    operator_mask = None
    if centre is not None and mask_radius_mm is not None:
        operator_mask = _cylinder((Z, Y, X), np.tile(np.asarray(centre, float), (Z, 1)), mask_radius_mm / pix)
        counts = counts * operator_mask
    hint = None if centre is None else (np.nan, float(centre[0]), float(centre[1]))
    summed = counts.sum(axis=0) if counts.ndim == 4 else counts
    image = ndimage.gaussian_filter(summed.astype(np.float64), (0, 0.7, 0.7))
    found = find_beating_lv(counts, spacing_mm, _short_axis_search(pix), _central_prior((Z, Y, X)), centre=hint,
                            study_id=study_id, image=image)
    if centre is None and mask_radius_mm is not None:
        operator_mask = _cylinder(image.shape, np.tile(found.centre[1:], (Z, 1)), mask_radius_mm / pix)
        image = image * operator_mask
    level = found.level
    clipped = np.minimum(image, CLIP_ABOVE_LEVEL * level) / level
    radius = found.radius_vox if found.radius_vox > 0 else 25.0 / pix
    centres, ring, top = _follow_slices(clipped, found.centre[1:], radius, pix, fixed=centre is not None)
    if not ring.any():
        if centre is None:
            raise SpectError(f"{study_id}: no LV found (no slice shows a myocardial ring around the beating "
                             f"centre); give the LV centre (--centre ROW COL), --apex and --base")
        ring[int(np.clip(round(found.centre[0]), 0, Z - 1))] = True
        found.warnings.append("no slice shows a clear myocardial ring at the given centre: check the QC figure")
    z_best = int(np.argmax(np.where(ring, top, -np.inf)))
    lo = hi = z_best
    while lo > 0 and ring[lo - 1]:
        lo -= 1
    while hi < Z - 1 and ring[hi + 1]:
        hi += 1
    # The apical cap: slices below the first ring whose centre region is still myocardial; at least one, since the
    # LV closes somewhere below its first ring (a large apical scar can leave no slice above APEX_LEVEL there).
    yy, xx = np.ogrid[0:Y, 0:X]
    apex = lo
    while apex > 0:
        c = centres[lo]
        disc = (yy - c[0]) ** 2 + (xx - c[1]) ** 2 <= (1.3 * radius) ** 2
        if clipped[apex - 1][disc].max() < APEX_LEVEL:
            break
        apex -= 1
    apex = min(apex, max(lo - 1, 0))
    centres[:lo] = centres[lo]
    centres[hi + 1:] = centres[hi]
    if apex_slice is not None:
        apex = int(apex_slice)
        lo = max(lo, apex + 1)
    if base_slice is not None:
        hi = int(base_slice)
        lo = min(lo, hi)
    if not (0 <= apex < lo <= hi < Z):
        raise SpectError(f"{study_id}: apex slice {apex}, first ring slice {lo} and base slice {hi} are inconsistent "
                         f"in a {Z}-slice volume; check --apex and --base (0-based, apex < base)")
    mask, ratio = extracardiac_mask(image, centres, radius, apex, hi, level)
    if operator_mask is not None:
        mask |= ~operator_mask
    return LvGeometry(centres, int(apex), int(lo), int(hi), float(radius), float(level), found, mask, ratio)


def _cylinder(shape: tuple[int, int, int], centres: np.ndarray, radius_vox: float) -> np.ndarray:
    """Bool (Z, Y, X): within ``radius_vox`` of each slice's centre."""
    yy, xx = np.ogrid[0:shape[1], 0:shape[2]]
    return np.stack([(yy - c[0]) ** 2 + (xx - c[1]) ** 2 <= radius_vox**2 for c in centres])


def _follow_slices(clipped: np.ndarray, centre: np.ndarray, radius: float, pix: float, fixed: bool):
    """Per-slice ring centre near ``centre`` (within 2 voxels), which slices are rings, and each slice's score."""
    Z, Y, X = clipped.shape
    reach = int(np.ceil(2 * radius + 2 * max(4.0 / pix, 1.0))) + 4
    y0, x0 = int(round(centre[0])), int(round(centre[1]))
    ys = slice(max(y0 - reach, 0), min(y0 + reach + 1, Y))
    xs = slice(max(x0 - reach, 0), min(x0 + reach + 1, X))
    score, _ = ring_scores(clipped[:, ys, xs], pix, [radius])
    cy, cx = y0 - ys.start, x0 - xs.start
    window = score[:, max(cy - 2, 0):cy + 3, max(cx - 2, 0):cx + 3]
    top = window.reshape(Z, -1).max(axis=1)
    best = float(top.max())
    ring = top >= max(RING_SLICE_FRACTION * best, 0.02)
    centres = np.tile(np.asarray(centre, float), (Z, 1))
    if not fixed:
        for z in np.flatnonzero(ring):
            row, col = _sub_voxel_peak(score[z], slice(max(cy - 2, 0), cy + 3), slice(max(cx - 2, 0), cx + 3))
            centres[z] = (ys.start + row, xs.start + col)
    return centres, ring, top


def _sub_voxel_peak(score: np.ndarray, rows: slice, cols: slice) -> tuple[float, float]:
    """(row, col) in ``score`` of the best voxel of its window ``score[rows, cols]``, refined to a fraction of a voxel.

    The best voxel is moved by a parabola through its neighbours' scores along each axis (as
    :func:`lvmd.phase.base.apex_position` does along the LV axis). At 6-7 mm voxels a whole-voxel centre is up to
    3.4 mm off, and the apical cap's rays, set around the first ring slice's centre, read one side of the cap
    closer to the apex than the other: on the bench's transaxial LBBB-like LV beside a hot gut the cap's septal
    half read 40-48 deg early and the mean phase 5.9 deg early.
    """
    window = score[rows, cols]
    wy, wx = np.unravel_index(int(np.argmax(window)), window.shape)
    py, px = rows.start + int(wy), cols.start + int(wx)
    peak = [float(py), float(px)]
    for axis, (before, after) in enumerate((((py - 1, px), (py + 1, px)), ((py, px - 1), (py, px + 1)))):
        if min(before) < 0 or after[0] >= score.shape[0] or after[1] >= score.shape[1]:
            continue
        a, b, c = score[before], score[py, px], score[after]
        curvature = a - 2.0 * b + c
        if curvature < 0:
            peak[axis] += float(np.clip(0.5 * (a - c) / curvature, -0.5, 0.5))
    return peak[0], peak[1]


def extracardiac_mask(image: np.ndarray, centres: np.ndarray, radius: float, apex: int, base: int,
                      level: float) -> tuple[np.ndarray, float]:
    """Extracardiac activity to set aside, and its peak over the LV level.

    The LV region is the cylinder of 1.6 radii around the axis from two slices before the apex to two after the
    base. Activity hotter than the myocardium can be (1.5x the LV level) outside it is masked, grown by 1.5 radii
    into what it spills over, but never into the LV region itself.
    """
    Z = image.shape[0]
    region = _cylinder(image.shape, centres, 1.6 * radius)
    region[: max(apex - 2, 0)] = False
    region[min(base + 3, Z):] = False
    outside = ~region
    ratio = float(image[outside].max() / level) if outside.any() and level > 0 else 0.0
    hot = (image > EXTRACARDIAC_HOT * level) & outside
    if not hot.any():
        return np.zeros(image.shape, bool), ratio
    reach = max(int(round(0.5 * radius)), 1)
    grown = ndimage.binary_dilation(hot, iterations=reach) & (image > 0.5 * level)
    return grown & outside, ratio
