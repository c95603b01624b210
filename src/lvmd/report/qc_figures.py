"""QC figures of the phase engine: where the LV and its axis were found in a transaxial volume
(:func:`reorientation_figure`, ``lvmd reconstruct --qc``) and which myocardium was sampled, with the base plane
(:func:`phase_qc_figure`, ``lvmd phase --qc``).

Figures are built with :class:`matplotlib.figure.Figure` (no pyplot state, no backend switch); study ids are drawn
literally (no mathtext, no control characters).
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ..console import printable


def reorientation_figure(study) -> Figure:
    """Transaxial views through the LV centre with the detected axis, and the short-axis, VLA and HLA views."""
    info = study.reorientation
    tr = study.transaxial.sum(axis=0)
    sa = study.counts.sum(axis=0)
    c = info.centre
    a = info.apex_direction
    fig = Figure(figsize=(11, 7.5))
    axes = fig.subplots(2, 3)
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
    loc = info.localisation
    how = "" if loc is None else f"; {loc.method}, confidence {loc.confidence:.2f}"
    fig.suptitle(f"{printable(study.study_id)}: LV centre (x, y, z) = ({c[0]:.1f}, {c[1]:.1f}, {c[2]:.1f}) voxels; "
                 f"axis azimuth {az:.1f} deg, elevation {el:.1f} deg{how}", fontsize=9,
                 parse_math=False)
    for ax in axes.ravel():
        ax.tick_params(labelsize=6)
    fig.tight_layout()
    return fig


def phase_qc_figure(study, result) -> Figure:
    """Sampled myocardium (wall samples and base plane) over short-axis, vertical and horizontal long-axis views.

    Extracardiac activity that was masked is outlined in cyan; the base plane is the dashed orange line.
    """
    summed = study.summed()
    geometry = result.geometry
    dz, dy, dx = study.spacing_mm
    positions = result.sampling.positions_mm / np.array([dz, dy, dx])
    theta = result.sampling.theta
    mid = int(round((geometry.ring_slice + geometry.base_slice) / 2))
    cy, cx = geometry.centres[mid]
    level = geometry.level if geometry.level > 0 else float(summed.max())
    shown = np.minimum(summed, 1.3 * level)
    base_line = result.qc["base_position"] - 0.5
    fig = Figure(figsize=(12, 4.4))
    axes = fig.subplots(1, 3)
    in_slice = np.abs(positions[:, 0] - mid) < 0.5
    axes[0].imshow(shown[mid], cmap="gray", aspect=dy / dx)
    axes[0].plot(positions[in_slice, 2], positions[in_slice, 1], "r.", ms=3)
    axes[0].set_title(f"short axis, slice {mid}: wall samples", fontsize=9)
    vertical = (np.abs(((theta - 90) + 180) % 360 - 180) < 10) | (np.abs(((theta - 270) + 180) % 360 - 180) < 10)
    axes[1].imshow(shown[:, :, int(round(cx))].T, cmap="gray", aspect=dy / dz)
    axes[1].plot(positions[vertical, 0], positions[vertical, 1], "r.", ms=3)
    axes[1].axvline(base_line, color="orange", ls="--", lw=1.2)
    axes[1].set_title("vertical long axis (apex left, anterior up)", fontsize=9)
    horizontal = (np.abs(((theta - 0) + 180) % 360 - 180) < 10) | (np.abs(((theta - 180) + 180) % 360 - 180) < 10)
    axes[2].imshow(shown[:, int(round(cy)), :].T, cmap="gray", aspect=dx / dz)
    axes[2].plot(positions[horizontal, 0], positions[horizontal, 2], "r.", ms=3)
    axes[2].axvline(base_line, color="orange", ls="--", lw=1.2)
    axes[2].set_title("horizontal long axis (apex left, septum up)", fontsize=9)
    if geometry.extracardiac is not None and geometry.extracardiac.any():
        for ax, plane in ((axes[0], geometry.extracardiac[mid]), (axes[1], geometry.extracardiac[:, :, int(round(cx))].T),
                          (axes[2], geometry.extracardiac[:, int(round(cy)), :].T)):
            if plane.any():
                ax.contour(plane.astype(float), levels=[0.5], colors="cyan", linewidths=0.8)
    qc = result.qc
    fig.suptitle(f"{printable(result.study_id)}: PSD {result.metrics['psd_deg']:.1f} deg, base slice {qc['base_slice']} "
                 f"(sensitivity {qc['base_sensitivity_deg']:.1f} deg), localisation {qc['localisation_method']} "
                 f"confidence {qc['localisation_confidence']:.2f}, extracardiac {qc['extracardiac_ratio']:.1f}x"
                 + ("; CLIPPED" if qc["clipping"] else ""), fontsize=9, parse_math=False)
    for ax in axes:
        ax.tick_params(labelsize=6)
    fig.tight_layout()
    return fig
