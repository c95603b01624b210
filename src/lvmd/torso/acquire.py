"""Acquire a rendered torso as the scanner would: gated projections (PyTomography, with attenuation, collimator
response, scatter and Poisson noise) written as DICOM NM GATED TOMO, or image-domain transaxial and short-axis gated
studies (resolution blur and count noise), the short axis made with the true LV axis.

Counts follow the case's ``counts_per_view`` (every gate of one view together; a real 25 s Tc-99m sestamibi view of
the repository's test file holds 0.9-1.6e5 counts); gates share them equally except a short last gate
(``last_gate_fraction``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy import ndimage

from ..io.spect import GatedSpect
from ..scanner.projections import import_pytomography, write_projections
from ..scanner.recon import butterworth, make_geometry
from .case import ShortAxisTruth, TorsoCase
from .render import Rendered, render

SCATTER_KERNEL_MM = 30.0  # SD of the broad scatter kernel in the projection plane
NOISE_EQUIVALENT_FRACTION = 0.045  # image-domain noise: see transaxial_volume
SLAB_MARGIN = 6  # planes kept around the heart when projecting it alone (collimator blur across planes)


def gate_weights(case: TorsoCase) -> np.ndarray:
    """Share of the acquisition's counts that falls in each gate (sums to 1)."""
    w = np.ones(case.gates)
    w[-1] = case.last_gate_fraction
    return w / w.sum()


def detector_angles(case: TorsoCase) -> np.ndarray:
    """PyTomography detector angles of the orbit: DICOM start angle + 180, stepping clockwise over 180 degrees."""
    step = 180.0 / case.views
    return case.start_angle_deg + 180.0 - step * np.arange(case.views)


def project(case: TorsoCase, rendered: Rendered | None = None) -> np.ndarray:
    """Noisy gated projections (T, views, Lr, Lz) of a case.

    PyTomography's SPECT system matrix with the attenuation map (when ``case.attenuation``) and the collimator-
    detector response of ``case.collimator`` (distance-dependent Gaussian, plus intrinsic resolution) at the orbit
    radius; scatter is added as a broad blur of the primary projections (``scatter_fraction`` of the total); counts are
    Poisson.
    """
    import_pytomography()
    import torch
    from pytomography.io.SPECT.dicom import get_psfmeta_from_scanner_params
    from pytomography.projectors.SPECT import SPECTSystemMatrix
    from pytomography.transforms.SPECT import SPECTAttenuationTransform, SPECTPSFTransform

    rendered = rendered if rendered is not None else render(case)
    n = case.grid
    psf = None
    if case.collimator:
        psf = get_psfmeta_from_scanner_params(case.collimator, 140.5,
                                              intrinsic_resolution_140keV=case.intrinsic_fwhm_mm / 10.0)

    def system_for(z: slice):
        """System matrix of the axial slab ``z`` (photons travel within transaxial planes; the collimator response
        blurs across planes, hence the slab's margin)."""
        nz = z.stop - z.start
        object_meta, proj_meta = make_geometry((n, n, nz), case.voxel_mm, detector_angles(case), case.radius_mm)
        transforms = []
        if case.attenuation:
            transforms.append(SPECTAttenuationTransform(attenuation_map=torch.tensor(rendered.mu[..., z])))
        if psf is not None:
            transforms.append(SPECTPSFTransform(psf))
        return SPECTSystemMatrix(transforms, [], object_meta, proj_meta)

    # projection is linear: the static anatomy once over the whole grid, the beating heart per gate over its slab
    beating = rendered.activity - rendered.static[None]
    planes = np.flatnonzero(np.abs(beating).max(axis=(0, 1, 2)) > 0)
    slab = slice(max(int(planes.min()) - SLAB_MARGIN, 0), min(int(planes.max()) + 1 + SLAB_MARGIN, n))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one case per core: torch's intra-op threads thrash on a shared machine
    try:
        with torch.no_grad():
            primary = np.repeat(system_for(slice(0, n)).forward(torch.tensor(rendered.static)).cpu().numpy()[None],
                                case.gates, axis=0)
            heart_system = system_for(slab)
            for g, volume in enumerate(beating):
                primary[g, :, :, slab] += heart_system.forward(torch.tensor(np.ascontiguousarray(volume[..., slab]))
                                                               ).cpu().numpy()
    finally:
        torch.set_num_threads(threads)
    sigma = SCATTER_KERNEL_MM / case.voxel_mm
    scatter = ndimage.gaussian_filter(primary, (0, 0, sigma, sigma), mode="constant")
    expected = primary + case.scatter_fraction / (1.0 - case.scatter_fraction) * scatter
    per_gate = expected.sum(axis=(1, 2, 3)) / case.views  # counts per view of each gate at unit scale
    expected *= (case.counts_per_view * gate_weights(case) / per_gate)[:, None, None, None]
    rng = np.random.default_rng([case.noise_seed, 11])
    return rng.poisson(expected).astype(np.float32)


def write_projection_file(case: TorsoCase, path: str | Path, rendered: Rendered | None = None) -> Path:
    """Simulate the acquisition and write it as DICOM NM GATED TOMO (read back by :func:`lvmd.scanner.from_projections`)."""
    path = Path(path)
    write_projections(path, project(case, rendered), detector_angles(case), case.voxel_mm, case.radius_mm)
    return path


def transaxial_volume(case: TorsoCase, rendered: Rendered | None = None) -> np.ndarray:
    """Image-domain gated transaxial study (T, X, Y, Z) in PyTomography object axes.

    The activity is blurred to the system resolution ``recon_fwhm_mm``, given Poisson noise at
    ``NOISE_EQUIVALENT_FRACTION`` of the gate's acquired counts, and post-filtered with the clinical Butterworth filter
    (order 10, 0.3 cycles/cm) that :func:`lvmd.scanner.reconstruct` applies. The fraction was calibrated on this bench:
    it gives a static organ the same voxel noise over gates as the projection path reconstructed by lvmd (OSEM 3 x 10
    + Butterworth) at the same counts (a test checks it).
    """
    rendered = rendered if rendered is not None else render(case)
    sigma = case.recon_fwhm_mm / 2.3548 / case.voxel_mm
    blurred = np.stack([ndimage.gaussian_filter(a, sigma) for a in rendered.activity])
    total = NOISE_EQUIVALENT_FRACTION * case.counts_per_view * case.views * gate_weights(case)
    expected = blurred * (total / blurred.sum(axis=(1, 2, 3)))[:, None, None, None]
    rng = np.random.default_rng([case.noise_seed, 12])
    noisy = rng.poisson(expected).astype(np.float32)
    return np.stack([np.clip(butterworth(v, case.voxel_mm), 0.0, None) for v in noisy]).astype(np.float32)


def _export(counts: np.ndarray, ceiling: int | None) -> np.ndarray:
    """Scale each gate to an integer maximum of ``ceiling`` (a per-gate scaled 8-bit export), or leave as is."""
    if ceiling is None:
        return counts
    peaks = counts.reshape(counts.shape[0], -1).max(axis=1)
    return np.round(counts * (ceiling / np.maximum(peaks, 1e-9))[:, None, None, None]).astype(np.float32)


def transaxial_study(case: TorsoCase, rendered: Rendered | None = None, study_id: str = "torso") -> GatedSpect:
    """The image-domain transaxial study in the DICOM display order :func:`lvmd.scanner.from_transaxial` reads
    (slices superior -> inferior, rows anterior -> posterior, columns patient right -> left)."""
    volume = transaxial_volume(case, rendered)
    display = np.transpose(volume, (0, 3, 2, 1))[:, ::-1]
    h = case.voxel_mm
    return GatedSpect(_export(np.ascontiguousarray(display), case.export_ceiling), (h, h, h), study_id)


def short_axis_frame(case: TorsoCase, margin_apex_mm: float = 25.0, margin_base_mm: float = 35.0,
                     in_plane: int = 64, offset_vox: tuple[float, float] = (0.0, 0.0)):
    """Short-axis grid from the true axis: (origin mm, unit axes rows [slice, row, col], shape).

    Slices run apex -> base along ``-u``, rows anterior -> inferior (``-a``), columns septal -> lateral (``+l``),
    with the display frame of :class:`TorsoCase`; the in-plane centre sits on the axis, moved by ``offset_vox``.
    """
    h = case.voxel_mm
    u = case.apex_direction
    lat, ant = case.display_frame
    lb = case.lv_dimensions["apex_to_base"]
    start = case.apex_mm + (margin_apex_mm + case.wall_mm / 2.0) * u
    slices = int(np.ceil((lb + case.wall_mm / 2.0 + margin_apex_mm + margin_base_mm) / h)) + 1
    axes = np.stack([-u, -ant, lat])
    centre_in_plane = (in_plane - 1) / 2.0
    origin = start - (centre_in_plane + offset_vox[0]) * h * axes[1] - (centre_in_plane + offset_vox[1]) * h * axes[2]
    return origin, axes, (slices, in_plane, in_plane)


def short_axis_study(case: TorsoCase, rendered: Rendered | None = None, study_id: str = "torso",
                     margin_apex_mm: float = 25.0, margin_base_mm: float = 35.0, in_plane: int = 64,
                     offset_vox: tuple[float, float] = (0.0, 0.0)) -> tuple[GatedSpect, ShortAxisTruth]:
    """Resample the image-domain transaxial study into a gated short-axis study along the TRUE axis.

    Everything in the field comes along (RV, atria, liver, gut). Returns the study and where the truth lies in it.
    """
    volume = transaxial_volume(case, rendered)
    origin, axes, shape = short_axis_frame(case, margin_apex_mm, margin_base_mm, in_plane, offset_vox)
    h = case.voxel_mm
    k, i, j = np.meshgrid(*[np.arange(s, dtype=float) for s in shape], indexing="ij")
    points = origin + h * (k[..., None] * axes[0] + i[..., None] * axes[1] + j[..., None] * axes[2])
    vox = case.to_voxel(points).reshape(-1, 3).T
    sa = np.stack([ndimage.map_coordinates(v, vox, order=1, mode="constant").reshape(shape) for v in volume])
    sa = np.clip(sa, 0.0, None).astype(np.float32)

    def to_sa(point_mm):
        return (np.asarray(point_mm) - origin) @ axes.T / h

    truth = ShortAxisTruth(centre=to_sa(case.centre_mm), apex=to_sa(case.apex_mm), base_ed=to_sa(case.base_centre_mm(0.0)),
                           base_es=to_sa(case.base_centre_mm(1.0)), origin_mm=origin, axes_mm=axes)
    return GatedSpect(_export(sa, case.export_ceiling), (h, h, h), study_id), truth
