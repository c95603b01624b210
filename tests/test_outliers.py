"""Weak wall samples in anti-phase to coherent neighbours (lvmd.phase.outliers): exact flags on drawn phasor grids."""

import numpy as np

from lvmd.phase.outliers import isolated_samples

ROWS, ANGLES = 8, 40


def _lbbb_grid() -> np.ndarray:
    """First-harmonic coefficients of a wall whose phase rises smoothly from septum (120 deg) to lateral (220)."""
    theta = (np.arange(ANGLES) + 0.5) * 360.0 / ANGLES
    phase = 170.0 + 50.0 * np.cos(np.radians(theta))
    amplitude = 1.0 + 0.2 * np.sin(np.radians(theta))[None, :] * np.ones((ROWS, 1))
    return (amplitude * np.exp(1j * np.radians(phase))[None, :]).ravel()


def test_one_weak_sample_in_anti_phase_is_flagged_and_nothing_else():
    c = _lbbb_grid()
    assert not isolated_samples(c, ANGLES).any()
    c[3 * ANGLES + 7] = -0.3 * c[3 * ANGLES + 7]
    flagged = isolated_samples(c[:, None], ANGLES)  # (N, K) coefficients read their first column
    assert np.flatnonzero(flagged).tolist() == [3 * ANGLES + 7]


def test_a_strong_sample_in_anti_phase_is_left_out_too():
    # neighbours that share most of its counts cannot all beat 180 deg from it, however strongly it beats
    c = _lbbb_grid()
    c[5 * ANGLES + 20] = -c[5 * ANGLES + 20]
    assert np.flatnonzero(isolated_samples(c, ANGLES)).tolist() == [5 * ANGLES + 20]


def test_two_bad_samples_side_by_side_do_not_shield_each_other():
    # bench: two adjacent samples in anti-phase beside a gut loop (0.7 and 0.4 of their neighbours' amplitude)
    c = _lbbb_grid()
    upper, lower = 3 * ANGLES + 33, 4 * ANGLES + 33
    c[upper] *= -0.7
    c[lower] *= -0.4
    assert np.flatnonzero(isolated_samples(c, ANGLES)).tolist() == [upper, lower]


def test_a_sharp_regional_step_is_kept():
    # half the ring 120 deg late, with no blur at all: the samples at each edge have neighbours on both sides
    c = _lbbb_grid().reshape(ROWS, ANGLES)
    c[:, ANGLES // 2:] *= np.exp(1j * np.radians(120.0))
    assert not isolated_samples(c.ravel(), ANGLES).any()


def test_a_weak_region_beating_late_together_is_kept():
    # a scar-like block (3 rows x 6 rays) at 20 % amplitude, 150 deg late: inside it the neighbours agree with each
    # sample; at its edge they disagree among themselves
    c = _lbbb_grid().reshape(ROWS, ANGLES)
    c[2:5, 10:16] *= 0.2 * np.exp(1j * np.radians(150.0))
    assert not isolated_samples(c.ravel(), ANGLES).any()


def test_the_ring_wraps_around():
    c = _lbbb_grid()
    c[4 * ANGLES] = -0.2 * c[4 * ANGLES]  # ray 0: two of its neighbours each row are rays 38 and 39
    assert np.flatnonzero(isolated_samples(c, ANGLES)).tolist() == [4 * ANGLES]


def test_the_weaker_a_sample_the_less_disagreement_it_takes():
    # the phase limit is 90 deg at half the neighbours' amplitude and shrinks in proportion below it
    c = _lbbb_grid()
    faint, weak = 2 * ANGLES + 11, 6 * ANGLES + 30
    c[faint] *= 0.08 * np.exp(1j * np.radians(-56.0))  # a twelfth of the amplitude, 56 deg off: limit 14 deg
    c[weak] *= 0.4 * np.exp(1j * np.radians(56.0))  # 0.4 of the amplitude, 56 deg off: limit 72 deg
    assert np.flatnonzero(isolated_samples(c, ANGLES)).tolist() == [faint]


def test_samples_left_out_already_are_neither_judged_nor_neighbours():
    """A weak anti-phase sample beside four samples 150 deg off, left out by another flag (valve plane, lit by
    extracardiac activity). They are not neighbours, so the ten left agree and the bad sample is flagged, and they are
    not judged again. Not left out, they are judged too, all five in anti-phase to the wall around them."""
    c = _lbbb_grid()
    bad = 4 * ANGLES + 10
    others = [3 * ANGLES + 9, 3 * ANGLES + 10, 3 * ANGLES + 11, 3 * ANGLES + 12]
    c[bad] = -0.3 * c[bad]
    c[others] = c[others] * np.exp(1j * np.radians(150.0))
    left_out = np.zeros(len(c), bool)
    left_out[others] = True
    assert np.flatnonzero(isolated_samples(c, ANGLES, left_out=left_out)).tolist() == [bad]
    assert np.flatnonzero(isolated_samples(c, ANGLES)).tolist() == others + [bad]


def test_a_run_of_bad_samples_is_peeled_from_its_ends():
    """Five weak samples side by side in one row, in anti-phase (the apical cap beside a gut loop): the middle one's
    neighbours include four of them, too many to agree, so one pass kept it (PSD 9.3 against 0 on the bench). The test
    is repeated without the samples it flagged: all five go, nothing else."""
    c = _lbbb_grid()
    run = [2 * ANGLES + a for a in range(20, 25)]
    c[run] = -0.06 * c[run]
    assert np.flatnonzero(isolated_samples(c, ANGLES)).tolist() == run
