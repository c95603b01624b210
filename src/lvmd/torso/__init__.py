"""Anatomical torso test bench: a beating LV in a torso with RV, atria, liver, gut loops and attenuation, projected
like a clinical gated acquisition, with exact truth (LV centre, axis, base, true phase). See docs/torso-bench.md."""

from .case import PATTERNS, Defect, ShortAxisTruth, TorsoCase
from .render import Rendered, render

__all__ = ["PATTERNS", "Defect", "Rendered", "ShortAxisTruth", "TorsoCase", "render"]
