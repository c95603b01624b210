"""Automatic reorientation of a transaxial gated volume into short-axis slices (design.md conventions).

Transaxial arrays follow PyTomography's object axes: ``volume[gate, x, y, z]`` with x running patient right -> left,
y anterior -> posterior and z inferior -> superior (voxel indices; isotropic voxels). ``patient_axes`` flips an axis
whose file says otherwise (see :func:`lvmd.scanner.projections.patient_axes`).

1. **LV centre**: the shared beating-heart localisation (:func:`lvmd.phase.locate.find_beating_lv`): where the
   heart beats over the gates, a 3-D hollow-shell detector (a weak one of 20 directional sectors of a spherical
   shell, the open base allowed for, minus the inner ball) on the image clipped at the LV's own level, and the
   anatomical prior that the LV lies left, anterior and superior in the body. Ungated data fall back to shape and
   anatomy, and say so.
2. **Mask**: activity hotter than myocardium can be, away from the LV, is set aside; so is everything beyond the
   operator's mask radius.
3. **Long axis**: the direction through that centre along which perpendicular slices look most like rings
   (coarse-to-fine search over directions), i.e. the axis of the LV's rotational symmetry. A second estimate, the
   line through the wall rings' centres (positions only, so a perfusion defect does not pull it), checks it: where
   they differ by more than ``AXIS_DISAGREEMENT_DEG`` the search is rerun scoring wall contrast, and a
   disagreement that remains is warned about (:func:`check_long_axis`).
4. **Apex vs base**: along the axis the apical wall crosses it and the open base does not; when both ends look
   alike, anatomy decides (the apex points left, anterior and inferior).
5. **In-plane rotation** from anatomy: anterior up (towards patient anterior-superior), septum left (the lateral
   wall faces patient left-posterior).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from ..errors import SpectError
from ..phase.locate import (CLIP_ABOVE_LEVEL, EXTRACARDIAC_HOT, MIN_SHELL_SCORE, SHELL_RADII_MM, Candidate,
                            Localisation, find_beating_lv, shell_scores, top_candidates)

LEFT = np.array([1.0, 0.0, 0.0])
ANTERIOR = np.array([0.0, -1.0, 0.0])
SUPERIOR = np.array([0.0, 0.0, 1.0])
RING_FRACTION = 0.5  # a slab is LV where myocardium-level activity fills this share of the sectors around the axis
WALL_BAND_MM = 12.0  # wall voxels lie this close (mm, radially) to their bin's brightest voxel
AXIS_LINE_SHIFT_MM = 7.0  # the refined long axis may pass this far from the centroid (see find_long_axis)
RING_SPAN_MM = (30.0, 20.0)  # slabs this far towards the base and the apex from the centre fix the ring-centre axis
RING_STRONG_WALL = 0.75  # only rays whose wall holds this share of the slab's median wall fix the ring
RING_WALL_OVER_CAVITY = 1.2  # a ray crosses the wall where its peak stands this far above the cavity
RING_AXIS_ITERATIONS = 2  # ring-centre fits from the ring-likeness axis (each takes part of the way)
AXIS_DISAGREEMENT_DEG = 8.0  # axis estimates this far apart: the contrast search is tried, then it is warned about
NO_LV_HINT_3D = "give the LV centre (--lv-centre X Y Z) and, if needed, --axis-angles and --mask-radius"


def axis_from_angles(azimuth_deg: float, elevation_deg: float) -> np.ndarray:
    """Unit base->apex vector from azimuth (in the transaxial x-y plane, from +x towards +y) and elevation (+z)."""
    az, el = np.radians(azimuth_deg), np.radians(elevation_deg)
    return np.array([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)])


def angles_from_axis(axis: np.ndarray) -> tuple[float, float]:
    """Inverse of :func:`axis_from_angles`."""
    a = axis / np.linalg.norm(axis)
    return float(np.degrees(np.arctan2(a[1], a[0]))), float(np.degrees(np.arcsin(np.clip(a[2], -1, 1))))


def short_axis_frame(apex_direction: np.ndarray, patient_axes=(1.0, 1.0, 1.0)) -> np.ndarray:
    """Columns: the slice (apex -> base), row (anterior -> inferior wall) and column (septum -> lateral) directions.

    The clinical reorientation's frame (transaxial -> vertical long axis -> short axis): the vertical long-axis
    plane holds the axis and the patient's head-foot line, so the anterior wall (12 o'clock) is patient-superior
    projected perpendicular to the axis, and the lateral wall lies towards patient left-posterior. (lvmd 0.1
    took anterior-plus-superior, which turned every segment about 30 degrees towards the septum for a typical heart
    against the vendors' and its own torso bench's frame.) ``patient_axes``: sign of each object axis in (left,
    posterior, superior).
    """
    p = np.asarray(patient_axes, float)
    left, anterior, superior = LEFT * p, ANTERIOR * p, SUPERIOR * p
    a = apex_direction / np.linalg.norm(apex_direction)
    e_slice = -a
    up = superior - np.dot(superior, a) * a
    if np.linalg.norm(up) < 0.2:  # an axis within 12 degrees of head-foot: anterior stands in for superior
        up = anterior - np.dot(anterior, a) * a
    e_row = -up / np.linalg.norm(up)
    e_col = np.cross(e_slice, e_row)
    if np.dot(e_col, left - anterior) < 0:
        e_col = -e_col
    return np.column_stack([e_slice, e_row, e_col])


def _shell_search(voxel_mm: float):
    """3-D shell-detector search (on 2x2x2 bins when voxels are fine): candidates in full-resolution voxels."""
    f = 2 if voxel_mm < 5.0 else 1
    pix = f * voxel_mm

    def search(image: np.ndarray, near: np.ndarray | None) -> list[Candidate]:
        n = [s // f * f for s in image.shape]
        binned = image[: n[0], : n[1], : n[2]]
        if f > 1:
            binned = binned.reshape(n[0] // f, f, n[1] // f, f, n[2] // f, f).mean(axis=(1, 3, 5))
        best = np.full(binned.shape, -np.inf)
        radius = np.zeros(binned.shape)
        for radius_mm in SHELL_RADII_MM:
            r = radius_mm / pix
            if r < 1.2 or 2 * (r + 2) >= min(binned.shape):
                continue
            score = shell_scores(binned, r, max(4.0 / pix, 0.75))
            better = score > best
            best[better], radius[better] = score[better], r
        if near is not None:
            g = np.indices(binned.shape).astype(float) * f + (f - 1) / 2.0
            given = ~np.isnan(near)
            d2 = sum((g[i] - near[i]) ** 2 for i in range(3) if given[i])
            best = np.where(d2 <= 3.0**2, best, -np.inf)
        found = top_candidates(best, radius, 20.0 / pix)
        return [Candidate(k.score, k.centre * f + (f - 1) / 2.0, k.radius_vox * f) for k in found]

    return search


def refine_centre(image: np.ndarray, centre: np.ndarray, radius: float, voxel_mm: float) -> np.ndarray:
    """The shell detector's best voxel within 3 voxels of ``centre``, at full resolution."""
    lo = np.maximum(np.floor(centre - radius - 7).astype(int), 0)
    hi = np.minimum(np.ceil(centre + radius + 8).astype(int), image.shape)
    window = image[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]]
    if min(window.shape) < 3:
        return centre
    score = shell_scores(window, radius, max(4.0 / voxel_mm, 0.75))
    g = np.indices(score.shape)
    local = centre - lo
    score = np.where(((g - local[:, None, None, None]) ** 2).sum(axis=0) <= 9, score, -np.inf)
    return (np.array(np.unravel_index(int(np.argmax(score)), score.shape)) + lo).astype(float)


def anatomical_prior(image: np.ndarray, patient_axes=(1.0, 1.0, 1.0)):
    """Weight (0.125-1) of a candidate centre: the LV lies left, anterior and superior of the body's centre.

    The body's centre and extent come from the counts clipped at their 90th percentile (so that a hot liver or gut
    does not pull them); ``patient_axes`` gives the sign of each object axis in patient (left, posterior,
    superior) terms.
    """
    clipped = np.minimum(image, np.percentile(image, 90))
    total = clipped.sum()
    if total <= 0:
        return lambda c: 1.0
    g = np.indices(image.shape).reshape(3, -1).astype(float)
    w = clipped.ravel() / total
    centre = g @ w
    spread = np.sqrt(((g - centre[:, None]) ** 2) @ w) + 1e-6
    toward = np.array([1.0, -1.0, 1.0]) * np.asarray(patient_axes, float)  # left, anterior, superior

    def prior(c) -> float:
        z = toward * (np.asarray(c, float) - centre) / spread
        return float(np.prod(0.5 + 0.5 / (1.0 + np.exp(-2.0 * z))))

    return prior


def extracardiac_volume(image: np.ndarray, centre: np.ndarray, radius: float, level: float,
                        mask_radius_vox: float | None = None) -> tuple[np.ndarray, float]:
    """Bool mask of activity to set aside around a transaxial LV, and the peak outside the LV over the LV level.

    The LV region is a ball of 2.2 mid-wall radii around the centre; outside it, activity hotter than 1.5x the LV
    level is masked and grown over what it spills on (down to half the LV level), and so is everything beyond the
    operator's mask radius.
    """
    g = np.indices(image.shape).astype(float)
    d2 = sum((g[i] - centre[i]) ** 2 for i in range(3))
    region = d2 <= (2.2 * radius) ** 2
    outside = ~region
    ratio = float(image[outside].max() / level) if outside.any() and level > 0 else 0.0
    hot = (image > EXTRACARDIAC_HOT * level) & outside
    mask = np.zeros(image.shape, bool)
    if hot.any():
        mask = ndimage.binary_dilation(hot, iterations=max(int(round(0.5 * radius)), 1)) & (image > 0.5 * level) & outside
    if mask_radius_vox is not None:
        mask |= d2 > mask_radius_vox**2
    return mask, ratio


def _perpendicular_basis(axis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two unit vectors completing ``axis`` to a right-handed orthonormal frame."""
    e1 = np.cross(axis, [1.0, 0.0, 0.0] if abs(axis[0]) < 0.9 else [0.0, 1.0, 0.0])
    e1 /= np.linalg.norm(e1)
    return e1, np.cross(axis, e1)


def _ring_profile(image: np.ndarray, centre: np.ndarray, direction: np.ndarray, radius: float,
                  offsets: np.ndarray, contrast: bool = False) -> np.ndarray:
    """Ring-likeness of the slices perpendicular to ``direction`` at ``offsets`` (voxels) along it.

    Each slice scores its weakest quadrant of wall over the centre: by the difference, or with ``contrast`` by
    (wall - centre) / wall, which a dim but intact wall (a perfusion defect) scores as high as a bright one.
    """
    d = direction / np.linalg.norm(direction)
    e1, e2 = _perpendicular_basis(d)
    phis = np.radians(np.arange(0, 360, 15.0))
    radii = np.array([0.7, 1.0, 1.25]) * radius
    ring = (radii[:, None, None] * (np.cos(phis)[None, :, None] * e1 + np.sin(phis)[None, :, None] * e2))
    pts = centre + offsets[:, None, None, None] * d + ring[None]  # (slices, radii, angles, 3)
    centre_pts = centre + offsets[:, None] * d
    values = ndimage.map_coordinates(image, pts.reshape(-1, 3).T, order=1, mode="constant").reshape(pts.shape[:-1])
    middle = ndimage.map_coordinates(image, centre_pts.T, order=1, mode="constant")
    if contrast:
        values = (values - middle[:, None, None]) / np.maximum(values, 1e-6)
        middle = np.zeros_like(middle)
    sectors = values.reshape(len(offsets), len(radii), 4, -1).mean(axis=3).min(axis=2)  # weakest quadrant
    return np.clip(sectors.max(axis=1) - middle, 0, None)


def find_long_axis(image: np.ndarray, centre: np.ndarray, radius: float, start: np.ndarray | None = None,
                   shift: float = 0.0, contrast: bool = False) -> np.ndarray:
    """Unit direction of the LV long axis (sign arbitrary): the direction maximising ring-likeness of its slices.

    A coarse search over all directions (10 degrees apart) then finer ones around the best; with ``start``, only
    the finer searches around it. With ``shift`` (voxels) each direction's line may also pass up to that far from
    ``centre`` (a 3 x 3 grid of parallel lines): a centre a little off the true axis then does not tilt the axis
    towards a line that happens to run through it.
    """
    offsets = np.arange(-2.0 * radius, 2.0 * radius + 1e-9, max(radius / 4, 0.5))

    def score(direction):
        if shift <= 0:
            return float(_ring_profile(image, centre, direction, radius, offsets, contrast).sum())
        d = direction / np.linalg.norm(direction)
        e1, e2 = _perpendicular_basis(d)
        return max(float(_ring_profile(image, centre + shift * (i * e1 + j * e2), d, radius, offsets, contrast).sum())
                   for i in (-1, 0, 1) for j in (-1, 0, 1))

    if start is None:
        best = max((axis_from_angles(az, el) for el in np.arange(0, 90.1, 10) for az in np.arange(0, 360, 10)),
                   key=score)
        steps = (4.0, 1.5, 0.5)
    else:
        best, steps = np.asarray(start, float), (6.0, 3.0, 1.5, 0.5)
    for step in steps:
        az0, el0 = angles_from_axis(best)
        local = [axis_from_angles(az0 + da, el0 + de) for da in (-2 * step, -step, 0, step, 2 * step)
                 for de in (-2 * step, -step, 0, step, 2 * step)]
        best = max(local, key=score)
    return best / np.linalg.norm(best)


def _circle_centre(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float] | None:
    """Least-squares circle through the points (Kasa), refitted without points off it by > 2.5 MADs."""
    keep = np.ones(len(x), bool)
    for _ in range(2):
        if keep.sum() < 8:
            return None
        a = np.column_stack([x[keep], y[keep], np.ones(keep.sum())])
        (d, e, f), *_ = np.linalg.lstsq(a, -(x[keep] ** 2 + y[keep] ** 2), rcond=None)
        centre = np.array([-d / 2, -e / 2])
        r2 = centre @ centre - f
        if r2 <= 0:
            return None
        off = np.abs(np.hypot(x - centre[0], y - centre[1]) - np.sqrt(r2))
        keep = off <= max(2.5 * 1.4826 * np.median(off[keep]), 0.5)
    return centre, float(np.sqrt(r2))


def _wall_radius(radii: np.ndarray, profile: np.ndarray, peak_index: int) -> float:
    """Radius of a ray's wall crossing: the count-weighted mean over the run of samples within 60 % of its peak."""
    level = 0.6 * profile[peak_index]
    lo = peak_index
    while lo > 0 and profile[lo - 1] >= level:
        lo -= 1
    hi = peak_index
    while hi < len(profile) - 1 and profile[hi + 1] >= level:
        hi += 1
    w = profile[lo:hi + 1] - level
    return float((radii[lo:hi + 1] * w).sum() / w.sum()) if w.sum() > 0 else float(radii[peak_index])


def ring_centre_axis(myocardium: np.ndarray, centre: np.ndarray, axis: np.ndarray, radius: float,
                     voxel_mm: float) -> np.ndarray | None:
    """One step of a second, count-independent estimate of the long axis: the line through the wall rings' centres.

    Each short-axis slab within ``RING_SPAN_MM`` of ``centre`` is cut by rays every 10 degrees; where a ray crosses
    the wall (its brightest point between a third and 1.7 times ``radius`` stands ``RING_WALL_OVER_CAVITY`` above
    the cavity and holds ``RING_STRONG_WALL`` of the slab's median wall) that point is a wall position. A circle
    fitted to those positions gives the slab's centre, and the slope of a line through the centres turns ``axis``
    towards the rings' own axis (part of the way: an ellipsoid's oblique cuts centre nearer its axis).

    Position, not counts, decides, so a perfusion defect does not pull it the way it pulls the ring-likeness search
    (:func:`find_long_axis` scores a ring by its weakest quadrant; an inferior defect tilts that axis until the rings
    pass through brighter wall: 10-26 degrees on the independent generator and on cups drawn in the tests). It is
    not precise enough to replace that search (its own bias reaches 5-11 degrees on the torso bench, where the base
    and nearby organs cut the basal rings), so it serves as the check behind ``axis_disagreement_deg``. Returns
    None where fewer than five slabs hold a clear ring: a large defect, or an axis so wrong that its slices miss the
    rings (an independent review found 8 of 12 silent axis failures there), so no fit is doubt, not agreement.
    """
    axis = axis / np.linalg.norm(axis)
    e1, e2 = _perpendicular_basis(axis)
    phis = np.radians(np.arange(0.0, 360.0, 10.0))
    radii = np.arange(radius / 3.0, 1.7 * radius, 0.25)
    offsets = np.arange(-RING_SPAN_MM[0], RING_SPAN_MM[1] + 1e-9, voxel_mm) / voxel_mm
    directions = np.cos(phis)[:, None] * e1 + np.sin(phis)[:, None] * e2  # (angles, 3)
    pts = (centre + offsets[:, None, None, None] * axis + radii[None, None, :, None] * directions[None, :, None, :])
    profile = ndimage.map_coordinates(myocardium, pts.reshape(-1, 3).T, order=1, mode="constant").reshape(pts.shape[:-1])
    cavity = ndimage.map_coordinates(myocardium, (centre + offsets[:, None] * axis).T, order=1, mode="constant")
    best = profile.argmax(axis=2)
    peak = profile.max(axis=2)
    wall = (peak >= 0.3) & (peak >= RING_WALL_OVER_CAVITY * cavity[:, None]) & (best > 0) & (best < len(radii) - 1)
    ts, xs, ys = [], [], []
    for k, t in enumerate(offsets):
        if wall[k].mean() < 0.75:
            continue
        wall[k] &= peak[k] >= RING_STRONG_WALL * np.median(peak[k, wall[k]])
        r = np.array([_wall_radius(radii, profile[k, a], best[k, a]) for a in np.flatnonzero(wall[k])])
        fit = _circle_centre(r * np.cos(phis[wall[k]]), r * np.sin(phis[wall[k]]))
        if fit is not None and 0.5 * radius < fit[1] < 1.5 * radius:
            ts.append(t)
            xs.append(fit[0][0])
            ys.append(fit[0][1])
    if len(ts) < 5:
        return None
    slope_x = np.polyfit(ts, xs, 1)[0]
    slope_y = np.polyfit(ts, ys, 1)[0]
    turned = axis + slope_x * e1 + slope_y * e2
    return turned / np.linalg.norm(turned)


def axis_disagreement(myocardium: np.ndarray, centre: np.ndarray, axis: np.ndarray, radius: float,
                      voxel_mm: float) -> float | None:
    """Degrees between ``axis`` and the wall rings' own axis (:func:`ring_centre_axis`, ``RING_AXIS_ITERATIONS``
    fits from ``axis``); None where the rings cannot be fitted."""
    check = axis
    for _ in range(RING_AXIS_ITERATIONS):
        check = ring_centre_axis(myocardium, centre, check, radius, voxel_mm)
        if check is None:
            return None
    return float(np.degrees(np.arccos(np.clip(abs(check @ axis), 0.0, 1.0))))


def check_long_axis(lv_image: np.ndarray, myocardium: np.ndarray, centre: np.ndarray, axis: np.ndarray,
                    radius: float, voxel_mm: float,
                    patient_axes=(1.0, 1.0, 1.0)) -> tuple[np.ndarray, float | None, str]:
    """The long axis checked against the wall rings' centres: (axis, disagreement in degrees or None where the rings
    cannot be fitted along it, how it was found).

    Where the ring-likeness axis lies more than ``AXIS_DISAGREEMENT_DEG`` from the rings' own axis, or no rings can
    be fitted along it, the search is run again scoring wall contrast over the centre, which a dim but intact wall (a
    perfusion defect) passes as well as a bright one; its axis is kept when it agrees better (where the first could
    not be checked: when it agrees within the limit). The contrast score is not the default: on
    the torso bench it was worse (transaxial sweep 60/60 -> 57/60, axis median 3.1 -> 5.6 deg), and it is tried only
    where the check says the first axis is doubtful (inferior defects: 10-26 deg -> 3-8 deg).
    """
    disagreement = axis_disagreement(myocardium, centre, axis, radius, voxel_mm)
    if disagreement is not None and disagreement <= AXIS_DISAGREEMENT_DEG:
        return axis, disagreement, "difference"
    alt = orient_apex(lv_image, centre, find_long_axis(lv_image, centre, radius, contrast=True), radius, patient_axes)
    alt = orient_apex(lv_image, centre, find_long_axis(myocardium, centre, radius, start=alt,
                                                       shift=AXIS_LINE_SHIFT_MM / voxel_mm, contrast=True),
                      radius, patient_axes)
    alt_disagreement = axis_disagreement(myocardium, centre, alt, radius, voxel_mm)
    if alt_disagreement is not None and alt_disagreement < (AXIS_DISAGREEMENT_DEG if disagreement is None
                                                            else disagreement):
        return alt, alt_disagreement, "contrast"
    return axis, disagreement, "difference"


def myocardial_radius(lv_image: np.ndarray, centre: np.ndarray, axis: np.ndarray, voxel_mm: float) -> float:
    """Mean distance (voxels) of the myocardium from the axis, within 55 mm of it and 60 mm of the centre along it."""
    g = np.indices(lv_image.shape).reshape(3, -1).astype(float) - centre[:, None]
    along = axis @ g
    radial = np.linalg.norm(g - np.outer(axis, along), axis=0)
    values = lv_image.ravel()
    w = values * ((values >= 0.55) & (radial * voxel_mm <= 55.0) & (np.abs(along) * voxel_mm <= 60.0))
    return float((radial * w).sum() / w.sum()) if w.sum() > 0 else 0.0


def orient_apex(image: np.ndarray, centre: np.ndarray, axis: np.ndarray, radius: float,
                patient_axes=(1.0, 1.0, 1.0)) -> np.ndarray:
    """Sign of the axis so that it points base -> apex: the apical wall crosses the axis, the open base does not.

    When both ends look alike (within 15 %), anatomy decides: the apex points left, anterior and inferior.
    """
    s = np.arange(0.5, 3.0 * radius, 0.5)
    forward = ndimage.map_coordinates(image, (centre + s[:, None] * axis).T, order=1, mode="constant").max()
    backward = ndimage.map_coordinates(image, (centre - s[:, None] * axis).T, order=1, mode="constant").max()
    if abs(forward - backward) <= 0.15 * max(forward, backward):
        anatomy = (LEFT + ANTERIOR - SUPERIOR) * np.asarray(patient_axes, float)
        return axis if np.dot(axis, anatomy) >= 0 else -axis
    return axis if forward >= backward else -axis


def myocardial_centroid(lv_image: np.ndarray, centre: np.ndarray, axis: np.ndarray, voxel_mm: float,
                        reach_mm: float = 55.0) -> np.ndarray:
    """Centroid of the LV wall: the LV's centre (the shell detector's best centre sits towards the apex, where a
    sphere fits an elongated LV best).

    The LV is the connected part of the image at myocardial level (over 55 % of the LV level) that holds the wall
    around ``centre``, within ``reach_mm`` of the axis and from 100 mm towards the base to 70 mm towards the apex; its
    wall is then taken direction by direction (:func:`_wall_centroid`), so that attenuation does not pull the centre
    towards the brighter walls (on the bench's raw projections: 11 of 200 centres more than 1 cm off before).
    """
    g = np.indices(lv_image.shape).reshape(3, -1).astype(float) - centre[:, None]
    along = (axis @ g) * voxel_mm
    radial = np.linalg.norm(g - np.outer(axis, axis @ g), axis=0) * voxel_mm
    inside = ((radial <= reach_mm) & (along >= -100.0) & (along <= 70.0)).reshape(lv_image.shape)
    myocardium = inside & (lv_image >= 0.55)
    labels, n = ndimage.label(myocardium)
    if n == 0:
        return centre
    near = (radial <= min(45.0, reach_mm)).reshape(lv_image.shape) & (np.abs(along) <= 30.0).reshape(lv_image.shape) \
        & myocardium
    counts = np.bincount(labels[near], minlength=n + 1)
    counts[0] = 0
    if counts.max() == 0:
        return centre
    keep = (labels == int(np.argmax(counts))).ravel()
    return centre + _wall_centroid(lv_image.ravel(), g, along, radial, inside.ravel(), keep, axis)


def _wall_centroid(values, g, along, radial, inside, keep, axis, sectors: int = 24, slab_mm: float = 7.0):
    """Unweighted centroid (offset from the provisional centre, voxels) of the wall, each wall direction judged
    against its own brightness: a voxel counts when it holds 55 % of the brightest voxel of its (axial slab, angular
    sector) bin and lies within ``WALL_BAND_MM`` of that voxel radially. Without attenuation correction the inferior
    wall and the base read dimmer than the apex and the anterior wall, and a count-weighted centroid (or one fixed
    threshold) is pulled towards the bright walls; a bright RV merged with the septum would pull it towards the RV
    (on the bench's raw projections: median radial offset 3.1 -> 1.5 mm with the band)."""
    e1, e2 = _perpendicular_basis(axis)
    sector = (((np.arctan2(e2 @ g, e1 @ g) + np.pi) / (2 * np.pi) * sectors).astype(int)) % sectors
    lo, hi = along[keep].min(), along[keep].max()
    region = inside & (along >= lo) & (along <= hi) & (radial <= radial[keep].max()) & (values >= 0.25)
    slab = np.floor((along - lo) / slab_mm).astype(int)
    bins = np.where(region, slab * sectors + sector, -1)
    n_slabs = int(slab[region].max()) + 1 if region.any() else 1
    peak = np.zeros(n_slabs * sectors)
    np.maximum.at(peak, bins[region], values[region])
    # Only the band of wall around each bin's brightest voxel counts: a bright RV beyond the septum (or other activity
    # the LV's connected region reaches) is not LV wall.
    members = np.flatnonzero(region)
    order = members[np.lexsort((values[members], bins[members]))]
    brightest = order[np.r_[bins[order][1:] != bins[order][:-1], True]]
    peak_radius = np.zeros(len(peak))
    peak_radius[bins[brightest]] = radial[brightest]
    band = np.abs(radial - peak_radius[np.maximum(bins, 0)]) <= WALL_BAND_MM
    # Only slabs where myocardium rings the axis are the LV: a liver or gut loop joined to the wall fills a few
    # sectors of the slabs beyond the base or the apex, and would otherwise take the centre with it.
    ringed = (peak.reshape(n_slabs, sectors) >= 0.55).mean(axis=1) >= RING_FRACTION
    wall = region & band & (values >= 0.55 * peak[np.maximum(bins, 0)]) & ringed[np.clip(slab, 0, n_slabs - 1)]
    return g[:, wall].mean(axis=1) if wall.any() else (g[:, keep] @ values[keep]) / values[keep].sum()


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
    shape : tuple of int
        Short-axis grid (slices, rows, columns).
    localisation : Localisation or None
        How the LV was found (confidence, method, level, warnings).
    extracardiac_ratio : float
        Peak activity away from the LV over the LV's level.
    warnings : list of str
    axis_disagreement_deg : float or None
        Angle between the ring-likeness axis and the line through the wall rings' centres (None when the operator
        gave the axis, or when no rings could be fitted along it: warned about): a tilted axis shows here.
    axis_search : str
        How the axis was found: ``difference`` (ring-likeness by wall minus centre), ``contrast`` (by wall contrast
        over the centre, tried when the first disagreed with the rings' centres and kept when it agreed better) or
        ``operator``.
    """

    centre: np.ndarray
    apex_direction: np.ndarray
    frame: np.ndarray
    radius_vox: float
    shape: tuple[int, int, int]
    localisation: Localisation | None = None
    extracardiac_ratio: float = 0.0
    warnings: list[str] = field(default_factory=list)
    axis_disagreement_deg: float | None = None
    axis_search: str = "difference"

    @property
    def angles_deg(self) -> tuple[float, float]:
        """Azimuth and elevation of the base -> apex axis."""
        return angles_from_axis(self.apex_direction)

    @property
    def qc(self) -> dict:
        """The reorientation's QC figures (merged into the phase result's ``qc`` by the batch)."""
        loc = self.localisation
        return {"reorientation_confidence": None if loc is None else round(float(loc.confidence), 4),
                "reorientation_method": None if loc is None else loc.method,
                "reorientation_margin": None if loc is None or loc.margin is None else round(float(loc.margin), 4),
                "reorientation_extracardiac_ratio": round(float(self.extracardiac_ratio), 4),
                "reorientation_axis_disagreement_deg": None if self.axis_disagreement_deg is None
                else round(self.axis_disagreement_deg, 2),
                "reorientation_axis_search": self.axis_search,
                "lv_centre_xyz": [round(float(v), 2) for v in self.centre],
                "axis_angles_deg": [round(v, 2) for v in self.angles_deg]}

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
                           shape: tuple[int, int, int] | None = None, mask_radius_mm: float | None = None,
                           patient_axes=(1.0, 1.0, 1.0), study_id: str = "study") -> tuple[np.ndarray, Reorientation]:
    """Resample a gated transaxial volume (T, X, Y, Z) into short-axis slices (T, Z', Y', X'), gates aligned.

    Parameters
    ----------
    volume : numpy.ndarray
        Gated transaxial counts (a 3-D volume is one ungated frame: located by shape and anatomy only).
    voxel_mm : float
        Isotropic voxel size; the short-axis grid uses the same.
    centre : sequence of 3 float, optional
        Operator's LV centre (x, y, z voxels): always used.
    axis_angles : (azimuth, elevation) degrees, optional
        Operator's base -> apex axis (see :func:`axis_from_angles`): always used.
    shape : (Z', Y', X'), optional
        Short-axis grid; default: 32 slices of 64 x 64 (or the transaxial size if smaller).
    mask_radius_mm : float, optional
        Operator's mask: activity farther than this from the LV centre is ignored.
    patient_axes : sequence of 3 float
        Sign of each object axis in patient (left, posterior, superior) terms, from the file's orientation.

    Raises
    ------
    SpectError
        No beating LV found automatically (one line naming the options that help).
    """
    volume = np.asarray(volume, dtype=np.float32)
    if volume.ndim == 3:
        volume = volume[None]
    if mask_radius_mm is not None and mask_radius_mm <= 0:
        raise SpectError(f"{study_id}: mask radius {mask_radius_mm} mm must be positive")
    summed = volume.sum(axis=0)
    image = ndimage.gaussian_filter(summed.astype(np.float64), 0.8)
    counts = volume if volume.shape[0] >= 4 else summed
    h = (voxel_mm,) * 3
    found = find_beating_lv(counts, h, _shell_search(voxel_mm), anatomical_prior(image, patient_axes),
                            centre=centre, study_id=study_id, no_lv_hint=NO_LV_HINT_3D, image=image,
                            min_score=MIN_SHELL_SCORE, exhaustive=True)
    radius = found.radius_vox if found.radius_vox > 0 else 25.0 / voxel_mm
    c = found.centre if centre is not None else refine_centre(
        np.minimum(image, CLIP_ABOVE_LEVEL * found.level) / found.level, found.centre, radius, voxel_mm)
    mask, ratio = extracardiac_volume(image, c, radius, found.level,
                                      None if mask_radius_mm is None else mask_radius_mm / voxel_mm)
    lv_image = np.where(mask, 0.0, np.minimum(image, CLIP_ABOVE_LEVEL * found.level)) / found.level
    myocardium = np.where(image > EXTRACARDIAC_HOT * found.level, 0.0, lv_image)  # hotter than any myocardium
    if axis_angles is None:
        axis = find_long_axis(lv_image, c, radius)
        axis = orient_apex(lv_image, c, axis, radius, patient_axes)
    else:
        axis = axis_from_angles(*axis_angles)
    if centre is None:
        c = myocardial_centroid(myocardium, c, axis, voxel_mm)
    if axis_angles is None:  # again from the LV's centre, with the myocardium's own radius (the shell's is an apex's)
        mid_radius = myocardial_radius(myocardium, c, axis, voxel_mm)
        if mid_radius > radius:
            axis = orient_apex(lv_image, c, find_long_axis(myocardium, c, mid_radius, start=axis,
                                                              shift=AXIS_LINE_SHIFT_MM / voxel_mm), mid_radius,
                               patient_axes)
            radius = mid_radius
            if centre is None:  # the RV, when bright, joins the septum: keep to the LV's own wall
                c = myocardial_centroid(myocardium, c, axis, voxel_mm, reach_mm=1.6 * mid_radius * voxel_mm)
    disagreement, axis_search = None, "operator"
    if axis_angles is None:
        axis, disagreement, axis_search = check_long_axis(lv_image, myocardium, c, axis, radius, voxel_mm, patient_axes)
        if axis_search == "contrast" and centre is None:
            c = myocardial_centroid(myocardium, c, axis, voxel_mm, reach_mm=1.6 * radius * voxel_mm)
    side = min(64, min(volume.shape[1:]))
    shape = shape or (min(32, side), side, side)
    warnings = list(found.warnings)
    if volume.shape[0] < 4:
        warnings.append("ungated data: the LV was located by shape and anatomy only (no motion to go by)")
    if axis_search != "operator" and disagreement is None:
        warnings.append("the LV long axis could not be checked: its short-axis slices hold no clear rings of wall (a "
                        "large perfusion defect, or the axis or centre is wrong); check the short-axis, VLA and HLA "
                        "views of the QC figure, or give --axis-angles")
    elif disagreement is not None and disagreement > AXIS_DISAGREEMENT_DEG:
        warnings.append(f"the LV long axis is uncertain: the wall rings' centres line up {disagreement:.0f} deg away "
                        "from the axis found (a perfusion defect or activity next to the wall can tilt it); check the "
                        "short-axis, VLA and HLA views of the QC figure, or give --axis-angles")
    info = Reorientation(c, axis, short_axis_frame(axis, patient_axes), radius, tuple(shape), found, ratio, warnings,
                         disagreement, axis_search)
    coords = info.coordinates().reshape(3, -1)
    out = np.stack([ndimage.map_coordinates(g, coords, order=1, mode="constant").reshape(shape) for g in volume])
    return np.clip(out, 0, None).astype(np.float32), info


def embed_short_axis(sa: np.ndarray, apex_direction: np.ndarray, transaxial_shape: tuple[int, int, int],
                     centre: np.ndarray, patient_axes=(1.0, 1.0, 1.0)) -> np.ndarray:
    """Place short-axis gated arrays (T, Z', Y', X') into a transaxial pose (the inverse of reorientation).

    Used to build test objects with a known axis: the LV's short-axis centre goes to ``centre``.
    """
    frame = short_axis_frame(apex_direction, patient_axes)
    g = np.indices(transaxial_shape).reshape(3, -1).astype(float) - np.asarray(centre, float)[:, None]
    local = frame.T @ g  # (slice, row, col) offsets from the short-axis centre
    zs, ys, xs = sa.shape[1:]
    q = local + np.array([(zs - 1) / 2.0, (ys - 1) / 2.0, (xs - 1) / 2.0])[:, None]
    return np.stack([ndimage.map_coordinates(v, q, order=1, mode="constant").reshape(transaxial_shape) for v in sa])
