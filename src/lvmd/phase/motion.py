"""Where the heart beats: per-voxel first-harmonic power over the gates, with the noise taken out.

The heart is the only structure in the field of view that changes with the ECG; the liver, gut loops, injection site
and background are static, so over the gates their voxels vary by noise alone. This module measures, in every voxel,
the power of the first temporal harmonic of the count curve and subtracts the noise power, estimated in the same
voxel from the highest harmonics (the cardiac count curve is smooth, so its energy sits in the first two or three
harmonics while Poisson/reconstruction noise, independent from gate to gate, spreads evenly over all of them). What
is left is the *beating power*: about zero in static activity however hot, positive in and around the LV wall.

Two details make it hold on clinical files:

- Each gate is first scaled to the mean total count: bad-beat rejection, variable R-R intervals and per-gate scaled
  exports change every voxel of a gate by the same factor, which would otherwise make a hot static liver "beat".
- The coefficients are smoothed in space before the power is taken (the heart beats coherently over a few mm,
  noise does not), and the noise harmonics are smoothed the same way, so the subtraction stays unbiased. The noise
  power is modelled as proportional to the mean counts (one ratio for the whole volume), which is far steadier than
  each voxel's own few-harmonic estimate.

The temporal harmonics are a plain DFT written out here (a (harmonics x gates) matrix product) because numpy.fft
would compute every harmonic of every voxel and cannot weight the gates; scipy.ndimage does the smoothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

COHERENT_SMOOTHING_MM = 6.0  # the heart beats in phase over this scale; noise does not
POWER_SMOOTHING_MM = 8.0  # a noise region's power fluctuates voxel by voxel about zero: average it out


@dataclass
class BeatingMap:
    """Beating power of a gated volume on a (possibly binned) grid.

    Attributes
    ----------
    power : numpy.ndarray
        First-harmonic power minus noise power, averaged over about a centimetre and clipped at 0 (binned grid).
    excess : numpy.ndarray
        The same before clipping (about zero, positive or negative, where nothing beats).
    noise : numpy.ndarray
        Noise power per voxel (same grid), the expectation of the first harmonic's power where nothing beats.
    mean : numpy.ndarray
        Mean counts per gate (same grid).
    factor : tuple of int
        Binning factor per spatial axis: binned voxel i covers original voxels [i * f, (i + 1) * f).
    gate_totals : numpy.ndarray
        Total counts of each gate (before scaling).
    """

    power: np.ndarray
    excess: np.ndarray
    noise: np.ndarray
    mean: np.ndarray
    factor: tuple[int, ...]
    gate_totals: np.ndarray

    def to_original(self, index) -> np.ndarray:
        """Centre of binned voxel ``index`` in original voxel coordinates."""
        return np.asarray(index, float) * np.asarray(self.factor) + (np.asarray(self.factor) - 1) / 2.0

    def snr(self, region: np.ndarray | None = None) -> float:
        """Beating power over noise power, summed over ``region`` (bool mask on the binned grid; default all)."""
        if region is None:
            region = np.ones(self.power.shape, bool)
        noise = float(self.noise[region].sum())
        return float(self.excess[region].sum()) / noise if noise > 0 else 0.0


def noise_model(measured: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """Noise power proportional to the mean counts, scaled by the median measured ratio over the brighter voxels.

    Each voxel's own estimate rests on a handful of degrees of freedom (two or three harmonics at 8 gates), far too
    few under a liver 10x hotter than the LV; counting noise grows with the counts, so one ratio fitted over the
    whole field of view predicts every voxel's noise much more precisely.
    """
    bright = mean > 0.2 * mean.max() if mean.max() > 0 else np.ones(mean.shape, bool)
    ratio = float(np.median(measured[bright] / np.maximum(mean[bright], 1e-300)))
    return ratio * mean


def noise_harmonics(gates: int) -> np.ndarray:
    """Harmonics used to measure noise: from max(3, gates // 4) to the Nyquist harmonic gates // 2."""
    return np.arange(max(3, gates // 4), gates // 2 + 1)


def harmonic_basis(gates: int, harmonics, weights: np.ndarray | None = None) -> np.ndarray:
    """Real DFT rows (cos, sin per harmonic) (2/T) w_t [cos, sin](2 pi k (t + 1/2) / T), shape (2 K, T).

    Gates are sampled at their centres (gate g covers [g/T, (g+1)/T)), as in :mod:`lvmd.phase.harmonic`.
    """
    t = (np.arange(gates) + 0.5) / gates
    arg = 2 * np.pi * np.outer(np.atleast_1d(harmonics), t)
    rows = 2.0 / gates * np.stack([np.cos(arg), np.sin(arg)], axis=1).reshape(-1, gates)
    return rows if weights is None else rows * weights[None, :]


def bin_volume(volume: np.ndarray, factor: tuple[int, ...]) -> np.ndarray:
    """Sum the last three axes of ``volume`` over blocks of ``factor`` voxels (a partial block at the end is dropped).

    Strided slice additions: much faster on large arrays than one reshape-and-reduce.
    """
    out = np.asarray(volume)
    for axis, f in zip(range(out.ndim - 3, out.ndim), factor):
        if f == 1:
            continue
        n = out.shape[axis] // f * f
        index = [slice(None)] * out.ndim
        total = None
        for i in range(f):
            index[axis] = slice(i, n, f)
            total = out[tuple(index)] if total is None else total + out[tuple(index)]
        out = total
    return np.asarray(out, dtype=np.float64)


def binning_for(spacing_mm, target_mm: float = 8.0) -> tuple[int, ...]:
    """Per-axis binning factor that brings voxels up to about ``target_mm`` (1 where they are already coarse)."""
    return tuple(max(1, int(target_mm // float(s))) for s in spacing_mm)


def beating_map(counts: np.ndarray, spacing_mm, target_mm: float = 8.0) -> BeatingMap:
    """Beating power of a gated (T, A, B, C) volume on a grid binned to about ``target_mm`` voxels.

    The first harmonic is measured twice, on the gates as they are and on the gates scaled to equal totals, and
    the smaller power is kept: a voxel beats only if it beats either way. Scaling removes gating dropouts and
    per-gate export scaling (which would make hot static activity "beat"); not scaling keeps a heart whose counts
    are not conserved over the cycle (as in simple phantoms) from making the static activity beat in anti-phase.
    """
    counts = np.asarray(counts)
    T = counts.shape[0]
    factor = binning_for(spacing_mm, target_mm)
    binned = bin_volume(counts, factor)
    totals = binned.reshape(T, -1).sum(axis=1)
    weights = np.where(totals > 0, totals.mean() / np.maximum(totals, 1e-12), 0.0)
    noise_k = noise_harmonics(T)
    basis = np.concatenate([harmonic_basis(T, 1), harmonic_basis(T, 1, weights), harmonic_basis(T, noise_k, weights),
                            weights[None, :] / T])
    components = (basis @ binned.reshape(T, -1)).reshape((len(basis),) + binned.shape[1:])
    voxel = np.asarray(spacing_mm, float) * np.asarray(factor)
    smoothed = [ndimage.gaussian_filter(c, COHERENT_SMOOTHING_MM / voxel, mode="constant", truncate=3.0)
                for c in components[:-1]]
    power = np.stack([smoothed[i] ** 2 + smoothed[i + 1] ** 2 for i in range(0, len(smoothed), 2)])
    noise = noise_model(power[2:].mean(axis=0), np.clip(
        ndimage.gaussian_filter(components[-1], COHERENT_SMOOTHING_MM / voxel, mode="constant", truncate=3.0), 0, None))
    # Average the debiased power before clipping it, so that noise regions stay about zero instead of positive.
    sigma = POWER_SMOOTHING_MM / voxel
    excess = ndimage.gaussian_filter(np.minimum(power[0], power[1]) - noise, sigma, mode="constant")
    noise = ndimage.gaussian_filter(noise, sigma, mode="constant")
    return BeatingMap(np.clip(excess, 0, None), excess, noise, components[-1], factor,
                      np.asarray(counts.reshape(T, -1).sum(axis=1), float))
