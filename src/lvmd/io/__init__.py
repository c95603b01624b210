"""Readers and writers for clinical tables, cohort polar maps and gated SPECT studies."""

from .polarmaps import PolarMaps, read_polarmaps
from .spect import GatedSpect, read_spect, write_spect
from .tables import CLINICAL_COLUMNS, read_clinical, write_clinical

__all__ = ["CLINICAL_COLUMNS", "GatedSpect", "PolarMaps", "read_clinical", "read_polarmaps", "read_spect", "write_clinical",
           "write_spect"]
