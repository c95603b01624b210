"""Fourier phase of count curves, honouring the gate timing (gate g covers [g/T, (g+1)/T), sampled at its centre)."""

from __future__ import annotations

import numpy as np

from ..errors import SpectError


def fourier_coefficients(curves: np.ndarray, harmonics: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and cosine/sine coefficients (k = 1..harmonics) of (N, T) curves sampled at gate centres."""
    T = curves.shape[1]
    if harmonics < 1 or 2 * harmonics >= T:
        raise SpectError(f"harmonics = {harmonics}: needs 1 <= harmonics < gates / 2 ({T} gates)")
    t = (np.arange(T) + 0.5) / T
    k = np.arange(1, harmonics + 1)[:, None]
    cos = np.cos(2 * np.pi * k * t)
    sin = np.sin(2 * np.pi * k * t)
    mean = curves.mean(axis=1)
    a = 2.0 / T * curves @ cos.T
    b = 2.0 / T * curves @ sin.T
    return mean, a, b


def harmonic_phase(curves: np.ndarray, harmonics: int = 1, resolution: int = 720) -> dict[str, np.ndarray]:
    """Phase (degrees of R-R, [0, 360)) of each curve's peak, from its Fourier approximation.

    With ``harmonics = 1`` (the default, systolic phase as in ECTb) the phase is the angle of the first harmonic,
    i.e. the time of the fitted cosine's maximum; with 2-3 harmonics it is the time of the maximum of the
    multi-harmonic approximation, found on a ``resolution``-point grid.

    Returns
    -------
    dict
        ``phase`` (degrees), ``amplitude`` (first-harmonic amplitude, counts), ``mean`` (counts),
        ``thickening_pct`` (2 x amplitude over the fitted minimum, %, from the first harmonic).
    """
    curves = np.asarray(curves, dtype=np.float64)
    mean, a, b = fourier_coefficients(curves, harmonics)
    amplitude = np.hypot(a[:, 0], b[:, 0])
    if harmonics == 1:
        phase = np.degrees(np.arctan2(b[:, 0], a[:, 0])) % 360.0
    else:
        grid = np.arange(resolution) / resolution
        k = np.arange(1, harmonics + 1)[:, None]
        fitted = a @ np.cos(2 * np.pi * k * grid) + b @ np.sin(2 * np.pi * k * grid)
        phase = (np.argmax(fitted, axis=1) / resolution * 360.0) % 360.0
    floor = np.maximum(mean - amplitude, 1e-9)
    thickening = 100.0 * 2.0 * amplitude / floor
    return {"phase": phase, "amplitude": amplitude, "mean": mean, "thickening_pct": thickening}
