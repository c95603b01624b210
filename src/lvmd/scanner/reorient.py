"""Automatic reorientation of a transaxial gated volume into short-axis slices (design.md conventions).

Transaxial arrays follow PyTomography's object axes: ``volume[gate, x, y, z]`` with x running patient right -> left,
y anterior -> posterior and z inferior -> superior (voxel indices; isotropic voxels).

1. **LV centre**: a 3-D hollow-shell detector on the summed image -- the weakest of the eight octants of a spherical
   shell minus the inner ball -- which scores a myocardial shell around its cavity high and a solid hot blob (liver,
   gut, injection site) near zero, whatever its brightness.
2. **Long axis**: the direction through that centre along which perpendicular slices look most like rings
   (coarse-to-fine search over directions), i.e. the axis of the LV's rotational symmetry.
3. **Apex vs base**: along the axis the apical wall crosses it and the open base does not.
4. **In-plane rotation** from anatomy: anterior up (towards patient anterior-superior), septum left (the lateral
   wall faces patient left-posterior).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import fft as sfft
from scipy import ndimage

from ..errors import SpectError

SHELL_RADII_MM = (16.0, 21.0, 27.0, 33.0)
LEFT = np.array([1.0, 0.0, 0.0])
ANTERIOR = np.array([0.0, -1.0, 0.0])
SUPERIOR = np.array([0.0, 0.0, 1.0])


def axis_from_angles(azimuth_deg: float, elevation_deg: float) -> np.ndarray:
    """Unit base->apex vector from azimuth (in the transaxial x-y plane, from +x towards +y) and elevation (+z)."""
    az, el = np.radians(azimuth_deg), np.radians(elevation_deg)
    return np.array([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)])


def angles_from_axis(axis: np.ndarray) -> tuple[float, float]:
    """Inverse of :func:`axis_from_angles`."""
    a = axis / np.linalg.norm(axis)
    return float(np.degrees(np.arctan2(a[1], a[0]))), float(np.degrees(np.arcsin(np.clip(a[2], -1, 1))))


def short_axis_frame(apex_direction: np.ndarray) -> np.ndarray:
    """Columns: the slice (apex -> base), row (anterior -> inferior wall) and column (septum -> lateral) directions.

    The row and column directions come from anatomy: the anterior wall faces patient anterior-superior and the
    lateral wall patient left-posterior.
    """
    a = apex_direction / np.linalg.norm(apex_direction)
    e_slice = -a
    up = ANTERIOR + SUPERIOR
    up = up - np.dot(up, a) * a
    if np.linalg.norm(up) < 1e-6:  # axis along anterior-superior: fall back on superior alone
        up = SUPERIOR - np.dot(SUPERIOR, a) * a
    e_row = -up / np.linalg.norm(up)
    e_col = np.cross(e_slice, e_row)
    if np.dot(e_col, LEFT - ANTERIOR) < 0:
        e_col = -e_col
    return np.column_stack([e_slice, e_row, e_col])


@lru_cache(maxsize=32)
def _shell_kernels(radius: float, half_width: float) -> np.ndarray:
    size = int(np.ceil(radius + half_width)) + 1
    g = np.mgrid[-size:size + 1, -size:size + 1, -size:size + 1].astype(float)
    r = np.sqrt((g**2).sum(axis=0))
    shell = np.abs(r - radius) <= half_width
    kernels = []
    for sx in (-1, 1):
        for sy in (-1, 1):
            for sz in (-1, 1):
                octant = shell & (sx * g[0] >= 0) & (sy * g[1] >= 0) & (sz * g[2] >= 0)
                kernels.append(octant / octant.sum())
    inner = r <= max(radius - 2 * half_width, 0.55 * radius, 1.0)
    kernels.append(inner / inner.sum())
    return np.stack(kernels)


def _shell_score(image: np.ndarray, radius: float, half_width: float) -> np.ndarray:
    kernels = _shell_kernels(radius, half_width)
    k = kernels.shape[-1]
    shape = tuple(sfft.next_fast_len(n + k - 1, real=True) for n in image.shape)
    spectrum = sfft.rfftn(image, shape)
    out = sfft.irfftn(spectrum[None] * sfft.rfftn(kernels[:, ::-1, ::-1, ::-1], shape, axes=(1, 2, 3)), shape,
                      axes=(1, 2, 3))
    h = k // 2
    out = out[:, h:h + image.shape[0], h:h + image.shape[1], h:h + image.shape[2]]
    weakest = out[:8].min(axis=0)
    return weakest - out[8], weakest


def find_lv_3d(summed: np.ndarray, voxel_mm: float) -> tuple[np.ndarray, float, float]:
    """LV cavity centre (voxel coordinates), mid-wall radius (voxels) and detector score in a transaxial volume."""
    image = ndimage.gaussian_filter(summed.astype(np.float64), 0.8)
    peak = image.max()
    if peak <= 0:
        raise SpectError("empty field of view")
    image /= peak
    f = 2 if voxel_mm < 5.0 else 1  # coarse search on 2x2x2 bins, unless the voxels are already coarse
    binned = image[: image.shape[0] // f * f, : image.shape[1] // f * f, : image.shape[2] // f * f]
    binned = binned.reshape(binned.shape[0] // f, f, binned.shape[1] // f, f, binned.shape[2] // f, f).mean(axis=(1, 3, 5))
    pix = f * voxel_mm
    best = (-np.inf, None, None, 0.0)
    for radius_mm in SHELL_RADII_MM:
        r = radius_mm / pix
        if r < 1.2 or 2 * (r + 2) >= min(binned.shape):
            continue
        score, wall = _shell_score(binned, r, max(4.0 / pix, 0.75))
        idx = np.unravel_index(int(np.argmax(score)), score.shape)
        if score[idx] > best[0]:
            best = (float(score[idx]), idx, r, float(wall[idx]))
    top, idx, r, wall_level = best
    # A shell must stand out from the noise floor, and its cavity must be clearly darker than its wall (by a
    # fraction of the wall, so that a much hotter liver elsewhere does not hide a fainter LV).
    if idx is None or wall_level < 0.02 or top < 0.12 * wall_level:
        raise SpectError("no LV found in the transaxial volume (no myocardial shell around a cavity); "
                         "give the LV centre and axis angles manually (--lv-centre, --axis-angles)")
    # Refine at full resolution around the coarse centre with the winning radius.
    c = np.array(idx) * f + (f - 1) / 2.0
    r *= f
    lo = np.maximum(np.floor(c - r - 7).astype(int), 0)
    hi = np.minimum(np.ceil(c + r + 8).astype(int), image.shape)
    window = image[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]]
    score, _ = _shell_score(window, r, max(4.0 / voxel_mm, 0.75))
    local = c - lo
    mask = np.zeros_like(score, dtype=bool)
    g = np.indices(score.shape)
    mask[((g - local[:, None, None, None]) ** 2).sum(axis=0) <= 9] = True
    score = np.where(mask, score, -np.inf)
    fine = np.array(np.unravel_index(int(np.argmax(score)), score.shape)) + lo
    return fine.astype(float), float(r), float(top)


def _ring_profile(image: np.ndarray, centre: np.ndarray, direction: np.ndarray, radius: float,
                  offsets: np.ndarray) -> np.ndarray:
    """Ring-likeness of the slices perpendicular to ``direction`` at ``offsets`` (voxels) along it."""
    d = direction / np.linalg.norm(direction)
    helper = np.array([1.0, 0, 0]) if abs(d[0]) < 0.9 else np.array([0, 1.0, 0])
    e1 = np.cross(d, helper)
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(d, e1)
    phis = np.radians(np.arange(0, 360, 15.0))
    radii = np.array([0.7, 1.0, 1.25]) * radius
    ring = (radii[:, None, None] * (np.cos(phis)[None, :, None] * e1 + np.sin(phis)[None, :, None] * e2))
    pts = centre + offsets[:, None, None, None] * d + ring[None]  # (slices, radii, angles, 3)
    centre_pts = centre + offsets[:, None] * d
    values = ndimage.map_coordinates(image, pts.reshape(-1, 3).T, order=1, mode="constant").reshape(pts.shape[:-1])
    middle = ndimage.map_coordinates(image, centre_pts.T, order=1, mode="constant")
    sectors = values.reshape(len(offsets), len(radii), 4, -1).mean(axis=3).min(axis=2)  # weakest quadrant
    return np.clip(sectors.max(axis=1) - middle, 0, None)


def find_long_axis(image: np.ndarray, centre: np.ndarray, radius: float) -> np.ndarray:
    """Unit direction of the LV long axis (sign arbitrary): the direction maximising ring-likeness of its slices."""
    offsets = np.arange(-2.0 * radius, 2.0 * radius + 1e-9, max(radius / 4, 0.5))

    def score(direction):
        return float(_ring_profile(image, centre, direction, radius, offsets).sum())

    candidates = [axis_from_angles(az, el) for el in np.arange(0, 90.1, 10) for az in np.arange(0, 360, 10)]
    best = max(candidates, key=score)
    for step in (4.0, 1.5, 0.5):
        az0, el0 = angles_from_axis(best)
        local = [axis_from_angles(az0 + da, el0 + de) for da in (-2 * step, -step, 0, step, 2 * step)
                 for de in (-2 * step, -step, 0, step, 2 * step)]
        best = max(local, key=score)
    return best / np.linalg.norm(best)


def orient_apex(image: np.ndarray, centre: np.ndarray, axis: np.ndarray, radius: float) -> np.ndarray:
    """Choose the sign of the axis so that it points base -> apex: the apical wall crosses the axis, the base does not."""
    s = np.arange(0.5, 3.0 * radius, 0.5)
    forward = ndimage.map_coordinates(image, (centre + s[:, None] * axis).T, order=1, mode="constant")
    backward = ndimage.map_coordinates(image, (centre - s[:, None] * axis).T, order=1, mode="constant")
    return axis if forward.max() >= backward.max() else -axis


@dataclass
class Reorientation:
    """Where the LV was found and how the volume was resampled.

    Attributes
    ----------
    centre : numpy.ndarray
        LV centre in transaxial voxel coordinates (x, y, z).
    apex_direction : numpy.ndarray
        Unit base -> apex vector (transaxial voxel axes).
    frame : numpy.ndarray (3, 3)
        Columns: slice, row and column directions of the short-axis grid.
    radius_vox : float
        Mid-wall radius found by the shell detector.
    """

    centre: np.ndarray
    apex_direction: np.ndarray
    frame: np.ndarray
    radius_vox: float
    shape: tuple[int, int, int]

    @property
    def angles_deg(self) -> tuple[float, float]:
        """Azimuth and elevation of the base -> apex axis."""
        return angles_from_axis(self.apex_direction)

    def coordinates(self) -> np.ndarray:
        """Transaxial voxel coordinates (3, Zs, Ys, Xs) of every short-axis voxel."""
        zs, ys, xs = self.shape
        k, i, j = np.meshgrid(np.arange(zs) - (zs - 1) / 2.0, np.arange(ys) - (ys - 1) / 2.0,
                              np.arange(xs) - (xs - 1) / 2.0, indexing="ij")
        f = self.frame
        pts = (self.centre[:, None, None, None] + f[:, 0, None, None, None] * k + f[:, 1, None, None, None] * i
               + f[:, 2, None, None, None] * j)
        return pts


def reorient_to_short_axis(volume: np.ndarray, voxel_mm: float, centre=None, axis_angles=None,
                           shape: tuple[int, int, int] | None = None) -> tuple[np.ndarray, Reorientation]:
    """Resample a gated transaxial volume (T, X, Y, Z) into short-axis slices (T, Z', Y', X'), gates aligned.

    Parameters
    ----------
    volume : numpy.ndarray
        Gated transaxial counts (a 3-D volume is treated as one gate).
    voxel_mm : float
        Isotropic voxel size; the short-axis grid uses the same.
    centre : sequence of 3 float, optional
        Manual LV centre (x, y, z voxels).
    axis_angles : (azimuth, elevation) degrees, optional
        Manual base -> apex axis (see :func:`axis_from_angles`).
    shape : (Z', Y', X'), optional
        Short-axis grid; default: 32 slices of 64 x 64 (or the transaxial size if smaller).
    """
    volume = np.asarray(volume, dtype=np.float32)
    if volume.ndim == 3:
        volume = volume[None]
    summed = volume.sum(axis=0)
    if centre is None:
        c, radius, _ = find_lv_3d(summed, voxel_mm)
    else:
        c, radius = np.asarray(centre, float), 25.0 / voxel_mm
    image = ndimage.gaussian_filter(summed.astype(np.float64), 0.8)
    image /= max(image.max(), 1e-12)
    if axis_angles is None:
        axis = find_long_axis(image, c, radius)
        axis = orient_apex(image, c, axis, radius)
    else:
        axis = axis_from_angles(*axis_angles)
    side = min(64, min(volume.shape[1:]))
    shape = shape or (min(32, side), side, side)
    info = Reorientation(c, axis, short_axis_frame(axis), radius, tuple(shape))
    coords = info.coordinates().reshape(3, -1)
    out = np.stack([ndimage.map_coordinates(g, coords, order=1, mode="constant").reshape(shape) for g in volume])
    return np.clip(out, 0, None).astype(np.float32), info


def embed_short_axis(sa: np.ndarray, apex_direction: np.ndarray, transaxial_shape: tuple[int, int, int],
                     centre: np.ndarray) -> np.ndarray:
    """Place short-axis gated arrays (T, Z', Y', X') into a transaxial pose (the inverse of reorientation).

    Used to build test objects with a known axis: the LV's short-axis centre goes to ``centre``.
    """
    frame = short_axis_frame(apex_direction)
    g = np.indices(transaxial_shape).reshape(3, -1).astype(float) - np.asarray(centre, float)[:, None]
    local = frame.T @ g  # (slice, row, col) offsets from the short-axis centre
    zs, ys, xs = sa.shape[1:]
    q = local + np.array([(zs - 1) / 2.0, (ys - 1) / 2.0, (xs - 1) / 2.0])[:, None]
    return np.stack([ndimage.map_coordinates(v, q, order=1, mode="constant").reshape(transaxial_shape) for v in sa])
