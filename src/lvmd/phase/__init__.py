"""Phase analysis of gated SPECT: an open equivalent of ECTb SyncTool (locate, sample, harmonic, polar map, metrics)."""

from .analyze import METRIC_KEYS, PhaseResult, analyze_study
from .harmonic import harmonic_phase
from .geometry import LvGeometry, locate_lv
from .metrics import latest_viable_segment, phase_metrics, segment_summary

__all__ = ["METRIC_KEYS", "LvGeometry", "PhaseResult", "analyze_study", "harmonic_phase", "latest_viable_segment",
           "locate_lv", "phase_metrics", "segment_summary"]
