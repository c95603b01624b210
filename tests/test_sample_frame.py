"""The axial frame that makes wall samples follow the base (lvmd.phase.sample.AxialFrame): exact positions."""

import numpy as np

from lvmd.phase.sample import AxialFrame


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
