"""One gated study end to end: locate the beating LV, mask extracardiac activity, find the valve plane, sample the
wall, Fourier phase, polar maps, metrics, segments, quality control."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import ndimage

from ..errors import SpectError
from ..io.spect import GatedSpect
from .base import apex_position, find_base, valve_plane_samples
from .geometry import LvGeometry, locate_lv
from .locate import EXTRACARDIAC_HOT
from .harmonic import harmonic_phase, phase_from_coefficients
from .metrics import latest_viable_segment, phase_metrics, segment_summary
from .polarmap import samples_to_bullseye
from .motion import harmonic_basis, noise_harmonics
from .outliers import isolated_samples
from .qc import CAP_AMPLITUDE_LIMIT, clipping, gate_irregularity, gating_consistency, quality_warnings
from .recovery import (MIN_FINE_STRUCTURE, blur_kernel, blur_sd_mm, fine_structure_ratio, recover, regularisation,
                       wall_fwhm_mm)
from .sample import WallSamples, sample_wall

METRIC_KEYS = ("psd_deg", "pbw_deg", "peak_phase_deg", "mean_phase_deg", "entropy_pct", "skewness", "kurtosis")
SMOOTHING_STEPS_MM = (2.5, 4.5, 6.5, 8.5)
STATIC_FRACTION = 0.25  # static activity must hold this share of the LV's counts to measure each gate's scale
TARGET_SNR = 10.0
NEAR_LV_MM = 30.0  # extracardiac activity this close to the LV region can spill into the wall's counts
QC_SUMMARY_KEYS = ("localisation_confidence", "localisation_method", "extracardiac_ratio", "clipping",
                   "gating_consistency", "lv_counts_cv", "base_slice", "base_sensitivity_deg")

LIT_REACH_MM = 30.0  # a bright wall sample this close to masked extracardiac activity is lit by it
HIDDEN_CAP_REACH_MM = 45.0  # a cap that hardly beats this close to masked activity (three 15 mm FWHM) is hidden by it
REFERENCE_PERCENTILE = 95.0  # perfusion 100 % is this percentile of the wall samples not lit by spill


@dataclass
class PhaseResult:
    """Phase analysis of one study.

    Attributes
    ----------
    study_id : str
    gates : int
    metrics : dict
        ``psd_deg``, ``pbw_deg``, ``peak_phase_deg``, ``mean_phase_deg``, ``entropy_pct``, ``skewness``,
        ``kurtosis``, ``histogram``, ``n_samples``.
    segments : pandas.DataFrame
        The 17 AHA segments' mean phase, perfusion and thickening.
    latest_segment : int or None
        Latest-activating viable segment (perfusion >= 50 %).
    phase_map, perfusion_map, thickening_map : numpy.ndarray (64, 64)
    samples : pandas.DataFrame
        The unwrapped samples: rho, theta, phase_deg, perfusion_pct, thickening_pct, amplitude.
    geometry : LvGeometry
    qc : dict
        Quality control (see :mod:`lvmd.phase.qc`), including ``warnings``.
    sampling : WallSamples
        Where the wall was sampled (for the QC figure).
    """

    study_id: str
    gates: int
    harmonics: int
    metrics: dict
    segments: pd.DataFrame
    latest_segment: int | None
    phase_map: np.ndarray
    perfusion_map: np.ndarray
    thickening_map: np.ndarray
    samples: pd.DataFrame
    geometry: LvGeometry
    qc: dict = field(default_factory=dict)
    sampling: WallSamples | None = None

    @property
    def warnings(self) -> list[str]:
        """The QC warnings (human-readable lines)."""
        return list(self.qc.get("warnings", []))

    def to_dict(self) -> dict:
        """JSON-ready summary: id, gates, the metric keys, latest_segment, segments, geometry, qc."""
        seg = self.segments.reset_index()
        g = self.geometry
        return {
            "id": self.study_id,
            "gates": self.gates,
            "harmonics": self.harmonics,
            **{k: round(float(self.metrics[k]), 6) for k in METRIC_KEYS},
            "histogram": self.metrics["histogram"],
            "n_samples": self.metrics["n_samples"],
            "latest_segment": self.latest_segment,
            "base_sensitivity_deg": self.qc.get("base_sensitivity_deg"),
            "segments": [{k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in row.items()}
                         for row in seg.to_dict(orient="records")],
            "lv": {"apex_slice": g.apex_slice, "first_ring_slice": g.ring_slice, "base_slice": g.base_slice,
                   "radius_vox": round(g.radius_vox, 3),
                   "centre_rowcol": [round(float(v), 2) for v in g.centres[g.ring_slice]]},
            "qc": self.qc,
        }


def analyze_study(study: GatedSpect, harmonics: int = 1, n_angles: int = 40, bin_width: float = 6.0,
                  centre: tuple[float, float] | None = None, apex_slice: int | None = None,
                  base_slice: int | None = None, mask_radius_mm: float | None = None) -> PhaseResult:
    """Phase analysis of a gated short-axis study.

    Parameters
    ----------
    study : GatedSpect
    harmonics : int
        1 (systolic phase, default) to 3.
    n_angles : int
        Rays per slice.
    bin_width : float
        Histogram bin width, degrees.
    centre, apex_slice, base_slice, mask_radius_mm : optional
        Operator overrides: LV axis (row, col), apex and base slices (0-based), and a radius (mm) around the LV
        axis outside which activity is ignored. They always win: automatic scores only add warnings.

    Examples
    --------
    >>> from lvmd.phantom import make_phantom
    >>> result = analyze_study(make_phantom("lbbb", delay_deg=90).simulate())
    >>> 30 < result.metrics["psd_deg"] < 40
    True
    """
    counts = study.counts
    geometry = _locate(study, centre, apex_slice, base_slice, mask_radius_mm)
    summed = study.summed()
    apex = float(apex_slice) + 1.0 if apex_slice is not None else apex_position(summed, geometry)
    apex = min(apex, geometry.ring_slice)
    base = find_base(counts, geometry, study.spacing_mm, apex, base_slice)
    geometry.base_slice = base.base_slice
    warnings = list(geometry.localisation.warnings) + list(base.warnings)
    last = min(base.base_slice + 1, counts.shape[1] - 1)  # one slice beyond the base, for the base sensitivity
    scale = gate_scale(counts, geometry)
    sampled, fourier, smoothing, noise_power = _sample_adaptively(study, geometry, base.frame, last, n_angles, harmonics,
                                                                  scale)
    n_rows = len(sampled.grid_rho)
    row_of = np.repeat(np.arange(n_rows), n_angles)
    top_row = n_rows - 1 - (last - base.base_slice)  # the grid row of the base slice
    first_sa_row = int(np.isnan(sampled.row_slice).sum())
    valve = (valve_plane_samples(fourier["phase"], n_angles, first_sa_row) if base_slice is None
             else np.zeros(len(row_of), bool))
    # A ray kept in its slice (beside extracardiac activity) cannot follow the base: at the base slice, 10 mm inside
    # the end-systolic edge, it reads the base's descent through the blur as much as the wall's thickening, and its
    # phase is neither (bench, an LBBB-like LV beside a gut loop 8x the LV: a dozen basal inferior samples at a fifth
    # of the wall's amplitude, 40-100 deg off). It is left out there like a valve-plane sample.
    untracked_base = sampled.untracked & (row_of >= top_row) & ~valve
    # A wall sample beside masked extracardiac activity and brighter than myocardium can be is lit by that activity
    # (a gut loop touching the apex): its count curve is the hot organ's noise and reconstruction artefacts, not the
    # wall's beat (independent bench, a synchronous LV with a loop 10x the LV at its apex: 20 apical inferior samples
    # 75 deg off, PSD 31.6 -> 14.4 without them). Left out of the phase and of the perfusion reference. Away from
    # masked activity a bright sample is myocardium: without attenuation correction the apex reads up to 1.5x the level.
    spill_lit = ((sampled.summed > EXTRACARDIAC_HOT * geometry.level) & (sampled.near_masked_mm <= LIT_REACH_MM)
                 & ~valve & ~untracked_base)
    # Samples out of phase with neighbours that agree, judged against the wall the flags above leave.
    flagged = valve | untracked_base | spill_lit
    isolated = isolated_samples(fourier["coefficients"], n_angles, left_out=flagged) & ~flagged
    # An apical cap that hardly beats is either not viable (dim, its phase part of the LV's) or hidden by activity
    # over the apex: brighter than myocardium can be, or within reach of masked activity, whose masking took the
    # apex's own counts with it (independent bench, a synchronous LV with a loop 10x the LV over the apex: the cap
    # at 0.11 of the wall's beat and 0.4 of its level, 33 mm from the mask, PSD 32 -> 10.6 without it). A hidden cap's
    # phase is the activity's noise: it is left out.
    cap = row_of < first_sa_row
    cap_ratio = _cap_amplitude_ratio(fourier["amplitude"], first_sa_row * n_angles)
    hidden_cap = np.zeros(len(row_of), bool)
    if cap.any() and cap_ratio < CAP_AMPLITUDE_LIMIT and (
            np.median(sampled.near_masked_mm[cap]) <= HIDDEN_CAP_REACH_MM
            or np.median(sampled.summed[cap]) > EXTRACARDIAC_HOT * geometry.level):
        hidden_cap = cap & ~valve & ~isolated & ~spill_lit
    mid = np.arange(geometry.ring_slice + 1, geometry.base_slice) if geometry.base_slice > geometry.ring_slice + 1 \
        else np.array([geometry.ring_slice])
    blur = float(np.hypot(blur_sd_mm(wall_fwhm_mm(summed, geometry.centres, mid, geometry.radius_vox,
                                                   study.spacing_mm)), smoothing))
    lam = regularisation(fourier["coefficients"][:, 0], noise_power)
    # Recovery works on unit phasors: amplitude varies (defects, hypokinesis) and must not flip a weak sample.
    unit = fourier["coefficients"] / np.maximum(np.abs(fourier["coefficients"][:, :1]), 1e-300)
    weights = blur_kernel(sampled.positions_mm, blur) if blur > 0 else None

    def wall(row: int) -> np.ndarray:
        """Indices of the wall samples when the base is grid row ``row``."""
        return np.flatnonzero((row_of <= row) & ~valve & ~isolated & ~untracked_base & ~spill_lit & ~hidden_cap)

    # Recovery models the blur as mixing along the wall's surface. At the apical cap, where every wall meets, the blur
    # mixes the dome in three dimensions and the model fails: recovering the cap tripled the contrast it reads from
    # the walls around it, though the apex activates as one (bench, short-axis LBBB-like LVs: the cap 20-40 deg off
    # both ways, PSD up to 7 deg high, ringing into the first short-axis row). The cap is taken as measured -- as
    # ECTb and QGS take every sample -- and recovery works on the short-axis rows alone.
    detail = np.nan
    if weights is not None:
        # Recovery amplifies detail finer than the blur: where that detail is no more than noise would make (a
        # synchronous LV), it would only amplify noise.
        w = wall(top_row)
        w = w[row_of[w] >= first_sa_row]
        detail = fine_structure_ratio(unit[w, 0], weights[w][:, w],
                                      phase_noise_variance(sampled.curves[w], fourier["coefficients"][w, 0]))
        if detail < MIN_FINE_STRUCTURE:
            weights = None

    def recovered_phase(index: np.ndarray) -> np.ndarray:
        """Phases of the samples ``index``: short-axis rows recovered, the apical cap as measured."""
        coefficients = unit[index].copy()
        rows = row_of[index] >= first_sa_row
        coefficients[rows] = recover(unit[index[rows]], weights, lam, index[rows])
        return phase_from_coefficients(coefficients)

    main = wall(top_row)
    phase = recovered_phase(main)
    metrics = phase_metrics(phase, bin_width)
    changes = [abs(phase_metrics(recovered_phase(wall(row)), bin_width)["psd_deg"] - metrics["psd_deg"])
               for row in (top_row - 1, top_row + 1) if first_sa_row + 1 <= row < n_rows]
    sensitivity = float(max(changes)) if changes else 0.0
    thickening = fourier["thickening_pct"][main]
    amplitude = fourier["amplitude"][main]
    summed_counts = sampled.curves[main].sum(axis=1)
    reference = _perfusion_reference(summed_counts, sampled.summed[main], sampled.near_masked_mm[main], geometry.level)
    perfusion = np.minimum(100.0 * summed_counts / reference, 100.0)
    rho, theta = sampled.rho[main], sampled.theta[main]
    segments = segment_summary(rho, theta, phase, perfusion, thickening)
    shown = sampled.rows(np.arange(n_rows) <= top_row)
    grid = (shown.grid_rho, n_angles)

    def bullseye(values: np.ndarray, circular: bool = False) -> np.ndarray:
        return samples_to_bullseye(_fill_gaps(values, main, top_row + 1, n_angles), *grid, circular=circular)

    qc = _quality(study, geometry, shown, base, sensitivity)
    qc["gate_scale"] = [round(float(v), 5) for v in scale]
    power = np.abs(fourier["coefficients"][:, 0]) ** 2
    phase_noise = float(np.degrees(np.sqrt(noise_power / (2.0 * max(np.median(power), 1e-300)))))
    qc.update(valve_plane_samples=int(valve[row_of <= top_row].sum()), wall_samples=int(len(main)),
              isolated_samples=int(isolated[row_of <= top_row].sum()),
              untracked_base_samples=int(untracked_base[row_of <= top_row].sum()),
              spill_lit_samples=int(spill_lit[row_of <= top_row].sum()), hidden_cap_samples=int(hidden_cap.sum()),
              blur_sd_mm=round(blur, 3), smoothing_mm=smoothing, recovery_lambda=round(lam, 5),
              fine_structure_ratio=round(float(detail), 3),
              phase_noise_deg=round(phase_noise, 3),
              phase_noise_rms_deg=round(phase_noise_rms_deg(sampled.curves[main], fourier["coefficients"][main, 0]), 3))
    qc["cap_amplitude_ratio"] = round(cap_ratio, 3)
    qc["phase_noise_spread_deg"] = round(phase_noise_spread_deg(sampled.curves[main], fourier["coefficients"][main, 0]), 3)
    qc["psd_noise_corrected_deg"] = round(noise_corrected_psd(metrics["psd_deg"], qc["phase_noise_spread_deg"]), 3)
    qc["psd_noise_inflation_deg"] = round(float(metrics["psd_deg"]) - qc["psd_noise_corrected_deg"], 3)
    qc["warnings"] = warnings + quality_warnings(qc)
    return PhaseResult(
        study_id=study.study_id,
        gates=study.gates,
        harmonics=harmonics,
        metrics=metrics,
        segments=segments,
        latest_segment=latest_viable_segment(segments),
        phase_map=bullseye(phase, circular=True),
        perfusion_map=bullseye(perfusion),
        thickening_map=bullseye(thickening),
        samples=pd.DataFrame({"rho": rho, "theta_deg": theta, "phase_deg": phase, "perfusion_pct": perfusion,
                              "thickening_pct": thickening, "amplitude": amplitude}),
        geometry=geometry,
        qc=qc,
        sampling=shown,
    )


def noise_corrected_psd(psd_deg: float, phase_noise_deg: float) -> float:
    """PSD with the counting noise taken out: sqrt(PSD^2 - noise^2), 0 when noise explains it all.

    Phase noise that spreads the samples by ``phase_noise_deg`` (see :func:`phase_noise_spread_deg`) adds its variance, so
    the measured PSD overstates the wall's own dispersion; the difference is what the QC warns about. ``psd_deg``
    itself stays the measured SD (the quantity published normal limits refer to).
    """
    return float(np.sqrt(max(psd_deg**2 - phase_noise_deg**2, 0.0)))


def _fill_gaps(values: np.ndarray, index: np.ndarray, rows: int, n_angles: int) -> np.ndarray:
    """A full (rows x n_angles) grid from the wall samples at ``index``, so that the polar map stays whole: each gap
    (a sample left out) shows the nearest kept sample below it at the same angle, else the nearest above it, else
    the nearest kept sample of its row."""
    grid = np.full(rows * n_angles, np.nan)
    grid[index] = values
    grid = grid.reshape(rows, n_angles)
    for r in range(1, rows):
        gap = np.isnan(grid[r])
        grid[r, gap] = grid[r - 1, gap]
    for r in range(rows - 2, -1, -1):
        gap = np.isnan(grid[r])
        grid[r, gap] = grid[r + 1, gap]
    for r in range(rows):
        kept = np.flatnonzero(~np.isnan(grid[r]))
        if 0 < len(kept) < n_angles:
            gaps = np.flatnonzero(np.isnan(grid[r]))
            distance = np.abs(gaps[:, None] - kept[None, :])
            grid[r, gaps] = grid[r, kept[np.argmin(np.minimum(distance, n_angles - distance), axis=1)]]
    return grid.ravel()


def _noise_rows(curves: np.ndarray) -> np.ndarray:
    """The (N, T) curves' noise harmonics (:func:`lvmd.phase.motion.noise_harmonics`): cos and sin rows, (2 K, N)."""
    T = curves.shape[1]
    return harmonic_basis(T, noise_harmonics(T)) @ curves.T


def phase_noise_variance(curves: np.ndarray, coefficients: np.ndarray) -> np.ndarray:
    """Each sample's phase-noise variance (rad^2): its noise power (its own highest harmonics) over twice its
    first-harmonic power, capped at 1."""
    noise = _noise_rows(curves)
    own = 2.0 * (noise**2).mean(axis=0)
    return np.minimum(own / (2.0 * np.maximum(np.abs(coefficients) ** 2, 1e-300)), 1.0)


def phase_noise_spread_deg(curves: np.ndarray, coefficients: np.ndarray) -> float:
    """What counting noise adds to the spread of phases between samples (degrees): each noise harmonic, read as
    a perturbation of every sample's first harmonic, moves its phase by Im(n conj(c)) / |c|^2; the variance of that
    over samples, averaged over the noise harmonics, square root.

    Noise in a reconstructed image is correlated over centimetres, so neighbouring samples' phases move together and
    the spread grows less than each sample's own noise variance would say; the noise harmonics carry the same
    correlation, so their spread over samples measures it. (Perturbations are capped at 1 rad: a phase is bounded.)
    """
    T = curves.shape[1]
    if len(coefficients) < 3:
        return 0.0
    harmonics = noise_harmonics(T)
    rows = _noise_rows(curves)
    noise = rows[0::2] + 1j * rows[1::2]
    c = np.asarray(coefficients, np.complex128)
    size = np.maximum(np.abs(c), 1e-150)[None, :]  # its square stays a normal float
    shift = np.imag(noise * np.conj(c)[None, :]) / size**2
    # The Nyquist harmonic of an even gate count has one component only (the other vanishes at the gate centres):
    # that component over |c| has the variance a whole harmonic's projection would.
    nyquist = 2 * harmonics == T
    shift[nyquist] = (np.real(noise[nyquist]) + np.imag(noise[nyquist])) / size
    shift = np.clip(shift, -1.0, 1.0)
    return float(np.degrees(np.sqrt(np.mean(np.var(shift, axis=1)))))


def phase_noise_rms_deg(curves: np.ndarray, coefficients: np.ndarray) -> float:
    """RMS phase noise (degrees) over samples: each sample's noise power (its own highest harmonics) over twice its
    first-harmonic power, capped at 1 rad^2 (a phase is bounded), averaged, square root.

    The mean of the variances is what noise adds to the samples' phase variance; samples near hot extracardiac
    activity or in a defect are much noisier than the median one, so the median sample's noise understates it. The
    own-harmonic estimate is noisy per sample but independent of the first harmonic, so its average is unbiased.
    """
    variance = phase_noise_variance(curves, coefficients)
    return float(np.degrees(np.sqrt(variance.mean()))) if variance.size else 0.0


def _noise_power(curves: np.ndarray) -> float:
    """Expected first-harmonic power of noise alone, from the highest harmonics of the (N, T) sample curves."""
    return float((_noise_rows(curves) ** 2).mean() * 2.0)


def gate_scale(counts: np.ndarray, geometry: LvGeometry) -> np.ndarray:
    """Each gate's counts relative to the mean, measured on static activity away from the LV (1 where there is too
    little of it): gating dropouts and bad-beat rejection scale every voxel of a gate alike, which would shift every
    sample's phase towards the short gate."""
    T, Z, Y, X = counts.shape
    yy, xx = np.ogrid[0:Y, 0:X]
    lv = np.zeros((Z, Y, X), bool)
    for z in range(max(geometry.apex_slice - 3, 0), min(geometry.base_slice + 4, Z)):
        c = geometry.centres[z]
        lv[z] = (yy - c[0]) ** 2 + (xx - c[1]) ** 2 <= (2.0 * geometry.radius_vox) ** 2
    mean = counts.mean(axis=0)
    static = ~lv & (mean >= 0.1 * geometry.level / T)
    if geometry.extracardiac is not None:
        static |= geometry.extracardiac & (mean > 0)
    totals = counts.reshape(T, -1) @ static.ravel().astype(np.float32)
    if totals.sum() < STATIC_FRACTION * float(counts[:, lv].sum()) or totals.min() <= 0:
        return np.ones(T)
    return totals / totals.mean()


def _locate(study: GatedSpect, centre, apex_slice, base_slice, mask_radius_mm) -> LvGeometry:
    """The LV's geometry; when the short-axis search finds none and an earlier stage put the LV axis in the middle
    of the grid (``study.lv_axis_hint``), that axis is used, with a warning."""
    try:
        return locate_lv(study.counts, study.spacing_mm, centre, apex_slice, base_slice, study.study_id, mask_radius_mm)
    except SpectError:
        hint = getattr(study, "lv_axis_hint", None)
        if centre is not None or hint is None:
            raise
    geometry = locate_lv(study.counts, study.spacing_mm, hint, apex_slice, base_slice, study.study_id, mask_radius_mm)
    geometry.localisation.method = "reorientation"
    geometry.localisation.warnings.append("the short-axis search found no clear LV ring: the LV axis found in the "
                                          "transaxial volume was used; check the QC figure")
    return geometry


def _sample_adaptively(study: GatedSpect, geometry: LvGeometry, frame, last: int, n_angles: int, harmonics: int,
                       scale: np.ndarray):
    """Sample the wall with the least smoothing that gives the samples a usable signal-to-noise ratio.

    Noisy studies (few counts per gate) are smoothed more before the maximal-count search: a median sample's
    first-harmonic power should reach ``TARGET_SNR`` times the noise power (phase noise of about 13 degrees).
    Each gate's counts are divided by its ``scale`` (:func:`gate_scale`).
    Returns the samples, their Fourier analysis, the smoothing used (mm) and the noise power.
    """
    for smoothing in SMOOTHING_STEPS_MM:
        sampled = sample_wall(study.counts, geometry, study.spacing_mm, frame, last_slice=last, n_angles=n_angles,
                              smoothing_mm=smoothing)
        sampled.curves /= scale[None, :]
        fourier = harmonic_phase(sampled.curves, harmonics)
        noise = _noise_power(sampled.curves)
        signal = float(np.median(np.abs(fourier["coefficients"][:, 0]) ** 2))
        if noise <= 0 or signal >= TARGET_SNR * noise:
            break
    return sampled, fourier, smoothing, noise


def _cap_amplitude_ratio(amplitude: np.ndarray, cap_samples: int) -> float:
    """Median first-harmonic amplitude of the apical cap's samples over the short-axis wall's (1 when either is
    missing). A cap that hardly beats is hidden by activity against the apex or is not viable: its phase is noise.
    (Bench LVs read 0.9-1.3; a loop 10x the LV overlapping the apex, 0.3.)"""
    cap, wall = amplitude[:cap_samples], amplitude[cap_samples:]
    if not len(cap) or not len(wall) or np.median(wall) <= 0:
        return 1.0
    return float(np.median(cap) / np.median(wall))


def _perfusion_reference(summed_counts: np.ndarray, wall_counts: np.ndarray, near_masked_mm: np.ndarray,
                         level: float) -> float:
    """Perfusion 100 %: the brightest samples not lit by extracardiac spill (their 95th percentile: a few samples
    that spill or noise lifts do not set it).

    A sample within ``LIT_REACH_MM`` of masked extracardiac activity is lit when its wall point (``wall_counts``,
    summed image) or its sampling window (``summed_counts``, the maximal counts summed over gates, which can reach
    into spill the wall point misses) is over 1.3x the LV level; the window's counts are put on the summed image's
    scale by their median ratio to the wall point's.
    """
    if level <= 0:
        return float(max(summed_counts.max(), 1e-12))
    positive = wall_counts > 0
    scale = float(np.median(summed_counts[positive] / wall_counts[positive])) if positive.any() else 1.0
    bright = (wall_counts > 1.3 * level) | (summed_counts > 1.3 * level * scale)
    clean = ~(bright & (near_masked_mm <= LIT_REACH_MM))
    pool = summed_counts[clean] if clean.any() else summed_counts
    return float(max(np.percentile(pool, REFERENCE_PERCENTILE), 1e-12))


def _quality(study: GatedSpect, geometry: LvGeometry, samples: WallSamples, base, sensitivity: float) -> dict:
    """The QC block of a result (see :mod:`lvmd.phase.qc`), warnings excluded."""
    counts = study.counts
    T, Z, Y, X = counts.shape
    pix = (study.spacing_mm[1] + study.spacing_mm[2]) / 2.0
    yy, xx = np.ogrid[0:Y, 0:X]
    region = np.zeros((Z, Y, X), bool)
    reach = 1.6 * geometry.radius_vox + 4.0 / pix
    for z in range(max(geometry.apex_slice - 1, 0), min(geometry.base_slice + 2, Z)):
        c = geometry.centres[z]
        region[z] = (yy - c[0]) ** 2 + (xx - c[1]) ** 2 <= reach**2
    lv_counts = (counts.reshape(T, -1) @ region.ravel().astype(np.float32)).astype(np.float64)
    near_peak = _peak_near(study.summed(), geometry, reach, NEAR_LV_MM / pix, study.spacing_mm[0] / pix)
    clipped, detail = study.source_clipping if study.source_clipping is not None else clipping(counts, region)
    sa = ~np.isnan(samples.row_slice)
    wall_curve = samples.curves.reshape(len(samples.grid_rho), samples.n_angles, T)[sa].mean(axis=(0, 1))
    loc = geometry.localisation
    return {
        "localisation_confidence": round(float(loc.confidence), 4),
        "localisation_method": loc.method,
        "localisation_margin": None if loc.margin is None else round(float(loc.margin), 4),
        "localisation_score": round(float(loc.score), 4),
        "beating_snr": None if loc.beating_snr is None else round(float(loc.beating_snr), 3),
        "extracardiac_ratio": round(float(geometry.extracardiac_ratio), 4),
        "extracardiac_near_ratio": round(near_peak / geometry.level if geometry.level > 0 else 0.0, 4),
        "extracardiac_masked_voxels": int(geometry.extracardiac.sum()) if geometry.extracardiac is not None else 0,
        "lv_counts_per_gate": [round(float(v), 3) for v in lv_counts],
        "lv_counts_cv": round(float(lv_counts.std() / max(lv_counts.mean(), 1e-12)), 5),
        "gate_irregularity": round(gate_irregularity(lv_counts), 5),
        "clipping": clipped,
        "clipping_detail": detail,
        "gating_consistency": round(gating_consistency(wall_curve), 4),
        "base_slice": int(geometry.base_slice),
        "base_position": round(float(base.frame.base), 3),
        "apex_position": round(float(base.frame.apex), 3),
        "base_descent_mm": round(float(base.descent_mm), 2),
        "base_sensitivity_deg": round(float(sensitivity), 3),
    }


def _peak_near(summed: np.ndarray, geometry: LvGeometry, region_vox: float, reach_vox: float,
               slice_ratio: float) -> float:
    """Peak of the summed counts (lightly smoothed, as the LV level is) within ``reach_vox`` of the LV region
    (a disc of ``region_vox`` around each slice's centre, from the apex on through the base) and outside it.

    ``slice_ratio`` is the slice spacing over the pixel size (the reach along the axis counts in slices).
    """
    Z, Y, X = summed.shape
    first, last = max(geometry.apex_slice - 1, 0), min(geometry.base_slice + 1, Z - 1)
    extra = int(np.ceil(reach_vox / max(slice_ratio, 1e-6)))
    lo, hi = max(first - extra, 0), min(last + extra, Z - 1)
    # Only the in-plane box the search reaches is smoothed, with a margin wider than the kernel (4 SD): inside it the
    # values are those of smoothing the whole slices.
    centres = geometry.centres[first:last + 1]
    margin = region_vox + reach_vox + 4
    y0, y1 = max(int(np.floor(centres[:, 0].min() - margin)), 0), min(int(np.ceil(centres[:, 0].max() + margin)) + 1, Y)
    x0, x1 = max(int(np.floor(centres[:, 1].min() - margin)), 0), min(int(np.ceil(centres[:, 1].max() + margin)) + 1, X)
    image = ndimage.gaussian_filter(summed[lo:hi + 1, y0:y1, x0:x1].astype(np.float64), 0.7)
    Y, X = y1 - y0, x1 - x0
    yy, xx = np.ogrid[y0:y1, x0:x1]
    peak = 0.0
    for z in range(lo, hi + 1):
        c = geometry.centres[min(max(z, first), last)]
        d2 = (yy - c[0]) ** 2 + (xx - c[1]) ** 2
        inside = d2 <= region_vox**2 if z >= first else np.zeros((Y, X), bool)  # the cylinder goes on past the
        axial = max(first - z, 0) * slice_ratio  # base: valve plane and atria are cardiac, not extracardiac
        near = (d2 <= max((region_vox + reach_vox) ** 2 - axial**2, 0.0)) & ~inside
        if near.any():
            peak = max(peak, float(image[z - lo][near].max()))
    return peak
