"""Wall samples whose phase cannot be myocardium: out of phase with neighbours that agree among themselves.

At SPECT resolution (10-18 mm FWHM) neighbouring samples (one row and two rays apart, 3-7 mm) share most of their
counts, so a real regional delay changes smoothly from sample to sample (the argument
:func:`lvmd.phase.base.valve_plane_samples` makes between rows at the base). A sample whose phase lies more than
90 degrees from its neighbours', while they agree among themselves, is reading something else: spill from
extracardiac activity that its maximal-count window reaches in some gates, or a noise spike. One such sample adds
10 degrees to the PSD of a synchronous LV (bench: a 16-gate LV beside a gut loop 8x its level read PSD 10.3 against
a true 0 from two of them). The weaker the sample, the less disagreement it takes: below half the neighbours'
amplitude the limit shrinks in proportion (45 degrees at a quarter, 15 at a twelfth), since a sample that hardly
beats cannot carry a regional delay that neighbours sharing its counts do not show (bench: one sample at a twelfth
of its neighbours' amplitude and 56 deg off took a synchronous LV to PSD 5.2 against a true 0; without it 2.1).
Neighbours agree when at least three quarters of them lie within 90 degrees of their mean and those average to a
coherent phasor: two bad samples side by side must not shield each other (bench: two adjacent samples in
anti-phase beside a gut loop took a synchronous LV to PSD 15.7), and the test is repeated without the samples it
flagged. A scar is left alone: its samples are weak together, so their neighbours do not agree (phantom scars of
20-30 % uptake at the apex, lateral and inferior walls: the repeats leave out 0-4 more samples, PSD within 0.5 deg).
"""

from __future__ import annotations

import warnings

import numpy as np

ANTI_PHASE_DEG = 90.0  # a sample farther than this from its neighbours' mean phase is left out
AMPLITUDE_RATIO = 0.5  # below this fraction of the neighbours' median amplitude the limit shrinks in proportion
NEIGHBOUR_AGREEMENT = 0.75  # neighbours agree when this fraction lies within ANTI_PHASE_DEG of their mean
NEIGHBOUR_COHERENCE = 0.9  # and those average to at least this (circular SD <= 26 deg)
MAX_PASSES = 4  # repeats of the test without the samples already flagged


def isolated_samples(coefficients: np.ndarray, n_angles: int, left_out: np.ndarray | None = None) -> np.ndarray:
    """Bool per sample (grid order, rows x ``n_angles``): the samples out of phase with neighbours that agree.

    ``coefficients`` are the samples' first-harmonic coefficients (N,) or (N, K) (the first column is used).
    Neighbours: the same and the adjacent rows, two rays either side (around the ring). Samples ``left_out`` already
    (bool, N: valve plane, lit by extracardiac activity...) are neither judged nor neighbours: what they read must not
    keep a bad sample beside them from being judged against the wall that is left. For the same reason the test is
    repeated without the samples it flagged (up to ``MAX_PASSES`` times), so a run of bad samples is peeled from its
    ends inwards (bench: five weak samples side by side in anti-phase at the apical cap beside a gut loop; the middle
    one, shielded by the other four, took a synchronous LV to PSD 9.3 against a true 0).
    """
    c = np.asarray(coefficients)
    c = (c[:, 0] if c.ndim == 2 else c).astype(np.complex128)
    excluded = np.zeros(len(c), bool) if left_out is None else np.asarray(left_out, bool)
    flagged = np.zeros(len(c), bool)
    for _ in range(MAX_PASSES):
        found = _out_of_phase(np.where(excluded | flagged, np.nan, c).reshape(-1, n_angles)).ravel()
        if not found.any():
            break
        flagged |= found
    return flagged


def _out_of_phase(c: np.ndarray) -> np.ndarray:
    """One pass of the test on a (rows, angles) grid of coefficients, NaN where a sample is not there."""
    amplitude = np.abs(c)
    rows = c.shape[0]
    with np.errstate(invalid="ignore"), warnings.catch_warnings():  # NaN samples neither agree nor count
        warnings.simplefilter("ignore", RuntimeWarning)
        unit = c / np.maximum(amplitude, 1e-300)
        # Neighbours as a stack (rows, angles, 14): rows beyond the grid are NaN, the ring wraps.
        padded_unit = np.pad(unit, ((1, 1), (0, 0)), constant_values=np.nan)
        padded_amplitude = np.pad(amplitude, ((1, 1), (0, 0)), constant_values=np.nan)
        shifts = [(dr, da) for dr in (-1, 0, 1) for da in range(-2, 3) if (dr, da) != (0, 0)]
        neighbours = np.stack([np.roll(padded_unit, -da, axis=1)[1 + dr:1 + dr + rows] for dr, da in shifts], axis=-1)
        strength = np.stack([np.roll(padded_amplitude, -da, axis=1)[1 + dr:1 + dr + rows] for dr, da in shifts], axis=-1)
        first_mean = np.nanmean(neighbours, axis=-1)
        agree = np.abs(np.angle(neighbours * np.conj(first_mean)[..., None], deg=True)) <= ANTI_PHASE_DEG
        agreeing = agree.sum(axis=-1)
        mean = np.where(agree, neighbours, 0).sum(axis=-1) / np.maximum(agreeing, 1)
        coherent = (np.abs(mean) >= NEIGHBOUR_COHERENCE) & (
            agreeing >= NEIGHBOUR_AGREEMENT * np.isfinite(neighbours.real).sum(-1))
        typical = np.nanmedian(strength, axis=-1)
        ratio = np.divide(amplitude, typical, out=np.ones_like(amplitude), where=typical > 0)  # still neighbours: no shrink
        limit_deg = ANTI_PHASE_DEG * np.minimum(ratio / AMPLITUDE_RATIO, 1.0)
        apart = np.abs(np.angle(unit * np.conj(mean), deg=True)) > limit_deg
    return apart & coherent & np.isfinite(amplitude)
