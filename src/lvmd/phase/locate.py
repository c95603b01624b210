"""Find the beating LV among hotter static activity: the localisation every entry point shares.

Three kinds of evidence, in this order of weight:

1. **Motion** (gated data): the heart beats and the liver, gut loops and injection site do not
   (:mod:`lvmd.phase.motion`). The LV is where the noise-corrected first-harmonic power concentrates.
2. **Shape**: the LV myocardium is a ring around a colder cavity in short-axis slices (a cup open at the base in
   3-D). The ring detector correlates the image with the quadrants of an annulus and with the disc inside it; its
   score is the weakest quadrant's mean minus the inner mean. The 3-D detector does the same with 20 directional
   sectors of a spherical shell, scoring the sector just above the four weakest (the open base takes up to a fifth
   of the directions). Either way a hot solid blob scores about zero and the edge of one, or a crescent, scores low
   in the sectors that miss it.
3. **Anatomy**: a caller-supplied prior (in a transaxial volume the LV lies left, anterior and superior of the
   abdomen; in a short-axis file it is near the middle of the field of view).

Nothing is normalised by the field of view's brightest voxel. The shape detector runs on the image clipped at the
LV's own level -- estimated around the beating centre, or, without motion, tried at several clip levels from the
brightest voxel down -- so a gut loop 10x hotter than the myocardium becomes a flat plateau that no ring matches.
The LV level itself is the robust peak of rays cast from the LV centre (rays that run into hotter activity are set
aside), and every later normalisation (wall thresholds, perfusion %) uses it.

``locate_lv`` applies this to short-axis studies; :mod:`lvmd.scanner.reorient` applies :func:`find_beating_lv`
with the 3-D shell detector to transaxial volumes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable

import numpy as np
from scipy import fft as sfft
from scipy import ndimage

from ..errors import SpectError
from .motion import BeatingMap, beating_map

WALL_RADII_MM = (14.0, 19.0, 24.0, 30.0, 36.0)  # candidate mid-wall radii of the LV in short-axis slices
SHELL_RADII_MM = (16.0, 21.0, 27.0, 33.0)  # candidate mid-wall radii of the LV as a 3-D shell
SHELL_SECTORS = 20  # directional sectors of the 3-D shell detector
SHELL_OPEN_SECTORS = 4  # sectors that may look into the open base (about a fifth of the directions)
RING_HALF_WIDTH_MM = 4.0
CLIP_ABOVE_LEVEL = 1.3  # the image is clipped at this multiple of the LV level before the shape detector runs
EXTRACARDIAC_HOT = 1.5  # activity above this multiple of the LV level cannot be myocardium
MIN_RING_SCORE = 0.08  # short-axis ring score (relative to the LV level) below which no LV is accepted automatically
MIN_SHELL_SCORE = 0.05  # the same for the 3-D shell detector (its sectors are smaller, its scores lower)
MIN_BEATING_SNR = 1.0  # beating power over noise power around the LV below which motion is not used
MOTION_FULL_WEIGHT_SNR = 2.0  # a candidate beating this clearly gets the full weight of motion
LOW_MARGIN = 0.3  # below this margin over the best rival the localisation is warned about
RIVAL_MM = 20.0  # a candidate this far from the chosen centre is a rival (another structure), not the same LV
LV_REACH_MM = 45.0  # the LV's beating is gathered over about this radius
ELSEWHERE_RATIO = 0.5  # an LV found dimmer and stiller than this x where the heart beats most is doubted
MULTILEVEL_STEPS = 4  # without motion the shape detector runs at clip levels peak x 1, 1/2, 1/4, 1/8
NO_LV_HINT_SA = "give the LV centre (--centre ROW COL), and --mask-radius MM if hot activity lies near it"


@dataclass
class Candidate:
    """A possible LV position from the shape detector: score relative to the clip level, centre, radius (voxels)."""

    score: float
    centre: np.ndarray
    radius_vox: float
    level: float = 1.0


@dataclass
class Localisation:
    """Where the LV is and how sure lvmd is about it.

    Attributes
    ----------
    centre : numpy.ndarray
        LV centre in the volume's voxel coordinates.
    radius_vox : float
        Mid-wall radius (voxels, in the detector's plane).
    level : float
        The LV's own peak level on the summed image: every threshold and percentage is relative to it.
    confidence : float
        0-1: shape score, agreement of the shape with where the heart beats, beating signal-to-noise.
    method : str
        ``"beating"`` (motion + shape + anatomy), ``"shape"`` (no usable motion: shape + anatomy) or ``"manual"``.
    score : float
        Shape score at the centre, relative to ``level``.
    beating_snr : float or None
        Beating power over noise power around the centre (None without gates).
    warnings : list of str
    margin : float or None
        How far the chosen LV stands out: 1 - (rank of the best rival at least 2 cm away) / (its own rank); 1 when
        there is no rival, None for the operator's centre.
    """

    centre: np.ndarray
    radius_vox: float
    level: float
    confidence: float
    method: str
    score: float
    beating_snr: float | None = None
    warnings: list[str] = field(default_factory=list)
    margin: float | None = None


# ------------------------------------------------------------------------------------------------ shape detectors
@lru_cache(maxsize=64)
def _ring_kernel_spectra(radius: float, half_width: float, shape: tuple[int, int]) -> np.ndarray:
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
    return sfft.rfft2(padded.astype(np.float32), axes=(1, 2))


def ring_scores(image: np.ndarray, pix_mm: float, radii_vox: list[float]) -> tuple[np.ndarray, np.ndarray]:
    """Best ring score over ``radii_vox`` of every voxel of a (Z, Y, X) stack of slices, and the winning radius.

    One 2-D FFT of the image is reused for every radius; the score is the weakest quadrant minus the inner disc.
    The transforms run in single precision (half the time; scores are compared at percent level).
    """
    Z, Y, X = image.shape
    half_width = max(RING_HALF_WIDTH_MM / pix_mm, 1.0)
    pad = int(np.ceil(max(radii_vox) + half_width)) + 1
    shape = (sfft.next_fast_len(Y + pad, real=True), sfft.next_fast_len(X + pad, real=True))
    spectrum = sfft.rfft2(np.asarray(image, np.float32), s=shape, axes=(1, 2))
    best = np.full(image.shape, -np.inf)
    radius = np.zeros(image.shape)
    for r in radii_vox:
        responses = sfft.irfft2(spectrum[None] * _ring_kernel_spectra(r, half_width, shape)[:, None], s=shape,
                                axes=(2, 3))[..., :Y, :X]
        score = responses[:4].min(axis=0) - responses[4]
        better = score > best
        best[better] = score[better]
        radius[better] = r
    return best, radius


@lru_cache(maxsize=32)
def _shell_kernels(radius: float, half_width: float, sectors: int) -> np.ndarray:
    """Kernels of a spherical shell cut into ``sectors`` directional sectors (each shell voxel goes to the nearest of
    as many evenly spread directions), then the inner-ball kernel (isotropic voxels). Empty sectors are left out."""
    size = int(np.ceil(radius + half_width)) + 1
    g = np.mgrid[-size:size + 1, -size:size + 1, -size:size + 1].astype(float)
    r = np.sqrt((g**2).sum(axis=0))
    shell = np.abs(r - radius) <= half_width
    nearest = np.argmax(np.tensordot(fibonacci_directions(sectors), g, axes=(1, 0)), axis=0)
    kernels = [part / part.sum() for part in (shell & (nearest == i) for i in range(sectors)) if part.any()]
    inner = r <= max(radius - 2 * half_width, 0.55 * radius, 1.0)
    kernels.append(inner / inner.sum())
    return np.stack(kernels)


@lru_cache(maxsize=8)
def _shell_kernel_spectra(radius: float, half_width: float, shape: tuple[int, int, int]) -> np.ndarray:
    """FFTs (single precision) of the flipped shell-sector and inner-ball kernels, zero-padded to ``shape``: the
    search runs every radius at five clip levels on one grid (a 64^3 grid's set takes about 45 MB; eight are kept)."""
    kernels = _shell_kernels(radius, half_width, SHELL_SECTORS)
    return sfft.rfftn(kernels[:, ::-1, ::-1, ::-1].astype(np.float32), shape, axes=(1, 2, 3))


def shell_scores(image: np.ndarray, radius_vox: float, half_width_vox: float) -> np.ndarray:
    """3-D shell score of every voxel of an isotropic volume: a weak sector's mean minus the inner ball's.

    The LV is a cup, not a closed shell: its base is open to the valve plane and atria, which take up to a fifth of
    the directions seen from inside the cavity. The score therefore takes the sector just above the weakest
    ``SHELL_OPEN_SECTORS``; a hot solid blob still scores about zero (its inner ball is as bright as its shell), and
    the edge of an organ or the RV's crescent, which leave half the directions dark, still score low.
    """
    k = _shell_kernels(radius_vox, half_width_vox, SHELL_SECTORS).shape[-1]
    shape = tuple(sfft.next_fast_len(n + k - 1, real=True) for n in image.shape)
    spectrum = sfft.rfftn(np.asarray(image, np.float32), shape)
    out = sfft.irfftn(spectrum[None] * _shell_kernel_spectra(radius_vox, half_width_vox, shape), shape, axes=(1, 2, 3))
    h = k // 2
    out = out[:, h:h + image.shape[0], h:h + image.shape[1], h:h + image.shape[2]]
    n_sectors = len(out) - 1
    open_sectors = min(SHELL_OPEN_SECTORS, n_sectors - 1)
    return np.partition(out[:n_sectors], open_sectors, axis=0)[open_sectors] - out[n_sectors]


def top_candidates(score: np.ndarray, radius: np.ndarray, separation_vox, n: int = 8) -> list[Candidate]:
    """The ``n`` best local maxima of a score volume at least ``separation_vox`` apart (per axis)."""
    size = tuple(max(3, int(2 * s) | 1) for s in np.broadcast_to(separation_vox, (score.ndim,)))
    finite = np.where(np.isfinite(score), score, -np.inf)
    peaks = (finite == ndimage.maximum_filter(finite, size=size, mode="constant", cval=-np.inf)) & (finite > 0)
    idx = np.argwhere(peaks)
    order = np.argsort(finite[peaks])[::-1][:n]
    return [Candidate(float(finite[tuple(idx[i])]), idx[i].astype(float), float(radius[tuple(idx[i])]))
            for i in order]


# -------------------------------------------------------------------------------------------- shared evidence
def fibonacci_directions(n: int = 64) -> np.ndarray:
    """``n`` unit vectors spread evenly over the sphere (a Fibonacci lattice), shape (n, 3)."""
    i = np.arange(n) + 0.5
    polar = np.arccos(1 - 2 * i / n)
    azimuth = np.pi * (1 + 5**0.5) * i
    return np.column_stack([np.cos(polar), np.sin(polar) * np.cos(azimuth), np.sin(polar) * np.sin(azimuth)])


def ray_maxima(image: np.ndarray, centre, spacing_mm, reach_mm: tuple[float, float] = (6.0, 45.0)) -> np.ndarray:
    """Maximum of each of 64 rays cast in 3-D from ``centre`` between ``reach_mm`` (mm from it)."""
    directions = fibonacci_directions(64) / np.asarray(spacing_mm, float)[None, :]  # mm -> voxels per axis
    steps = np.arange(reach_mm[0], reach_mm[1], 1.5)
    points = np.asarray(centre, float)[:, None, None] + directions.T[:, :, None] * steps[None, None, :]
    values = ndimage.map_coordinates(image, points.reshape(3, -1), order=1, mode="constant").reshape(points.shape[1:])
    return values.max(axis=1)


def lv_level(image: np.ndarray, centre, spacing_mm) -> float:
    """The LV's robust peak level: rays cast in 3-D from the LV centre, each ray's maximum, hot rays set aside.

    A ray that runs into extracardiac activity (its maximum above 1.5x the median ray) is discarded; the level is
    the 90th percentile of the others, i.e. the brightest myocardium, not the brightest voxel.
    """
    return _level(ray_maxima(image, centre, spacing_mm))


def _level(maxima: np.ndarray) -> float:
    median = float(np.median(maxima))
    if median <= 0:
        return float(maxima.max())
    return float(np.percentile(maxima[maxima <= EXTRACARDIAC_HOT * median], 90))


def beating_support(beating: BeatingMap, radius_mm: float, spacing_mm) -> np.ndarray:
    """Beating power gathered over about ``radius_mm`` around every (binned) voxel: where the heart beats.

    A Gaussian of SD radius / 2 stands in for a ball (separable, so cheap on any grid).
    """
    voxel = np.asarray(spacing_mm, float) * np.asarray(beating.factor)
    return ndimage.gaussian_filter(beating.power, 0.5 * radius_mm / voxel, mode="constant")


def _binned_index(beating: BeatingMap, centre) -> tuple[int, ...]:
    idx = np.floor(np.asarray(centre, float) / np.asarray(beating.factor)).astype(int)
    return tuple(int(np.clip(i, 0, n - 1)) for i, n in zip(idx, beating.power.shape))


def find_beating_lv(counts: np.ndarray, spacing_mm, search: Callable[[np.ndarray, np.ndarray | None], list[Candidate]],
                    prior: Callable[[np.ndarray], float] | None = None, centre=None, study_id: str = "study",
                    no_lv_hint: str = NO_LV_HINT_SA, image: np.ndarray | None = None,
                    min_score: float = MIN_RING_SCORE, exhaustive: bool = False) -> Localisation:
    """Locate the LV in a gated (T, A, B, C) or ungated (A, B, C) volume; the shared logic of every entry point.

    Parameters
    ----------
    counts : numpy.ndarray
        Gated counts (T >= 4 gates give motion evidence) or one summed volume.
    spacing_mm : sequence of 3 float
        Voxel size along the three spatial axes.
    search : callable
        Shape detector ``search(image, near)``: takes the image clipped and scaled so that the LV level is about 1
        and returns :class:`Candidate` objects (score relative to that level, centre in voxels, radius); with
        ``near`` (a centre whose NaN coordinates are free) only candidates within a few voxels of it.
    prior : callable, optional
        Anatomical prior: centre (voxels) -> weight in (0, 1].
    centre : sequence of 3 float, optional
        Operator's LV centre (NaN for a coordinate the detector may choose): always used; the scores are measured
        there and can only warn.
    no_lv_hint : str
        What the operator can give when no LV is found (named in the error message).
    image : numpy.ndarray, optional
        The summed image already smoothed by the caller (default: a Gaussian of 0.7 voxels).
    min_score : float
        Shape score (relative to the LV level) below which no LV is accepted automatically.
    exhaustive : bool
        Always search at every clip level (default: only when the beating region's level gives no convincing,
        beating candidate).

    Raises
    ------
    SpectError
        No ring/shell-shaped, beating LV anywhere (one line, naming what to try).
    """
    counts = np.asarray(counts)
    gated = counts.ndim == 4 and counts.shape[0] >= 4
    if image is None:
        summed = counts.sum(axis=0) if counts.ndim == 4 else counts
        image = ndimage.gaussian_filter(summed.astype(np.float64), 0.7)
    peak = float(image.max())
    if peak <= 0:
        raise SpectError(f"{study_id}: empty field of view")
    prior = prior or (lambda c: 1.0)
    warnings: list[str] = []
    beating = beating_map(counts, spacing_mm) if gated else None
    if beating is not None:  # beating and noise power gathered around every voxel, for the signal-to-noise ratio
        sigma = 0.5 * LV_REACH_MM / (np.asarray(spacing_mm, float) * np.asarray(beating.factor))
        gathered = [ndimage.gaussian_filter(m, sigma, mode="constant") for m in (beating.excess, beating.noise)]

    def motion_at(c) -> float | None:
        """Beating signal-to-noise around a candidate centre (None without gates)."""
        if beating is None:
            return None
        index = _binned_index(beating, c)
        return float(gathered[0][index] / gathered[1][index]) if gathered[1][index] > 0 else 0.0

    def multilevel(near) -> list[Candidate]:
        found = []
        for level in peak * 2.0 ** -np.arange(MULTILEVEL_STEPS):
            found += [Candidate(k.score, k.centre, k.radius_vox, level) for k in search(np.minimum(image, level) / level, near)]
        return found

    if centre is not None:
        given = np.asarray(centre, float)
        candidates = multilevel(given)
        best = max(candidates, key=lambda k: k.score) if candidates else None
        c = np.where(np.isnan(given), best.centre if best is not None else 0.0, given)
        level = lv_level(image, c, spacing_mm)
        if level <= 0.05 * peak:
            warnings.append("little activity around the given LV centre: check it on the QC figure")
            level = max(level, float(np.percentile(image[image > 0], 99)))
        score = best.score * best.level / level if best is not None and level > 0 else 0.0
        chosen = Candidate(score, c, best.radius_vox if best is not None else 0.0, level)
        return _assess(chosen, "manual", motion_at(c), prior, warnings, min_score)
    candidates: list[Candidate] = []
    heart = None
    if beating is not None and beating.power.max() > 0:
        # Where the heart beats most: the shape search at that region's level, anywhere and near it.
        support = beating_support(beating, LV_REACH_MM, spacing_mm)
        heart = beating.to_original(np.unravel_index(int(np.argmax(support)), support.shape))
        level = lv_level(image, heart, spacing_mm)
        if level > 0:
            clipped = np.minimum(image, CLIP_ABOVE_LEVEL * level) / level
            candidates = [Candidate(k.score, k.centre, k.radius_vox, level) for k in search(clipped, None)]
    scored = [_described(k, image, spacing_mm, motion_at) for k in _distinct(candidates)]
    convincing = any(d["motion"] >= MIN_BEATING_SNR and d["candidate"].score >= 2 * min_score for d in scored)
    if exhaustive or not convincing:  # the beating region's level may be a hot organ's: try every clip level too
        # A centre found at several levels keeps its best score (the LV scores best at its own level, which may not
        # be the beating region's when that region's level is set by hot activity next to the heart).
        described = {tuple(np.round(d["candidate"].centre, 1)): d for d in scored}
        scored = []
        for k in _distinct(candidates + multilevel(None)):
            known = described.get(tuple(np.round(k.centre, 1)))
            scored.append({**known, "candidate": k} if known else _described(k, image, spacing_mm, motion_at))
    if not scored:
        raise SpectError(f"{study_id}: no LV found (no ring-shaped myocardium anywhere in the field of view); "
                         f"{no_lv_hint}")
    motion_ok = any(d["motion"] is not None and d["motion"] >= MIN_BEATING_SNR for d in scored)
    if gated and not motion_ok:
        warnings.append("no cardiac motion stands out over the gates (too few counts per gate, or identical, clipped "
                        "or inconsistent gates?): the LV was located by shape and anatomy only")
    brightest = max(d["enclosure"] for d in scored)
    # Beating counts in full from MOTION_FULL_WEIGHT_SNR, or from the strongest candidate's beating when that is
    # clearer: among structures that all beat clearly (the LV, the RV beside it), the LV beats the most.
    full_motion = max([MOTION_FULL_WEIGHT_SNR] + [d["motion"] for d in scored if d["motion"] is not None])

    def rank(d: dict) -> float:
        # Shape at the clip level it was found at; enclosed all round by myocardium as bright as the clip (the RV's
        # crescent and the atria are not); among the brighter such structures; beating; where anatomy expects it.
        k = d["candidate"]
        if brightest <= 0:
            return 0.0
        enclosed = min(d["enclosure"] / k.level, 1.0) * np.sqrt(max(d["enclosure"], 0.0) / brightest)
        weight = float(np.clip(d["motion"] / full_motion, 0.05, 1.0)) ** 0.5 if motion_ok else 1.0
        return k.score * enclosed * weight * prior(k.centre)

    chosen = max(scored, key=rank)
    doubt = 1.0
    if heart is not None and _elsewhere(chosen, heart, image, spacing_mm, motion_at):
        # What was found is dimmer and beats less than the place where the heart beats most, centimetres away: a
        # large defect can break every ring and shell of the LV until a faint ring-like structure (the edge of a
        # lung, a bowel loop) outranks it. The detector sees no LV where the heart beats, so say so and doubt the find.
        doubt = chosen["motion"] / motion_at(heart)
        warnings.append("the LV found is dimmer and beats less than a structure elsewhere in the field of view: "
                        "check the QC figure and give the LV centre if the wrong one was taken")
    k = chosen["candidate"]
    spacing = np.asarray(spacing_mm, float)
    rivals = [(rank(d), float(np.linalg.norm((d["candidate"].centre - k.centre) * spacing))) for d in scored]
    rivals = [r for r in rivals if r[1] > RIVAL_MM]
    best_rank = rank(chosen)
    rival = max(rivals) if rivals else (0.0, 0.0)
    margin = 1.0 - rival[0] / best_rank if best_rank > 0 else 1.0
    if margin < LOW_MARGIN:
        warnings.append(f"another structure {rival[1] / 10.0:.0f} cm from the LV found scores almost as well (margin "
                        f"{max(margin, 0.0):.2f}): check the QC figure and give the LV centre if the wrong one was "
                        "taken")
    best = Candidate(k.score * k.level / chosen["level"] if chosen["level"] > 0 else 0.0, k.centre, k.radius_vox,
                     chosen["level"])
    if best.score < min_score:
        raise SpectError(f"{study_id}: no LV found (no myocardium around a cavity; best shape score "
                         f"{best.score:.2f}); {no_lv_hint}")
    found = _assess(best, "beating" if motion_ok else "shape", chosen["motion"] if motion_ok else None, prior,
                    warnings, min_score)
    found.margin = float(np.clip(margin, 0.0, 1.0))
    found.confidence = float(min(found.confidence, doubt))
    return found


def _elsewhere(chosen: dict, heart, image: np.ndarray, spacing_mm, motion_at) -> bool:
    """True when the chosen candidate lies more than ``RIVAL_MM`` from where the heart beats most (``heart``) and is
    both dimmer (level) and stiller (beating signal-to-noise) than that place by ``ELSEWHERE_RATIO``.

    Measured on the torso bench (104 correctly found LVs at clinical counts): where the strongest beating lies
    elsewhere it is a hot organ's noise or the valve plane, never both twice as bright and twice as beating (level
    ratio >= 0.7 whenever the beating ratio is < 0.6); on a defect bench the three LVs lost to a faint ring beside a
    large defect read 0.1-0.2 and 0.02-0.47.
    """
    if chosen["motion"] is None or np.linalg.norm((chosen["candidate"].centre - heart) * np.asarray(spacing_mm, float)) <= RIVAL_MM:
        return False
    there_motion, there_level = motion_at(heart), lv_level(image, heart, spacing_mm)
    return (chosen["motion"] < ELSEWHERE_RATIO * (there_motion or 0.0)
            and chosen["level"] < ELSEWHERE_RATIO * there_level)


def _distinct(candidates: list[Candidate], seen: list[Candidate] = ()) -> list[Candidate]:
    """Candidates at distinct centres (the best of each), leaving out centres already in ``seen``."""
    taken = {tuple(np.round(k.centre, 1)) for k in seen}
    out = []
    for k in sorted(candidates, key=lambda k: -k.score):
        key = tuple(np.round(k.centre, 1))
        if key not in taken:
            taken.add(key)
            out.append(k)
    return out


def _described(k: Candidate, image: np.ndarray, spacing_mm, motion_at) -> dict:
    """What ranks a candidate: its LV level, how brightly it is enclosed (25th percentile of its rays' maxima) and
    the motion around it."""
    maxima = ray_maxima(image, k.centre, spacing_mm)
    return {"candidate": k, "level": _level(maxima), "enclosure": float(np.percentile(maxima, 25)),
            "motion": motion_at(k.centre)}


def _assess(best: Candidate, method: str, motion: float | None, prior, warnings: list[str],
            min_score: float = MIN_RING_SCORE) -> Localisation:
    """Confidence of a localisation from its shape score, the beating around it (signal-to-noise) and the prior.

    The shape score counts in full from three times the detector's acceptance threshold (0.24 for short-axis rings,
    0.15 for 3-D shells, whose sectors score lower on the same LV).
    """
    shape_conf = float(np.clip(best.score / (3.0 * min_score), 0, 1))
    if motion is None:
        confidence = 0.6 * shape_conf * float(prior(best.centre))
    else:
        confidence = shape_conf * float(np.clip(motion / MOTION_FULL_WEIGHT_SNR, 0.2, 1.0))
    return Localisation(best.centre, best.radius_vox, best.level, float(np.clip(confidence, 0, 1)), method,
                        best.score, motion, warnings)
