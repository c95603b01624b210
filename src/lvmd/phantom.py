"""Digital gated-SPECT phantom of the left ventricle with known regional mechanical activation.

The LV is a half-ellipsoidal shell in short-axis orientation (apex at low slice index). Each wall point thickens
once per cycle with a raised-cosine systolic pulse that starts at the point's onset delay; counts follow the
thickening through the partial-volume effect, as in real gated SPECT. Perfusion defects have reduced uptake and do
not thicken. The image is blurred with a Gaussian of the given FWHM and, optionally, Poisson noise is added.

Truth: the first-harmonic phase of a point's thickening curve is ``SYSTOLE_PEAK_DEG + delay``, so the true phase
map is known exactly (:meth:`Phantom.true_phase`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from .errors import LvmdError
from .io.spect import GatedSpect
from .polar import GRID, pixel_coordinates

SYSTOLE_FRACTION = 0.7  # thickening pulse length, fraction of the R-R interval
SYSTOLE_PEAK_DEG = 360.0 * SYSTOLE_FRACTION / 2.0  # phase of peak thickening of an undelayed wall point (126 deg)
PATTERNS = ("synchronous", "lbbb", "anterior_late", "two_region", "two_region_step")


def pattern_delay_map(pattern: str, delay_deg: float = 90.0) -> np.ndarray:
    """Onset delay (degrees of R-R) as a 64x64 bullseye for a named activation pattern.

    ``synchronous``: no delay. ``lbbb``: septum first, lateral wall ``delay_deg`` later (smooth in angle).
    ``anterior_late``: the anterior wall delayed. ``two_region``: the basal inferolateral and apical anterior
    walls delayed (smooth edges). ``two_region_step``: the same two regions with sharp edges, each a 90-degree sector
    over 40 % of the apex-base distance (about 10 % of the wall each), delayed by exactly ``delay_deg``: a step
    that resolution blur cannot follow, the hardest case for phase accuracy.
    """
    rho, theta = pixel_coordinates()
    t = np.radians(theta)
    if pattern == "synchronous":
        delay = np.zeros_like(rho)
    elif pattern == "lbbb":
        delay = delay_deg * (1 + np.cos(t)) / 2.0
    elif pattern == "anterior_late":
        delay = delay_deg * np.clip(np.cos(t - np.pi / 2), 0, None) ** 2
    elif pattern == "two_region":
        d1 = np.exp(-0.5 * (_angle_diff(theta, 330) / 40) ** 2 - 0.5 * ((rho - 0.85) / 0.2) ** 2)
        d2 = np.exp(-0.5 * (_angle_diff(theta, 90) / 40) ** 2 - 0.5 * ((rho - 0.35) / 0.2) ** 2)
        delay = delay_deg * np.maximum(d1, d2)
    elif pattern == "two_region_step":
        r1 = (np.abs(_angle_diff(theta, 330)) < 45) & (rho >= 0.6)
        r2 = (np.abs(_angle_diff(theta, 90)) < 45) & (rho >= 0.15) & (rho < 0.55)
        delay = delay_deg * (r1 | r2)
    else:
        raise LvmdError(f"pattern {pattern!r} is not one of {', '.join(PATTERNS)}")
    return delay.astype(float)


def _systolic_pulse(phase_fraction) -> np.ndarray:
    """Raised-cosine thickening pulse at fractions of the R-R interval after a wall point's onset (0 in diastole)."""
    phi = np.asarray(phase_fraction, float) % 1.0
    return np.where(phi < SYSTOLE_FRACTION, 0.5 * (1 - np.cos(2 * np.pi * phi / SYSTOLE_FRACTION)), 0.0)


def _angle_diff(a, b):
    return (np.asarray(a) - b + 180.0) % 360.0 - 180.0


def bullseye_lookup(bullseye: np.ndarray, rho: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """Bilinear value of a 64x64 bullseye at positions (rho, theta); rho is clipped to the disc."""
    centre = (GRID - 1) / 2.0
    r = np.clip(rho, 0, 1) * (GRID / 2.0) * 0.999
    t = np.radians(theta)
    cols = centre + r * np.cos(t)
    rows = centre - r * np.sin(t)
    filled = np.nan_to_num(bullseye, nan=0.0)
    return ndimage.map_coordinates(filled, [rows.ravel(), cols.ravel()], order=1, mode="nearest").reshape(rho.shape)


@dataclass
class Phantom:
    """Parameters of a gated LV phantom; :meth:`simulate` renders it.

    Attributes
    ----------
    delay_map : numpy.ndarray (64, 64)
        Onset delay in degrees of the R-R interval on the bullseye.
    perfusion_map : numpy.ndarray (64, 64) or None
        Relative uptake (0-1]; points below ``viable_threshold`` do not thicken. None = uniform.
    gates : int
        8 or 16 (any >= 8 works).
    shape : tuple of int
        (Z, Y, X) voxels.
    spacing_mm : float
        Isotropic voxel size.
    centre : tuple of float or None
        LV axis position (row, col); None = image centre.
    fwhm_mm : float
        System resolution.
    peak_counts : float or None
        Expected counts in the hottest myocardial voxel of one gate; None = noise-free.
    liver : bool
        Add a hot static blob (liver / gut) under the inferior wall.
    viable_threshold : float
        Uptake below which a wall point does not thicken.
    thickening_follows_uptake : bool
        Scale thickening by uptake (hypoperfused but viable wall thickens less).
    base_descent_mm : float
        Valve-plane motion: at peak systole the base lies this much closer to the fixed apex (the LV shortens
        uniformly along its axis; 8-15 mm in real hearts), so the basal slices lose myocardium in systole.
        0 (default) keeps the base still.
    """

    delay_map: np.ndarray = field(default_factory=lambda: pattern_delay_map("synchronous"))
    perfusion_map: np.ndarray | None = None
    gates: int = 16
    shape: tuple[int, int, int] = (32, 64, 64)
    spacing_mm: float = 4.0
    centre: tuple[float, float] | None = None
    radius_mm: float = 28.0
    length_mm: float = 70.0
    wall_mm: float = 10.0
    thickening: float = 0.4
    fwhm_mm: float = 12.0
    peak_counts: float | None = None
    liver: bool = False
    liver_activity: float = 1.6
    viable_threshold: float = 0.5
    thickening_follows_uptake: bool = False
    base_descent_mm: float = 0.0
    seed: int = 0

    def true_phase(self, rho, theta) -> np.ndarray:
        """True first-harmonic phase (degrees, [0, 360)) at bullseye positions."""
        rho, theta = np.asarray(rho, float), np.asarray(theta, float)
        return (SYSTOLE_PEAK_DEG + bullseye_lookup(self.delay_map, rho, theta)) % 360.0

    def true_phase_map(self) -> np.ndarray:
        """True phase on the 64x64 bullseye (NaN outside the disc)."""
        rho, theta = pixel_coordinates()
        out = self.true_phase(rho, theta)
        return np.where(rho <= 1, out, np.nan)

    def _geometry(self, length_mm: float | None = None):
        """Signed distance to the mid-wall surface, bullseye (rho, theta) of every voxel, and the LV's landmarks.

        ``length_mm`` shortens the LV towards its fixed apex (valve-plane descent); default: at rest.
        """
        Z, Y, X = self.shape
        h = self.spacing_mm
        cy, cx = self.centre if self.centre is not None else ((Y - 1) / 2.0, (X - 1) / 2.0)
        z_apex = (Z - self.length_mm / h) / 2.0  # mid-wall apex, so that the LV sits in the middle slices
        length_mm = self.length_mm if length_mm is None else length_mm
        z_base = z_apex + length_mm / h
        zz, yy, xx = np.meshgrid(np.arange(Z, dtype=float), np.arange(Y, dtype=float), np.arange(X, dtype=float),
                                 indexing="ij")
        dz = (zz - z_base) * h
        dy = (cy - yy) * h
        dx = (xx - cx) * h
        planar = np.hypot(dx, dy)
        L, R = length_mm, self.radius_mm
        s = np.sqrt((dz / L) ** 2 + (planar / R) ** 2)
        grad = np.sqrt((dz / L**2) ** 2 + (planar / R**2) ** 2) / np.maximum(s, 1e-9)
        dist = (s - 1.0) / np.maximum(grad, 1e-9)  # signed distance to the mid-wall surface, mm
        dist = np.where(dz <= 0, dist, np.hypot(np.abs(dist), dz))  # the base is open above the valve plane
        rho = np.clip((zz - z_apex) / (z_base - z_apex), 0, 1)
        theta = np.degrees(np.arctan2(dy, dx)) % 360.0
        return dist, rho, theta, (cy, cx, z_apex, z_base)

    def simulate(self, study_id: str = "phantom") -> GatedSpect:
        """Render the gated study (T, Z, Y, X) with resolution blur and, if set, Poisson noise."""
        if self.gates < 8:
            raise LvmdError(f"gates = {self.gates}; phantoms need at least 8")
        h = self.spacing_mm
        T = self.gates
        sub = 8
        sigma = self.fwhm_mm / 2.3548 / h
        volume = np.zeros((T, *self.shape), dtype=np.float32)
        rest = self._geometry()
        near_any = np.zeros(self.shape, dtype=bool)
        for g in range(T):
            times = (g + (np.arange(sub) + 0.5) / sub) / T
            descent = self.base_descent_mm * float(np.mean(_systolic_pulse(times)))
            dist, rho, theta, (cy, cx, z_apex, z_base) = rest if descent == 0 else self._geometry(self.length_mm - descent)
            near = np.abs(dist) < self.wall_mm
            near_any |= near
            d, r, t = dist[near], rho[near], theta[near]
            delay = bullseye_lookup(self.delay_map, r, t) / 360.0
            uptake = (np.ones_like(r) if self.perfusion_map is None
                      else np.clip(bullseye_lookup(self.perfusion_map, r, t), 0, 1))
            k = np.where(uptake >= self.viable_threshold,
                         self.thickening * (uptake if self.thickening_follows_uptake else 1.0), 0.0)
            pulse = np.mean([_systolic_pulse(tt - delay) for tt in times], axis=0)
            half = self.wall_mm * (1 + k * pulse) / 2.0
            frame = np.zeros(self.shape, dtype=np.float32)
            frame[near] = uptake * np.clip(0.5 + (half - np.abs(d)) / h, 0, 1)
            if self.liver:
                frame += self._liver(cy, cx, rest[3][3])
            volume[g] = ndimage.gaussian_filter(frame, sigma, mode="constant")
        near = near_any
        if self.peak_counts is not None:
            rng = np.random.default_rng(self.seed)
            myo_peak = float(volume[:, near].max()) if not self.liver else float(
                np.percentile(volume[:, near], 99.9))
            volume = rng.poisson(volume * (self.peak_counts / myo_peak)).astype(np.float32)
        return GatedSpect(volume, (h, h, h), study_id)

    def _liver(self, cy: float, cx: float, z_base: float) -> np.ndarray:
        Z, Y, X = self.shape
        h = self.spacing_mm
        zz, yy, xx = np.ogrid[0:Z, 0:Y, 0:X]
        ly = cy + (self.radius_mm + self.wall_mm + 22.0) / h  # centre of the blob, inferior to the LV
        lx = cx + 6.0 / h
        lz = z_base - 10.0 / h
        blob = ((yy - ly) / (18.0 / h)) ** 2 + ((xx - lx) / (30.0 / h)) ** 2 + ((zz - lz) / (22.0 / h)) ** 2 <= 1.0
        return (self.liver_activity * blob).astype(np.float32)


def write_phantom(phantom: Phantom, out, force: bool = False) -> None:
    """Render ``phantom`` and write it to ``out`` (.npz, .nii, .nii.gz or .dcm), whole or not at all; an existing
    ``out`` is replaced only with ``force``."""
    from pathlib import Path

    from .outputs import atomic_file, check_output_file
    from .io.spect import write_spect

    out = Path(out)
    if not out.name.lower().endswith((".npz", ".nii", ".nii.gz", ".dcm")) or out.name.startswith("."):
        raise LvmdError(f"{out}: study file must be named NAME.npz, NAME.nii, NAME.nii.gz or NAME.dcm")
    check_output_file(out, force)
    study = phantom.simulate(out.name.split(".")[0])
    with atomic_file(out, force) as tmp:
        write_spect(study, tmp)


def make_phantom(pattern: str = "lbbb", delay_deg: float = 90.0, **kwargs) -> Phantom:
    """A phantom with a named activation pattern (see :func:`pattern_delay_map`); other fields as keywords."""
    return Phantom(delay_map=pattern_delay_map(pattern, delay_deg), **kwargs)
