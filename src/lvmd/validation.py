"""Honest validation: repeated stratified k-fold cross-validation and Harrell's bootstrap optimism correction, in
which clones of each family's :class:`~lvmd.model.CRTResponseModel` are refit -- image features, screening and the
logistic model -- inside every training set. Folds run in local processes or on a Dask cluster with identical
results (seeds are fixed per task and every task computes single-threaded, :mod:`lvmd.executor`).

The full-data models whose apparent AUC is reported are fitted exactly as ``lvmd analyze`` and ``lvmd fit`` fit
them (same patients, configuration and seed; ``--fast`` shortens only the autoencoder training inside the folds).
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold

from ._values import SEED_MAX, whole
from ._values import seed as seed_value
from .cohort import Cohort
from .config import StudyConfig
from .errors import LvmdError
from .executor import check_scheduler, run_tasks, single_threaded
from .features import fit_seeds
from .io.polarmaps import PolarMaps
from .model import OUTCOME, CRTResponseModel, TrainingSet, image_kind, model_table, parse_family
from .results import Result
from .stats import THRESHOLDS, calibration, calibration_curve, delong_test, net_benefit, nri_idi, roc_auc

FAST_AE_ITERATIONS = 50


# ----------------------------------------------------------------------------------------------------- tasks
@dataclass(frozen=True)
class FoldTask:
    """Fit clones of ``models`` on the ``train`` rows (seed ``seed``) and predict the ``test`` rows."""

    key: tuple[int, int]
    data: pd.DataFrame
    maps: PolarMaps | None
    train: np.ndarray
    test: np.ndarray
    models: tuple
    seed: int


@dataclass(frozen=True)
class FoldResult:
    """Out-of-fold probabilities, and what each family's primary model selected, in one fold."""

    key: tuple[int, int]
    test: np.ndarray
    probabilities: dict
    image_features: dict
    feature_counts: dict


@dataclass(frozen=True)
class BootstrapTask:
    """Fit clones of ``models`` on the resample ``sample`` (row positions, with repeats)."""

    key: int
    data: pd.DataFrame
    maps: PolarMaps | None
    sample: np.ndarray
    models: tuple
    seed: int


@dataclass(frozen=True)
class BootstrapResult:
    """Optimism (AUC on the resample minus AUC on the original patients) of each family."""

    key: int
    optimism: dict


def _rows(data: pd.DataFrame, maps: PolarMaps | None, positions: np.ndarray, relabel: bool = False):
    """Rows (and maps) at ``positions``; a bootstrap resample's repeated patients get distinct ids (``id~k``)."""
    part = data.iloc[positions].copy()
    if relabel:
        part.index = pd.Index([f"{pid}~{k}" for k, pid in enumerate(part.index)], name=data.index.name)
    if maps is None:
        return part, None
    pick = lambda a: None if a is None else a[positions]  # noqa: E731
    return part, PolarMaps(part.index.to_numpy(dtype=object), maps.phase[positions], pick(maps.perfusion),
                           pick(maps.thickening))


def _fit_clones(templates: tuple, data: pd.DataFrame, maps: PolarMaps | None, seed: int) -> tuple[dict, TrainingSet]:
    """Clones of the templates fitted on one training set that they share (extractors and screening fitted once)."""
    clones = [clone(m).set_params(random_state=seed) for m in templates]
    training = TrainingSet(data, maps, clones[0].config, seed)
    return {parse_family(m.family).name: m.fit(training) for m in clones}, training


def run_fold(task: FoldTask) -> FoldResult:
    """One cross-validation fold (single-threaded)."""
    with single_threaded():
        train, train_maps = _rows(task.data, task.maps, task.train)
        test, test_maps = _rows(task.data, task.maps, task.test)
        fitted, training = _fit_clones(task.models, train, train_maps, task.seed)
        return FoldResult(task.key, task.test, {f: m.predict_proba(test, test_maps)[:, 1] for f, m in fitted.items()},
                          {f: m.models_[0].image_features for f, m in fitted.items()},
                          {k: int(training.features(k).shape[1]) for k in training.fitted_kinds})


def run_bootstrap(task: BootstrapTask) -> BootstrapResult:
    """One bootstrap resample (single-threaded): Harrell's optimism of each family."""
    with single_threaded():
        boot, boot_maps = _rows(task.data, task.maps, task.sample, relabel=True)
        fitted, _ = _fit_clones(task.models, boot, boot_maps, task.seed)
        y_boot, y = boot[OUTCOME].to_numpy(), task.data[OUTCOME].to_numpy()
        optimism = {f: roc_auc(y_boot, m.decision_function(boot, boot_maps), "<").auc
                    - roc_auc(y, m.decision_function(task.data, task.maps), "<").auc for f, m in fitted.items()}
        return BootstrapResult(task.key, optimism)


# ------------------------------------------------------------------------------------------------------ result
@dataclass(repr=False)
class ValidationResult(Result):
    """Apparent, cross-validated and optimism-corrected performance of each model family.

    Attributes
    ----------
    summary : DataFrame
        One row per family: apparent, cross-validated and optimism-corrected AUC, calibration, Brier score.
    models : dict
        Family -> the full-data model (what ``lvmd analyze`` reports and ``lvmd fit`` saves).
    gains : DataFrame
        Per image family, its gain over its base family: apparent and cross-validated (paired DeLong).
    reclassification : DataFrame
        Per image family, NRI and IDI over its base family (out of fold, averaged over repeats).
    selection : DataFrame
        How often each image feature entered each family's primary model across folds.
    """

    summary: pd.DataFrame
    models: dict
    predictions: pd.DataFrame
    selection: pd.DataFrame
    gains: pd.DataFrame
    reclassification: pd.DataFrame
    calibration_curves: dict
    decision_curves: pd.DataFrame
    failures: list
    settings: dict
    timings: dict = field(default_factory=dict)
    stability: pd.DataFrame | None = None

    def __post_init__(self) -> None:
        self.title = "Validation: apparent vs honest performance"

    def model_table(self) -> pd.DataFrame:
        """The full-data models (models.csv), as ``lvmd analyze`` writes them."""
        return model_table(self.models)


def _fast_config(config: StudyConfig) -> StudyConfig:
    fast = copy.deepcopy(config)
    fast.features.iterations = FAST_AE_ITERATIONS
    return fast


def _gains(families: list[str], y: np.ndarray, oof: dict, repeats: list[int], apparent: dict) -> tuple:
    rows, reclass = [], []
    for f in families:
        base = parse_family(f).base.name
        if base == f or base not in families or not repeats:
            continue
        tests = [delong_test(y, oof[f][r], oof[base][r], direction="<") for r in repeats]
        identical = sum(bool(t.note.startswith("identical")) for t in tests)
        note = ""
        if identical:
            note = (f"identical out-of-fold predictions to {base} in {identical} of {len(tests)} repeats (no image "
                    "feature entered): difference 0, p = 1")
        diffs = [t.auc1 - t.auc2 for t in tests]
        rows.append({"family": f, "base": base, "apparent_gain": apparent[f] - apparent[base],
                     "cv_gain": float(np.mean(diffs)), "cv_gain_low": float(np.mean([t.ci[0] for t in tests])),
                     "cv_gain_high": float(np.mean([t.ci[1] for t in tests])),
                     "delong_p_median": float(np.median([t.p_value for t in tests])),
                     "repeat_gain_sd": float(np.std(diffs, ddof=1)) if len(diffs) > 1 else 0.0, "note": note})
        res = nri_idi(y, oof[base][repeats].mean(axis=0), oof[f][repeats].mean(axis=0))
        reclass.append(res.summary.reset_index().assign(family=f, base=base))
    gains = pd.DataFrame(rows, columns=["family", "base", "apparent_gain", "cv_gain", "cv_gain_low", "cv_gain_high",
                                        "delong_p_median", "repeat_gain_sd", "note"])
    columns = ["family", "base", "measure", "estimate", "ci_low", "ci_high", "p"]
    reclassification = pd.concat(reclass, ignore_index=True)[columns] if reclass else pd.DataFrame(columns=columns)
    return gains, reclassification


def _derived(seed: int, offset: int) -> int:
    """The seed of a fold, resample or stability fit: ``seed + offset``, wrapped into the range every seeded
    library accepts (0 .. 2**32 - 1), so that any valid ``seed`` works."""
    return (seed + offset) % (SEED_MAX + 1)


COMPARISON_FAMILIES = ("clinical+psd", "clinical+psd+ae", "clinical+psd+pattern", "clinical+psd+ae+pattern")


def honest_comparison(training: TrainingSet, folds: int = 5, repeats: int = 2, seed: int = 0,
                      progress: Callable[[str, int, int], None] | None = None) -> ValidationResult | None:
    """The demo's honest comparison of the paper's family with the pattern families: the cross-validated gain of
    each of :data:`COMPARISON_FAMILIES` that the study fitted over ``clinical+psd``, on the study's training set
    (the full-data models are the study's). Short by design: ``folds`` x ``repeats`` folds, no bootstrap, the
    autoencoder trained for ``FAST_AE_ITERATIONS`` in each fold (stated in the settings). None when the study
    fitted ``clinical+psd`` and none of the image families."""
    fitted = {parse_family(f).name for f in training.config.stats.families}
    families = [f for f in COMPARISON_FAMILIES if f in fitted]
    if COMPARISON_FAMILIES[0] not in families or len(families) < 2:
        return None
    return validate(training, training.config, folds=folds, repeats=repeats, bootstrap=0, families=families,
                    seed=seed, fast=True, stability_seeds=0, progress=progress)


def fit_with_optimism(cohort: Cohort, family: str, config: StudyConfig | None = None, bootstrap: int = 200,
                      fast: bool = False, seed: int = 0) -> tuple[CRTResponseModel, float]:
    """A family's full-data model and its optimism-corrected AUC from ``bootstrap`` resamples (no cross-validation):
    the model returned is the one whose optimism was estimated (``lvmd fit --optimism N``)."""
    res = validate(cohort, config, folds=2, repeats=0, bootstrap=bootstrap, families=[family], seed=seed, fast=fast,
                   stability_seeds=0)
    name = parse_family(family).name
    return res.models[name], float(res.summary.set_index("model").loc[name, "optimism_corrected_auc"])


def validate(cohort: "Cohort | TrainingSet", config: StudyConfig | None = None, folds: int = 5, repeats: int = 20,
             bootstrap: int = 200, families: Sequence[str] | None = None, seed: int = 0, fast: bool = False,
             scheduler: str | None = None, workers: int | None = None, stability_seeds: int = 3,
             progress: Callable[[str, int, int], None] | None = None) -> ValidationResult:
    """Nested validation of each model family on a cohort (see the module docstring).

    Parameters
    ----------
    cohort : Cohort or TrainingSet
        The cohort; or a :class:`~lvmd.model.TrainingSet` already prepared with ``config`` (e.g. the study's), whose
        fitted extractors the full-data models then reuse.
    families : sequence of str, optional
        Default ``config.stats.families``.
    folds, repeats : int
        Repeated stratified k-fold cross-validation.
    bootstrap : int
        Resamples for Harrell's optimism correction (0 = skip).
    seed : int
        Seed of the fold splits, the resamples and the extractors fitted in them.
    fast : bool
        Train each autoencoder inside the folds and resamples for ``FAST_AE_ITERATIONS`` iterations (stated).
    scheduler : str, optional
        None (local processes), ``"local:N"`` (Dask LocalCluster) or ``"tcp://HOST:PORT"`` (checked first).
    stability_seeds : int
        Autoencoders trained with this many seeds on all patients to summarise the selected features' stability
        (0 = skip).
    """
    config = (config or StudyConfig()).validate()
    families = list(dict.fromkeys(parse_family(f).name for f in (families or config.stats.families)))
    folds = whole(folds, "--folds", 2, None, LvmdError)
    repeats = whole(repeats, "--repeats", 0, None, LvmdError)
    bootstrap = whole(bootstrap, "--bootstrap", 0, None, LvmdError)
    stability_seeds = whole(stability_seeds, "--stability-seeds", 0, None, LvmdError)
    seed = seed_value(seed, "--seed", LvmdError)
    if workers is not None:
        whole(workers, "--workers", 1, None, LvmdError)
    check_scheduler(scheduler)
    say = progress or (lambda stage, done, total: None)
    timings = {}
    started = time.perf_counter()
    if isinstance(cohort, TrainingSet):
        if cohort.config != config:
            raise LvmdError("validate: the TrainingSet was prepared with another configuration")
        training = cohort
    else:
        training = TrainingSet(cohort, config=config)
    data, maps = training.data, training.maps
    y = data[OUTCOME].to_numpy().astype(int)
    smaller = int(min(y.sum(), len(y) - y.sum()))
    if folds > smaller:
        raise LvmdError(f"--folds {folds} is more than the {smaller} patients of the smaller response class")
    fitted = {f: CRTResponseModel(f, config).fit(training) for f in families}
    apparent = {f: m.apparent_auc_ for f, m in fitted.items()}
    timings["full_data_models"] = round(time.perf_counter() - started, 2)

    fold_config = _fast_config(config) if fast else config
    templates = tuple(CRTResponseModel(f, fold_config) for f in families)
    tasks = [FoldTask((r, k), data, maps, train, test, templates, _derived(seed, 1000 * r + k))
             for r in range(repeats)
             for k, (train, test) in enumerate(StratifiedKFold(folds, shuffle=True, random_state=_derived(seed, r))
                                               .split(np.zeros(len(y)), y))]
    started = time.perf_counter()
    fold_results, fold_failures = run_tasks(run_fold, tasks, scheduler, workers,
                                            lambda d, t: say("cross-validation folds", d, t))
    timings["cross_validation"] = round(time.perf_counter() - started, 2)
    timings["per_fold"] = round(timings["cross_validation"] / max(len(tasks), 1), 3)

    rng = np.random.default_rng(seed)
    boot_tasks = [BootstrapTask(b, data, maps, rng.integers(0, len(y), len(y)), templates, _derived(seed, 100_000 + b))
                  for b in range(bootstrap)]
    started = time.perf_counter()
    boot_results, boot_failures = run_tasks(run_bootstrap, boot_tasks, scheduler, workers,
                                            lambda d, t: say("bootstrap resamples", d, t)) if bootstrap else ([], [])
    timings["bootstrap"] = round(time.perf_counter() - started, 2)

    oof = {f: np.full((repeats, len(y)), np.nan) for f in families}
    selected = {f: {} for f in families}
    n_selected = {f: [] for f in families}
    counts: dict[str, set] = {}
    for res in fold_results:
        r, _ = res.key
        for f in families:
            oof[f][r, res.test] = res.probabilities[f]
            n_selected[f].append(len(res.image_features[f]))
            for name in res.image_features[f]:
                selected[f][name] = selected[f].get(name, 0) + 1
        for kind, n in res.feature_counts.items():
            counts.setdefault(kind, set()).add(n)
    complete = [r for r in range(repeats) if all(np.isfinite(oof[f][r]).all() for f in families)]
    rows, curves, dca = [], {}, {}
    for f in families:
        per_repeat = [(roc_auc(y, oof[f][r], direction="<"), calibration(y, oof[f][r]), oof[f][r]) for r in complete]
        optimism = [res.optimism[f] for res in boot_results]
        if complete:
            curves[f] = calibration_curve(np.tile(y, len(complete)), oof[f][complete].ravel())
            dca[f] = np.mean([net_benefit(y, oof[f][r]) for r in complete], axis=0)
        mean = lambda values: float(np.mean(values)) if len(values) else np.nan  # noqa: E731
        rows.append({
            "model": f, "apparent_auc": apparent[f], "cv_auc": mean([a.auc for a, _, _ in per_repeat]),
            "cv_auc_low": mean([a.ci[0] for a, _, _ in per_repeat]),
            "cv_auc_high": mean([a.ci[1] for a, _, _ in per_repeat]),
            "optimism": mean(optimism), "optimism_corrected_auc": apparent[f] - mean(optimism),
            "calibration_intercept": mean([c.citl for _, c, _ in per_repeat]),
            "calibration_slope": mean([c.slope for _, c, _ in per_repeat]),
            "brier": mean([c.brier for _, c, _ in per_repeat]),
            "variables_full_data": " + ".join(fitted[f].variables_),
        })
    prevalence = y.mean()
    decision = pd.DataFrame({"threshold": THRESHOLDS,
                             "treat_all": prevalence - (1 - prevalence) * THRESHOLDS / (1 - THRESHOLDS),
                             "treat_none": np.zeros(len(THRESHOLDS)), **dca})
    gains, reclassification = _gains(families, y, oof, complete, apparent)
    n_fits = max(len(fold_results), 1)
    selection = pd.DataFrame([{"family": f, "feature": name, "times_selected": k, "fraction_of_folds": k / n_fits}
                              for f in families for name, k in selected[f].items()],
                             columns=["family", "feature", "times_selected", "fraction_of_folds"])
    selection = selection.sort_values(["family", "times_selected"], ascending=[True, False], kind="stable")
    predictions = pd.DataFrame([{"patient_id": pid, "repeat": r, "response": y[i], **{f: oof[f][r, i] for f in families}}
                                for r in range(repeats) for i, pid in enumerate(data.index)],
                               columns=["patient_id", "repeat", "response", *families])
    settings = {"folds": folds, "repeats": repeats, "bootstrap": bootstrap, "seed": seed, "fast": fast,
                "families": families, "ae_iterations_in_folds": fold_config.features.iterations,
                "ae_iterations_full_data": config.features.iterations, "scheduler": scheduler or "local processes",
                "patients": int(len(y)), "responders": int(y.sum()),
                "excluded": [(e.patient_id, e.reason) for e in training.analysis.excluded],
                "image_features_per_kind_in_folds": {k: sorted(v) for k, v in counts.items()},
                "mean_image_features_selected_per_fold": {f: float(np.mean(n_selected[f])) if n_selected[f] else 0.0
                                                          for f in families if parse_family(f).kinds},
                "response_definition": config.cohort.response}
    stability = None
    ae_family = next((f for f in families if "ae" in parse_family(f).kinds), None)
    if stability_seeds and ae_family and maps is not None:
        started = time.perf_counter()
        build = image_kind("ae").build
        stab = fit_seeds(maps, [_derived(seed, k) for k in range(stability_seeds)],
                         model_factory=lambda s: build(fold_config, s, len(y)))
        chosen = fitted[ae_family].models_[0].image_features
        stability = stab.summary.loc[chosen].copy()
        stability.loc["all features (median)"] = stab.summary.median(numeric_only=True)
        for pair, value in stab.cka.items():
            stability.loc[f"linear CKA {pair}", "median |r|"] = value
        timings["stability"] = round(time.perf_counter() - started, 2)
    failures = ([("fold", k, reason) for k, reason in fold_failures]
                + [("bootstrap", k, reason) for k, reason in boot_failures])
    return ValidationResult(pd.DataFrame(rows), fitted, predictions, selection, gains, reclassification, curves,
                            decision, failures, settings, timings, stability)
