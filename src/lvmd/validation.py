"""Honest validation: repeated stratified k-fold cross-validation and Harrell's bootstrap optimism correction in
which everything learned from data -- the AE (or PCA) fit, the screening and the logistic model -- is refit inside
each training set. Folds run in local processes or on a Dask cluster with identical results (seeds are fixed per
task and every task computes single-threaded).
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import pandas as pd
import statsmodels.api as sm
from sklearn.model_selection import StratifiedKFold

from .cohort import Cohort
from .config import StudyConfig
from .features import fit_seeds
from .errors import LvmdError
from .phase.metrics import fill_psd_pbw
from .pipeline import FAMILIES, OUTCOME, feature_count, fit_pipeline, make_extractor, select_clinical
from .stats import delong_test, roc_auc
from .results import Result

FAST_AE_ITERATIONS = 50
THRESHOLDS = np.round(np.arange(0.05, 0.81, 0.05), 2)


# --------------------------------------------------------------------------------------------- per-task fitting
def _fit_families(data: pd.DataFrame, phase: np.ndarray, families: Sequence[str], config: StudyConfig,
                  seed: int, ae_iterations: int):
    """Fit every family on one training set, sharing the clinical screening and the feature extractors."""
    clinical = select_clinical(data, config)
    extractors = {}
    for kind in ("ae", "pca"):
        if any(kind in f.split("+") for f in families):
            extractors[kind] = make_extractor(kind, config, seed, ae_iterations, n_maps=len(phase)).fit(phase)
    return {f: fit_pipeline(data, phase, f, config, extractors, clinical) for f in families}


def _single_thread(fn):
    """Run a task with one torch thread and one BLAS/OpenMP thread, so that results do not depend on the executor
    and parallel workers do not oversubscribe the cores."""
    def wrapped(payload):
        import torch
        from threadpoolctl import threadpool_limits

        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            with threadpool_limits(limits=1):
                return fn(payload)
        finally:
            torch.set_num_threads(threads)

    wrapped.__name__ = fn.__name__
    return wrapped


def fold_task(payload: dict) -> dict:
    """Fit on the training rows, predict the test rows (out-of-fold)."""
    return _single_thread(_fold_task)(payload)


def _fold_task(p: dict) -> dict:
    data, phase = p["data"], p["phase"]
    train, test = p["train"], p["test"]
    fitted = _fit_families(data.iloc[train], phase[train], p["families"], p["config"], p["seed"], p["ae_iterations"])
    out = {}
    for family, model in fitted.items():
        out[family] = {"prob": model.predict_proba(data.iloc[test], phase[test]), "selected": model.image_features,
                       "variables": model.variables}
    return {"key": p["key"], "test": test, "families": out}


def bootstrap_task(payload: dict) -> dict:
    """Fit on a bootstrap resample; AUC on the resample (apparent) and on the original data (test)."""
    return _single_thread(_bootstrap_task)(payload)


def _bootstrap_task(p: dict) -> dict:
    data, phase, sample = p["data"], p["phase"], p["sample"]
    boot = data.iloc[sample].reset_index(drop=True)
    fitted = _fit_families(boot, phase[sample], p["families"], p["config"], p["seed"], p["ae_iterations"])
    out = {}
    y_boot, y = boot[OUTCOME].to_numpy(), data[OUTCOME].to_numpy()
    for family, model in fitted.items():
        apparent = roc_auc(y_boot, model.predict_proba(boot, phase[sample]), direction="<").auc
        test = roc_auc(y, model.predict_proba(data, phase), direction="<").auc
        out[family] = apparent - test
    return {"key": p["key"], "optimism": out}


# --------------------------------------------------------------------------------------------------- execution
def _connect(scheduler: str | None, workers: int | None):
    """Executor for the tasks: local processes (default), a Dask LocalCluster (``local:N``) or a Dask scheduler."""
    if scheduler in (None, "", "processes"):
        return "processes", None
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise LvmdError("--scheduler needs dask.distributed: pip install 'lvmd[dist]'") from None
    if scheduler.startswith("local:"):
        try:
            n = int(scheduler.split(":", 1)[1])
        except ValueError:
            raise LvmdError(f"--scheduler {scheduler}: expected local:N with N a number of workers") from None
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None)
        return "dask", Client(cluster)
    if scheduler.startswith("tcp://"):
        try:
            return "dask", Client(scheduler, timeout="10s")
        except (OSError, TimeoutError) as exc:
            raise LvmdError(f"--scheduler {scheduler}: no Dask scheduler answered within 10 s ({exc})") from None
    raise LvmdError(f"--scheduler {scheduler!r}: use local:N or tcp://HOST:PORT")


def run_tasks(fn: Callable[[dict], dict], payloads: list[dict], scheduler: str | None = None,
              workers: int | None = None, progress: Callable[[int, int], None] | None = None) -> tuple[list, list]:
    """Run tasks, retrying a failed one once; returns (results, failures) with failures as (key, reason)."""
    kind, client = _connect(scheduler, workers)
    results, failures, done = [], [], 0
    total = len(payloads)

    def note():
        nonlocal done
        done += 1
        if progress:
            progress(done, total)

    try:
        if kind == "processes":
            n = max(1, min(workers or os.cpu_count() or 1, total))
            with ProcessPoolExecutor(n) as pool:
                futures = {pool.submit(fn, p): (p, 0) for p in payloads}
                while futures:
                    for fut in list(futures):
                        if not fut.done():
                            continue
                        p, attempt = futures.pop(fut)
                        try:
                            results.append(fut.result())
                            note()
                        except Exception as exc:  # noqa: BLE001 - any task failure is retried then reported
                            if attempt == 0:
                                futures[pool.submit(fn, p)] = (p, 1)
                            else:
                                failures.append((p["key"], f"{type(exc).__name__}: {exc}"))
                                note()
                    time.sleep(0.02)
        else:
            from dask.distributed import as_completed

            futures = {client.submit(fn, p, pure=False, retries=1): p for p in payloads}
            for fut in as_completed(list(futures)):
                try:
                    results.append(fut.result())
                except Exception as exc:  # noqa: BLE001
                    failures.append((futures[fut]["key"], f"{type(exc).__name__}: {exc}"))
                note()
    finally:
        if client is not None:
            cluster = getattr(client, "cluster", None)
            client.close()
            if cluster is not None:
                cluster.close()
    results.sort(key=lambda r: r["key"])
    return results, failures


# ------------------------------------------------------------------------------------------------------ metrics
def calibration(y: np.ndarray, p: np.ndarray) -> tuple[float, float]:
    """Calibration intercept (in the large, slope fixed at 1) and slope of predicted probabilities."""
    p = np.clip(p, 1e-6, 1 - 1e-6)
    lp = np.log(p / (1 - p))
    slope = sm.GLM(y, sm.add_constant(lp), family=sm.families.Binomial()).fit().params[1]
    intercept = sm.GLM(y, np.ones((len(y), 1)), family=sm.families.Binomial(), offset=lp).fit().params[0]
    return float(intercept), float(slope)


def net_benefit(y: np.ndarray, p: np.ndarray, thresholds=THRESHOLDS) -> np.ndarray:
    """Decision-curve net benefit: TP/n - FP/n * t / (1 - t) at each threshold t."""
    n = len(y)
    out = []
    for t in thresholds:
        treat = p >= t
        tp = np.sum(treat & (y == 1))
        fp = np.sum(treat & (y == 0))
        out.append(tp / n - fp / n * t / (1 - t))
    return np.array(out)


def nri_idi(y: np.ndarray, p_new: np.ndarray, p_old: np.ndarray) -> dict:
    """Category-free net reclassification improvement and integrated discrimination improvement (new over old)."""
    up, down = p_new > p_old, p_new < p_old
    ev, ne = y == 1, y == 0
    nri_events = up[ev].mean() - down[ev].mean()
    nri_nonevents = down[ne].mean() - up[ne].mean()
    idi = (p_new[ev].mean() - p_old[ev].mean()) - (p_new[ne].mean() - p_old[ne].mean())
    return {"nri": float(nri_events + nri_nonevents), "nri_events": float(nri_events),
            "nri_nonevents": float(nri_nonevents), "idi": float(idi)}


# ------------------------------------------------------------------------------------------------------- result
@dataclass
class ValidationResult(Result):
    """Apparent, cross-validated and optimism-corrected performance of each model family."""

    summary: pd.DataFrame
    predictions: pd.DataFrame
    selection: pd.DataFrame
    gain: dict
    reclassification: dict
    calibration_curves: dict
    decision_curves: pd.DataFrame
    failures: list
    settings: dict
    timings: dict = field(default_factory=dict)
    stability: pd.DataFrame | None = None

    def __post_init__(self) -> None:
        self.title = "Validation: apparent vs honest performance"


def _apparent(data, phase, families, config, seed, ae_iterations):
    fitted = _fit_families(data, phase, families, config, seed, ae_iterations)
    y = data[OUTCOME].to_numpy()
    probs = {f: m.predict_proba(data, phase) for f, m in fitted.items()}
    return fitted, probs, {f: roc_auc(y, p, direction="<").auc for f, p in probs.items()}


def validate(cohort: Cohort, config: StudyConfig | None = None, folds: int = 5, repeats: int = 20,
             bootstrap: int = 200, families: Sequence[str] = FAMILIES, seed: int = 0, fast: bool = False,
             scheduler: str | None = None, workers: int | None = None, stability_seeds: int = 3,
             progress: Callable[[str, int, int], None] | None = None) -> ValidationResult:
    """Nested validation of each model family on a cohort (see the module docstring).

    Parameters
    ----------
    folds, repeats : int
        Repeated stratified k-fold cross-validation.
    bootstrap : int
        Resamples for Harrell's optimism correction (0 = skip).
    fast : bool
        Train the autoencoder for ``FAST_AE_ITERATIONS`` iterations instead of the configured number (stated in the
        report).
    scheduler : str, optional
        None (local processes), ``"local:N"`` (Dask LocalCluster) or ``"tcp://HOST:PORT"``.
    stability_seeds : int
        Autoencoders trained with this many seeds on all patients to summarise the selected features' stability
        (0 = skip).
    """
    config = (config or StudyConfig()).validate()
    families = list(families)
    analysed = cohort.apply_exclusions(config.cohort.min_lvesv_ml, config.cohort.response)
    if analysed.maps is None:
        raise LvmdError(f"{cohort.source}: the cohort has no phase polar maps")
    data = analysed.table.copy()
    data[OUTCOME] = analysed.response(config.cohort.response).to_numpy()
    data = fill_psd_pbw(data, analysed.maps.phase)
    needed = [c for c in config.stats.clinical if c in data.columns] + ["psd_deg", "pbw_deg", OUTCOME]
    complete = data[needed].notna().all(axis=1).to_numpy()
    data = data[complete]
    phase = analysed.maps.phase[complete]
    y = data[OUTCOME].to_numpy().astype(int)
    smaller = int(min(y.sum(), len(y) - y.sum()))
    if folds < 2:
        raise LvmdError(f"--folds {folds}: need at least 2")
    if folds > smaller:
        raise LvmdError(f"--folds {folds} is more than the {smaller} patients of the smaller response class")
    train_size = len(y) - int(np.ceil(len(y) / folds))
    ae_iterations = FAST_AE_ITERATIONS if fast else config.features.iterations
    timings = {}
    say = progress or (lambda stage, done, total: None)

    started = time.perf_counter()
    fitted, apparent_probs, apparent = _apparent(data, phase, families, config, seed, ae_iterations)
    timings["apparent"] = round(time.perf_counter() - started, 2)

    payloads = []
    for r in range(repeats):
        splitter = StratifiedKFold(folds, shuffle=True, random_state=seed + r)
        for k, (train, test) in enumerate(splitter.split(np.zeros(len(y)), y)):
            payloads.append({"key": (r, k), "data": data, "phase": phase, "train": train, "test": test,
                             "families": families, "config": config, "seed": seed + 1000 * r + k,
                             "ae_iterations": ae_iterations})
    started = time.perf_counter()
    fold_results, fold_failures = run_tasks(fold_task, payloads, scheduler, workers,
                                            lambda d, t: say("cross-validation folds", d, t))
    timings["cross_validation"] = round(time.perf_counter() - started, 2)
    timings["per_fold"] = round(timings["cross_validation"] / max(len(payloads), 1), 3)

    rng = np.random.default_rng(seed)
    boot_payloads = [{"key": b, "data": data, "phase": phase, "sample": rng.integers(0, len(y), len(y)),
                      "families": families, "config": config, "seed": seed + 100_000 + b,
                      "ae_iterations": ae_iterations} for b in range(bootstrap)]
    started = time.perf_counter()
    boot_results, boot_failures = run_tasks(bootstrap_task, boot_payloads, scheduler, workers,
                                            lambda d, t: say("bootstrap resamples", d, t)) if bootstrap else ([], [])
    timings["bootstrap"] = round(time.perf_counter() - started, 2)

    # Out-of-fold predictions: one column per family, one row per (repeat, patient).
    oof = {f: np.full((repeats, len(y)), np.nan) for f in families}
    selection_counts: dict[str, int] = {}
    n_selected = []
    for res in fold_results:
        r, _ = res["key"]
        for f, v in res["families"].items():
            oof[f][r, res["test"]] = v["prob"]
            if f == "clinical+psd+ae":
                n_selected.append(len(v["selected"]))
                for name in v["selected"]:
                    selection_counts[name] = selection_counts.get(name, 0) + 1
    rows, curves, dca = [], {}, {"threshold": THRESHOLDS}
    prevalence = y.mean()
    dca["treat_all"] = prevalence - (1 - prevalence) * THRESHOLDS / (1 - THRESHOLDS)
    dca["treat_none"] = np.zeros(len(THRESHOLDS))
    complete_repeats = [r for r in range(repeats) if all(np.isfinite(oof[f][r]).all() for f in families)]
    for f in families:
        aucs, lows, highs, slopes, intercepts, briers = [], [], [], [], [], []
        for r in complete_repeats:
            p = oof[f][r]
            roc = roc_auc(y, p, direction="<")
            aucs.append(roc.auc)
            lows.append(roc.ci[0])
            highs.append(roc.ci[1])
            a, b = calibration(y, p)
            intercepts.append(a)
            slopes.append(b)
            briers.append(float(np.mean((y - p) ** 2)))
        optimism = [res["optimism"][f] for res in boot_results]
        pooled = oof[f][complete_repeats].ravel() if complete_repeats else np.array([])
        if len(pooled):
            ybig = np.tile(y, len(complete_repeats))
            bins = pd.qcut(pooled, 10, duplicates="drop")
            grouped = pd.DataFrame({"p": pooled, "y": ybig}).groupby(bins, observed=True).mean()
            curves[f] = grouped
            dca[f] = np.mean([net_benefit(y, oof[f][r]) for r in complete_repeats], axis=0)
        rows.append({
            "model": f, "apparent_auc": apparent[f], "cv_auc": float(np.mean(aucs)) if aucs else np.nan,
            "cv_auc_low": float(np.mean(lows)) if lows else np.nan,
            "cv_auc_high": float(np.mean(highs)) if highs else np.nan,
            "optimism": float(np.mean(optimism)) if optimism else np.nan,
            "optimism_corrected_auc": apparent[f] - float(np.mean(optimism)) if optimism else np.nan,
            "calibration_intercept": float(np.mean(intercepts)) if intercepts else np.nan,
            "calibration_slope": float(np.mean(slopes)) if slopes else np.nan,
            "brier": float(np.mean(briers)) if briers else np.nan,
            "variables_full_data": " + ".join(fitted[f].variables),
        })
    summary = pd.DataFrame(rows)
    gain, reclass = {}, {}
    if "clinical+psd+ae" in families and "clinical+psd" in families and complete_repeats:
        diffs, d_low, d_high = [], [], []
        for r in complete_repeats:
            t = delong_test(y, oof["clinical+psd+ae"][r], oof["clinical+psd"][r], direction="<")
            diffs.append(t.auc1 - t.auc2)
            d_low.append(t.ci[0])
            d_high.append(t.ci[1])
        apparent_gain = apparent["clinical+psd+ae"] - apparent["clinical+psd"]
        gain = {"apparent_gain": float(apparent_gain), "cv_gain": float(np.mean(diffs)),
                "cv_gain_low": float(np.mean(d_low)), "cv_gain_high": float(np.mean(d_high)),
                "repeat_gain_sd": float(np.std(diffs, ddof=1)) if len(diffs) > 1 else 0.0}
        reclass = nri_idi(y, np.nanmean(oof["clinical+psd+ae"][complete_repeats], axis=0),
                          np.nanmean(oof["clinical+psd"][complete_repeats], axis=0))
    n_fits = len(fold_results)
    selection = pd.DataFrame({"feature": list(selection_counts), "times_selected": list(selection_counts.values())})
    selection["fraction_of_folds"] = selection["times_selected"] / max(n_fits, 1)
    selection = selection.sort_values("times_selected", ascending=False).reset_index(drop=True)
    predictions = pd.concat(
        [pd.DataFrame({"patient_id": data.index, "repeat": r, "response": y, **{f: oof[f][r] for f in families}})
         for r in range(repeats)], ignore_index=True)
    settings = {"folds": folds, "repeats": repeats, "bootstrap": bootstrap, "seed": seed, "fast": fast,
                "ae_iterations": ae_iterations, "scheduler": scheduler or "local processes", "patients": int(len(y)),
                "responders": int(y.sum()), "excluded": [(e.patient_id, e.reason) for e in analysed.excluded],
                "incomplete_cases_dropped": int((~complete).sum()),
                "mean_ae_features_selected_per_fold": float(np.mean(n_selected)) if n_selected else 0.0,
                "ae_latent_dim_in_folds": feature_count(config, "ae", train_size),
                "response_definition": config.cohort.response}
    stability = None
    if stability_seeds and "clinical+psd+ae" in families:
        started = time.perf_counter()
        fc = config.features
        stab = fit_seeds(phase, [seed + k for k in range(stability_seeds)], latent_dim=feature_count(config, "ae", len(phase)),
                         hidden=tuple(fc.hidden), iterations=ae_iterations, learning_rate=fc.learning_rate,
                         device=fc.device)
        chosen = fitted["clinical+psd+ae"].image_features or list(stab.summary.index[:0])
        stability = stab.summary.loc[chosen].copy() if chosen else stab.summary.iloc[:0].copy()
        stability.loc["all features (median)"] = stab.summary.median(numeric_only=True)
        for pair, value in stab.cka.items():
            stability.loc[f"linear CKA {pair}", "median |r|"] = value
        timings["stability"] = round(time.perf_counter() - started, 2)
    failures = [("fold", k, reason) for k, reason in fold_failures] + [("bootstrap", k, reason) for k, reason in boot_failures]
    return ValidationResult(summary, predictions, selection, gain, reclass, curves, pd.DataFrame(dca), failures,
                            settings, timings, stability)
