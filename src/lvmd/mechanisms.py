"""Map-generating mechanisms beside lvmd's own, for recovery benchmarks: *where*, *how* and *null*.

lvmd's own mechanism (:mod:`lvmd.simulate`) writes a delay map as a cosine sweep or Gaussian bumps and forces its
histogram to a fixed shape. These mechanisms draw maps another way, so that a feature tuned to one generator shows
it: activation *times* of a conduction model, the earliest activation spreading over the wall at a local speed.

Conduction model (per patient). The bullseye is read as a hemispherical LV surface (azimuthal equidistant from the
apex: ``rho`` is arc length from the apex, the circumference at ``rho`` shrinks by ``sin(phi) / phi`` with
``phi = rho pi / 2``). Activation time is the shortest travel time from the breakthrough sites over the 8-neighbour
pixel graph (Dijkstra, scipy), with a slowness (1 / speed) that varies smoothly over the wall (log-normal) and rises
in scar. The delay map is the activation time, scaled so its SD is the patient's PSD (drawn from the paper's Table 1
per response group, as lvmd's own mechanism does) but never wider than 330 degrees; its histogram is whatever the
conduction makes of it, so PSD, PBW and entropy may differ between patterns.

Patterns:

* ``where`` -- every map is one LBBB-type wavefront from a broad septal-side breakthrough band (transseptal
  activation; Strik et al., J Cardiovasc Transl Res 2012). What differs is *where* the wall activates last: the
  favourable pattern ``lateral_late`` (late direction in the posterolateral-to-anterolateral arc, -75 to +30 deg from
  lateral) against ``other_late`` (anterior, septal or inferior). Scar, speed heterogeneity and amount are drawn
  the same for both. The late direction is that of the drawn activation map (the time-weighted direction of its
  latest 15 %); a draw whose late region strays out of its pattern's arc is drawn again.
* ``how`` -- the late direction is uniform for both patterns; what differs is *how* the ventricle activates: the
  favourable ``coherent`` pattern is one wavefront from one breakthrough band, ``patchy`` is activation from 3-6
  scattered sites with strongly slowed conduction in and around the scar (scar-related, non-LBBB delays).
* ``null`` -- maps drawn half from each of the above with their pattern independent of response.

A favourable pattern has probability 0.75 in responders and 0.35 in non-responders (``null``: 0.55 in both), as in
lvmd's own mechanism. Scar: a coronary-territory-like wedge (apex-to-base band around a random direction) covering
the patient's scar burden, uptake 25-45 % falling towards its core; remote myocardium 65-95 %.

Maps (maps-only): phase = a mean phase drawn uniformly in 100-200 deg + delay + noise whose SD (3-10 deg) differs by
patient, part spatially correlated and part heavy-tailed (Student t, 3 degrees of freedom); one map in ten has a
NaN hole (a missing region, as where a sampling mask cut the wall).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import ndimage, sparse
from scipy.sparse.csgraph import dijkstra

from .polar import GRID, disc_mask, pixel_coordinates

MECHANISMS = ("lvmd", "where", "how", "null")
FAVOURABLE = {"where": "lateral_late", "how": "coherent"}
UNFAVOURABLE = {"where": "other_late", "how": "patchy"}
P_FAVOURABLE = (0.75, 0.35)  # (responders, non-responders)
P_FAVOURABLE_NULL = 0.55
LATERAL_ARC_DEG = (-75.0, 30.0)  # posterolateral .. anterolateral: the favourable late directions of ``where``
MAX_RANGE_DEG = 330.0
HOLE_RATE = 0.1
MAX_TRIES = 50


@dataclass
class PatternDraw:
    """Delay and perfusion maps of a cohort drawn by a mechanism, with its truth."""

    delay: np.ndarray  # (n, 64, 64) degrees, 0 at the earliest pixel, NaN outside the disc
    perfusion: np.ndarray  # (n, 64, 64) % of maximum
    pattern: np.ndarray  # (n,) str
    favourable: np.ndarray  # (n,) bool
    late_deg: np.ndarray  # direction of the latest activation (degrees from lateral)
    scar_theta: np.ndarray
    scar_rho: np.ndarray


@lru_cache(maxsize=1)
def _graph() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Disc pixels as graph nodes: (node of each pixel or -1, edge starts, edge ends, edge surface lengths)."""
    mask = disc_mask()
    node = np.full(mask.shape, -1)
    node[mask] = np.arange(mask.sum())
    rho, theta = pixel_coordinates()
    centre = (GRID - 1) / 2.0
    starts, ends, lengths = [], [], []
    for dr, dc in ((0, 1), (1, 0), (1, 1), (1, -1)):
        r0, c0 = np.nonzero(mask)
        r1, c1 = r0 + dr, c0 + dc
        ok = (r1 >= 0) & (r1 < GRID) & (c1 >= 0) & (c1 < GRID)
        r0, c0, r1, c1 = r0[ok], c0[ok], r1[ok], c1[ok]
        ok = mask[r1, c1]
        r0, c0, r1, c1 = r0[ok], c0[ok], r1[ok], c1[ok]
        # Split each step into radial and circumferential parts at its midpoint; shrink the circumferential part to
        # the hemisphere's circumference at that latitude.
        mx, my = (c0 + c1) / 2.0 - centre, centre - (r0 + r1) / 2.0
        radius = np.hypot(mx, my) + 1e-9
        step_x, step_y = float(dc), float(-dr)
        radial = (step_x * mx + step_y * my) / radius
        tangential = np.sqrt(np.maximum(step_x**2 + step_y**2 - radial**2, 0.0))
        phi = np.clip(radius / (GRID / 2.0), 1e-6, 1.0) * np.pi / 2.0
        lengths.append(np.hypot(radial, tangential * np.sin(phi) / phi))
        starts.append(node[r0, c0])
        ends.append(node[r1, c1])
    return node, np.concatenate(starts), np.concatenate(ends), np.concatenate(lengths)


def _activation_time(slowness: np.ndarray, sources: np.ndarray) -> np.ndarray:
    """Shortest travel time (pixel units x slowness) from the source pixels (bool map) over the disc."""
    node, a, b, length = _graph()
    s = slowness[disc_mask()]
    weight = length * (s[a] + s[b]) / 2.0
    n_nodes = int(disc_mask().sum())
    graph = sparse.csr_matrix((weight, (a, b)), shape=(n_nodes, n_nodes))
    times = dijkstra(graph, directed=False, indices=node[sources & disc_mask()], min_only=True)
    out = np.full((GRID, GRID), np.nan)
    out[disc_mask()] = times
    return out


def _smooth_field(rng, sigma_px: float) -> np.ndarray:
    """Zero-mean, unit-SD Gaussian random field (reflecting edges)."""
    field = ndimage.gaussian_filter(rng.standard_normal((GRID, GRID)), sigma_px, mode="reflect")
    return (field - field[disc_mask()].mean()) / (field[disc_mask()].std() + 1e-12)


def _wrap(deg):
    return (np.asarray(deg) + 180.0) % 360.0 - 180.0


def _scar(rng, burden_pct: float) -> tuple[np.ndarray, float, float, np.ndarray]:
    """A territory-shaped scar: (perfusion %, centre direction, centre rho, depth 0-1 inside the scar)."""
    rho, theta = pixel_coordinates()
    mask = disc_mask()
    centre = rng.uniform(0.0, 360.0)
    reach = rng.uniform(0.0, 0.5)  # how close to the apex the territory starts
    score = -np.abs(_wrap(theta - centre)) - 150.0 * np.maximum(reach - rho, 0.0) + 12.0 * _smooth_field(rng, 3.0)
    k = int(round(burden_pct / 100.0 * mask.sum()))
    depth = np.zeros((GRID, GRID))
    remote = 80.0 + 15.0 * np.tanh(_smooth_field(rng, 5.0) / 1.5)
    perf = np.where(mask, remote, np.nan)
    if k > 0:
        inside = score[mask]
        cut = np.sort(inside)[::-1][k - 1]
        span = max(inside.max() - cut, 1e-6)
        depth = np.where(mask & (score >= cut), (score - cut) / span, 0.0)
        scar = mask & (score >= cut)
        perf = np.where(scar, 45.0 - 20.0 * depth, perf)
        r_centre = float(rho[scar].mean())
    else:
        r_centre = float(rho[mask].mean())
    return perf, float(centre), r_centre, depth


def _band(direction: float, rho_low: float, rho_high: float, half_width: float) -> np.ndarray:
    """Breakthrough band: an arc of the wall around ``direction`` between two radii."""
    rho, theta = pixel_coordinates()
    return disc_mask() & (np.abs(_wrap(theta - direction)) <= half_width) & (rho >= rho_low) & (rho <= rho_high)


def _late_direction(times: np.ndarray) -> float:
    """Direction (degrees from lateral) of the latest-activating region: the time-weighted circular mean direction
    of the latest 15 % of the wall."""
    _, theta = pixel_coordinates()
    t = times[disc_mask()]
    cut = np.percentile(t, 85.0)
    w = np.clip(t - cut, 0.0, None)
    angle = np.radians(theta[disc_mask()])
    return float(np.degrees(np.arctan2(np.sum(w * np.sin(angle)), np.sum(w * np.cos(angle)))) % 360.0)


def _in_lateral_arc(direction: float) -> bool:
    lo, hi = LATERAL_ARC_DEG
    return (direction - lo) % 360.0 <= hi - lo


def _wavefront(rng, late_direction: float, slowness: np.ndarray) -> np.ndarray:
    """One LBBB-type wavefront: activation from a broad band on the side opposite ``late_direction``."""
    origin = late_direction + 180.0 + rng.normal(0.0, 15.0)
    sources = _band(origin, rng.uniform(0.15, 0.4), rng.uniform(0.6, 0.95), rng.uniform(15.0, 45.0))
    return _activation_time(slowness, sources)


def _scattered(rng, slowness: np.ndarray, depth: np.ndarray) -> np.ndarray:
    """Scar-related activation: 3-6 scattered breakthrough sites; conduction slowed in the scar and in islands
    of slow conduction around it (or anywhere, in half the patients)."""
    mask = disc_mask()
    border = ndimage.gaussian_filter((depth > 0).astype(float), 4.0) > 0.05
    islands = (border | (rng.random() < 0.5)) & (_smooth_field(rng, 2.5) > 0.5)
    slow = slowness * np.where(depth > 0, 1.5 + 1.5 * depth, 1.0) * np.where(islands, 2.0, 1.0)
    sources = np.zeros((GRID, GRID), dtype=bool)
    candidates = np.argwhere(mask & (depth == 0))
    for r, c in candidates[rng.choice(len(candidates), int(rng.integers(3, 7)), replace=False)]:
        sources[max(r - 1, 0):r + 2, max(c - 1, 0):c + 2] = True
    return _activation_time(slow, sources)


def _scaled(times: np.ndarray, target_psd: float) -> np.ndarray:
    """Delay map: activation time scaled to an SD of ``target_psd`` (range capped at 330 degrees), 0 at onset."""
    mask = disc_mask()
    t = times - np.nanmin(times[mask])
    sd, span = t[mask].std(), t[mask].max()
    scale = min(target_psd / sd, MAX_RANGE_DEG / span) if sd > 0 else 0.0
    return np.where(mask, t * scale, np.nan)


def draw_patterns(mechanism: str, rng: np.random.Generator, response: np.ndarray, psd_target: np.ndarray,
                  scar_burden: np.ndarray, null: bool = False) -> PatternDraw:
    """Draw each patient's pattern, delay and perfusion maps under ``mechanism`` ('where', 'how' or 'null')."""
    n = len(response)
    if mechanism == "null" or null:
        p_fav = np.full(n, P_FAVOURABLE_NULL)
    else:
        p_fav = np.where(response == 1, *P_FAVOURABLE)
    favourable = rng.random(n) < p_fav
    kinds = rng.choice(["where", "how"], n) if mechanism == "null" else np.full(n, mechanism)
    delay = np.empty((n, GRID, GRID))
    perfusion = np.empty((n, GRID, GRID))
    pattern, late, scar_theta, scar_rho = [], np.empty(n), np.empty(n), np.empty(n)
    for i in range(n):
        perf, scar_theta[i], scar_rho[i], depth = _scar(rng, float(scar_burden[i]))
        slowness = np.exp(0.25 * _smooth_field(rng, 6.0)) * np.where(depth > 0, 1.5, 1.0)
        kind = kinds[i]
        if kind == "where":
            lo, hi = LATERAL_ARC_DEG
            for _ in range(MAX_TRIES):  # scar and uneven conduction can move the late region out of its arc
                target = rng.uniform(lo, hi) if favourable[i] else rng.uniform(hi, lo + 360.0)
                times = _wavefront(rng, target, slowness)
                if _in_lateral_arc(_late_direction(times)) == favourable[i]:
                    break
        elif favourable[i]:
            times = _wavefront(rng, rng.uniform(0.0, 360.0), slowness)
        else:
            times = _scattered(rng, slowness, depth)
        pattern.append(FAVOURABLE[kind] if favourable[i] else UNFAVOURABLE[kind])
        delay[i] = _scaled(times, float(psd_target[i]))
        perfusion[i] = perf
        late[i] = _late_direction(times)
    return PatternDraw(delay, perfusion, np.array(pattern, dtype=object), favourable, late, scar_theta, scar_rho)


def render_phase(rng: np.random.Generator, delay: np.ndarray) -> np.ndarray:
    """Phase maps (degrees, [0, 360), NaN outside the disc and in holes) from delay maps: a mean phase drawn in
    100-200 deg, patient-specific noise (correlated and heavy-tailed) and occasional missing regions."""
    mask = disc_mask()
    rho, theta = pixel_coordinates()
    out = np.full(delay.shape, np.nan)
    for i in range(len(delay)):
        d = delay[i] - delay[i][mask].mean()
        sd = rng.uniform(3.0, 10.0)
        white = rng.standard_t(3, (GRID, GRID)) / np.sqrt(3.0)
        noise = sd * (0.6 * white + 0.8 * _smooth_field(rng, 1.5))
        phase = (rng.uniform(100.0, 200.0) + d + noise) % 360.0
        keep = mask.copy()
        if rng.random() < HOLE_RATE:
            hole = (np.abs(_wrap(theta - rng.uniform(0, 360))) < rng.uniform(10, 40)) & (rho > rng.uniform(0.5, 0.9))
            keep &= ~hole
        out[i] = np.where(keep, phase, np.nan)
    return out


def favourable_pattern(truth) -> np.ndarray:
    """1 where a cohort's true pattern is the one its mechanism links to response (the oracle label), else 0.

    Reads the ``favourable`` column of truth.csv when present (these mechanisms), else lvmd's own label
    (``pattern == 'coherent'``).
    """
    if "favourable" in truth.columns:
        return truth["favourable"].to_numpy().astype(int)
    return (truth["pattern"] == "coherent").to_numpy().astype(int)
