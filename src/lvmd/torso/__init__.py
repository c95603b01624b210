"""Anatomical torso test bench: a beating LV in a torso with RV, left atrium, liver, gut loops and attenuation,
acquired like a clinical gated study, with exact truth (LV centre, axis, base, true phase). See docs/torso-bench.md.

>>> from lvmd.torso import random_case, render
>>> case = random_case(3)
>>> rendered = render(case)
>>> rendered.activity.shape == (case.gates, 64, 64, 64)
True
"""

from .acquire import project, short_axis_study, transaxial_study, transaxial_volume, write_projection_file
from .case import PATTERNS, Defect, ShortAxisTruth, TorsoCase
from .draw import gut_band, random_case
from .render import Rendered, render

__all__ = ["PATTERNS", "Defect", "Rendered", "ShortAxisTruth", "TorsoCase", "gut_band", "project", "random_case",
           "render", "short_axis_study", "transaxial_study", "transaxial_volume", "write_projection_file"]
