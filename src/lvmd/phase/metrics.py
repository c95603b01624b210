"""Phase-distribution metrics (ECTb conventions, design.md) and the 17-segment summary.

Defined on the samples after rotating the phases so that the largest empty arc sits at the 0/360 wrap:
PSD = standard deviation; PBW = shortest arc holding 95 % of the samples; mean; skewness and (non-excess) kurtosis.
The histogram (default 6-degree bins over [0, 360)) gives the peak phase (its mode's bin centre) and the entropy
(-sum p log p / log n_bins, in %).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..polar import N_SEGMENTS, SEGMENT_NAMES, disc_mask, segment_of

VIABLE_PERFUSION_PCT = 50.0


def unwrap_at_largest_gap(phase: np.ndarray) -> tuple[np.ndarray, float]:
    """Phases shifted so the largest empty arc of the circle lies at the wrap; returns (shifted, shift)."""
    p = np.sort(np.asarray(phase, float) % 360.0)
    gaps = np.diff(np.concatenate([p, [p[0] + 360.0]]))
    i = int(np.argmax(gaps))
    start = p[(i + 1) % len(p)]  # first phase after the largest gap
    return (np.asarray(phase, float) - start) % 360.0, float(start)


def bandwidth(phase_unwrapped: np.ndarray, fraction: float = 0.95) -> float:
    """Shortest arc (degrees) holding ``fraction`` of the samples, on the circle."""
    p = np.sort(phase_unwrapped)
    n = len(p)
    k = int(np.ceil(fraction * n))
    if k <= 1:
        return 0.0
    ext = np.concatenate([p, p + 360.0])
    arcs = ext[k - 1:k - 1 + n] - ext[:n]
    return float(arcs.min())


def phase_metrics(phase: np.ndarray, bin_width: float = 6.0) -> dict:
    """PSD, PBW, peak, mean, entropy, skewness, kurtosis and the histogram of sample phases (degrees)."""
    phase = np.asarray(phase, float)
    phase = phase[np.isfinite(phase)] % 360.0
    shifted, start = unwrap_at_largest_gap(phase)
    n_bins = int(round(360.0 / bin_width))
    counts, edges = np.histogram(phase, bins=n_bins, range=(0.0, 360.0))
    p = counts[counts > 0] / counts.sum()
    peak_bin = int(np.argmax(counts))
    centred = shifted - shifted.mean()
    m2 = float(np.mean(centred**2))
    # Population (biased) moments, as scipy.stats.skew / kurtosis(fisher=False) with their defaults.
    skew = float(np.mean(centred**3) / m2**1.5) if m2 > 0 else 0.0
    kurt = float(np.mean(centred**4) / m2**2) if m2 > 0 else 0.0
    return {
        "psd_deg": float(np.std(shifted)),
        "pbw_deg": bandwidth(shifted),
        "peak_phase_deg": float((edges[peak_bin] + edges[peak_bin + 1]) / 2.0),
        "mean_phase_deg": float((shifted.mean() + start) % 360.0),
        "entropy_pct": float(-np.sum(p * np.log(p)) / np.log(n_bins) * 100.0),
        "skewness": skew,
        "kurtosis": kurt,
        "histogram": {"bin_width_deg": float(bin_width), "counts": counts.astype(int).tolist()},
        "n_samples": int(len(phase)),
    }


def segment_summary(rho: np.ndarray, theta: np.ndarray, phase: np.ndarray, perfusion: np.ndarray,
                    thickening: np.ndarray) -> pd.DataFrame:
    """Mean phase (circular), perfusion and thickening of the 17 AHA segments from the samples."""
    seg = segment_of(rho, theta)
    _, start = unwrap_at_largest_gap(phase)
    rows = []
    for s in range(1, N_SEGMENTS + 1):
        m = seg == s
        if m.any():
            shifted = (phase[m] - start) % 360.0
            mean_shift = float(shifted.mean())
            rows.append({"segment": s, "name": SEGMENT_NAMES[s - 1], "n_samples": int(m.sum()),
                         "phase_deg": (mean_shift + start) % 360.0, "phase_from_onset_deg": mean_shift,
                         "perfusion_pct": float(perfusion[m].mean()), "thickening_pct": float(thickening[m].mean())})
        else:
            rows.append({"segment": s, "name": SEGMENT_NAMES[s - 1], "n_samples": 0, "phase_deg": np.nan,
                         "phase_from_onset_deg": np.nan, "perfusion_pct": np.nan, "thickening_pct": np.nan})
    return pd.DataFrame(rows).set_index("segment")


def latest_viable_segment(segments: pd.DataFrame, viable_pct: float = VIABLE_PERFUSION_PCT) -> int | None:
    """The latest-activating segment among those with mean perfusion >= ``viable_pct`` (LV lead target)."""
    viable = segments[(segments["perfusion_pct"] >= viable_pct) & segments["n_samples"].gt(0)]
    if viable.empty:
        return None
    return int(viable["phase_from_onset_deg"].idxmax())


def maps_psd_pbw(phase: np.ndarray) -> pd.DataFrame:
    """PSD and PBW of each phase polar map's disc pixels."""
    inside = disc_mask()
    rows = [phase_metrics(m[inside][np.isfinite(m[inside])]) for m in phase]
    return pd.DataFrame({"psd_deg": [r["psd_deg"] for r in rows], "pbw_deg": [r["pbw_deg"] for r in rows]})


def fill_psd_pbw(table: pd.DataFrame, phase: np.ndarray) -> pd.DataFrame:
    """A copy of ``table`` whose missing (or absent) ``psd_deg`` / ``pbw_deg`` are measured on the phase maps."""
    out = table.copy()
    if all(c in out.columns and out[c].notna().all() for c in ("psd_deg", "pbw_deg")):
        return out
    measured = maps_psd_pbw(phase).set_index(out.index)
    for col in ("psd_deg", "pbw_deg"):
        out[col] = out[col].fillna(measured[col]) if col in out.columns else measured[col]
    return out
