"""The reference paper's analysis end to end, in-sample, reported on fitted :class:`~lvmd.model.CRTResponseModel`s.

``run_study(cohort, config)``: the analysed patients (exclusions, response, PSD/PBW) -> Table 1 -> one model per
family of ``stats.families`` (default: clinical, + PSD / PBW, + AE, + PCA), all fitted on one shared
:class:`~lvmd.model.TrainingSet` -> univariate screening of every candidate -> Table 2 (the multivariate models of
the first image family: its primary and alternative models) -> Pearson correlation of each kind's features with PSD
and PBW -> ROC AUC of every model with a DeLong comparison against its family's base -> likelihood-ratio sequences
(clinical -> + PSD -> + image features; not for ridge-penalised models) -> latent traversals of the significant
features.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from .cohort import Cohort
from .config import StudyConfig
from .errors import LvmdError
from .features import Traversal, latent_traversal
from .model import OUTCOME, CRTResponseModel, TrainingSet, model_table, parse_family
from .model.family import CONVENTIONAL_LABELS
from .results import Result, TableResult, format_p
from .stats import (CorrelationResult, IncrementalResult, MultivariateResult, Table1Result,
                    UnivariateResult, correlation, delong_test, incremental, roc_auc, table1, tabulate_models,
                    univariate)

CONTINUOUS_TABLE1 = ["age", "qrs_ms", "lvedv_ml", "lvesv_ml", "lvef_pct", "scar_burden_pct", "psd_deg", "pbw_deg"]
CATEGORICAL_TABLE1 = ["sex", "acei_arb", "cad", "ckd", "ischemia", "smoking", "nyha"]
LABELS = {"age": "Age", "qrs_ms": "QRS duration", "lvedv_ml": "EDV", "lvesv_ml": "ESV", "lvef_pct": "LVEF",
          "scar_burden_pct": "Scar burden", "psd_deg": "PSD", "pbw_deg": "PBW", "sex": "Gender (male)",
          "acei_arb": "ACEI/ARB", "cad": "CAD", "ckd": "CKD", "ischemia": "Ischemia", "smoking": "Smoking",
          "nyha": "NYHA"}


@dataclass(repr=False)
class StudyResult(Result):
    """The study's results on its fitted models; every table is a result with ``.summary``.

    Attributes
    ----------
    training : TrainingSet
        The analysed patients (``training.data``, ``training.maps``, ``training.analysis.excluded``) and the fitted
        image-feature extractors (``training.extractor(kind)``, ``training.features(kind)``).
    models : dict
        Family name -> fitted :class:`~lvmd.model.CRTResponseModel`.
    table2_family : str
        The family whose models form Table 2 (the first family with image features).
    """

    config: StudyConfig
    training: TrainingSet
    table1: Table1Result
    models: dict
    univariate: UnivariateResult
    multivariate: MultivariateResult
    table2_family: str
    correlations: dict
    roc_table: pd.DataFrame
    roc_curves: dict
    sequences: list
    traversals: list
    timings: dict

    def __post_init__(self) -> None:
        self.title = f"Study of {self.source}"
        self.summary = self.model_table().summary

    @property
    def data(self) -> pd.DataFrame:
        """Analysed patients with their ``response``."""
        return self.training.data

    @property
    def excluded(self) -> list:
        """Excluded patients and why."""
        return self.training.analysis.excluded

    @property
    def maps(self):
        """Polar maps of the analysed patients."""
        return self.training.maps

    @property
    def source(self) -> str:
        return self.training.analysis.source

    @property
    def kinds(self) -> list[str]:
        """Image-feature kinds of the fitted families."""
        return list(dict.fromkeys(k for m in self.models.values() for k in m.family_.kinds))

    def formatted(self) -> pd.DataFrame:
        return self.model_table().formatted()

    def model_table(self) -> TableResult:
        """Every fitted model: family, primary or alternative, variables and apparent AUC (models.csv)."""
        table = model_table(self.models).set_index(["family", "model"])
        fmt = table.assign(apparent_auc=[f"{a:.3f}" if np.isfinite(a) else "" for a in table["apparent_auc"]])
        return TableResult(table, "Fitted models (apparent, in-sample AUC)", fmt.drop(columns=["estimation", "n"]))

    def roc(self) -> TableResult:
        """ROC AUC of every model, with the DeLong comparison against its family's base."""
        s = self.roc_table
        fmt = pd.DataFrame({
            "model": s["model"],
            "AUC [95% CI]": [f"{a:.2f} [{lo:.2f}, {hi:.2f}]" if np.isfinite(a) else "not estimable"
                             for a, lo, hi in zip(s["auc"], s["ci_low"], s["ci_high"])],
            "compared with": s["compared_with"].fillna(""),
            "ΔAUC": [f"{d:+.3f}" if np.isfinite(d) else "" for d in s["delta_auc"]],
            "DeLong P": [format_p(p) for p in s["delong_p"]],
            "note": s["note"],
        }).set_index("model")
        return TableResult(s.set_index("model"), "ROC analysis (in-sample)", fmt)

    def incremental(self) -> TableResult:
        """All likelihood-ratio sequences (Figure 3), one block per sequence."""
        if not self.sequences:
            empty = pd.DataFrame(columns=["sequence", "model", "variables", "lr_statistic", "df", "p", "auc"])
            return TableResult(empty.set_index(["sequence", "model"]), "Incremental value", empty)
        s = pd.concat([inc.summary.assign(sequence=tag) for tag, inc in self.sequences], ignore_index=True)
        f = pd.concat([inc.formatted().assign(sequence=tag) for tag, inc in self.sequences])
        return TableResult(s.set_index(["sequence", "model"]), "Incremental value (likelihood-ratio tests)",
                           f.reset_index().set_index(["sequence", "model"]))

    def correlation(self, kind: str = "ae") -> CorrelationResult:
        """Pearson correlation of every feature of one kind with PSD and PBW (the paper's Figure 2 for the AE)."""
        return self.correlations[kind]

    def significant(self, kind: str) -> list[str]:
        """Features of a kind with univariate p < significance, most significant first."""
        p = self.training.screening(kind).summary["p"].dropna()
        return list(p[p < self.config.stats.significance].sort_values(kind="stable").index)

    def headline(self) -> dict:
        """The numbers a reader looks for first."""
        roc = self.roc_table.set_index("model")
        lr = [{"sequence": seq, "model": model, "lr": round(float(row["lr_statistic"]), 2), "df": int(row["df"]),
               "p": float(row["p"])}
              for (seq, model), row in self.incremental().summary.iterrows() if np.isfinite(row["lr_statistic"])]
        return {"patients": int(len(self.data)), "responders": int(self.data[OUTCOME].sum()),
                "excluded": len(self.excluded), "response_definition": self.config.cohort.response,
                "significant": {k: self.significant(k) for k in self.kinds},
                "feature_counts": {k: int(self.training.features(k).shape[1]) for k in self.kinds},
                "auc": {m: round(float(a), 3) for m, a in roc["auc"].items() if np.isfinite(a)},
                "lr_tests": lr,
                "models": [{"family": f, "model": m, "role": row["role"], "variables": row["variables"].split(" + "),
                            "apparent_auc": float(row["apparent_auc"])}
                           for (f, m), row in self.model_table().summary.iterrows()]}


def _roc_rows(models: dict, training: TrainingSet) -> tuple[pd.DataFrame, dict]:
    y = training.data[OUTCOME].to_numpy()
    scores, rows, curves = {}, [], {}
    for family, model in models.items():
        for i, sub in enumerate(model.models_):
            if sub.logit.estimable:
                scores[(family, i)] = model.decision_function(training.data, training.maps, model=i)
    for family, model in models.items():
        base = model.family_.base.name
        has_base = base != family and base in models
        for i, sub in enumerate(model.models_):
            row = {"family": family, "model": sub.label, "role": sub.role, "variables": " + ".join(sub.variables),
                   "auc": np.nan, "ci_low": np.nan, "ci_high": np.nan, "compared_with": None, "delta_auc": np.nan,
                   "delong_p": np.nan, "note": sub.logit.note}
            score = scores.get((family, i))
            if score is not None:
                roc = roc_auc(y, score, direction="<")
                curves[sub.label] = roc
                row.update(auc=roc.auc, ci_low=roc.ci[0], ci_high=roc.ci[1])
                if has_base:
                    test = delong_test(y, score, scores[(base, 0)], direction="<")
                    row.update(compared_with=models[base].models_[0].label, delta_auc=test.auc1 - test.auc2,
                               delong_p=test.p_value, note=test.note)
            rows.append(row)
    return pd.DataFrame(rows), curves


def _sequences(models: dict, frame: pd.DataFrame, config: StudyConfig) -> list[tuple[str, IncrementalResult]]:
    """Likelihood-ratio sequence of every unpenalised image model: clinical -> + conventional -> + its image features.

    A model with ridge-penalised features has none: its estimates are shrunk, so the likelihood-ratio statistic of
    nested maximum-likelihood fits does not describe it (its honest gain is what ``lvmd validate`` measures)."""
    out = []
    for model in models.values():
        family = model.family_
        for sub in model.models_:
            if not sub.image_features or sub.penalised:
                continue
            steps = [model.selection_.clinical] if model.selection_.clinical else []
            names = ["clinical"] if steps else []
            for column, token in zip(family.conventional_columns, family.conventional):
                steps.append([column])
                names.append(f"+ {CONVENTIONAL_LABELS[token]}" if names else CONVENTIONAL_LABELS[token])
            steps.append(sub.image_features)
            names.append(f"+ {' + '.join(sub.image_features)}")
            base, *added = steps
            out.append((sub.label, incremental(frame, OUTCOME, base, added, names=names, firth=config.stats.firth)))
    return out


class _Stages:
    """Times the study's stages and announces each start to ``progress(stage, index, total)``."""

    def __init__(self, names: list[str], progress: Callable[[str, int, int], None] | None):
        self.names, self.progress = names, progress
        self.timings: dict[str, float] = {}
        self._current, self._started = None, 0.0

    def start(self, name: str | None) -> None:
        now = time.perf_counter()
        if self._current is not None:
            self.timings[self._current] = round(now - self._started, 3)
        self._current, self._started = name, now
        if name is not None and self.progress:
            self.progress(name, self.names.index(name), len(self.names))


def _table2(models: dict, family: str, frame: pd.DataFrame, screening: UnivariateResult,
            training: TrainingSet, conventional: list[str]) -> MultivariateResult:
    """The paper's Table 2: univariate ORs of the clinical candidates, PSD/PBW and the significant image features,
    beside every (estimable) model of ``family`` -- its primary and alternative collinearity groups."""
    subs = models[family].models_
    names = ["Model" if len(subs) == 1 else f"Model ({' + '.join(s.image_features) or 'no image feature'})" for s in subs]
    shown = list(training.clinical_screening().summary.index) + conventional + models[family].selection_.significant
    return tabulate_models(frame, {n: s.logit for n, s in zip(names, subs) if s.logit.estimable}, screening, shown)


def _traversals(model: CRTResponseModel, training: TrainingSet, limit: int) -> list[Traversal]:
    """Latent traversals of the model's significant features, for the kinds whose extractor can decode."""
    out = []
    for kind in model.family_.kinds:
        extractor = training.extractor(kind)
        if hasattr(extractor, "latent_statistics") and hasattr(extractor, "inverse_transform"):
            significant = [v for v in model.selection_.significant if v in training.features(kind).columns]
            out += [latent_traversal(extractor, v) for v in significant[:limit]]
    return out


def run_study(cohort: Cohort, config: StudyConfig | None = None,
              progress: Callable[[str, int, int], None] | None = None) -> StudyResult:
    """Run the paper's analysis on a cohort.

    Parameters
    ----------
    cohort : Cohort
        Clinical table with phase maps (see :func:`lvmd.load_cohort`).
    config : StudyConfig, optional
        Every choice (defaults: the paper's).
    progress : callable, optional
        Called as ``progress(stage, index, total)`` when each stage starts.

    Returns
    -------
    StudyResult
    """
    config = (config or StudyConfig()).validate()
    families = [parse_family(f) for f in config.stats.families]
    kinds = list(dict.fromkeys(k for f in families for k in f.kinds))
    stages = _Stages(["patients", "table 1", *[f"features ({k})" for k in kinds], "models", "roc and incremental value"],
                     progress)
    stages.start("patients")
    training = TrainingSet(cohort, config=config)
    if kinds and training.maps is None:
        raise LvmdError(f"{training.analysis.source}: the cohort has no phase polar maps (polarmaps.npz or "
                        "polarmaps/), which the image families need")
    data = training.data
    stages.start("table 1")
    t1 = table1(data, OUTCOME, [c for c in CONTINUOUS_TABLE1 if c in data.columns],
                [c for c in CATEGORICAL_TABLE1 if c in data.columns], labels=LABELS,
                group_labels={1.0: "Response", 0.0: "Non-response"}, sparse_test=config.stats.table1_exact)
    for kind in kinds:
        stages.start(f"features ({kind})")
        training.extractor(kind)
    stages.start("models")
    models = {f.name: CRTResponseModel(f, config).fit(training) for f in families}
    frame = data.join([training.features(k) for k in kinds]) if kinds else data
    conventional = [c for c in config.stats.conventional if c in data.columns]
    uni = UnivariateResult(pd.concat([training.clinical_screening().summary,
                                      univariate(data, OUTCOME, conventional, firth=config.stats.firth).summary]
                                     + [training.screening(k).summary for k in kinds]), OUTCOME, False)
    table2_family = next((f.name for f in families if f.kinds), families[0].name)
    multi = _table2(models, table2_family, frame, uni, training, conventional)
    correlations = {k: correlation(frame, list(training.features(k).columns), conventional) for k in kinds}
    stages.start("roc and incremental value")
    roc_table, curves = _roc_rows(models, training)
    sequences = _sequences(models, frame, config)
    traversals = _traversals(models[table2_family], training, config.report.max_traversals)
    stages.start(None)
    return StudyResult(config, training, t1, models, uni, multi, table2_family, correlations, roc_table, curves,
                       sequences, traversals, stages.timings)
