"""Calibration and clinical usefulness of predicted risks, as TRIPOD asks of a validation: calibration-in-the-large,
the calibration slope and the logistic recalibration, the Brier score, a grouped calibration curve and the decision
curve (net benefit)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import statsmodels.api as sm
from statsmodels.tools.sm_exceptions import ConvergenceWarning, PerfectSeparationWarning

from ..errors import StatsError
from ..formulas import Z975, expit, logit
from ..results import Result
from ._checks import binary_outcome, same_length

THRESHOLDS = np.round(np.arange(0.05, 0.81, 0.05), 2)
RISK_CLIP = 1e-9  # risks given as probabilities are clipped this far from 0 and 1 before taking their logit


@dataclass(repr=False)
class Calibration(Result):
    """Calibration of predicted risks against observed outcomes.

    Attributes
    ----------
    citl, citl_ci : float, tuple
        Calibration-in-the-large: the intercept ``a`` of ``logit P(y) = a + lp`` (slope fixed at 1); 0 is perfect.
    slope, slope_ci : float, tuple
        Calibration slope ``b`` of ``logit P(y) = a' + b lp``; 1 is perfect, < 1 means too extreme predictions.
    recalibration_intercept : float
        ``a'``: with ``b`` the logistic recalibration that would fit this sample (new lp = a' + b lp).
    brier : float
        Mean squared difference between risk and outcome.
    note : str
        Why the slope and recalibration are not estimable (NaN), when the outcome is perfectly separated by the
        predictions (a small cohort); empty otherwise.
    """

    citl: float
    citl_ci: tuple[float, float]
    slope: float
    slope_ci: tuple[float, float]
    recalibration_intercept: float
    brier: float
    n: int
    note: str = ""

    def __post_init__(self) -> None:
        self.title = "Calibration"
        self.summary = pd.DataFrame({
            "estimate": [self.citl, self.slope, self.recalibration_intercept, self.brier],
            "ci_low": [self.citl_ci[0], self.slope_ci[0], np.nan, np.nan],
            "ci_high": [self.citl_ci[1], self.slope_ci[1], np.nan, np.nan],
        }, index=pd.Index(["calibration_in_the_large", "calibration_slope", "recalibration_intercept", "brier"],
                          name="measure"))


def _risk_and_lp(y, p, linear_predictor) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    y = binary_outcome(y, "outcome")
    if linear_predictor is not None:
        lp = np.asarray(linear_predictor, dtype=float).ravel()
        p = expit(lp)
    elif p is not None:
        p = np.asarray(p, dtype=float).ravel()
        if np.nanmin(p) < 0 or np.nanmax(p) > 1:
            raise StatsError("predicted risks must lie in [0, 1]")
        lp = logit(np.clip(p, RISK_CLIP, 1 - RISK_CLIP))
    else:
        raise StatsError("give predicted risks p or the linear predictor")
    same_length(y, lp, names=("outcome", "predictions"))
    keep = ~(np.isnan(y) | np.isnan(lp))
    return y[keep], np.asarray(p)[keep], lp[keep]


def calibration(y, p=None, linear_predictor=None) -> Calibration:
    """Calibration-in-the-large, slope (with Wald 95 % CIs), logistic recalibration and Brier score.

    Give the model's ``linear_predictor`` when it is known (exact), else the risks ``p``.
    """
    y, p, lp = _risk_and_lp(y, p, linear_predictor)
    family = sm.families.Binomial()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PerfectSeparationWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", RuntimeWarning)  # divisions and overflows while a separated fit diverges
        large = sm.GLM(y, np.ones((len(y), 1)), family=family, offset=lp).fit(tol=1e-12)
        slope = sm.GLM(y, sm.add_constant(lp, has_constant="add"), family=family).fit(tol=1e-12)
    a, a_se = float(large.params[0]), float(large.bse[0])
    b0, b, b_se = float(slope.params[0]), float(slope.params[1]), float(slope.bse[1])
    note = ""
    separated = any(issubclass(w.category, PerfectSeparationWarning) for w in caught)
    if separated or not np.all(np.isfinite([b0, b, b_se])):
        note = ("calibration slope and recalibration not estimable: the predictions separate responders from "
                "non-responders perfectly (too few patients)")
        b0 = b = b_se = float("nan")
    if not np.all(np.isfinite([a, a_se])):
        a = a_se = float("nan")
    return Calibration(a, (a - Z975 * a_se, a + Z975 * a_se), b, (b - Z975 * b_se, b + Z975 * b_se), b0,
                       float(np.mean((y - p) ** 2)), int(len(y)), note)


def calibration_curve(y, p, groups: int = 10) -> pd.DataFrame:
    """Observed event rate against mean predicted risk in ``groups`` quantile groups of the risk."""
    y, p, _ = _risk_and_lp(y, p, None)
    bins = pd.qcut(p, groups, duplicates="drop")
    frame = pd.DataFrame({"predicted": p, "observed": y}).groupby(bins, observed=True)
    out = frame.mean()
    out["n"] = frame.size()
    return out.reset_index(drop=True)


def net_benefit(y, p, thresholds=THRESHOLDS) -> np.ndarray:
    """Decision-curve net benefit of treating when risk >= t: TP/n - FP/n * t / (1 - t), at each threshold t."""
    y = binary_outcome(y, "outcome")
    p = np.asarray(p, dtype=float).ravel()
    same_length(y, p, names=("outcome", "predictions"))
    n = len(y)
    out = []
    for t in np.asarray(thresholds, dtype=float):
        treat = p >= t
        out.append(np.sum(treat & (y == 1)) / n - np.sum(treat & (y == 0)) / n * t / (1 - t))
    return np.array(out)


def decision_curve(y, risks: dict, thresholds=THRESHOLDS) -> pd.DataFrame:
    """Net benefit of each model in ``risks`` (name -> risks), of treating all and of treating none."""
    y = binary_outcome(y, "outcome")
    t = np.asarray(thresholds, dtype=float)
    prevalence = float(np.mean(y))
    curves = {"threshold": t, "treat_all": prevalence - (1 - prevalence) * t / (1 - t), "treat_none": np.zeros(len(t))}
    curves.update({name: net_benefit(y, p, t) for name, p in risks.items()})
    return pd.DataFrame(curves)
