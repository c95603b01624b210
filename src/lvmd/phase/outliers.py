"""Wall samples whose phase cannot be myocardium: weak, and out of phase with coherent neighbours.

At SPECT resolution (10-18 mm FWHM) neighbouring samples (one row and two rays apart, 3-7 mm) share most of their
counts, so a real regional delay changes smoothly from sample to sample (the argument
:func:`lvmd.phase.base.valve_plane_samples` makes between rows at the base). A sample whose first harmonic is much
weaker than its neighbours' and whose phase lies more than 90 degrees from theirs, while they agree among themselves,
is reading something else: spill from extracardiac activity that its maximal-count window reaches in some gates, or
a noise spike. One such sample in anti-phase adds 10 degrees to the PSD of a synchronous LV (bench: a 16-gate LV
beside a gut loop 8x its level read PSD 10.3 against a true 0 from two of them). The weaker the sample, the less
disagreement it takes: the phase limit shrinks in proportion to the amplitude ratio (90 degrees at half the
neighbours' amplitude, 15 at a twelfth). A sample that hardly beats cannot carry a regional delay its neighbours,
which share most of its counts, do not show (bench: one sample at a twelfth of its neighbours' amplitude and 56 deg
off, beside a gut loop, took a synchronous LV to PSD 5.2 against a true 0; without it 2.1). A scar is left alone:
its samples are weak together, so their neighbours do not agree.
"""

from __future__ import annotations

import numpy as np

AMPLITUDE_RATIO = 0.5  # weaker than this fraction of the neighbours' median amplitude
ANTI_PHASE_DEG = 90.0  # and farther than this from the neighbours' mean phase, times amplitude ratio / AMPLITUDE_RATIO
NEIGHBOUR_COHERENCE = 0.9  # while the neighbours' unit phasors average to at least this (circular SD <= 26 deg)


def isolated_samples(coefficients: np.ndarray, n_angles: int) -> np.ndarray:
    """Bool per sample (grid order, rows x ``n_angles``): the weak samples out of phase with coherent neighbours.

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
    ratio = amplitude / np.nanmedian(strength, axis=-1)
    limit_deg = ANTI_PHASE_DEG * np.minimum(ratio / AMPLITUDE_RATIO, 1.0)
    weak = ratio < AMPLITUDE_RATIO
    apart = np.abs(np.angle(unit * np.conj(mean), deg=True)) > limit_deg
    return (weak & apart & (np.abs(mean) >= NEIGHBOUR_COHERENCE)).ravel()
