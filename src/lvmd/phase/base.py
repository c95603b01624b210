"""The valve plane: where the myocardium ends at the base, in every gate, from the myocardium itself.

The base is not where counts fade on the summed image: in systole it moves 8-15 mm towards the apex, so the basal
slices of end-diastole hold myocardium only part of the cycle, and their count curve peaks in diastole -- a "wall"
in anti-phase that is really the valve plane passing through. Sampling it as wall is what inflated PSD on real
studies by tens of degrees.

Here the count profile along the axis (each slice's mean wall count, normalised per gate by the mid-ventricle's)
gives the basal edge in every gate (where it falls to half the mid-ventricular level, interpolated between slices:
each edge pools a whole ring of samples, so it holds at clinical counts). The reference is the edge at
end-diastole (the gate where the mid-ventricle's wall counts are lowest); gates whose edge lies closer to the apex
are followed (up to 20 mm), while an edge that moves outwards is not descent (a thickening wall pushes the half-maximum
outwards) and is ignored. The last sampled slice lies wholly inside the end-diastolic edge and 10 mm
(``BASE_MARGIN_MM``) inside the end-systolic one: at clinical resolution the slices the valve plane sweeps through read its motion as much as
the wall's, however well it is followed. The descent is then measured again in six angular sectors (each wall's
base descends with that wall's own shortening: in an LBBB-like LV the lateral base descends about the lateral delay
after the septal one, and following one mean descent misreads the late walls). The sampler follows this plane
(:class:`lvmd.phase.sample.AxialFrame`), and basal samples that still beat in anti-phase to the
body of the LV (valve-plane or atrial activity above the base, a tilted valve plane) are set aside by
:func:`valve_plane_samples`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from .geometry import LvGeometry
from .sample import AxialFrame, sample_wall

EDGE_LEVEL = 0.5  # the basal edge: the wall count falls to this fraction of the mid-ventricle's
MAX_DESCENT_MM = 20.0
BASE_MARGIN_MM = 10.0  # the last sampled slice lies this far inside the end-systolic basal edge
EXTRA_SLICES = 4  # slices beyond the summed-image base examined for the valve plane
VALVE_JUMP_DEG = 90.0  # a phase jump this large between adjacent basal slices is the valve plane, not the wall
BASE_SECTORS = 6  # angular sectors whose base is followed separately (each wall shortens with its own timing)


@dataclass
class BaseEstimate:
    """The valve plane found in a study.

    Attributes
    ----------
    frame : AxialFrame
        Apex and end-diastolic base positions, and the base in every gate.
    base_slice : int
        Last short-axis slice sampled as myocardium.
    descent_mm : float
        Systolic descent of the base towards the apex.
    edges : numpy.ndarray
        The basal edge measured in every gate before fitting (slice units).
    warnings : list of str
    """

    frame: AxialFrame
    base_slice: int
    descent_mm: float
    edges: np.ndarray
    warnings: list[str] = field(default_factory=list)


def apex_position(summed: np.ndarray, geometry: LvGeometry) -> float:
    """Mid-wall apex (slice units): the peak of the count profile along the axis through the apical cap."""
    Z, Y, X = summed.shape
    lo = geometry.ring_slice
    first = max(geometry.apex_slice - 2, 0)
    c = geometry.centres[lo]
    yy, xx = np.ogrid[0:Y, 0:X]
    disc = (yy - c[0]) ** 2 + (xx - c[1]) ** 2 <= max(0.25 * geometry.radius_vox, 1.0) ** 2
    profile = np.array([summed[z][disc].mean() for z in range(first, lo + 1)])
    k = int(np.argmax(profile))
    if profile[k] < 0.3 * geometry.level or len(profile) < 3:
        return float(min(geometry.apex_slice + 1, lo))
    if 0 < k < len(profile) - 1:
        a, b, d = profile[k - 1], profile[k], profile[k + 1]
        denom = a - 2 * b + d
        shift = 0.5 * (a - d) / denom if denom < 0 else 0.0
        return float(first + k + np.clip(shift, -0.5, 0.5))
    return float(first + k)


def _edge(profile: np.ndarray, start: int, positions: np.ndarray) -> float:
    """First position after ``start`` where ``profile`` falls below the edge level, interpolated between rows."""
    for i in range(start + 1, len(profile)):
        if profile[i] < EDGE_LEVEL:
            a, b = profile[i - 1], profile[i]
            frac = (a - EDGE_LEVEL) / (a - b) if a > b else 0.5
            return float(positions[i - 1] + np.clip(frac, 0, 1) * (positions[i] - positions[i - 1]))
    return float(positions[-1] + 0.5)


def _basal_edges(wall: np.ndarray, body: slice, start: int, positions: np.ndarray) -> np.ndarray:
    """The basal edge (slice units) in every gate of a (rows, T) wall-count profile, each gate normalised by the
    median of its ``body`` rows."""
    mid = np.median(wall[body], axis=0)
    return np.array([_edge(wall[:, g] / max(mid[g], 1e-12), start, positions) for g in range(wall.shape[1])])


def find_base(counts: np.ndarray, geometry: LvGeometry, spacing_mm: tuple[float, float, float], apex: float,
              base_slice: int | None = None) -> BaseEstimate:
    """Valve plane of a gated (T, Z, Y, X) study; ``base_slice`` (the operator's) fixes the end-diastolic base."""
    T, Z = counts.shape[:2]
    dz = spacing_mm[0]
    last = min(geometry.base_slice + EXTRA_SLICES, Z - 1)
    probe = sample_wall(counts, geometry, spacing_mm, AxialFrame(apex, last + 1.0), last_slice=last, n_angles=24,
                        cap_rings=1, smoothing_mm=0.0)
    sa = ~np.isnan(probe.row_slice)
    positions = probe.row_slice[sa]
    wall = probe.curves.reshape(len(probe.grid_rho), probe.n_angles, T)[sa].mean(axis=1)  # (rows, T)
    n = len(positions)
    body = slice(max(n // 6, 0), max(2 * (geometry.base_slice - geometry.ring_slice + 1) // 3, 1))
    mid = np.median(wall[body], axis=0)
    start = body.stop - 1
    edges = _basal_edges(wall, body, start, positions)
    warnings: list[str] = []
    # End-diastole: where the mid-ventricle's wall counts (thickening) are lowest on their first harmonic. Only
    # motion towards the apex from there is descent: a thickening wall also pushes the half-maximum edge outwards.
    t = (np.arange(T) + 0.5) / T
    cycle = mid @ np.exp(-2j * np.pi * t)
    ed = int(np.argmin(np.real(cycle * np.exp(2j * np.pi * t))))
    e_ed = float(np.mean(edges[[(ed - 1) % T, ed, (ed + 1) % T]]))
    per_gate = np.clip(edges, e_ed - MAX_DESCENT_MM / dz, e_ed)
    descent = float(e_ed - per_gate.min())
    if BASE_SECTORS > 1 and probe.n_angles % BASE_SECTORS == 0:
        per_gate = e_ed - _sector_descent(probe.curves.reshape(len(probe.grid_rho), probe.n_angles, T)[sa], body,
                                          start, positions, ed, MAX_DESCENT_MM / dz)
    if base_slice is not None:
        shift = (base_slice + 1.0) - e_ed
        e_ed += shift
        per_gate = per_gate + shift
        chosen = int(base_slice)
    else:
        # The last slice lies wholly inside the end-diastolic edge and inside the end-systolic one: what the valve
        # plane sweeps through is sampled only where tracking keeps it in place.
        chosen = int(np.floor(min(e_ed - 1.0, e_ed - descent - BASE_MARGIN_MM / dz)))
        if chosen < geometry.ring_slice:
            warnings.append(f"the basal edge (slice {e_ed:.1f}) lies before the first ring slice: the LV looks very "
                            "short; check the QC figure")
            chosen = geometry.ring_slice
    if descent * dz > 0.8 * MAX_DESCENT_MM:
        warnings.append(f"the base appears to descend {descent * dz:.0f} mm in systole (physiological: 8-15 mm); "
                        "gating or the valve plane may be wrong")
    frame = AxialFrame(float(apex), float(e_ed), per_gate)
    return BaseEstimate(frame, chosen, float(descent * dz), edges, warnings)


def _sector_descent(curves: np.ndarray, body: slice, start: int, positions: np.ndarray, ed: int,
                    max_descent: float) -> np.ndarray:
    """Descent of the base (slices, >= 0) in every gate and angular sector, shape (T, BASE_SECTORS)."""
    rows, n_angles, T = curves.shape
    walls = curves.reshape(rows, BASE_SECTORS, n_angles // BASE_SECTORS, T).mean(axis=2)
    out = np.empty((T, BASE_SECTORS))
    near_ed = [(ed - 1) % T, ed, (ed + 1) % T]
    for s in range(BASE_SECTORS):
        edges = _basal_edges(walls[:, s], body, start, positions)
        e_ed = float(np.mean(edges[near_ed]))
        out[:, s] = e_ed - np.clip(edges, e_ed - max_descent, e_ed)
    return out


def valve_plane_samples(phase_deg: np.ndarray, n_angles: int, first_sa_row: int, rows_to_check: int = 4) -> np.ndarray:
    """Bool per sample (grid order): True where a basal sample watches the valve plane instead of the wall.

    Going up each angle's column of samples towards the base, a sample is the valve plane when its phase jumps more
    than 90 degrees from the sample below it (the base leaving the slice in systole adds a count curve that peaks in
    diastole, which drags the phase away); it and every sample above it are set aside. Adjacent slices lie well
    within the resolution of SPECT, so a real regional delay -- however late -- changes smoothly from one slice to
    the next and is kept; a tilted valve plane is handled angle by angle.
    """
    grid = np.asarray(phase_deg, float).reshape(-1, n_angles)
    rows = grid.shape[0]
    flagged = np.zeros(grid.shape, bool)
    for r in range(max(first_sa_row + 1, rows - rows_to_check), rows):
        jump = np.abs((grid[r] - grid[r - 1] + 180.0) % 360.0 - 180.0) > VALVE_JUMP_DEG
        flagged[r] = flagged[r - 1] | jump
    return flagged.ravel()
