"""Scanner files to short-axis gated studies: raw projections (reconstruct -> reorient) or reconstructed transaxial
volumes (reorient), plus the QC figure that shows where the LV and its axis were found."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import SpectError
from ..io.spect import GatedSpect
from .projections import read_projections
from .recon import reconstruct
from .reorient import Reorientation, reorient_to_short_axis


@dataclass
class ScannerStudy:
    """A short-axis study made from scanner data, with the transaxial volume and how it was reoriented."""

    counts: np.ndarray  # (T, Z, Y, X) short axis
    spacing_mm: tuple[float, float, float]
    study_id: str
    transaxial: np.ndarray  # (T, X, Y, Z)
    reorientation: Reorientation

    def gated(self) -> GatedSpect:
        """The short-axis study as a :class:`GatedSpect` (refused when not gated)."""
        return GatedSpect(self.counts, self.spacing_mm, self.study_id)


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
                     progress: Callable[[int, int], None] | None = None) -> ScannerStudy:
    """Raw (gated) projections -> OSEM per gate -> automatic short-axis reorientation."""
    projections = read_projections(path)
    volume = reconstruct(projections, iterations, subsets, butterworth_order, butterworth_cutoff, collimator,
                         attenuation_map=attenuation_map, progress=progress)
    h = projections.voxel_mm
    sa, info = reorient_to_short_axis(volume, h, lv_centre, axis_angles)
    return ScannerStudy(sa, (h, h, h), projections.study_id, volume, info)


def from_transaxial(study: GatedSpect, lv_centre=None, axis_angles=None) -> ScannerStudy:
    """A reconstructed transaxial gated study read by :func:`lvmd.io.read_spect` -> short axis.

    The file's frames are taken in the standard DICOM transaxial display: slices superior -> inferior, rows
    anterior -> posterior, columns patient right -> left.
    """
    dz, dy, dx = study.spacing_mm
    if not (abs(dz - dy) < 1e-3 * dy and abs(dy - dx) < 1e-3 * dx):
        raise SpectError(f"{study.study_id}: transaxial voxels {study.spacing_mm} mm are not isotropic")
    volume = np.transpose(study.counts[:, ::-1, :, :], (0, 3, 2, 1))  # (T, x, y, z inferior -> superior)
    sa, info = reorient_to_short_axis(volume, dx, lv_centre, axis_angles)
    return ScannerStudy(sa, (dx, dx, dx), study.study_id, volume, info)


def qc_figure(study: ScannerStudy):
    """Transaxial views through the LV centre with the detected axis, and the short-axis, VLA and HLA views."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    info = study.reorientation
    tr = study.transaxial.sum(axis=0)
    sa = study.counts.sum(axis=0)
    c = info.centre
    a = info.apex_direction
    fig, axes = plt.subplots(2, 3, figsize=(11, 7.5))
    views = [("transaxial (z = %d)" % round(c[2]), tr[:, :, int(round(c[2]))].T, (0, 1), "x (R->L)", "y (A->P)"),
             ("coronal (y = %d)" % round(c[1]), tr[:, int(round(c[1])), :].T, (0, 2), "x (R->L)", "z (I->S)"),
             ("sagittal (x = %d)" % round(c[0]), tr[int(round(c[0])), :, :].T, (1, 2), "y (A->P)", "z (I->S)")]
    length = 3 * info.radius_vox
    for ax, (title, image, (i, j), xl, yl) in zip(axes[0], views):
        ax.imshow(image, origin="lower" if j == 2 else "upper", cmap="gray")
        ax.plot([c[i] - length * a[i], c[i] + length * a[i]], [c[j] - length * a[j], c[j] + length * a[j]], "r-", lw=1.5)
        ax.plot([c[i] + length * a[i]], [c[j] + length * a[j]], "ro", ms=4)
        ax.set_title(title + ": LV axis (dot = apex)", fontsize=8)
        ax.set_xlabel(xl, fontsize=7)
        ax.set_ylabel(yl, fontsize=7)
    mid = [s // 2 for s in sa.shape]
    axes[1, 0].imshow(sa[mid[0]], cmap="gray")
    axes[1, 0].set_title("short axis (mid): anterior up, septum left", fontsize=8)
    axes[1, 1].imshow(sa[:, :, mid[2]].T, cmap="gray")
    axes[1, 1].set_title("vertical long axis: apex left, anterior up", fontsize=8)
    axes[1, 2].imshow(sa[:, mid[1], :].T, cmap="gray")
    axes[1, 2].set_title("horizontal long axis: apex left, septum up", fontsize=8)
    az, el = info.angles_deg
    fig.suptitle(f"{study.study_id}: LV centre (x, y, z) = ({c[0]:.1f}, {c[1]:.1f}, {c[2]:.1f}) voxels; "
                 f"axis azimuth {az:.1f} deg, elevation {el:.1f} deg", fontsize=9)
    for ax in axes.ravel():
        ax.tick_params(labelsize=6)
    fig.tight_layout()
    return fig
