"""Render a :class:`TorsoCase` on the object grid: gated activity (T, X, Y, Z) and the attenuation map (X, Y, Z).

The beating heart (LV, RV crescent, left atrium, blood pools) is evaluated on a sub-voxel grid around the heart at
several instants per gate and averaged into each gate (gate g covers [g/T, (g+1)/T) of R-R), so partial volume and
within-gate motion are both integrated. The static anatomy (:mod:`.anatomy`) is painted once.

The LV wall element at axial fraction ``rho`` and anatomical angle ``theta`` follows its own systolic pulse ``p``
(0 -> 1 -> 0): its thickness x (1 + k p), its axial length x (1 - e p) (integrated from the fixed apex along each
meridian, so the base descends ``descent_mm`` when the whole meridian contracts) and its mid-wall radius
x 1 / ((1 + k p)(1 - e p)), which keeps the myocardial volume -- hence the LV's counts -- constant over the cycle.
Each sample point is mapped back to the wall material now there, which carries its own timing, viability and uptake.

Above the base, the left atrium rides on the atrioventricular plane (it is pulled towards the apex while the base
descends) and contracts in late diastole: valve-plane activity in anti-phase with the ventricle.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from .anatomy import MU_SOFT, Solid, gut_loops, layout
from .case import TorsoCase, base_tilt_offset, ellipsoid_distance

SUPERSAMPLE = 2
MERIDIANS = 72
SAMPLES_PER_CYCLE = 32
RV_THICKENING, RV_SHORTENING = 0.4, 0.2
LA_WALL_MM, LA_THICKENING, LA_GAP_MM = 3.0, 0.6, 4.0
ATRIAL_CENTRE, ATRIAL_LENGTH = 0.9, 0.16  # atrial systole: fraction of R-R (late diastole, after the P wave)


def pulse(t, onset, length) -> np.ndarray:
    """Raised-cosine systolic pulse (0 -> 1 -> 0) of ``length`` R-R starting at ``onset`` (fractions of R-R)."""
    phi = (np.asarray(t, float) - onset) % 1.0
    return np.where(phi < length, 0.5 * (1.0 - np.cos(2.0 * np.pi * phi / length)), 0.0)


def axis_mm(case: TorsoCase) -> np.ndarray:
    """Coordinates (mm) of the voxel centres along any object axis."""
    return (np.arange(case.grid) - (case.grid - 1) / 2.0) * case.voxel_mm


def gate_times(case: TorsoCase) -> np.ndarray:
    """(T, n) instants (fractions of R-R) averaged into each gate: n equally spaced mid-points per gate."""
    n = max(2, SAMPLES_PER_CYCLE // case.gates)
    return (np.arange(case.gates)[:, None] + (np.arange(n)[None, :] + 0.5) / n) / case.gates


@dataclass
class HeartGeometry:
    """Rest-state geometry of the heart's structures, in the LV frame (axial from the apex; lateral/anterior)."""

    lb: float  # apex -> base plane, mm
    c_mid: float
    a_mid: float
    rv_axial: float
    rv_offset: float
    rv_semi: tuple[float, float, float]  # axial, septal, tangential
    la_axial: float
    la_offset: np.ndarray  # (lateral, anterior) of the LA centre, mm
    la_semi: tuple[float, float]  # axial, radial


def heart_geometry(case: TorsoCase) -> HeartGeometry:
    """Place RV and LA relative to the LV (RV crescent on the septal side; LA above the base, posterior)."""
    dims = case.lv_dimensions
    lb = dims["apex_to_base"]
    outer = dims["cavity_radius"] + case.wall_mm
    la_radius = (3.0 * case.la_volume_ml * 1000.0 / (4.0 * np.pi)) ** (1.0 / 3.0)
    lat, ant = case.display_frame
    posterior = np.array([0.0, 1.0, 0.0]) - (np.array([0.0, 1.0, 0.0]) @ case.apex_direction) * case.apex_direction
    posterior /= np.linalg.norm(posterior)
    la_offset = 0.35 * la_radius * np.array([posterior @ lat, posterior @ ant])
    return HeartGeometry(lb=lb, c_mid=dims["mid_half_length"], a_mid=dims["mid_radius"], rv_axial=0.62 * lb,
                         rv_offset=0.7 * outer, rv_semi=(0.45 * lb, 1.05 * outer, 1.2 * outer),
                         la_axial=lb + LA_GAP_MM + 1.1 * la_radius, la_offset=la_offset,
                         la_semi=(1.1 * la_radius, la_radius))


class HeartSampler:
    """Sub-voxel sample points around the heart with their time-independent LV-frame attributes."""

    def __init__(self, case: TorsoCase, supersample: int = SUPERSAMPLE):
        self.case = case
        self.geom = g = heart_geometry(case)
        self.hf = case.voxel_mm / supersample
        h, n = case.voxel_mm, case.grid
        u = case.apex_direction
        lat_d, ant_d = case.display_frame
        lat_a, ant_a = case.anatomical_frame
        # bounding box: LV, RV and LA extents around the axis
        reach = max(g.rv_offset + g.rv_semi[1], g.rv_semi[2], g.a_mid + case.wall_mm, g.la_semi[1] * 1.5) + 20.0
        ends = [case.apex_mm + 20.0 * u, case.apex_mm - (g.la_axial + g.la_semi[0] + 20.0) * u]
        lo = np.min(ends, axis=0) - reach
        hi = np.max(ends, axis=0) + reach
        first = np.clip(np.floor(lo / h + (n - 1) / 2.0).astype(int), 0, n - 1)
        last = np.clip(np.ceil(hi / h + (n - 1) / 2.0).astype(int), 0, n - 1)
        offsets = ((np.arange(supersample) + 0.5) / supersample - 0.5) * h
        axes = [((np.arange(first[i], last[i] + 1) - (n - 1) / 2.0) * h)[:, None] + offsets[None, :]
                for i in range(3)]
        idx = [np.repeat(np.arange(first[i], last[i] + 1), supersample) for i in range(3)]
        coords = [a.ravel() for a in axes]
        X, Y, Z = np.meshgrid(*coords, indexing="ij")
        IX, IY, IZ = np.meshgrid(*idx, indexing="ij")
        rel = np.stack([X.ravel(), Y.ravel(), Z.ravel()], axis=1) - case.apex_mm
        ax = rel @ (-u)
        lat, ant = rel @ lat_d, rel @ ant_d
        # keep points that can ever hold heart activity (LV, RV, LA and cavities, with the motion margins)
        dist_lv = ellipsoid_distance([(ax - g.c_mid, g.c_mid), (np.hypot(lat, ant), g.a_mid)])
        keep = (dist_lv < case.wall_mm * 1.5 + 12.0) & (ax < g.lb + 15.0)
        sep, tan = rel @ (-lat_a), rel @ ant_a
        dist_rv = ellipsoid_distance([(ax - g.rv_axial, g.rv_semi[0]), (sep - g.rv_offset, g.rv_semi[1]),
                                       (tan, g.rv_semi[2])])
        keep |= (dist_rv < case.rv_wall_mm + 10.0) & (ax < g.lb + 10.0)
        dist_la = ellipsoid_distance([(ax - g.la_axial, g.la_semi[0]),
                                       (np.hypot(lat - g.la_offset[0], ant - g.la_offset[1]), g.la_semi[1])])
        keep |= dist_la < LA_WALL_MM + case.descent_mm + 6.0
        self.xyz = rel[keep] + case.apex_mm
        self.voxel = np.ravel_multi_index((IX.ravel()[keep], IY.ravel()[keep], IZ.ravel()[keep]), (n, n, n))
        self.ax, self.lat, self.ant = ax[keep], lat[keep], ant[keep]
        self.radius = np.hypot(self.lat, self.ant)
        self.sep, self.tan = sep[keep], tan[keep]
        theta = np.degrees(np.arctan2(self.ant, self.lat)) % 360.0
        self.theta_anat = (theta - case.roll_deg) % 360.0
        self.tilt = base_tilt_offset(case.base_tilt_mm, self.theta_anat)
        # wall properties carried by the material, tabulated on the bullseye (rho x anatomical theta)
        rho_t, theta_t = np.meshgrid(np.linspace(0.0, 1.0, 101), np.arange(0.0, 361.0), indexing="ij")
        self.tables = np.stack([case.onset_fraction_at(rho_t, theta_t), case.viability_at(rho_t, theta_t),
                                case.uptake_at(rho_t, theta_t)])
        # longitudinal shortening is integrated along each meridian (MERIDIANS bins of theta)
        self.nodes = np.linspace(0.0, g.lb + case.base_tilt_mm + 5.0, 96)
        centres = (np.arange(MERIDIANS) + 0.5) * 360.0 / MERIDIANS
        node_rho, node_theta = np.meshgrid(np.clip(self.nodes / g.lb, 0.0, 1.0), centres, indexing="ij")
        self.node_onset = case.onset_fraction_at(node_rho, node_theta)
        self.node_eps = case.descent_mm / g.lb * case.viability_at(node_rho, node_theta)
        meridian = (self.theta_anat * MERIDIANS / 360.0).astype(int) % MERIDIANS
        self.meridians = [np.flatnonzero(meridian == m) for m in range(MERIDIANS)]
        self.rv_onset = float(case.onset_fraction_at(0.5, 180.0))

    def material_axial(self, t: float) -> tuple[np.ndarray, float]:
        """Axial position (from the apex, at rest) of the material now at each sample point, and the mean descent of
        the base (mm). Along each meridian a wall element at rest position s moves to
        ``integral_0^s (1 - e p(s', t)) ds'``: the apex stays, each segment shortens with its own pulse."""
        lam = 1.0 - self.node_eps * pulse(t, self.node_onset, self.case.systole_fraction)
        step = np.diff(self.nodes)[:, None]
        current = np.concatenate([np.zeros((1, MERIDIANS)), np.cumsum(0.5 * (lam[1:] + lam[:-1]) * step, axis=0)])
        ax0 = self.ax.copy()
        for m, idx in enumerate(self.meridians):
            inside = np.interp(self.ax[idx], current[:, m], self.nodes)
            beyond = self.nodes[-1] + self.ax[idx] - current[-1, m]  # above the wall nothing shortens
            ax0[idx] = np.where(self.ax[idx] < 0.0, self.ax[idx],
                                np.where(self.ax[idx] > current[-1, m], beyond, inside))
        lb = self.geom.lb
        descent = lb - np.array([np.interp(lb, self.nodes, current[:, m]) for m in range(MERIDIANS)])
        return ax0, float(descent.mean())

    def wall_properties(self, ax0: np.ndarray) -> np.ndarray:
        """(onset, viability, uptake) of the material at rest axial positions ``ax0`` (bilinear in the tables)."""
        rows = np.clip(ax0 / self.geom.lb, 0.0, 1.0) * 100.0
        coords = np.stack([rows, self.theta_anat])
        return np.stack([ndimage.map_coordinates(tab, coords, order=1, mode="nearest") for tab in self.tables])

    def structures_at(self, t: float, at_rest: bool = False) -> dict:
        """Occupancies of each structure at instant ``t`` (fraction of R-R) on the sample points."""
        case, g, hf = self.case, self.geom, self.hf
        ax0, descent = (self.ax, 0.0) if at_rest else self.material_axial(t)
        onset, viability, uptake = self.wall_properties(ax0)
        p = np.zeros_like(ax0) if at_rest else pulse(t, onset, case.systole_fraction)
        s_ax = 1.0 - case.descent_mm / g.lb * viability * p
        s_wall = 1.0 + case.thickening * viability * p
        s_rad = 1.0 / (s_wall * s_ax)  # incompressible: thicker wall, shorter segment, smaller radius
        # the local deformed mid-wall: an ellipsoid scaled by s_ax along the axis (apex fixed) and s_rad across it,
        # evaluated at the material's own axial coordinate
        c = g.c_mid * s_ax
        dist = ellipsoid_distance([(ax0 * s_ax - c, c), (self.radius, g.a_mid * s_rad)])
        half = case.wall_mm * s_wall / 2.0
        below_base = np.clip(0.5 + (g.lb + self.tilt - ax0) * s_ax / hf, 0.0, 1.0)
        lv_wall = np.clip(0.5 + (half - np.abs(dist)) / hf, 0.0, 1.0) * below_base
        lv_cavity = np.clip(0.5 + (-half - dist) / hf, 0.0, 1.0) * below_base
        outside_lv = np.clip(0.5 + (dist - half) / hf, 0.0, 1.0)
        # RV: one pulse for the whole free wall (activated with the septum)
        p_rv = 0.0 if at_rest else float(pulse(t, self.rv_onset, case.systole_fraction))
        rv_ax = 1.0 - RV_SHORTENING * p_rv
        rv_wall_scale = 1.0 + RV_THICKENING * p_rv
        rv_rad = 1.0 / (rv_wall_scale * rv_ax)
        ca, cs, ct = g.rv_semi
        dist_rv = ellipsoid_distance([(self.ax - g.rv_axial * rv_ax, ca * rv_ax), (self.sep - g.rv_offset, cs * rv_rad),
                                       (self.tan, ct * rv_rad)])
        rv_half = case.rv_wall_mm * rv_wall_scale / 2.0
        rv_below = np.clip(0.5 + ((g.lb - 5.0) * rv_ax - self.ax) / hf, 0.0, 1.0)
        rv_wall = np.clip(0.5 + (rv_half - np.abs(dist_rv)) / hf, 0.0, 1.0) * rv_below * outside_lv
        rv_cavity = np.clip(0.5 + (-rv_half - dist_rv) / hf, 0.0, 1.0) * rv_below * outside_lv
        # LA: pulled towards the apex by the mean basal descent; contracts in late diastole
        p_atrium = 0.0 if at_rest else float(pulse(t, ATRIAL_CENTRE - ATRIAL_LENGTH / 2.0, ATRIAL_LENGTH))
        pull = descent
        la_wall_scale = 1.0 + LA_THICKENING * p_atrium
        la_shrink = la_wall_scale ** -0.5
        la_ax_semi = (g.la_semi[0] + pull / 2.0) * la_shrink
        dist_la = ellipsoid_distance([(self.ax - (g.la_axial - pull / 2.0), la_ax_semi),
                                       (np.hypot(self.lat - g.la_offset[0], self.ant - g.la_offset[1]),
                                        g.la_semi[1] * la_shrink)])
        la_half = LA_WALL_MM * la_wall_scale / 2.0
        above_base = 1.0 - below_base
        la_wall = np.clip(0.5 + (la_half - np.abs(dist_la)) / hf, 0.0, 1.0) * above_base
        la_cavity = np.clip(0.5 + (-la_half - dist_la) / hf, 0.0, 1.0) * above_base
        return {"uptake": uptake, "lv_wall": lv_wall, "lv_cavity": lv_cavity, "rv_wall": rv_wall, "rv_cavity": rv_cavity,
                "la_wall": la_wall, "la_cavity": la_cavity}

    def channels_at(self, t: float, at_rest: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """(LV myocardium activity, other heart activity) on the sample points at instant ``t``."""
        case = self.case
        occ = self.structures_at(t, at_rest)
        lv = occ["uptake"] * occ["lv_wall"]
        blood = np.clip(occ["lv_cavity"] + occ["rv_cavity"] + occ["la_cavity"], 0.0, 1.0)
        other = case.rv_activity * occ["rv_wall"] + case.la_activity * occ["la_wall"] + case.blood_activity * blood
        return lv, other

    def to_grid(self, values: np.ndarray) -> np.ndarray:
        """Average sample values into the object grid (X, Y, Z)."""
        n = self.case.grid
        f3 = (self.case.voxel_mm / self.hf) ** 3
        return (np.bincount(self.voxel, weights=values, minlength=n**3) / f3).reshape(n, n, n)


@dataclass
class Rendered:
    """A rendered case: activity per gate, attenuation map, and what the bench measured on them."""

    activity: np.ndarray  # (T, X, Y, Z), relative concentration x voxel occupancy
    mu: np.ndarray  # (X, Y, Z) 1/cm
    static: np.ndarray  # (X, Y, Z) the part of the activity that does not beat
    lv: np.ndarray  # (T, X, Y, Z) LV myocardium alone
    extracardiac_ratio: float  # apparent peak of everything outside the heart / apparent LV peak
    gut_ratio: float  # apparent peak of the gut loops / apparent LV peak
    gut_gap_mm: float  # surface gap between the hottest gut loop and the end-diastolic epicardium


def _paint(solids: list[Solid], X, Y, Z, voxel_mm, activity, mu) -> None:
    for solid in solids:
        occ = solid.occupancy(X, Y, Z, voxel_mm)
        if solid.activity is not None:
            activity *= 1.0 - occ
            activity += solid.activity * occ
        mu *= 1.0 - occ
        mu += solid.mu * occ


def render(case: TorsoCase) -> Rendered:
    """Render the gated activity and the attenuation map of a case (noise-free)."""
    n, h = case.grid, case.voxel_mm
    sampler = HeartSampler(case)
    lv = np.zeros((case.gates, n, n, n), np.float32)
    other = np.zeros_like(lv)
    for g, times in enumerate(gate_times(case)):
        acc_lv, acc_other = 0.0, 0.0
        for t in times:
            a, b = sampler.channels_at(float(t))
            acc_lv = acc_lv + a
            acc_other = acc_other + b
        lv[g] = sampler.to_grid(acc_lv / len(times))
        other[g] = sampler.to_grid(acc_other / len(times))
    rest = sampler.structures_at(0.0, at_rest=True)
    envelope = np.clip(sampler.to_grid(sum(rest.values())), 0.0, 1.0)
    c = axis_mm(case)
    X, Y, Z = np.meshgrid(c, c, c, indexing="ij")
    static = np.zeros((n, n, n), np.float64)
    mu = np.zeros((n, n, n), np.float64)
    _paint(layout(case), X, Y, Z, h, static, mu)
    static *= 1.0 - envelope  # the heart replaces lung and background where it lies
    mu = np.where(envelope > 0, mu * (1.0 - envelope) + MU_SOFT * envelope, mu)
    sigma = case.ratio_fwhm_mm / 2.3548 / h
    lv_peak = float(ndimage.gaussian_filter(lv.mean(axis=0), sigma).max())
    loops = gut_loops(case)
    gut_ratio, gut_gap = 0.0, float("nan")
    if loops:
        hottest = ndimage.gaussian_filter(loops[0].occupancy(X, Y, Z, h), sigma).max()
        scale = case.gut_ratio * lv_peak / hottest
        loops = [Solid(s.name, s.kind, s.centre, s.size, s.activity * scale, s.mu, s.end) for s in loops]
        _paint(loops, X, Y, Z, h, static, mu)
        gut_only = np.zeros_like(static)
        _paint(loops, X, Y, Z, h, gut_only, np.zeros_like(mu))
        gut_ratio = float(ndimage.gaussian_filter(gut_only, sigma).max()) / lv_peak
        gut_gap = float(loops[0].signed_distance(*case.epicardium(80, 144)["points"].T).min())
    extracardiac = float(ndimage.gaussian_filter(static, sigma).max()) / lv_peak
    static = static.astype(np.float32)
    activity = lv + other + static[None]
    return Rendered(activity, mu.astype(np.float32), static, lv, extracardiac, gut_ratio, gut_gap)

