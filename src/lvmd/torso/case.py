"""One anatomical torso case: its parameters, the LV's geometry and pose, regional timing, and the truth.

Coordinates are millimetres in PyTomography's object frame, origin at the centre of the reconstruction grid:
x runs patient right -> left, y anterior -> posterior, z inferior -> superior. A voxel index ``i`` along any axis sits
at ``(i - (n - 1) / 2) * voxel_mm``.

**The LV** is a thick-walled prolate ellipsoid truncated at the mitral (base) plane. Its long axis ``u`` points base
-> apex. The short-axis display frame follows the clinical reorientation (transaxial -> vertical long axis ->
short axis): *anterior* ``a`` is patient-superior projected perpendicular to ``u``, *lateral* ``l = a x u`` (it points
patient left-posterior), septal ``-l``, inferior ``-a``. A wall direction ``cos(theta) l + sin(theta) a`` has the
bullseye angle ``theta`` of :mod:`lvmd.polar` (lateral 0, anterior 90, septum 180, inferior 270). The heart may be
rolled about its axis by ``roll_deg``: the anatomy (RV side, activation pattern, defects) then sits at
``theta_anatomical = theta - roll_deg`` in that display frame.

``rho`` is the axial position from the mid-wall apex (0) to the end-diastolic base plane (1).

**Timing**: every wall point thickens once per cycle with a raised-cosine pulse of length ``systole_fraction`` R-R,
starting at ``onset_deg + delay(rho, theta)``. All motion of that point (thickening, circumferential and
longitudinal shortening) follows the same local pulse, so any count curve the point produces is a function of a pulse
symmetric about its centre, and its first-harmonic phase is exactly the pulse centre::

    true_phase = onset_deg + delay(rho, theta) + 180 * systole_fraction   (mod 360)

for times measured from the R wave with gate g covering [g/T, (g+1)/T) -- gate averaging is a symmetric box filter,
which leaves the phase unchanged. Non-viable wall (perfusion defects) does not thicken: its true phase is NaN.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from functools import cached_property

import numpy as np

from ..errors import LvmdError
from ..phantom import bullseye_lookup, pattern_delay_map

PATTERNS = ("synchronous", "lbbb", "anterior_late", "two_region", "random")
SUPERIOR = np.array([0.0, 0.0, 1.0])
POSTERIOR = np.array([0.0, 1.0, 0.0])
APEX_CAP = 0.2  # the apical cap (rho below this) activates as one
VIABLE_UPTAKE = (0.5, 0.7)  # uptake at or below the first value does not thicken; full thickening from the second


@dataclass(frozen=True)
class Defect:
    """A perfusion defect on the bullseye (anatomical angles): centre, radius (bullseye units), depth (0-1)."""

    rho: float
    theta_deg: float
    radius: float
    depth: float


@dataclass(frozen=True)
class TorsoCase:
    """Parameters of one simulated gated SPECT acquisition of an anatomical torso.

    Every field has a clinically typical default; :func:`lvmd.torso.random_case` draws them from literature ranges
    (docs/torso-bench.md lists the sources). Activities are concentrations relative to normal LV myocardium, except
    ``gut_ratio``, which is the apparent peak of the hottest gut loop over the LV's apparent peak after a
    ``ratio_fwhm_mm`` blur (how an observer reads "abdominal activity 4x the LV").
    """

    # acquisition
    gates: int = 8
    views: int = 60
    grid: int = 64
    voxel_mm: float = 6.8
    start_angle_deg: float = 225.44  # DICOM Start Angle of a clinical RAO -> LPO 180-degree orbit, clockwise
    radius_mm: float = 280.0
    counts_per_view: float = 120_000.0  # all gates together; a real 25 s Tc-99m view holds about 0.9-1.6e5
    collimator: str = "GI-LEHR"
    intrinsic_fwhm_mm: float = 3.8
    scatter_fraction: float = 0.3
    attenuation: bool = True
    last_gate_fraction: float = 1.0  # counts of the last gate relative to the others (R-R variability, bad beats)
    recon_fwhm_mm: float = 13.0  # image-domain (transaxial and short-axis) studies: system resolution
    ratio_fwhm_mm: float = 15.0
    noise_seed: int = 0
    # body
    body_half_width_mm: float = 180.0
    body_half_depth_mm: float = 120.0
    body_centre_mm: tuple[float, float] = (0.0, 10.0)
    breast_mm: float = 0.0  # anterior projection of breast tissue over the heart (0 = none)
    # LV size, pose and function
    lv_position_mm: tuple[float, float, float] = (55.0, -20.0, 0.0)  # equator point on the axis
    azimuth_deg: float = 45.0  # transaxial-plane angle of the axis from patient left towards anterior
    elevation_deg: float = 30.0  # angle of the axis below the transaxial plane (towards inferior)
    roll_deg: float = 0.0
    edv_ml: float = 140.0
    sphericity: float = 0.6  # end-diastolic cavity diameter / cavity length
    base_beyond_equator: float = 0.1  # base plane above the ellipsoid's equator, fraction of the axial semi-axis
    wall_mm: float = 10.0
    thickening: float = 0.35
    descent_mm: float = 12.0
    base_tilt_mm: float = 4.0  # the base plane sits this much lower at the anteroseptal (LVOT) side than opposite
    apical_thinning: float = 0.15
    # timing
    pattern: str = "synchronous"
    delay_deg: float = 90.0
    onset_deg: float = 25.0
    systole_fraction: float = 0.6
    step_centre_deg: float = 0.0  # two_region: centre, width and apical limit of the late region
    step_width_deg: float = 180.0
    step_rho_min: float = 0.0
    dispersion_deg: float = 0.0  # smooth random extra delay (SD, degrees) on top of the pattern
    pattern_seed: int = 0
    defects: tuple[Defect, ...] = ()
    # other structures (concentrations relative to LV myocardium)
    rv_activity: float = 0.5
    rv_wall_mm: float = 4.0
    la_activity: float = 0.4
    la_volume_ml: float = 70.0
    blood_activity: float = 0.1
    background_activity: float = 0.07
    lung_activity: float = 0.04
    liver_activity: float = 0.5
    liver_gap_mm: float = 8.0
    gut_ratio: float = 0.0
    gut_gap_mm: float = 20.0
    gut_loops: int = 3
    stomach_activity: float = 0.0
    gallbladder_activity: float = 0.0
    spleen_activity: float = 0.3
    kidney_activity: float = 0.8
    anatomy_seed: int = 0
    export_ceiling: int | None = None  # image-domain exports scaled per gate to this integer maximum (e.g. 255)

    def __post_init__(self) -> None:
        if self.gates < 8:
            raise LvmdError(f"gates = {self.gates}; gated phase analysis needs at least 8")
        if self.pattern not in PATTERNS:
            raise LvmdError(f"pattern {self.pattern!r} is not one of {', '.join(PATTERNS)}")
        if not 0 < self.systole_fraction < 1:
            raise LvmdError(f"systole_fraction {self.systole_fraction} must lie in (0, 1)")
        if self.edv_ml <= 0 or self.wall_mm <= 0 or self.voxel_mm <= 0:
            raise LvmdError("edv_ml, wall_mm and voxel_mm must be positive")

    def with_(self, **changes) -> "TorsoCase":
        """A copy with some fields changed (unknown names are refused)."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise LvmdError(f"TorsoCase has no field {', '.join(unknown)}")
        return replace(self, **changes)

    # --- pose and frames -------------------------------------------------------------------------------------------

    @cached_property
    def apex_direction(self) -> np.ndarray:
        """Unit base -> apex vector (x, y, z): left, anterior and inferior for the default pose."""
        az, el = np.radians(self.azimuth_deg), np.radians(self.elevation_deg)
        return np.array([np.cos(el) * np.cos(az), -np.cos(el) * np.sin(az), -np.sin(el)])

    @cached_property
    def display_frame(self) -> tuple[np.ndarray, np.ndarray]:
        """(lateral, anterior) unit vectors of the short-axis display frame (theta 0 and 90)."""
        u = self.apex_direction
        a = SUPERIOR - (SUPERIOR @ u) * u
        a /= np.linalg.norm(a)
        return np.cross(a, u), a

    @cached_property
    def anatomical_frame(self) -> tuple[np.ndarray, np.ndarray]:
        """(lateral, anterior) of the anatomy: the display frame rolled by ``roll_deg`` about the axis."""
        lat, ant = self.display_frame
        c, s = np.cos(np.radians(self.roll_deg)), np.sin(np.radians(self.roll_deg))
        return c * lat + s * ant, -s * lat + c * ant

    # --- LV dimensions ---------------------------------------------------------------------------------------------

    @cached_property
    def lv_dimensions(self) -> dict:
        """Cavity and mid-wall semi-axes (mm) of the end-diastolic LV, from EDV, sphericity and base level.

        The cavity is an ellipsoid (radial semi-axis ``a``, axial ``c``) truncated ``beta * c`` above its equator:
        V = pi a^2 c [(1 + beta) - (1 + beta^3) / 3], with c / a = 2 / (sphericity (1 + beta)).
        """
        beta = self.base_beyond_equator
        c_over_a = 2.0 / (self.sphericity * (1.0 + beta))
        g = (1.0 + beta) - (1.0 + beta**3) / 3.0
        a = (self.edv_ml * 1000.0 / (np.pi * c_over_a * g)) ** (1.0 / 3.0)
        c = c_over_a * a
        w = self.wall_mm
        a_mid, c_mid = a + w / 2.0, c + w / 2.0
        return {"cavity_radius": a, "cavity_half_length": c, "mid_radius": a_mid, "mid_half_length": c_mid,
                "base_height": beta * c, "apex_to_base": c_mid + beta * c}

    @cached_property
    def equator_mm(self) -> np.ndarray:
        """The ellipsoid's centre on the axis (mm)."""
        return np.asarray(self.lv_position_mm, dtype=float)

    @cached_property
    def apex_mm(self) -> np.ndarray:
        """Mid-wall apex point (mm), fixed over the cycle."""
        return self.equator_mm + self.lv_dimensions["mid_half_length"] * self.apex_direction

    def base_centre_mm(self, pulse: float = 0.0) -> np.ndarray:
        """Centre of the base plane at a given systolic pulse (0 = end diastole, 1 = full descent)."""
        lb = self.lv_dimensions["apex_to_base"]
        descent = self.descent_mm * pulse
        return self.apex_mm - (lb - descent) * self.apex_direction

    def epicardium(self, n_axial: int = 40, n_theta: int = 72) -> dict:
        """End-diastolic epicardial surface samples: points (N, 3) mm, outward normals, rho and anatomical theta."""
        dims = self.lv_dimensions
        c, a = dims["mid_half_length"], dims["mid_radius"]
        lb = dims["apex_to_base"]
        ax = np.linspace(0.0, lb, n_axial)  # from the mid-wall apex towards the base
        theta = np.arange(n_theta) * 360.0 / n_theta
        axg, thg = np.meshgrid(ax, theta, indexing="ij")
        h = axg - c  # position relative to the equator, towards the base
        radius = a * np.sqrt(np.clip(1.0 - (h / c) ** 2, 0.0, None))
        lat, ant = self.display_frame
        u = self.apex_direction
        radial = np.cos(np.radians(thg))[..., None] * lat + np.sin(np.radians(thg))[..., None] * ant
        mid = self.apex_mm - axg[..., None] * u + radius[..., None] * radial
        normal = radial * (radius / a**2)[..., None] + (-u) * (h / c**2)[..., None]
        normal /= np.linalg.norm(normal, axis=-1, keepdims=True)
        points = mid + normal * self.wall_mm / 2.0
        return {"points": points.reshape(-1, 3), "normals": normal.reshape(-1, 3),
                "rho": (axg / lb).ravel(), "theta_anat": ((thg - self.roll_deg) % 360.0).ravel()}

    # --- regional timing and perfusion (anatomical angles) -------------------------------------------------------------

    def delay_deg_at(self, rho, theta_anat) -> np.ndarray:
        """Activation delay (degrees of R-R) of the pattern plus dispersion at anatomical bullseye positions.

        Within the apical cap (rho < ``APEX_CAP``) the delay blends smoothly into the mean delay of the cap's rim: the
        apex is one point of muscle, activated at one time, whatever the pattern does around it.
        """
        rho = np.clip(np.asarray(rho, float), 0.0, 1.0)
        theta = np.asarray(theta_anat, float) % 360.0
        rim = self._pattern_delay(np.full(72, APEX_CAP), np.arange(72) * 5.0).mean()
        weight = 1.0 - _raised_cos(rho / APEX_CAP)
        return rim + weight * (self._pattern_delay(rho, theta) - rim)

    def _pattern_delay(self, rho, theta) -> np.ndarray:
        if self.pattern == "synchronous":
            delay = np.zeros(np.broadcast(rho, theta).shape)
        elif self.pattern in ("lbbb", "anterior_late"):
            delay = bullseye_lookup(pattern_delay_map(self.pattern, self.delay_deg), *np.broadcast_arrays(rho, theta))
        elif self.pattern == "two_region":
            inside = (np.abs(_wrap(theta - self.step_centre_deg)) <= self.step_width_deg / 2.0) & (
                rho >= self.step_rho_min)
            delay = np.where(inside, self.delay_deg, 0.0)
        else:
            delay = self.delay_deg * _smooth_field(rho, theta, self.pattern_seed)
        if self.dispersion_deg > 0:
            delay = delay + self.dispersion_deg * _smooth_field(rho, theta, self.pattern_seed + 7919, standardise=True)
        return np.asarray(delay, float)

    def defect_uptake_at(self, rho, theta_anat) -> np.ndarray:
        """Relative uptake left by the perfusion defects alone (1 = normal)."""
        rho = np.clip(np.asarray(rho, float), 0.0, 1.0)
        theta = np.radians(np.asarray(theta_anat, float))
        x, y = rho * np.cos(theta), rho * np.sin(theta)
        uptake = np.ones(np.broadcast(x, y).shape)
        for d in self.defects:
            dx = x - d.rho * np.cos(np.radians(d.theta_deg))
            dy = y - d.rho * np.sin(np.radians(d.theta_deg))
            uptake = uptake - d.depth * _raised_cos(np.hypot(dx, dy) / d.radius)
        return np.clip(uptake, 0.05, 1.0)

    def uptake_at(self, rho, theta_anat) -> np.ndarray:
        """Relative tracer uptake of the wall (1 = normal): defects, and apical thinning (a thinner apex), lower it."""
        thinning = 1.0 - self.apical_thinning * _raised_cos(np.clip(np.asarray(rho, float), 0.0, 1.0) / 0.25)
        return self.defect_uptake_at(rho, theta_anat) * thinning

    def viability_at(self, rho, theta_anat) -> np.ndarray:
        """Fraction of normal thickening (0 where defect uptake <= 50 %, 1 from 70 %): scar does not thicken."""
        lo, hi = VIABLE_UPTAKE
        return np.clip((self.defect_uptake_at(rho, theta_anat) - lo) / (hi - lo), 0.0, 1.0)

    def onset_fraction_at(self, rho, theta_anat) -> np.ndarray:
        """Start of the local thickening pulse as a fraction of R-R."""
        return ((self.onset_deg + self.delay_deg_at(rho, theta_anat)) / 360.0) % 1.0

    # --- truth -----------------------------------------------------------------------------------------------------

    def true_phase(self, rho, theta) -> np.ndarray:
        """True first-harmonic phase (degrees, [0, 360)) at bullseye positions in the display frame.

        NaN where the wall is non-viable (it does not thicken, so it has no mechanical phase).
        """
        rho = np.asarray(rho, float)
        theta_anat = np.asarray(theta, float) - self.roll_deg
        phase = (self.onset_deg + self.delay_deg_at(rho, theta_anat) + 180.0 * self.systole_fraction) % 360.0
        return np.where(self.viability_at(rho, theta_anat) >= 0.5, phase, np.nan)

    def true_phase_map(self) -> np.ndarray:
        """True phase on the 64x64 bullseye (NaN outside the disc and on non-viable wall)."""
        from ..polar import pixel_coordinates

        rho, theta = pixel_coordinates()
        return np.where(rho <= 1.0, self.true_phase(rho, theta), np.nan)

    def to_voxel(self, point_mm) -> np.ndarray:
        """Object-grid voxel coordinates (x, y, z) of a point in mm."""
        return np.asarray(point_mm, float) / self.voxel_mm + (self.grid - 1) / 2.0

    @property
    def base_ed_vox(self) -> np.ndarray:
        """Centre of the base plane at end diastole, voxel coordinates."""
        return self.to_voxel(self.base_centre_mm(0.0))

    @property
    def base_es_vox(self) -> np.ndarray:
        """Centre of the base plane at full systolic descent, voxel coordinates."""
        return self.to_voxel(self.base_centre_mm(1.0))

    @property
    def apex_vox(self) -> np.ndarray:
        """Mid-wall apex, voxel coordinates."""
        return self.to_voxel(self.apex_mm)

    def _lv_centroid(self, region: str) -> np.ndarray:
        """Centroid (mm) of the end-diastolic LV wall or cavity below the (tilted) base plane, integrated in the
        LV's cylindrical coordinates over the same shapes the renderer draws (independent of the voxel grid)."""
        dims = self.lv_dimensions
        c, a, lb = dims["mid_half_length"], dims["mid_radius"], dims["apex_to_base"]
        w = self.wall_mm
        ax = np.linspace(-w, lb + self.base_tilt_mm, 240)[:, None, None]
        radius = np.linspace(0.0, a + w, 120)[None, :, None]
        theta = np.radians(np.arange(0.0, 360.0, 5.0))[None, None, :]
        dist = ellipsoid_distance([(ax - c, c), (radius, a)])
        inside = np.abs(dist) <= w / 2.0 if region == "wall" else dist < -w / 2.0
        base = lb + base_tilt_offset(self.base_tilt_mm, np.degrees(theta) - self.roll_deg)
        weight = (inside & (ax <= base)) * radius  # cylindrical volume element r dr dphi dz
        weight = np.broadcast_to(weight, np.broadcast(ax, radius, theta).shape)
        total = weight.sum()
        lat, ant = self.display_frame
        mean_ax = (weight * ax).sum() / total
        mean_lat = (weight * radius * np.cos(theta)).sum() / total
        mean_ant = (weight * radius * np.sin(theta)).sum() / total
        return self.apex_mm - mean_ax * self.apex_direction + mean_lat * lat + mean_ant * ant

    @cached_property
    def centre_mm(self) -> np.ndarray:
        """Centroid of the end-diastolic LV wall (mm): the LV centre reported as truth."""
        return self._lv_centroid("wall")

    @cached_property
    def centre_zone_mm(self) -> tuple[np.ndarray, np.ndarray]:
        """The stretch of the long axis that common definitions of "the LV centre" fall on (mm): from the midpoint of
        the epicardial apex and the end-diastolic base centre (ECTb-style sampling origin) to the centroid of the
        cavity (a chamber centre); the wall's centroid lies between. Localisation is scored by the distance to it."""
        epicardial_apex = self.apex_mm + self.wall_mm / 2.0 * self.apex_direction
        midpoint = (epicardial_apex + self.base_centre_mm(0.0)) / 2.0
        return midpoint, self._lv_centroid("cavity")

    @property
    def centre_vox(self) -> np.ndarray:
        """LV centre (myocardial centroid at end diastole), voxel coordinates (x, y, z)."""
        return self.to_voxel(self.centre_mm)


def ellipsoid_distance(terms) -> np.ndarray:
    """Approximate signed distance (mm, negative inside) to an axis-aligned ellipsoid, from [(offset, semi-axis)]:
    (s - 1) / |grad s| with s the ellipsoidal radius -- first order in the distance, good across a wall."""
    s = np.sqrt(sum((d / r) ** 2 for d, r in terms))
    grad = np.sqrt(sum((d / r**2) ** 2 for d, r in terms)) / np.maximum(s, 1e-9)
    return (s - 1.0) / np.maximum(grad, 1e-9)


def base_tilt_offset(tilt_mm: float, theta_anat_deg) -> np.ndarray:
    """Axial offset of the base plane at an anatomical angle: lowest at the anteroseptal (LVOT) side, mean zero."""
    return -0.5 * tilt_mm * np.cos(np.radians(np.asarray(theta_anat_deg, float) - 150.0))


def _wrap(deg):
    return (np.asarray(deg, float) + 180.0) % 360.0 - 180.0


def _raised_cos(x) -> np.ndarray:
    """1 at 0 falling smoothly to 0 at |x| = 1."""
    x = np.clip(np.abs(np.asarray(x, float)), 0.0, 1.0)
    return 0.5 * (1.0 + np.cos(np.pi * x))


def _smooth_field(rho, theta_deg, seed: int, standardise: bool = False) -> np.ndarray:
    """A smooth random function on the bullseye: circular harmonics up to order 3 times polynomials in rho.

    Scaled to [0, 1] over the disc, or to zero mean and unit SD when ``standardise``.
    """
    rng = np.random.default_rng(seed)
    coef = rng.normal(size=(4, 3, 2)) / (1.0 + np.arange(4))[:, None, None]

    def evaluate(r, t):
        t = np.radians(t)
        out = np.zeros(np.broadcast(r, t).shape)
        for m in range(4):
            for n in range(3):
                radial = r**n
                out = out + radial * (coef[m, n, 0] * np.cos(m * t) + (coef[m, n, 1] * np.sin(m * t) if m else 0.0))
        return out

    r_ref, t_ref = np.meshgrid(np.linspace(0, 1, 21), np.arange(0, 360, 10.0), indexing="ij")
    ref = evaluate(r_ref, t_ref)
    values = evaluate(np.asarray(rho, float), np.asarray(theta_deg, float))
    if standardise:
        return (values - ref.mean()) / ref.std()
    return (values - ref.min()) / (ref.max() - ref.min())


@dataclass
class ShortAxisTruth:
    """Where the truth lies in a short-axis study made with the true axis (voxel coordinates slice, row, col)."""

    centre: np.ndarray
    apex: np.ndarray
    base_ed: np.ndarray
    base_es: np.ndarray
    origin_mm: np.ndarray = field(repr=False)
    axes_mm: np.ndarray = field(repr=False)  # rows: slice, row and column unit vectors (patient mm frame)
