"""Quality control of a phase analysis: what a reader must know before trusting the numbers (the QC figure is
drawn by :mod:`lvmd.report.qc_figures`).

``qc`` keys (every :class:`~lvmd.phase.PhaseResult` carries them, ``lvmd phase`` writes them to ``<id>.json`` and
``summary.csv``):

- ``localisation_confidence`` (0-1) and ``localisation_method`` (``beating``, ``shape``: no usable motion,
  ``manual``: the operator's centre, ``reorientation``: the scanner path's LV axis, when the short-axis search found
  no ring);
- ``extracardiac_ratio``: peak activity outside the LV region over the LV's peak level;
- ``lv_counts_per_gate``, ``lv_counts_cv`` and ``gate_irregularity``: counts in the LV region per gate, their CV,
  and the largest departure of one gate from a smooth cycle fitted through them (tracer is conserved over the cycle
  and partial-volume changes are smooth, so a gate off the cycle by more than 4 % means gating dropouts, arrhythmia
  or per-gate scaling); when ``gate_scale`` could be measured on static activity, the warning comes from it instead
  (a gate more than 4 % and four robust SDs away from the others), since the LV's own counts are noisy at 16 gates;
- ``clipping`` and ``clipping_detail``: every gate's maximum on an integer ceiling (255, 4095, 32767, 65535, ...) or
  identical maxima in every gate (per-gate scaled export);
- ``gating_consistency``: R^2 of a one-harmonic cycle fitted to the LV wall's count curve (about 0.9 for a
  well-gated heart, near 2/T for noise);
- ``base_slice``, ``base_position``, ``base_descent_mm``, ``base_sensitivity_deg`` (largest PSD change when the
  base moves one slice either way);
- ``phase_noise_deg``: a median sample's phase noise (from the noise power in the highest harmonics), the floor
  that counting statistics put under PSD; ``smoothing_mm`` is the pre-smoothing chosen to keep it low;
  ``phase_noise_rms_deg``: the RMS over samples; ``phase_noise_spread_deg``: what noise adds to the spread between
  samples (less than the RMS: reconstructed noise is correlated over centimetres, so neighbours move together);
  ``psd_noise_corrected_deg``: sqrt(PSD^2 - spread^2), an estimate of the wall's own dispersion, and
  ``psd_noise_inflation_deg`` the difference (warned about when noise alone moves PSD by more than max(4 deg, 12 %));
- ``extracardiac_near_ratio``: peak activity within 3 cm of the LV region over the LV's peak level (warned about
  from 1.5x: it can spill into the nearest wall); ``valve_plane_samples`` of ``wall_samples`` set aside as valve
  plane (warned about above 10 %); ``isolated_samples``: wall samples left out because they beat out of phase with
  neighbours that agree among themselves (:mod:`lvmd.phase.outliers`; warned about above 5 %);
  ``untracked_base_samples``: base-slice samples left out because their ray stayed in its slice beside extracardiac
  activity and so reads the base's descent;
  ``cap_amplitude_ratio``: the apical cap's median first-harmonic amplitude over the short-axis wall's (warned about
  below 0.5: activity against the apex or a non-viable apex); ``hidden_cap_samples``: cap samples left out because
  the cap hardly beats (ratio below 0.5) beside extracardiac activity (masked within 45 mm, or brighter than
  myocardium can be), so that its phase is that activity's noise (a dim cap far from any such activity is a
  non-viable apex and is kept);
  ``spill_lit_samples``: wall samples within 30 mm of masked extracardiac activity left out because they are brighter
  than myocardium can be (1.5x the LV level: that activity lights them; warned about above 5 %);
- ``warnings``: human-readable, one line each.
"""

from __future__ import annotations

import numpy as np

INTEGER_CEILINGS = (255, 511, 1023, 2047, 4095, 8191, 16383, 32767, 65535)
LOW_CONFIDENCE = 0.5
GATE_IRREGULARITY_LIMIT = 0.04
GATE_SCALE_OUTLIER = 4.0  # a gate's static-activity scale this many robust SDs from the others is a gating error
GATING_R2_LIMIT = 0.5
BASE_SENSITIVITY_LIMIT = 5.0
VALVE_SAMPLES_LIMIT = 0.1  # share of the wall samples set aside as valve plane above which the base is doubtful
ISOLATED_SAMPLES_LIMIT = 0.05  # share of the wall samples left out as isolated anti-phase above which it is warned
SPILL_LIT_LIMIT = 0.05  # share of the wall samples left out as lit by extracardiac activity above which it is warned
CAP_AMPLITUDE_LIMIT = 0.5  # apical cap's median beat over the wall's below which the cap's phase is doubted
EXTRACARDIAC_NOTE = 1.5


def clipping(counts: np.ndarray, lv_region: np.ndarray | None = None) -> tuple[bool, dict]:
    """Whether the counts look clipped or scaled per gate, with the evidence.

    Returns ``(clipped, detail)``; detail: ``gate_maxima``, ``ceiling`` (the integer ceiling most gates' maximum
    sits on, or None), ``gates_at_ceiling`` (fraction), ``identical_maxima`` (every gate's maximum equal),
    ``saturated_voxels`` (voxels at their gate's maximum, per gate on average) and ``saturated_in_lv``.
    """
    T = counts.shape[0]
    flat = counts.reshape(T, -1)
    maxima = flat.max(axis=1)
    near = [min(INTEGER_CEILINGS, key=lambda c: abs(c - m)) for m in maxima]
    on_ceiling = np.array([abs(m - c) < 1e-3 * c for m, c in zip(maxima, near)])
    values, counts_of = np.unique(np.array(near)[on_ceiling], return_counts=True)
    ceiling = int(values[np.argmax(counts_of)]) if on_ceiling.any() else None
    identical = bool(T >= 4 and np.ptp(maxima) <= 1e-6 * max(float(maxima.max()), 1e-12))
    at_max = flat == maxima[:, None]
    saturated = float(at_max.sum(axis=1).mean())
    in_lv = None
    if lv_region is not None:
        in_lv = bool((at_max & lv_region.ravel()[None, :]).any())
    clipped = bool(on_ceiling.mean() >= 0.5 or (identical and saturated >= 1.0))
    detail = {"gate_maxima": [float(m) for m in maxima], "ceiling": ceiling,
              "gates_at_ceiling": float(on_ceiling.mean()), "identical_maxima": identical,
              "saturated_voxels": saturated, "saturated_in_lv": in_lv}
    return clipped, detail


def gate_irregularity(counts_per_gate: np.ndarray) -> float:
    """Largest departure of one gate's counts from a smooth cycle (two harmonics) through them, as a fraction of
    the mean."""
    curve = np.asarray(counts_per_gate, float)
    T = len(curve)
    t = (np.arange(T) + 0.5) / T
    design = np.column_stack([np.ones(T)] + [f(2 * np.pi * k * t) for k in (1, 2) for f in (np.cos, np.sin)])
    fit, *_ = np.linalg.lstsq(design, curve, rcond=None)
    return float(np.abs(curve - design @ fit).max() / max(curve.mean(), 1e-12))


def gating_consistency(curve: np.ndarray) -> float:
    """R^2 of the best one-harmonic cycle through a (T,) count curve: how much of it is a cardiac cycle."""
    curve = np.asarray(curve, float)
    T = len(curve)
    t = (np.arange(T) + 0.5) / T
    design = np.column_stack([np.ones(T), np.cos(2 * np.pi * t), np.sin(2 * np.pi * t)])
    fit, *_ = np.linalg.lstsq(design, curve, rcond=None)
    residual = curve - design @ fit
    total = float(((curve - curve.mean()) ** 2).sum())
    return float(1.0 - (residual**2).sum() / total) if total > 0 else 0.0


def quality_warnings(qc: dict) -> list[str]:
    """Human-readable warnings from the QC figures (added to those the analysis steps raised)."""
    out = []
    if qc["localisation_confidence"] < LOW_CONFIDENCE:
        out.append(f"low localisation confidence {qc['localisation_confidence']:.2f} ({qc['localisation_method']}): "
                   "check the QC figure; if the LV was missed give its centre (and apex/base slices, mask radius)")
    if qc.get("extracardiac_near_ratio", qc["extracardiac_ratio"]) >= EXTRACARDIAC_NOTE:
        out.append(f"extracardiac activity {qc.get('extracardiac_near_ratio', qc['extracardiac_ratio']):.1f}x the LV "
                   "peak lies within 3 cm of the LV and was masked; it may still spill into the nearest wall: check "
                   "the QC figure")
    if qc.get("valve_plane_samples", 0) > VALVE_SAMPLES_LIMIT * max(qc.get("wall_samples", 0), 1):
        out.append(f"{qc['valve_plane_samples']} basal samples beat in anti-phase to the LV (valve plane or atria) "
                   "and were left out of the wall: the base may be uncertain, check the QC figure")
    if qc.get("isolated_samples", 0) > ISOLATED_SAMPLES_LIMIT * max(qc.get("wall_samples", 0), 1):
        out.append(f"{qc['isolated_samples']} wall samples beat out of phase with neighbours that agree among themselves "
                   "(spill from nearby activity, or noise) and were left out: check the QC figure")
    if qc.get("hidden_cap_samples", 0) > 0:
        out.append(f"the apical cap beats at {qc['cap_amplitude_ratio']:.2f} of the wall's amplitude beside extracardiac "
                   f"activity: its {qc['hidden_cap_samples']} samples were left out of the phase, check the QC figure")
    elif qc.get("cap_amplitude_ratio", 1.0) < CAP_AMPLITUDE_LIMIT:
        out.append(f"the apical cap beats at {qc['cap_amplitude_ratio']:.2f} of the wall's amplitude (activity against "
                   "the apex, or a non-viable apex): its phase is unreliable, check the QC figure")
    if qc.get("spill_lit_samples", 0) > SPILL_LIT_LIMIT * max(qc.get("wall_samples", 0), 1):
        out.append(f"{qc['spill_lit_samples']} wall samples are brighter than myocardium can be (extracardiac activity "
                   "against the wall) and were left out: the phase there is unknown, check the QC figure")
    if qc["clipping"]:
        d = qc["clipping_detail"]
        what = (f"every gate's maximum sits on the integer ceiling {d['ceiling']}" if d["ceiling"] is not None
                and d["gates_at_ceiling"] >= 0.5 else "every gate has exactly the same maximum (per-gate scaling?)")
        where = " inside the LV" if d.get("saturated_in_lv") else ""
        out.append(f"counts look clipped or scaled per gate: {what}{where}; phase and perfusion may be distorted, "
                   "export unscaled counts if possible")
    scale = np.asarray(qc.get("gate_scale") or [], float)
    if scale.size and np.ptp(scale) > 0:  # measured on static activity: far steadier than the LV's own counts
        deviation = scale - 1.0
        spread = 1.4826 * float(np.median(np.abs(deviation - np.median(deviation))))
        worst = int(np.argmax(np.abs(deviation)))
        if abs(deviation[worst]) > max(GATE_IRREGULARITY_LIMIT, GATE_SCALE_OUTLIER * spread):
            out.append(f"gate {worst + 1} holds {100 * scale[worst]:.0f} % of the mean gate's counts (static "
                       "activity): gating dropouts, arrhythmia or per-gate scaling; each gate was rescaled before the "
                       "phase analysis")
    elif qc["gate_irregularity"] > GATE_IRREGULARITY_LIMIT:
        out.append(f"a gate's LV counts stray {100 * qc['gate_irregularity']:.0f} % from the cardiac cycle (tracer is "
                   "conserved over it): gating dropouts, arrhythmia or per-gate scaling")
    if qc["gating_consistency"] < GATING_R2_LIMIT:
        out.append(f"the LV wall's count curve is not a clear cardiac cycle (R^2 {qc['gating_consistency']:.2f}): "
                   "gating may have failed")
    inflation, corrected = qc.get("psd_noise_inflation_deg"), qc.get("psd_noise_corrected_deg")
    if inflation is not None and corrected is not None and inflation > max(4.0, 0.12 * corrected):
        out.append(f"few counts per gate: each sample's phase carries about {qc['phase_noise_deg']:.0f} deg of noise, "
                   f"which alone inflates PSD by about {inflation:.0f} deg (noise-corrected PSD "
                   f"{corrected:.0f} deg); compare with normal limits from equally noisy studies")
    if qc["base_sensitivity_deg"] > BASE_SENSITIVITY_LIMIT:
        out.append(f"PSD changes by {qc['base_sensitivity_deg']:.1f} deg when the base moves one slice: the valve "
                   "plane is uncertain, check the QC figure (or give --base)")
    return out
