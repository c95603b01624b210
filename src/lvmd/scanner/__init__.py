"""From the scanner: raw gated projections -> OSEM reconstruction (PyTomography) -> automatic short-axis reorientation."""

from .convert import (ScannerStudy, check_reconstruction_outputs, from_projections, from_transaxial,
                      is_raw_projection_file, read_mu_map, write_reconstruction, write_short_axis)
from .projections import Projections, read_projections, write_projections
from .recon import butterworth, check_collimator, collimator_codes, forward_project, make_geometry, reconstruct
from .reorient import Reorientation, embed_short_axis, reorient_to_short_axis, short_axis_frame

__all__ = ["Projections", "Reorientation", "ScannerStudy", "butterworth", "check_collimator",
           "check_reconstruction_outputs", "collimator_codes", "embed_short_axis", "forward_project",
           "from_projections", "from_transaxial", "is_raw_projection_file", "make_geometry",
           "read_mu_map", "read_projections", "reconstruct", "reorient_to_short_axis", "short_axis_frame",
           "write_projections", "write_reconstruction", "write_short_axis"]
