"""Localisation on LVs drawn here, independently of lvmd's torso bench: a cup open at the base, with blood pool in the
cavity and a liver joined to the wall.

The geometry is this file's own (a truncated prolate-ellipsoid shell whose base lies just past its equator, as in
dilated, spherical CRT candidates; cavity at 30 % of the wall's counts after blur), so the shell detector's
assumptions are not the phantom's. Before the detector scored a sector just above the weakest few, the weakest of
eight octants looked into the open base and these LVs scored below the acceptance threshold ("no LV found"); before
the wall centroid kept to slabs that the myocardium rings, a liver joined to the wall pulled the centre 2-4 cm
towards the base.
"""

import numpy as np
import pytest
from scipy import ndimage

from lvmd.scanner.reorient import axis_from_angles, reorient_to_short_axis

VOXEL_MM = 6.4
N = 48


def _cup_study(seed: int, cavity_mm: float, half_length_mm: float, liver: bool):
    """Gated (8, x, y, z) counts of a cup-shaped LV (x right -> left, y anterior -> posterior, z inferior ->
    superior) and its truth: the centroid of the end-diastolic wall (voxels) and the base -> apex direction."""
    rng = np.random.default_rng(seed)
    axis = axis_from_angles(-40.0 + rng.uniform(-10, 10), -30.0 + rng.uniform(-10, 10))
    g = (np.indices((N, N, N)).reshape(3, -1).T - (N - 1) / 2.0) * VOXEL_MM  # mm from the grid centre
    centre = np.array([35.0, -20.0, 25.0])  # ellipsoid centre: left, anterior, superior of the grid centre
    rel = g - centre
    along = rel @ axis  # towards the apex
    radial = np.linalg.norm(rel - np.outer(along, axis), axis=1)
    wall_mm = 10.0

    def inside(radius, half_length):
        return (radial / radius) ** 2 + (along / half_length) ** 2 <= 1.0

    open_base = along >= -0.1 * half_length_mm
    cavity = inside(cavity_mm, half_length_mm) & open_base
    wall = inside(cavity_mm + wall_mm, half_length_mm + 0.9 * wall_mm) & open_base & ~cavity
    truth_centre = (g[wall].mean(axis=0) / VOXEL_MM) + (N - 1) / 2.0
    body = ((g[:, 0] / 170.0) ** 2 + (g[:, 1] / 110.0) ** 2 <= 1.0).astype(float)
    static = 0.06 * body + 0.3 * cavity
    if liver:  # on the patient's right and below, reaching up to the inferior wall and past the base
        organ = ((g[:, 0] + 55.0) / 90.0) ** 2 + ((g[:, 1] - 5.0) / 70.0) ** 2 + ((g[:, 2] + 45.0) / 75.0) ** 2 <= 1.0
        static = static + 0.7 * organ
    sigma = 14.0 / 2.355 / VOXEL_MM
    gates = []
    for t in (np.arange(8) + 0.5) / 8:
        beat = 1.0 + 0.35 * np.cos(2 * np.pi * (t - 0.35))  # wall counts rise as it thickens
        frame = (static + beat * wall).reshape(N, N, N)
        gates.append(ndimage.gaussian_filter(frame, sigma))
    counts = np.stack(gates)
    counts *= 60.0 / counts.max()  # about 60 counts per voxel per gate at the wall's peak
    return rng.poisson(counts).astype(np.float32), truth_centre, axis


@pytest.mark.parametrize("seed, cavity_mm, half_length_mm, liver", [
    (1, 30.0, 50.0, False),  # a wide cup: its cavity is as long as it is wide
    (2, 34.0, 55.0, True),   # dilated, with a liver joined to the inferior wall
    (3, 24.0, 45.0, True),   # a normal-sized LV beside the liver
])
def test_cup_shaped_lv_is_found_centred_and_aligned(seed, cavity_mm, half_length_mm, liver):
    counts, truth_centre, truth_axis = _cup_study(seed, cavity_mm, half_length_mm, liver)
    _, info = reorient_to_short_axis(counts, VOXEL_MM)
    centre_error_mm = float(np.linalg.norm(info.centre - truth_centre) * VOXEL_MM)
    axis_error_deg = float(np.degrees(np.arccos(np.clip(np.dot(info.apex_direction, truth_axis), -1, 1))))
    assert centre_error_mm <= 10.0, (info.centre, truth_centre)
    assert axis_error_deg <= 10.0, (info.apex_direction, truth_axis)
