"""Scanner files to short-axis gated studies: raw projections (reconstruct -> reorient) or reconstructed transaxial
volumes (reorient), and writing them (the QC figure is drawn by :mod:`lvmd.report.qc_figures`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import SpectError
from ..io.spect import GatedSpect, read_volume
from ..phase.qc import clipping
from .projections import read_projections
from .recon import reconstruct
from .reorient import Reorientation, reorient_to_short_axis


DISPLAY_ORIENTATION = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)  # rows run right -> left, columns anterior -> posterior (LPS)


@dataclass
class ScannerStudy:
    """A short-axis study made from scanner data, with the transaxial volume and how it was reoriented.

    Attributes
    ----------
    counts : numpy.ndarray
        (T, Z, Y, X) short axis.
    spacing_mm : tuple of float
    study_id : str
    transaxial : numpy.ndarray
        (T, X, Y, Z) in PyTomography object axes.
    reorientation : Reorientation
        Where the LV was found (with its confidence and warnings).
    source_clipping : (bool, dict) or None
        Clipping evidence of the reconstructed file the study came from (None for raw projections: lvmd's own
        reconstruction is not clipped).
    """

    counts: np.ndarray
    spacing_mm: tuple[float, float, float]
    study_id: str
    transaxial: np.ndarray
    reorientation: Reorientation
    source_clipping: tuple[bool, dict] | None = None

    def gated(self) -> GatedSpect:
        """The short-axis study as a :class:`GatedSpect` (refused when not gated)."""
        if self.counts.shape[0] < 2:
            raise SpectError(f"{self.study_id}: the acquisition is not gated (one time slot): phase analysis needs a "
                             "gated (GATED TOMO) acquisition; `lvmd reconstruct` still reconstructs and reorients it")
        rows, cols = self.counts.shape[2:]
        return GatedSpect(self.counts, self.spacing_mm, self.study_id, lv_axis_hint=((rows - 1) / 2.0, (cols - 1) / 2.0),
                          source_clipping=self.source_clipping)

    @property
    def qc(self) -> dict:
        """The reorientation's QC figures and warnings."""
        return {**self.reorientation.qc, "warnings": list(self.reorientation.warnings)}


def is_raw_projection_file(path: Path) -> bool:
    """True for a DICOM file whose Image Type says raw tomographic projections (TOMO, not RECON)."""
    if not path.is_file() or path.suffix.lower() not in (".dcm", ".dicom", ""):
        return False
    import pydicom

    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
    except Exception:  # noqa: BLE001 - anything unreadable is simply not a projection file
        return False
    image_type = [str(v).upper() for v in ds.get("ImageType", [])]
    return any("TOMO" in v for v in image_type) and not any("RECON" in v for v in image_type)


def from_projections(path: str | Path, iterations: int = 3, subsets: int = 10, butterworth_order: int = 10,
                     butterworth_cutoff: float | None = 0.3, collimator: str | None = None, lv_centre=None,
                     axis_angles=None, attenuation_map: np.ndarray | None = None,
                     progress: Callable[[int, int], None] | None = None,
                     mask_radius_mm: float | None = None) -> ScannerStudy:
    """Raw (gated) projections -> OSEM per gate -> beating-LV localisation -> short-axis reorientation.

    ``lv_centre`` (x, y, z voxels), ``axis_angles`` (azimuth, elevation) and ``mask_radius_mm`` are the operator's
    overrides: when given they are used whatever the automatic scores say (which then only warn).
    """
    projections = read_projections(path)
    volume = reconstruct(projections, iterations, subsets, butterworth_order, butterworth_cutoff, collimator,
                         attenuation_map=attenuation_map, progress=progress)
    h = projections.voxel_mm
    sa, info = reorient_to_short_axis(volume, h, lv_centre, axis_angles, mask_radius_mm=mask_radius_mm,
                                      patient_axes=projections.patient_axes, study_id=projections.study_id)
    return ScannerStudy(sa, (h, h, h), projections.study_id, volume, info)


def from_transaxial(study: GatedSpect, lv_centre=None, axis_angles=None, mask_radius_mm: float | None = None,
                    patient_axes=(1.0, 1.0, 1.0)) -> ScannerStudy:
    """A reconstructed transaxial gated study read by :func:`lvmd.io.read_spect` -> short axis.

    The file's frames are taken in the standard DICOM transaxial display: slices superior -> inferior, rows
    anterior -> posterior, columns patient right -> left. Overrides as in :func:`from_projections`.
    """
    dz, dy, dx = study.spacing_mm
    if not (abs(dz - dy) < 1e-3 * dy and abs(dy - dx) < 1e-3 * dx):
        raise SpectError(f"{study.study_id}: transaxial voxels {study.spacing_mm} mm are not isotropic")
    volume = np.transpose(study.counts[:, ::-1, :, :], (0, 3, 2, 1))  # (T, x, y, z inferior -> superior)
    sa, info = reorient_to_short_axis(volume, dx, lv_centre, axis_angles, mask_radius_mm=mask_radius_mm,
                                      patient_axes=patient_axes, study_id=study.study_id)
    iop = study.image_orientation
    if iop is not None and not np.allclose(iop, DISPLAY_ORIENTATION, atol=0.05):
        shown = "\\".join(f"{v:g}" for v in iop)
        info.warnings.append(f"the file's Image Orientation (Patient) {shown} is not the standard transaxial display "
                             "(1\\0\\0\\0\\1\\0) that lvmd reads DICOM volumes in: it was taken as stored, so the "
                             "septal and lateral (or anterior and inferior) walls may have changed places; convert it "
                             "to NIfTI (e.g. with dcm2niix: lvmd applies a NIfTI header's orientation) or check the QC "
                             "figure")
    return ScannerStudy(sa, (dx, dx, dx), study.study_id, volume, info, clipping(study.counts))


def read_mu_map(path: str | Path | None) -> np.ndarray | None:
    """An attenuation map (1/cm): a 3-D array of finite, non-negative numbers from npz (array ``mu``) or NIfTI, its
    size checked before it is read; None when no path is given."""
    if path is None:
        return None
    p = Path(path)
    if not p.is_file():
        raise SpectError(f"{p}: file not found")
    mu = read_volume(p, "mu")
    if mu.ndim != 3:
        raise SpectError(f"{p}: attenuation map has {mu.ndim} dimensions {mu.shape}; expected a 3-D volume")
    mu = mu.astype(np.float32)
    if not np.isfinite(mu).all() or (mu < 0).any():
        raise SpectError(f"{p}: attenuation map holds negative or non-finite values; expected coefficients >= 0 (1/cm)")
    return mu


def write_short_axis(study: ScannerStudy, out: Path) -> None:
    """Write a short-axis study from scanner data (gated, or for a plain TOMO acquisition one frame: npz/NIfTI)."""
    from ..io.spect import write_spect

    if study.counts.shape[0] >= 8:
        write_spect(study.gated(), out)
    elif out.name.lower().endswith(".dcm"):
        raise SpectError(f"{out}: a non-gated study can be written as .npz or .nii.gz only")
    else:
        write_spect(_Frames(study.counts, study.spacing_mm, study.study_id), out)


def check_reconstruction_outputs(out: str | Path, qc_path: str | Path | None = None, force: bool = False,
                                 inputs=()) -> None:
    """Refuse an output name lvmd cannot write, an input as output, or existing outputs unless ``force`` (before
    any work is done)."""
    from ..outputs import check_output_file

    out = Path(out)
    if not out.name.lower().endswith((".npz", ".nii", ".nii.gz", ".dcm")) or out.name.startswith("."):
        raise SpectError(f"{out}: output must be named NAME.npz, NAME.nii, NAME.nii.gz or NAME.dcm")
    if qc_path is not None and (not Path(qc_path).name.lower().endswith(".png") or Path(qc_path).name.startswith(".")):
        raise SpectError(f"{qc_path}: the QC figure is a PNG: name it NAME.png")
    if qc_path is not None and Path(qc_path).resolve() == out.resolve():
        raise SpectError(f"{qc_path}: the QC figure and the study cannot be the same file")
    for target in [out] + ([Path(qc_path)] if qc_path else []):
        check_output_file(target, force, inputs)


def write_reconstruction(study: ScannerStudy, out: str | Path, qc_path: str | Path | None = None,
                         force: bool = False, inputs=(), figure=None) -> None:
    """Write the short-axis study (``.npz``, ``.nii``, ``.nii.gz`` or ``.dcm``) and, optionally, its QC figure (PNG).

    ``figure`` (a :class:`matplotlib.figure.Figure`, e.g. from :func:`lvmd.report.qc_figures.reorientation_figure`)
    is written to ``qc_path``. Both files are written or neither; existing files are refused unless ``force``, and an
    input never replaced.
    """
    from ..outputs import atomic_file

    out = Path(out)
    if qc_path is not None and figure is None:
        raise ValueError("write_reconstruction: qc_path given without the figure to write there")
    check_reconstruction_outputs(out, qc_path, force, inputs)
    if not qc_path:
        figure = None
    with atomic_file(out, force, inputs) as tmp:
        write_short_axis(study, tmp)
        if figure is not None:
            with atomic_file(Path(qc_path), force, inputs) as tmp_qc:
                figure.savefig(tmp_qc, format="png", dpi=100, bbox_inches="tight")


@dataclass
class _Frames:
    """Counts and spacing in the shape :func:`lvmd.io.spect.write_spect` writes, without GatedSpect's gate check."""

    counts: np.ndarray
    spacing_mm: tuple[float, float, float]
    study_id: str
