"""Resolution recovery of the wall's Fourier coefficients: undo part of the blur that flattens regional delays.

SPECT resolution (10-18 mm FWHM) mixes each wall sample's count curve with its neighbours' along the wall, so a
sharp boundary between early and late myocardium reads as a ramp: PSD comes out low, worst for sharp regional delays.
(The apical cap, where every wall meets and the blur mixes the dome in three dimensions, is outside this model:
:func:`lvmd.phase.analyze_study` recovers the short-axis rows only.) The first-harmonic coefficient is linear in the
counts, so the measured coefficients are (approximately) the true ones smoothed by the blur along the wall:
``H = K F`` with ``K`` a Gaussian of the distance between sample positions, weighted by the wall area each sample
stands for (rows normalised). lvmd solves

    min_F ||K F - H||^2 + lam ||F - H||^2

by conjugate gradients. Regularising towards the measurement (not towards zero) gives a gain between 1 (smooth
patterns and pure noise are left as measured) and about ``1 / (2 sqrt(lam))`` for the detail the blur hid; ``lam``
grows as the signal-to-noise ratio falls, so a noisy study is left close to its raw phases instead of being made
noisier. When the detail finer than the blur is no more than the samples' own noise would put there
(:func:`fine_structure_ratio`, e.g. a synchronous LV), recovery is skipped: it could only amplify noise. The blur
is measured on the study: the median full width at half maximum of the wall's radial count profile is converted to a
Gaussian SD assuming a 10 mm wall (CRT candidates' walls are rarely thicker, so this errs towards too little
recovery).

A hand-written solver: no library offers this sample-space deconvolution on an irregular surface; the sparse kernel
comes from scipy.spatial.cKDTree and the solve from scipy.sparse.linalg.cg.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import ndimage, sparse
from scipy.sparse.linalg import LinearOperator, cg
from scipy.spatial import cKDTree
from scipy.special import erf

ASSUMED_WALL_MM = 10.0
MAX_BLUR_SD_MM = 12.0  # bench walls read 25-28 mm wide (11-15 mm FWHM, a Butterworth filter, 6.8 mm voxels), which
# a 10 mm wall explains as 10-12 mm SD: the former ceiling of 9 mm held every study at 9, the blur unmeasured
MIN_LAMBDA = 0.02  # at most a gain of about 3.5 for the finest detail the blur hides
NOISE_WEIGHT = 15.0  # lam = NOISE_WEIGHT / SNR: how fast recovery backs off as noise grows
MIN_FINE_STRUCTURE = 0.5  # fine_structure_ratio below which recovery is skipped (bench: synchronous LVs read
# 0.1-0.4, regional delays 0.8-27 at 100x clinical counts)


@lru_cache(maxsize=4)
def _width_table(wall_mm: float) -> tuple[np.ndarray, np.ndarray]:
    """FWHM of a ``wall_mm`` box blurred by Gaussians of SD 0..MAX_BLUR_SD_MM (mm): (sds, fwhms)."""
    sds = np.linspace(0.0, MAX_BLUR_SD_MM, 91)
    x = np.linspace(-4 * (wall_mm + MAX_BLUR_SD_MM), 4 * (wall_mm + MAX_BLUR_SD_MM), 8001)
    widths = []
    for s in sds:
        if s == 0:
            widths.append(wall_mm)
            continue
        f = 0.5 * (erf((x + wall_mm / 2) / (np.sqrt(2) * s)) - erf((x - wall_mm / 2) / (np.sqrt(2) * s)))
        above = x[f >= f.max() / 2]
        widths.append(above.max() - above.min())
    return sds, np.array(widths)


def wall_fwhm_mm(summed: np.ndarray, centres: np.ndarray, slices: np.ndarray, radius_vox: float,
                 spacing_mm) -> float:
    """Median full width at half maximum (mm) of the wall's radial count profile over ``slices`` (24 rays each)."""
    pix = (spacing_mm[1] + spacing_mm[2]) / 2.0
    step = 0.25
    r = np.arange(0.0, 2.2 * radius_vox, step)
    angles = np.radians(np.arange(0, 360, 15.0))
    slices = np.asarray(slices, int)
    cy, cx = centres[slices, 0][:, None, None], centres[slices, 1][:, None, None]
    rows = cy - r[None, None, :] * np.sin(angles)[None, :, None]
    cols = cx + r[None, None, :] * np.cos(angles)[None, :, None]
    zz = np.broadcast_to(slices[:, None, None].astype(float), rows.shape)
    profiles = ndimage.map_coordinates(np.asarray(summed, np.float64), [zz.ravel(), rows.ravel(), cols.ravel()],
                                       order=1, mode="constant").reshape(-1, len(r))
    k = np.argmax(profiles, axis=1)
    half = profiles[np.arange(len(k)), k] / 2.0
    index = np.arange(len(r))[None, :]
    below = profiles <= half[:, None]
    inner = np.where(below & (index < k[:, None]), index, -1).max(axis=1)
    outer = np.where(below & (index > k[:, None]), index, len(r)).min(axis=1)
    ok = (half > 0) & (inner >= 0) & (outer < len(r))
    if not ok.any():
        return 0.0
    i, j, rows_ok, h = inner[ok], outer[ok], profiles[ok], half[ok]
    n = np.arange(len(i))
    left = r[i] + (h - rows_ok[n, i]) / np.maximum(rows_ok[n, i + 1] - rows_ok[n, i], 1e-12) * step
    right = r[j - 1] + (rows_ok[n, j - 1] - h) / np.maximum(rows_ok[n, j - 1] - rows_ok[n, j], 1e-12) * step
    return float(np.median(right - left) * pix)


def blur_sd_mm(fwhm_mm: float, wall_mm: float = ASSUMED_WALL_MM) -> float:
    """Gaussian SD (mm) that makes a ``wall_mm`` wall look ``fwhm_mm`` wide (0 when it looks no wider)."""
    sds, widths = _width_table(wall_mm)
    return float(np.interp(fwhm_mm, widths, sds, left=0.0, right=MAX_BLUR_SD_MM))


def blur_kernel(positions_mm: np.ndarray, sd_mm: float) -> sparse.csr_matrix:
    """Gaussian weights between samples at ``positions_mm`` (N, 3), cut at 3 SD, each column weighted by the wall
    area its sample stands for (rows not yet normalised).

    Blur mixes myocardium by area, but samples are not spread evenly over the wall: the apical cap's rings crowd
    many samples into a few square centimetres. Unweighted, the cap's samples stand for more myocardium than they
    are, the model blurs the cap too much and recovery overshoots there (bench, an LBBB-like LV with and without a
    hot gut: cap PSD 33 and 37 deg against a true 25; 29 and 33 weighted). Each sample's area is taken as the inverse
    of its local density (its kernel row sum), the usual quadrature weight of a kernel on scattered points.
    """
    n = len(positions_mm)
    tree = cKDTree(positions_mm)
    pairs = tree.sparse_distance_matrix(tree, 3.0 * sd_mm, output_type="coo_matrix")
    weights = np.exp(-0.5 * (pairs.data / sd_mm) ** 2)
    kernel = sparse.coo_matrix((weights, (pairs.row, pairs.col)), shape=(n, n)).tocsr()
    kernel.setdiag(1.0)  # a sample's own distance (0) is not listed by the tree
    density = np.asarray(kernel.sum(axis=1)).ravel()
    return (kernel @ sparse.diags(1.0 / density)).tocsr()


def regularisation(coefficients: np.ndarray, noise_power: float) -> float:
    """``lam`` for a study: NOISE_WEIGHT / SNR (median first-harmonic power over noise power), at least MIN_LAMBDA."""
    signal = float(np.median(np.abs(coefficients) ** 2))
    if noise_power <= 0:
        return MIN_LAMBDA
    return max(MIN_LAMBDA, NOISE_WEIGHT * noise_power / max(signal, 1e-300))


def recover(coefficients: np.ndarray, weights: sparse.csr_matrix | None, lam: float,
            index: np.ndarray | None = None) -> np.ndarray:
    """Recovered complex coefficients (N,) or (N, K): argmin ||K F - H||^2 + lam ||F - H||^2.

    ``weights`` is :func:`blur_kernel` of a sample set and ``index`` the samples of it these coefficients belong to
    (default: all; rows are normalised here); None leaves the coefficients as measured.
    """
    h = np.asarray(coefficients, np.complex128)
    n = len(h)
    if weights is None or n < 2:
        return h
    block = weights if index is None else weights[index][:, index]
    kernel = (sparse.diags(1.0 / np.asarray(block.sum(axis=1)).ravel()) @ block).tocsr()
    kt = kernel.T.tocsr()
    operator = LinearOperator((n, n), matvec=lambda v: kt @ (kernel @ v) + lam * v, dtype=np.complex128)
    columns = h[:, None] if h.ndim == 1 else h
    out = np.empty_like(columns)
    for j in range(columns.shape[1]):
        rhs = kt @ columns[:, j] + lam * columns[:, j]
        out[:, j], _ = cg(operator, rhs, x0=columns[:, j], rtol=1e-4, maxiter=200)
    return out[:, 0] if h.ndim == 1 else out


def fine_structure_ratio(coefficients: np.ndarray, weights: sparse.csr_matrix, noise_variance: np.ndarray) -> float:
    """How far the detail the blur would hide stands above noise: ``||(I - K) h||^2`` over what white noise of the
    samples' own variance would put there (``sum_i var_i ||(I - K) e_i||^2``).

    Recovery amplifies whatever is finer than the blur; below a ratio of a few that is noise, not a regional delay.
    ``coefficients`` are unit phasors (N,), ``noise_variance`` their phase-noise variance (rad^2, N).
    """
    h = np.asarray(coefficients, np.complex128)
    if len(h) < 2:
        return 0.0
    kernel = (sparse.diags(1.0 / np.asarray(weights.sum(axis=1)).ravel()) @ weights).tocsr()
    detail = h - kernel @ h
    high_pass = (sparse.identity(len(h), format="csr") - kernel).tocsc()
    column_power = np.asarray(high_pass.multiply(high_pass).sum(axis=0)).ravel()
    expected = float(np.sum(np.asarray(noise_variance, float) * column_power))
    return float(np.sum(np.abs(detail) ** 2) / max(expected, 1e-300))
