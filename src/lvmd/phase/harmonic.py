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


def phase_from_coefficients(coefficients: np.ndarray, resolution: int = 720) -> np.ndarray:
    """Phase (degrees, [0, 360)) of the peak of each curve's Fourier approximation from its complex coefficients.

    ``coefficients`` (N, K): a_k + i b_k for harmonics k = 1..K. With one harmonic the phase is the angle of the
    first harmonic (the fitted cosine's maximum); with more, the maximum of the approximation on a grid.
    """
    c = np.asarray(coefficients)
    c = c[:, None] if c.ndim == 1 else c
    if c.shape[1] == 1:
        return np.degrees(np.angle(c[:, 0])) % 360.0
    grid = np.arange(resolution) / resolution
    k = np.arange(1, c.shape[1] + 1)[:, None]
    fitted = c.real @ np.cos(2 * np.pi * k * grid) + c.imag @ np.sin(2 * np.pi * k * grid)
    return (np.argmax(fitted, axis=1) / resolution * 360.0) % 360.0


def harmonic_phase(curves: np.ndarray, harmonics: int = 1, resolution: int = 720) -> dict[str, np.ndarray]:
    """Phase (degrees of R-R, [0, 360)) of each curve's peak, from its Fourier approximation.

    With ``harmonics = 1`` (the default, systolic phase as in ECTb) the phase is the angle of the first harmonic,
    i.e. the time of the fitted cosine's maximum; with 2-3 harmonics it is the time of the maximum of the
    multi-harmonic approximation, found on a ``resolution``-point grid.

    Returns
    -------
    dict
        ``phase`` (degrees), ``amplitude`` (first-harmonic amplitude, counts), ``mean`` (counts),
        ``thickening_pct`` (2 x amplitude over the fitted minimum, %, from the first harmonic),
        ``coefficients`` (N, harmonics) complex a_k + i b_k.
    """
    curves = np.asarray(curves, dtype=np.float64)
    mean, a, b = fourier_coefficients(curves, harmonics)
    coefficients = a + 1j * b
    amplitude = np.abs(coefficients[:, 0])
    floor = np.maximum(mean - amplitude, 1e-9)
    thickening = 100.0 * 2.0 * amplitude / floor
    return {"phase": phase_from_coefficients(coefficients, resolution), "amplitude": amplitude, "mean": mean,
            "thickening_pct": thickening, "coefficients": coefficients}
