"""Incremental value of added predictors: nested logistic models compared by the likelihood-ratio test, with the
change in ROC AUC and its DeLong p (the paper's "LH 8.06, P = 0.005" and Figure 3).

A model that cannot be estimated (constant or duplicated variable, separation, no convergence) has no likelihood: its
test is reported as not estimable, with the reason, and never computed from a stand-in log-likelihood."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import StatsError
from ..formulas import logit
from ..results import Result, format_p
from ._checks import require_columns
from .logistic import LogitFit, fit_logit
from .roc import delong_test, roc_auc


@dataclass
class Step:
    """One model of a sequence and its comparison with the previous one."""

    name: str
    variables: list[str]
    fit: LogitFit
    auc: float
    auc_ci: tuple[float, float]
    lr_statistic: float
    df: int
    p_value: float
    delta_auc: float
    delta_auc_p: float
    note: str = ""


class IncrementalResult(Result):
    """A sequence of nested models (base first); ``lr_statistic``, ``df`` and ``p_value`` describe the last step."""

    def __init__(self, steps: list[Step], outcome: str, n: int):
        self.steps = steps
        self.outcome = outcome
        self.n = n
        self.title = "Incremental value (likelihood-ratio test of nested logistic models)"
        self.summary = pd.DataFrame([{
            "model": s.name, "variables": " + ".join(s.variables), "log_likelihood": s.fit.llf,
            "model_chi2": 2 * (s.fit.llf - steps[0].fit.llf) if i else 0.0,
            "lr_statistic": s.lr_statistic, "df": s.df, "p": s.p_value, "auc": s.auc,
            "auc_ci_low": s.auc_ci[0], "auc_ci_high": s.auc_ci[1], "delta_auc": s.delta_auc,
            "delta_auc_p": s.delta_auc_p, "n": s.fit.n, "note": s.note,
        } for i, s in enumerate(steps)])

    @property
    def lr_statistic(self) -> float:
        """Likelihood-ratio chi-square of the last step against the one before."""
        return self.steps[-1].lr_statistic

    @property
    def df(self) -> int:
        """Degrees of freedom of the last step."""
        return self.steps[-1].df

    @property
    def p_value(self) -> float:
        """p of the last step's likelihood-ratio test."""
        return self.steps[-1].p_value

    def formatted(self) -> pd.DataFrame:
        s = self.summary
        return pd.DataFrame({
            "model": s["model"], "variables": s["variables"],
            "AUC [95% CI]": [f"{a:.2f} [{lo:.2f}, {hi:.2f}]" for a, lo, hi in zip(s["auc"], s["auc_ci_low"], s["auc_ci_high"])],
            "LR chi2 (df)": [note if note else "" if not np.isfinite(c) else f"{c:.2f} ({d})"
                             for c, d, note in zip(s["lr_statistic"], s["df"], s["note"])],
            "P value": [format_p(p) for p in s["p"]],
            "ΔAUC (DeLong P)": ["" if not np.isfinite(d) else f"{d:+.3f} ({format_p(p)})"
                                for d, p in zip(s["delta_auc"], s["delta_auc_p"])],
        }).set_index("model")


def incremental(df: pd.DataFrame, outcome: str, base: Sequence[str], added: Sequence[str] | Sequence[Sequence[str]],
                names: Sequence[str] | None = None, firth: bool = False) -> IncrementalResult:
    """Likelihood-ratio test of ``base`` against ``base + added`` on the same complete cases.

    Parameters
    ----------
    base : sequence of str
        Variables of the first model (e.g. LVEF, sex, PSD).
    added : sequence of str, or sequence of sequences
        Variables added in one step, or several steps added in turn (clinical -> + PSD -> + AE, Figure 3).
    names : sequence of str, optional
        Display names of the models (one per model, base included).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> d = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200)})
    >>> d["y"] = (d["a"] + 2 * d["b"] + rng.normal(size=200) > 0).astype(int)
    >>> res = incremental(d, "y", ["a"], ["b"])
    >>> res.df, res.p_value < 1e-6
    (1, True)
    """
    base = list(base)
    steps_added = [list(added)] if added and isinstance(list(added)[0], str) else [list(a) for a in added]
    if not steps_added or any(not a for a in steps_added):
        raise StatsError("incremental: nothing added to the base model")
    everything = base + [v for a in steps_added for v in a]
    require_columns(df, [outcome, *everything])
    data = df[[outcome, *dict.fromkeys(everything)]].apply(pd.to_numeric, errors="coerce").dropna()
    y = data[outcome].to_numpy(float)
    models = [base]
    for a in steps_added:
        models.append(models[-1] + a)
    names = list(names) if names is not None else ["base"] + [f"+ {' + '.join(a)}" for a in steps_added]
    if len(names) != len(models):
        raise StatsError(f"incremental: {len(names)} names for {len(models)} models")
    steps: list[Step] = []
    previous_fit, previous_score = None, None
    for name, variables in zip(names, models):
        fit = fit_logit(data, outcome, variables, firth=firth) if variables else _intercept_only(y)
        if not fit.estimable:
            score = np.full(len(y), np.nan)
            auc, ci = np.nan, (np.nan, np.nan)
        elif variables:
            score = fit.linear_predictor(data[variables].to_numpy(float))
            roc = roc_auc(y, score, direction="<")
            auc, ci = roc.auc, roc.ci
        else:
            score, auc, ci = np.zeros(len(y)), 0.5, (0.5, 0.5)
        note = fit.note
        if previous_fit is None:
            lr, dof, p, d_auc, d_p = np.nan, 0, np.nan, np.nan, np.nan
        else:
            dof = len(variables) - len(previous_fit.names) + 1
            if fit.estimable and previous_fit.estimable:
                lr = max(0.0, 2 * (fit.llf - previous_fit.llf))
                p = float(stats.chi2.sf(lr, dof))
                d_auc = auc - steps[-1].auc
                d_p = delong_test(y, score, previous_score, direction="<").p_value if previous_fit.names[1:] else np.nan
            else:
                lr, p, d_auc, d_p = np.nan, np.nan, np.nan, np.nan
                note = note or f"not estimable: the model before it is not ({previous_fit.note})"
        steps.append(Step(name, variables, fit, float(auc), ci, float(lr), int(dof), float(p), float(d_auc), float(d_p),
                          note))
        previous_fit, previous_score = fit, score
    return IncrementalResult(steps, outcome, len(y))


def _intercept_only(y: np.ndarray) -> LogitFit:
    p = y.mean()
    llf = float(np.sum(y * np.log(p) + (1 - y) * np.log(1 - p)))
    return LogitFit(["const"], np.array([logit(p)]), np.array([[1 / (len(y) * p * (1 - p))]]), llf, len(y),
                    int(y.sum()), False, "mle", True)
