"""Wall samples whose phase cannot be myocardium: weak, and in anti-phase to every coherent neighbour.

At SPECT resolution (10-18 mm FWHM) neighbouring samples (one row and two rays apart, 3-7 mm) share most of their
counts, so a real regional delay changes smoothly from sample to sample (the argument
:func:`lvmd.phase.base.valve_plane_samples` makes between rows at the base). A sample whose first harmonic is much
weaker than its neighbours' and whose phase lies more than 90 degrees from theirs, while they agree among themselves,
is reading something else: spill from extracardiac activity that its maximal-count window reaches in some gates, or
a noise spike. One such sample in anti-phase adds 10 degrees to the PSD of a synchronous LV (bench: a 16-gate LV
beside a gut loop 8x its level read PSD 10.3 against a true 0 from two of them). A scar is left alone: its samples
are weak together, so their neighbours do not agree.
"""

from __future__ import annotations

import numpy as np

AMPLITUDE_RATIO = 0.5  # weaker than this fraction of the neighbours' median amplitude
ANTI_PHASE_DEG = 90.0  # and farther than this from the neighbours' mean phase
NEIGHBOUR_COHERENCE = 0.9  # while the neighbours' unit phasors average to at least this (circular SD <= 26 deg)


def isolated_samples(coefficients: np.ndarray, n_angles: int) -> np.ndarray:
    """Bool per sample (grid order, rows x ``n_angles``): the weak samples in anti-phase to coherent neighbours.

    ``coefficients`` are the samples' first-harmonic coefficients (N,) or (N, K) (the first column is used).
    Neighbours: the same and the adjacent rows, two rays either side (around the ring).
    """
    c = np.asarray(coefficients)
    c = (c[:, 0] if c.ndim == 2 else c).reshape(-1, n_angles)
    amplitude = np.abs(c)
    unit = c / np.maximum(amplitude, 1e-300)
    rows = c.shape[0]
    # Neighbours as a stack (rows, angles, 14): rows beyond the grid are NaN, the ring wraps.
    padded_unit = np.pad(unit, ((1, 1), (0, 0)), constant_values=np.nan)
    padded_amplitude = np.pad(amplitude, ((1, 1), (0, 0)), constant_values=np.nan)
    shifts = [(dr, da) for dr in (-1, 0, 1) for da in range(-2, 3) if (dr, da) != (0, 0)]
    neighbours = np.stack([np.roll(padded_unit, -da, axis=1)[1 + dr:1 + dr + rows] for dr, da in shifts], axis=-1)
    strength = np.stack([np.roll(padded_amplitude, -da, axis=1)[1 + dr:1 + dr + rows] for dr, da in shifts], axis=-1)
    mean = np.nanmean(neighbours, axis=-1)
    weak = amplitude < AMPLITUDE_RATIO * np.nanmedian(strength, axis=-1)
    apart = np.abs(np.angle(unit * np.conj(mean), deg=True)) > ANTI_PHASE_DEG
    return (weak & apart & (np.abs(mean) >= NEIGHBOUR_COHERENCE)).ravel()
