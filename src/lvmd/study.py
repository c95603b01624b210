"""The reference paper's analysis end to end, in-sample, with the PCA baseline beside it.

``run_study(cohort, config)``: exclusions and response labels -> Table 1 -> autoencoder (and PCA) features of the
phase maps -> Pearson correlation of every feature with PSD and PBW -> univariate screening -> multivariate models
with the collinearity split -> ROC AUCs of clinical + PSD / PBW with and without the significant features, DeLong
comparisons -> sequential likelihood-ratio increments.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

from .cohort import Cohort, Exclusion
from .config import StudyConfig
from .errors import LvmdError
from .io.polarmaps import PolarMaps
from .phase.metrics import fill_psd_pbw
from .pipeline import make_extractor
from .stats import (CorrelationResult, IncrementalResult, MultivariateResult, Table1Result, UnivariateResult,
                    collinear_split, correlation, delong_test, fit_logit, incremental, multivariate, roc_auc, table1,
                    univariate)
from .results import Result

CONTINUOUS_TABLE1 = ["age", "qrs_ms", "lvedv_ml", "lvesv_ml", "lvef_pct", "scar_burden_pct", "psd_deg", "pbw_deg"]
CATEGORICAL_TABLE1 = ["sex", "acei_arb", "cad", "ckd", "ischemia", "smoking", "nyha"]
LABELS = {"age": "Age", "qrs_ms": "QRS duration", "lvedv_ml": "EDV", "lvesv_ml": "ESV", "lvef_pct": "LVEF",
          "scar_burden_pct": "Scar burden", "psd_deg": "PSD", "pbw_deg": "PBW", "sex": "Gender (male)",
          "acei_arb": "ACEI/ARB", "cad": "CAD", "ckd": "CKD", "ischemia": "Ischemia", "smoking": "Smoking",
          "nyha": "NYHA"}
OUTCOME = "response"


class TableResult(Result):
    """A plain table wrapped as a result (ROC comparisons, incremental sequences)."""

    def __init__(self, summary: pd.DataFrame, title: str, formatted: pd.DataFrame | None = None):
        self.summary = summary
        self.title = title
        self._formatted = formatted

    def formatted(self) -> pd.DataFrame:
        return self._formatted if self._formatted is not None else self.summary


@dataclass
class FeatureAnalysis:
    """Everything the study derived from one feature extractor (AE or PCA)."""

    name: str
    model: object
    features: pd.DataFrame
    correlation: CorrelationResult
    univariate: UnivariateResult
    significant: list[str]
    groups: list[list[str]]
    roc: pd.DataFrame
    incremental: list[IncrementalResult]
    roc_curves: dict = field(default_factory=dict)


@dataclass
class StudyResult:
    """The study's results, each a result object with ``.summary`` (see :mod:`lvmd.stats`)."""

    config: StudyConfig
    data: pd.DataFrame
    excluded: list[Exclusion]
    table1: Table1Result
    univariate: UnivariateResult
    multivariate: MultivariateResult
    ae: FeatureAnalysis
    pca: FeatureAnalysis
    clinical_selected: list[str]
    timings: dict
    source: str
    maps: PolarMaps

    def roc(self) -> TableResult:
        """ROC AUCs of every model, AE and PCA, with DeLong comparisons against their base."""
        s = pd.concat([self.ae.roc, self.pca.roc], ignore_index=True).drop_duplicates("model")
        fmt = pd.DataFrame({
            "model": s["model"],
            "AUC [95% CI]": [f"{a:.2f} [{lo:.2f}, {hi:.2f}]" for a, lo, hi in zip(s["auc"], s["ci_low"], s["ci_high"])],
            "compared with": s["compared_with"].fillna(""),
            "ΔAUC": [f"{d:+.3f}" if np.isfinite(d) else "" for d in s["delta_auc"]],
            "DeLong P": [("<0.001" if p < 0.001 else f"{p:.3f}") if np.isfinite(p) else "" for p in s["delong_p"]],
        }).set_index("model")
        return TableResult(s.set_index("model"), "ROC analysis (in-sample)", fmt)

    def incremental(self) -> TableResult:
        """All likelihood-ratio sequences (Figure 3), one block per sequence."""
        parts, fmts = [], []
        for fa in (self.ae, self.pca):
            for i, inc in enumerate(fa.incremental):
                tag = f"{fa.name} sequence {i + 1}"
                parts.append(inc.summary.assign(sequence=tag))
                fmts.append(inc.formatted().assign(sequence=tag))
        if not parts:
            empty = pd.DataFrame(columns=["sequence", "model", "variables", "lr_statistic", "df", "p", "auc"])
            return TableResult(empty, "Incremental value", empty)
        s = pd.concat(parts, ignore_index=True)
        f = pd.concat(fmts)
        return TableResult(s.set_index(["sequence", "model"]), "Incremental value (likelihood-ratio tests)",
                           f.reset_index().set_index(["sequence", "model"]))

    def correlation(self) -> CorrelationResult:
        """Pearson correlation of every AE feature with PSD and PBW."""
        return self.ae.correlation

    def headline(self) -> dict:
        """The numbers a reader looks for first."""
        roc = self.roc().summary
        out = {"patients": int(len(self.data)), "responders": int(self.data[OUTCOME].sum()),
               "excluded": len(self.excluded), "response_definition": self.config.cohort.response,
               "significant_ae": self.ae.significant, "significant_pca": self.pca.significant,
               "ae_latent_dim": int(self.ae.model.latent_dim), "pca_components": int(self.pca.model.n_components),
               "auc": {m: round(float(a), 3) for m, a in roc["auc"].items()}}
        out["lr_tests"] = [
            {"sequence": seq, "model": model, "lr": round(float(row["lr_statistic"]), 2), "df": int(row["df"]),
             "p": float(row["p"])}
            for (seq, model), row in self.incremental().summary.iterrows() if np.isfinite(row["lr_statistic"])]
        return out


def _roc_model(df: pd.DataFrame, variables: list[str], firth: bool):
    fit = fit_logit(df, OUTCOME, variables, firth=firth)
    score = fit.linear_predictor(df[variables].to_numpy(float))
    return roc_auc(df[OUTCOME], score, direction="<"), score


def _feature_analysis(name: str, model, features: pd.DataFrame, data: pd.DataFrame, base_clinical: list[str],
                      config: StudyConfig, screening: UnivariateResult | None = None) -> FeatureAnalysis:
    cfg = config.stats
    df = data.join(features)
    names = list(features.columns)
    corr = correlation(df, names, [c for c in cfg.conventional if c in df.columns])
    if screening is not None:  # the features were already screened with the clinical variables: reuse it
        uni = UnivariateResult(screening.summary.loc[names], OUTCOME, screening.per_sd)
    else:
        uni = univariate(df, OUTCOME, names, firth=cfg.firth)
    significant = [v for v in uni.summary.sort_values("p").index if uni.summary.loc[v, "p"] < cfg.significance]
    groups = collinear_split(df, significant[:cfg.max_image_features], cfg.collinearity_r) if significant else []
    rows, sequences, curves = [], [], {}
    for conv in [c for c in cfg.conventional if c in df.columns]:
        base = base_clinical + [conv]
        label = " + ".join(["clinical"] * bool(base_clinical) + [LABELS.get(conv, conv)])
        base_roc, base_score = _roc_model(df, base, cfg.firth)
        curves[label] = base_roc
        rows.append({"model": label, "variables": " + ".join(base), "auc": base_roc.auc, "ci_low": base_roc.ci[0],
                     "ci_high": base_roc.ci[1], "compared_with": None, "delta_auc": np.nan, "delong_p": np.nan})
        for group in groups:
            full = base + group
            g_label = f"{label} + {' + '.join(group)}"
            r, score = _roc_model(df, full, cfg.firth)
            curves[g_label] = r
            test = delong_test(df[OUTCOME], score, base_score, direction="<")
            rows.append({"model": g_label, "variables": " + ".join(full), "auc": r.auc, "ci_low": r.ci[0],
                         "ci_high": r.ci[1], "compared_with": label, "delta_auc": r.auc - base_roc.auc,
                         "delong_p": test.p_value})
            steps = ([base_clinical] if base_clinical else []) + [[conv], group]
            base_vars, *added = steps
            seq_names = (["clinical"] if base_clinical else [LABELS.get(conv, conv)])
            seq_names += [f"+ {LABELS.get(conv, conv)}"] * bool(base_clinical) + [f"+ {' + '.join(group)}"]
            sequences.append(incremental(df, OUTCOME, base_vars, added, names=seq_names, firth=cfg.firth))
    return FeatureAnalysis(name, model, features, corr, uni, significant, groups, pd.DataFrame(rows), sequences, curves)


def run_study(cohort: Cohort, config: StudyConfig | None = None,
              progress: Callable[[str], None] | None = None) -> StudyResult:
    """Run the paper's analysis on a cohort.

    Parameters
    ----------
    cohort : Cohort
        Clinical table with phase maps (see :func:`lvmd.load_cohort`).
    config : StudyConfig, optional
        Every choice (defaults: the paper's).
    progress : callable, optional
        Called with the name of each stage as it starts.

    Returns
    -------
    StudyResult
    """
    config = (config or StudyConfig()).validate()
    timings: dict[str, float] = {}
    say = progress or (lambda stage: None)

    def stage(name: str):
        say(name)
        timings[name] = time.perf_counter()

    def done(name: str):
        timings[name] = round(time.perf_counter() - timings[name], 3)

    if cohort.maps is None:
        raise LvmdError(f"{cohort.source}: the cohort has no phase polar maps (polarmaps.npz or polarmaps/)")
    stage("exclusions")
    analysed = cohort.apply_exclusions(config.cohort.min_lvesv_ml, config.cohort.response)
    data = analysed.table.copy()
    data[OUTCOME] = analysed.response(config.cohort.response)
    if data[OUTCOME].nunique() < 2:
        raise LvmdError(f"{cohort.source}: after exclusions all patients have the same response; nothing to compare")
    data = fill_psd_pbw(data, analysed.maps.phase)
    done("exclusions")

    stage("table 1")
    t1 = table1(data, OUTCOME, [c for c in CONTINUOUS_TABLE1 if c in data.columns],
                [c for c in CATEGORICAL_TABLE1 if c in data.columns], labels=LABELS,
                group_labels={1.0: "Response", 0.0: "Non-response"})
    done("table 1")

    fc = config.features
    stage("autoencoder")
    ae = make_extractor("ae", config, fc.seed, n_maps=len(data)).fit(analysed.maps)
    ae_features = ae.transform(analysed.maps)
    done("autoencoder")
    stage("pca")
    pca = make_extractor("pca", config, fc.seed, n_maps=len(data)).fit(analysed.maps)
    pca_features = pca.transform(analysed.maps)
    done("pca")

    stage("univariate and multivariate")
    cfg = config.stats
    candidates = [c for c in cfg.clinical + cfg.conventional if c in data.columns]
    screening_df = data.join(ae_features)
    uni = univariate(screening_df, OUTCOME, candidates + list(ae_features.columns), firth=cfg.firth)
    ae_ranked = [v for v in uni.summary.loc[list(ae_features.columns)].sort_values("p").index
                 if uni.summary.loc[v, "p"] < cfg.significance][:cfg.max_image_features]
    multi = multivariate(screening_df, OUTCOME, candidates + ae_ranked, enter_p=cfg.enter_p,
                         collinearity_r=cfg.collinearity_r, firth=cfg.firth, screening=uni)
    clinical_selected = [v for v in uni.significant(cfg.enter_p) if v in cfg.clinical]
    done("univariate and multivariate")

    stage("roc and incremental value")
    ae_analysis = _feature_analysis("AE", ae, ae_features, data, clinical_selected, config, screening=uni)
    pca_analysis = _feature_analysis("PCA", pca, pca_features, data, clinical_selected, config)
    done("roc and incremental value")
    return StudyResult(config, data, analysed.excluded, t1, uni, multi, ae_analysis, pca_analysis, clinical_selected,
                       timings, cohort.source, analysed.maps)
