"""Synthetic CRT cohort with a planted, documented mechanism (docs/synthetic-cohort.md).

Generative model, per patient:

1. Response ``r``: exactly round(0.441 n) responders (the paper's 45 / 102), in random order.
2. Clinical variables drawn given ``r`` from the paper's Table 1 (group means, SDs and proportions); LVEF and EDV
   drawn, ESV = EDV (1 - LVEF); follow-up ESV drawn so the ``esv15`` label equals ``r``; ~1 % of patients get an
   implausibly small ESV (the paper's outlier, a non-responder) for the exclusion rule.
3. Dyssynchrony pattern given ``r``: *coherent* (a septal-to-lateral activation delay, the late wall viable, the scar
   elsewhere) with probability 0.75 in responders and 0.35 in non-responders; otherwise *scattered* (patchy delays
   clustered in and around the scar). The delay map's amplitude is scaled so that its phase SD equals a PSD drawn
   from the group's Table 1 distribution -- so PSD and PBW barely differ between groups while the pattern does.
   ``null=True`` gives both groups the same pattern mix (0.55), so image features carry no information.
4. Polar maps: by default each patient's delay and perfusion maps drive a gated phantom (:mod:`lvmd.phantom`) that
   lvmd's own phase analysis measures (PSD, PBW and the maps are what lvmd measured); ``maps_only`` draws the maps
   directly (phase = 126 deg + delay + pixel noise) for large cohorts.

``truth.csv`` holds the exact posterior P(response | pattern, clinical variables) under this model, the pattern label
and the scar location; no analysis reads it.

``mechanism`` swaps step 3-4's maps for another map-generating mechanism (:mod:`lvmd.mechanisms`: ``where``,
``how``, ``null``) while the clinical variables are drawn exactly as above; the default, ``lvmd``, is the mechanism
described here and gives the same bytes as before the option existed.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import ndimage, stats

from ._values import seed as seed_value
from ._values import whole
from .errors import LvmdError
from .formulas import expit
from .io.polarmaps import PolarMaps
from .io.spect import write_spect
from .io.tables import write_clinical
from .mechanisms import MECHANISMS, P_FAVOURABLE, draw_patterns, render_phase
from .phantom import SYSTOLE_PEAK_DEG, Phantom
from .phase.metrics import phase_metrics
from .polar import disc_mask, pixel_coordinates

RESPONSE_RATE = 45 / 102
MAX_PATIENTS = 100_000  # some 10 GB of maps; far above any CRT cohort
# Table 1 of the reference paper: (responders, non-responders) mean and SD, or proportions.
CONTINUOUS = {
    "age": ((62.0, 12.4), (60.8, 13.5)),
    "qrs_ms": ((165.4, 16.2), (150.9, 23.7)),
    "lvedv_ml": ((270.5, 81.8), (307.5, 90.0)),
    "lvef_pct": ((29.9, 6.7), (28.8, 6.8)),
    "scar_burden_pct": ((24.5, 9.8), (28.6, 11.9)),
    "psd_deg": ((58.6, 18.3), (57.7, 19.0)),
}
LIMITS = {"age": (18, 95), "qrs_ms": (90, 260), "lvedv_ml": (90, 700), "lvef_pct": (8, 45),
          "scar_burden_pct": (2, 70), "psd_deg": (12, 120)}
BINARY = {"sex": (0.822, 0.649), "acei_arb": (0.822, 0.895), "cad": (0.222, 0.263), "ckd": (0.067, 0.035),
          "ischemia": (0.200, 0.263), "smoking": (0.422, 0.316)}
NYHA = {2: (0.356, 0.263), 3: (0.467, 0.614), 4: (0.178, 0.123)}
P_COHERENT = (0.75, 0.35)
P_COHERENT_NULL = 0.55
OUTLIER_RATE = 0.01
PIXEL_NOISE_DEG = 4.0
DELAY_BETA = 1.12
PHANTOM_BLUR_GAIN = 1.07  # resolution blur lowers the measured phase SD by about this factor


@dataclass
class SyntheticCohort:
    """A simulated cohort: clinical table, polar maps, truth, and (optionally) the gated studies."""

    clinical: pd.DataFrame
    maps: PolarMaps
    truth: pd.DataFrame
    studies: dict | None = None

    def write(self, folder: Path) -> None:
        """Write clinical.csv, polarmaps.npz, truth.csv (and studies/ when kept) into ``folder``."""
        folder = Path(folder)
        write_clinical(self.clinical, folder / "clinical.csv")
        self.maps.save(folder / "polarmaps.npz")
        self.truth.to_csv(folder / "truth.csv", float_format="%.6g")
        if self.studies:
            (folder / "studies").mkdir()
            for pid, study in self.studies.items():
                write_spect(study, folder / "studies" / f"{pid}.npz")


def _truncated(rng, mean, sd, low, high, size=None):
    a, b = (low - mean) / sd, (high - mean) / sd
    return stats.truncnorm.rvs(a, b, loc=mean, scale=sd, size=size, random_state=rng)


def _angle_diff(a, b):
    return (np.asarray(a) - b + 180.0) % 360.0 - 180.0


def _smooth_noise(rng, sigma_px: float) -> np.ndarray:
    field = ndimage.gaussian_filter(rng.normal(size=(64, 64)), sigma_px, mode="wrap")
    return field / (field[disc_mask()].std() + 1e-12)


def _scar_map(rng, burden_pct: float, centre_theta: float, centre_rho: float) -> np.ndarray:
    """Perfusion (%) with a defect covering ``burden_pct`` of the disc (< 50 %) around the given centre."""
    rho, theta = pixel_coordinates()
    mask = disc_mask()
    d2 = (_angle_diff(theta, centre_theta) / 60.0) ** 2 + ((rho - centre_rho) / 0.35) ** 2
    field = -d2 + 0.3 * _smooth_noise(rng, 4.0)
    inside = field[mask]
    k = int(round(burden_pct / 100.0 * inside.size))
    perf = np.full((64, 64), np.nan)
    values = 75.0 + 15.0 * np.clip(_smooth_noise(rng, 6.0)[mask], -1.5, 1.5) / 1.5
    if k > 0:
        cut = np.sort(inside)[::-1][k - 1]
        core = inside >= cut
        values = np.where(core, 25.0 + 20.0 * (cut - inside).clip(-1, 0) / -1 + 0.0, values)
        values = np.where(core, np.clip(values, 20.0, 45.0), values)
    perf[mask] = values
    return perf


def _delay_shape(rng, coherent: bool, scar_theta: float, scar_rho: float) -> tuple[np.ndarray, float]:
    """Unit-scale delay map of a pattern and the angle of its late region."""
    rho, theta = pixel_coordinates()
    if coherent:
        late = rng.normal(0.0, 25.0)  # lateral wall, with individual variation
        shape = (1 + np.cos(np.radians(_angle_diff(theta, late)))) / 2.0
        shape = shape * (0.8 + 0.2 * rho) + 0.08 * _smooth_noise(rng, 5.0)
        return shape, float(late % 360.0)
    bumps = np.zeros_like(rho)
    for _ in range(int(rng.integers(3, 6))):
        t0 = scar_theta + rng.normal(0, 70.0)
        r0 = np.clip(scar_rho + rng.normal(0, 0.3), 0.1, 0.95)
        width = rng.uniform(25.0, 50.0)
        bumps += rng.uniform(0.5, 1.0) * np.exp(-0.5 * (_angle_diff(theta, t0) / width) ** 2 - 0.5 * ((rho - r0) / 0.18) ** 2)
    shape = bumps + 0.25 * _smooth_noise(rng, 3.0)
    late = float(theta[np.unravel_index(np.argmax(np.where(disc_mask(), shape, -np.inf)), shape.shape)])
    return shape, late


def _scale_to_psd(shape: np.ndarray, target_psd: float) -> np.ndarray:
    """Delay map with the shape's spatial ordering and a fixed histogram: Beta(1.12, 1.12) quantiles scaled to an SD
    of ``target_psd``, so PSD and PBW (ratio about 3.36, as in the paper's Table 1) carry no pattern information."""
    mask = disc_mask()
    order = np.argsort(shape[mask], kind="stable")
    values = np.empty(order.size)
    values[order] = _delay_quantiles(order.size)
    out = np.zeros_like(shape)
    out[mask] = values * target_psd
    return out


@lru_cache(maxsize=4)
def _delay_quantiles(size: int) -> np.ndarray:
    """Standardised (unit SD, from 0) quantiles of the delay distribution at ``size`` plotting positions."""
    q = stats.beta.ppf((np.arange(size) + 0.5) / size, DELAY_BETA, DELAY_BETA)
    return q / stats.beta.std(DELAY_BETA, DELAY_BETA)


def _posterior(clinical: pd.DataFrame, drawn: dict, coherent: np.ndarray, null: bool,
               p_pattern: tuple[float, float] = P_COHERENT) -> np.ndarray:
    """Exact P(response | pattern, drawn clinical variables) under the generative model (naive-Bayes form);
    ``coherent`` marks the favourable pattern, ``p_pattern`` its probability in responders and non-responders."""
    log_odds = np.full(len(clinical), np.log(RESPONSE_RATE / (1 - RESPONSE_RATE)))
    for name, ((m1, s1), (m0, s0)) in CONTINUOUS.items():
        x = drawn[name]
        lo, hi = LIMITS[name]
        f1 = stats.truncnorm.pdf(x, (lo - m1) / s1, (hi - m1) / s1, loc=m1, scale=s1)
        f0 = stats.truncnorm.pdf(x, (lo - m0) / s0, (hi - m0) / s0, loc=m0, scale=s0)
        log_odds += np.log(f1) - np.log(f0)
    for name, (p1, p0) in BINARY.items():
        x = clinical[name].to_numpy()
        log_odds += np.where(x == 1, np.log(p1 / p0), np.log((1 - p1) / (1 - p0)))
    nyha = clinical["nyha"].to_numpy()
    for level, (p1, p0) in NYHA.items():
        log_odds += np.where(nyha == level, np.log(p1 / p0), 0.0)
    if not null:
        pc1, pc0 = p_pattern
        log_odds += np.where(coherent, np.log(pc1 / pc0), np.log((1 - pc1) / (1 - pc0)))
    return expit(log_odds)


def _phantom_job(args) -> tuple:
    delay, perfusion, seed, pid, keep = args
    from .phase import analyze_study

    phantom = Phantom(delay_map=delay, perfusion_map=perfusion / 100.0, gates=8, shape=(28, 48, 48),
                      spacing_mm=5.0, peak_counts=400.0, viable_threshold=0.15, thickening_follows_uptake=True,
                      seed=seed)
    study = phantom.simulate(pid)
    result = analyze_study(study)
    return (result.phase_map, result.perfusion_map, result.thickening_map, result.metrics["psd_deg"],
            result.metrics["pbw_deg"], study if keep else None)


def _lvmd_patterns(rng, response: np.ndarray, null: bool, psd_target: np.ndarray, scar_burden: np.ndarray) -> tuple:
    """lvmd's own mechanism (steps 3-4 of the module docstring): pattern, delay and perfusion map of each patient."""
    n = len(response)
    p_coherent = np.full(n, P_COHERENT_NULL) if null else np.where(response == 1, P_COHERENT[0], P_COHERENT[1])
    coherent = rng.random(n) < p_coherent
    delays, perfusions, late_deg, scar_theta, scar_rho = [], [], [], [], []
    for i in range(n):
        if coherent[i]:
            st = rng.normal(180.0, 50.0) % 360.0  # septal / anteroseptal / inferior scar, away from the late wall
        else:
            st = rng.uniform(0.0, 360.0)
        sr = rng.uniform(0.3, 0.9)
        shape, late = _delay_shape(rng, bool(coherent[i]), st, sr)
        delays.append(_scale_to_psd(shape, psd_target[i]))
        perfusions.append(_scar_map(rng, float(scar_burden[i]), st, sr))
        late_deg.append(late)
        scar_theta.append(st)
        scar_rho.append(sr)
    return coherent, delays, perfusions, late_deg, scar_theta, scar_rho


def simulate_cohort(n: int = 103, seed: int = 0, null: bool = False, maps_only: bool = False,
                    with_spect: bool = False, workers: int | None = None, mechanism: str = "lvmd") -> SyntheticCohort:
    """Simulate a CRT cohort (see the module docstring for the mechanism).

    Parameters
    ----------
    n : int
        Patients (10 to :data:`MAX_PATIENTS`).
    seed : int
        0 to 2**32 - 1; the same seed gives byte-identical files.
    null : bool
        Switch the pattern's effect off.
    maps_only : bool
        Draw maps directly instead of measuring gated phantoms (fast, for large n).
    with_spect : bool
        Keep the gated phantom studies (not with ``maps_only``).
    workers : int, optional
        Processes for the phantom analyses (default: CPU count).
    mechanism : str
        How the maps are drawn: ``"lvmd"`` (the mechanism above, the default), or one of :mod:`lvmd.mechanisms`:
        ``"where"`` (the late region's location decides), ``"how"`` (one coherent wavefront versus patchy delays),
        ``"null"`` (both kinds of map, unrelated to response). truth.csv then also holds ``favourable`` (the oracle
        label) and ``mechanism``.
    """
    if mechanism not in MECHANISMS:
        raise LvmdError(f"--mechanism {mechanism!r} is not one of {', '.join(MECHANISMS)}")
    whole(n, "--n", 10, MAX_PATIENTS, LvmdError)
    seed_value(seed, "--seed", LvmdError)
    if workers is not None:
        whole(workers, "--workers", 1, None, LvmdError)
    if maps_only and with_spect:
        raise LvmdError("--with-spect cannot be combined with --maps-only (no gated studies are made)")
    rng = np.random.default_rng(seed)
    ids = np.array([f"P{i + 1:04d}" for i in range(n)], dtype=object)
    r = np.zeros(n, dtype=int)
    r[rng.permutation(n)[: int(round(n * RESPONSE_RATE))]] = 1
    g = 1 - r  # 0 = responders' parameters, 1 = non-responders'
    table = pd.DataFrame(index=pd.Index(ids, name="patient_id"))
    drawn = {}
    for name, params in CONTINUOUS.items():
        lo, hi = LIMITS[name]
        by_group = [_truncated(rng, *params[k], lo, hi, n) for k in (0, 1)]
        drawn[name] = np.where(g == 0, by_group[0], by_group[1])
    for name, (p1, p0) in BINARY.items():
        table[name] = (rng.random(n) < np.where(r == 1, p1, p0)).astype(float)
    u = rng.random(n)
    p2 = np.where(r == 1, NYHA[2][0], NYHA[2][1])
    p3 = np.where(r == 1, NYHA[3][0], NYHA[3][1])
    table["nyha"] = np.where(u < p2, 2, np.where(u < p2 + p3, 3, 4)).astype(float)
    table["age"] = np.round(drawn["age"])
    table["qrs_ms"] = np.round(drawn["qrs_ms"])
    edv = drawn["lvedv_ml"]
    ef = drawn["lvef_pct"]
    esv = edv * (1 - ef / 100.0)
    outlier = np.zeros(n, dtype=bool)
    outlier[rng.permutation(np.flatnonzero(r == 0))[: int(round(n * OUTLIER_RATE))]] = True
    esv = np.where(outlier, rng.uniform(12.0, 19.0, n), esv)
    edv = np.where(outlier, esv / (1 - ef / 100.0), edv)
    reduction = np.where(r == 1, _truncated(rng, 0.30, 0.10, 0.155, 0.7, n), _truncated(rng, 0.0, 0.09, -0.3, 0.145, n))
    table["lvedv_ml"] = np.round(edv, 1)
    table["lvesv_ml"] = np.round(esv, 1)
    table["lvef_pct"] = np.round((1 - table["lvesv_ml"] / table["lvedv_ml"]) * 100.0, 1)
    table["lvesv_followup_ml"] = np.round(table["lvesv_ml"] * (1 - reduction), 1)
    fu_edv = table["lvedv_ml"] * (1 - reduction * 0.6)
    table["lvef_followup_pct"] = np.round((1 - table["lvesv_followup_ml"] / fu_edv) * 100.0, 1).clip(1, 95)
    table["scar_burden_pct"] = np.round(drawn["scar_burden_pct"], 1)

    psd_target = drawn["psd_deg"]
    mask = disc_mask()
    studies = {} if with_spect else None
    if mechanism == "lvmd":
        coherent, delays, perfusions, late_deg, scar_theta, scar_rho = _lvmd_patterns(
            rng, r, null, psd_target, table["scar_burden_pct"].to_numpy())
        offsets = rng.normal(0.0, 8.0, n)
        noise_seeds = rng.integers(0, 2**31 - 1, n)
        if maps_only:
            phase = np.full((n, 64, 64), np.nan)
            for i in range(n):
                noise = np.random.default_rng(noise_seeds[i]).normal(0, PIXEL_NOISE_DEG, (64, 64))
                p = (SYSTOLE_PEAK_DEG + offsets[i] + delays[i] + noise) % 360.0
                phase[i] = np.where(mask, p, np.nan)
        else:
            driving = [delays[i] * PHANTOM_BLUR_GAIN + offsets[i] for i in range(n)]
        pattern = np.where(coherent, "coherent", "scattered")
        posterior = _posterior(table, drawn, coherent, null)
    else:
        draw = draw_patterns(mechanism, rng, r, psd_target, table["scar_burden_pct"].to_numpy(), null)
        coherent, perfusions, pattern = draw.favourable, list(draw.perfusion), draw.pattern
        late_deg, scar_theta, scar_rho = draw.late_deg, draw.scar_theta, draw.scar_rho
        null = null or mechanism == "null"
        posterior = _posterior(table, drawn, coherent, null, P_FAVOURABLE)
        if maps_only:
            phase = render_phase(rng, draw.delay)
        else:
            centred = draw.delay - np.nanmean(draw.delay[:, mask], axis=1)[:, None, None]
            mean_phase = rng.uniform(100.0, 200.0, n)
            noise_seeds = rng.integers(0, 2**31 - 1, n)
            driving = [np.nan_to_num(centred[i]) * PHANTOM_BLUR_GAIN + mean_phase[i] - SYSTOLE_PEAK_DEG for i in range(n)]
    if maps_only:
        thick = np.stack([np.where(mask, 40.0 * perfusions[i] / 100.0, np.nan) for i in range(n)])
        metrics = [phase_metrics(phase[i][mask]) for i in range(n)]
        psd = np.array([m["psd_deg"] for m in metrics])
        pbw = np.array([m["pbw_deg"] for m in metrics])
        perf = np.stack(perfusions)
    else:
        jobs = [(driving[i], perfusions[i], int(noise_seeds[i]), ids[i], with_spect) for i in range(n)]
        workers = workers or min(os.cpu_count() or 1, 8)
        if workers > 1:
            with ProcessPoolExecutor(workers) as pool:
                results = list(pool.map(_phantom_job, jobs, chunksize=max(1, n // (4 * workers))))
        else:
            results = [_phantom_job(j) for j in jobs]
        phase = np.stack([res[0] for res in results])
        perf = np.stack([res[1] for res in results])
        thick = np.stack([res[2] for res in results])
        psd = np.array([res[3] for res in results])
        pbw = np.array([res[4] for res in results])
        if with_spect:
            studies = {ids[i]: results[i][5] for i in range(n)}
    table["psd_deg"] = np.round(psd, 2)
    table["pbw_deg"] = np.round(pbw, 2)
    columns = ["age", "sex", "qrs_ms", "lvef_pct", "lvedv_ml", "lvesv_ml", "lvesv_followup_ml", "lvef_followup_pct",
               "nyha", "cad", "ckd", "ischemia", "smoking", "acei_arb", "scar_burden_pct", "psd_deg", "pbw_deg"]
    table = table[columns]
    truth = pd.DataFrame({
        "response": r, "response_probability": posterior,
        "pattern": pattern, "late_region_deg": np.round(late_deg, 2),
        "scar_theta_deg": np.round(scar_theta, 2), "scar_rho": np.round(scar_rho, 3),
        "psd_target_deg": np.round(psd_target, 3), "esv_outlier": outlier.astype(int), "null": int(null),
    }, index=table.index)
    if mechanism != "lvmd":
        truth["favourable"] = coherent.astype(int)
        truth["mechanism"] = mechanism
    phase32 = phase.astype(np.float32)
    phase32[phase32 >= 360.0] -= 360.0  # a phase just below 360 rounds up to 360.0 in float32: keep [0, 360)
    maps = PolarMaps(ids, phase32, perf.astype(np.float32), thick.astype(np.float32))
    return SyntheticCohort(table, maps, truth, studies)
