"""The axial frame that makes wall samples follow the base (lvmd.phase.sample.AxialFrame): exact positions."""

import numpy as np

from scipy import ndimage

from lvmd.phase.geometry import LvGeometry
from lvmd.phase.sample import STATIC_CROSSING, AxialFrame, sample_wall


def test_one_base_scales_every_row_towards_the_apex():
    frame = AxialFrame(apex=2.0, base=12.0, base_per_gate=np.array([12.0, 10.0]))
    z = np.array([2.0, 7.0, 12.0])
    assert np.allclose(frame.tracked(z, 0, [45.0, 200.0]), [[2, 2], [7, 7], [12, 12]])
    assert np.allclose(frame.tracked(z, 1, [45.0]), [[2.0], [6.0], [10.0]])  # half-way row moves half the descent
    assert np.allclose(frame.rho(z), [0.0, 0.5, 1.0])


def test_sector_bases_are_interpolated_around_the_ring():
    # four sectors centred on 45, 135, 225, 315 degrees; in gate 1 only the first (lateral-anterior) descends 2 slices
    bases = np.array([[12.0, 12.0, 12.0, 12.0], [10.0, 12.0, 12.0, 12.0]])
    frame = AxialFrame(apex=2.0, base=12.0, base_per_gate=bases)
    at = frame.tracked(np.array([12.0]), 1, [45.0, 90.0, 135.0, 0.0, 350.0, 225.0])[0]
    assert np.allclose(at, [10.0, 11.0, 12.0, 11.0, 12.0 - 2 * 35 / 90, 12.0])


def test_a_still_base_leaves_rows_where_they_are():
    frame = AxialFrame(apex=2.0, base=12.0)
    assert np.allclose(frame.tracked(np.array([3.0, 9.5]), 4, np.arange(0.0, 360.0, 90.0)), [[3.0] * 4, [9.5] * 4])


# --- rays that would follow the base through static activity stay in their slice -------------------------------------

def _still_wall_with_a_hot_tail(blob_level: float):
    """A gated study in which nothing beats: a cylindrical wall (4 mm voxels, radius 6 voxels, slices 4-18) whose
    counts rise 1 % per slice towards the base, and a static blob ``blob_level`` x the wall just outside it laterally
    (+col, theta 0) at slice 6, inside the LV region (where nothing is masked). Every gate is identical, so any
    variation of a sample's curve over gates is made by where the sample is taken, not by the heart."""
    T, Z, Y, X = 8, 24, 64, 64
    z, y, x = np.ogrid[0:Z, 0:Y, 0:X]
    r = np.hypot(y - 32.0, x - 32.0)
    wall = np.exp(-0.5 * ((r - 6.0) / 1.2) ** 2) * (1.0 + 0.01 * (z - 4)) * ((z >= 4) & (z <= 18))
    blob = blob_level * np.exp(-0.5 * (((z - 6.0) / 1.5) ** 2 + ((y - 32.0) / 2.0) ** 2 + ((x - 41.0) / 2.0) ** 2))
    volume = ndimage.gaussian_filter(wall, 1.0) + blob
    counts = np.repeat(volume[None].astype(np.float32), T, axis=0)
    level = float(T * ndimage.gaussian_filter(wall, 1.0).max())
    geometry = LvGeometry(centres=np.full((Z, 2), 32.0), apex_slice=4, ring_slice=7, base_slice=16, radius_vox=6.0,
                          level=level)
    descent = 2.0 * np.sin(np.pi * np.arange(T) / T) ** 2  # the base descends 2 slices at mid-cycle
    frame = AxialFrame(apex=4.0, base=19.0, base_per_gate=19.0 - descent)
    return counts, geometry, frame


def test_rays_whose_path_crosses_a_static_gradient_stay_in_their_slice():
    counts, geometry, frame = _still_wall_with_a_hot_tail(blob_level=4.0)
    samples = sample_wall(counts, geometry, (4.0, 4.0, 4.0), frame, n_angles=40, smoothing_mm=0.0)
    swing = np.ptp(samples.curves, axis=1) / (geometry.level / counts.shape[0])  # in units of the LV level
    row = np.repeat(samples.row_slice, 40)
    lateral = np.abs(((samples.theta + 180) % 360) - 180) < 30
    septal = np.abs(samples.theta - 180) < 30
    near = lateral & (row >= 9) & (row <= 11)  # beside the blob's tail, not behind its hottest part
    # Before the rule, these rays followed the base into the tail and read up to 0.35 x the LV level of static
    # activity as a count curve: now they stay in their slice (a flat curve) or read what the rule allows.
    assert (swing[near] == 0.0).sum() >= 6
    assert swing[near & (row >= 7)].max() <= 1.1 * STATIC_CROSSING
    # away from it the rays still follow the base: the wall's own 1 %-per-slice gradient shows, and no more
    far = septal & (row >= 7) & (row <= 12)
    assert 0.0 < swing[far].min() and swing[far].max() < 0.03


def test_without_static_activity_every_ray_follows_the_base():
    counts, geometry, frame = _still_wall_with_a_hot_tail(blob_level=0.0)
    samples = sample_wall(counts, geometry, (4.0, 4.0, 4.0), frame, n_angles=40, smoothing_mm=0.0)
    row = np.repeat(samples.row_slice, 40)
    moving = (row >= 7) & (row <= 16)
    assert (np.ptp(samples.curves[moving], axis=1) > 0).all()
