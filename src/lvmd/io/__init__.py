"""Readers and writers for clinical tables, cohort polar maps and gated SPECT studies."""

from .polarmaps import PolarMaps, read_polarmaps
from .tables import CLINICAL_COLUMNS, read_clinical, write_clinical

__all__ = ["CLINICAL_COLUMNS", "PolarMaps", "read_clinical", "read_polarmaps", "write_clinical"]
