"""ROC analysis: AUC with DeLong variance and CI, paired and unpaired DeLong tests, coordinates, Youden threshold,
partial AUC with McClish correction.

DeLong's method is written here by hand because neither scipy, statsmodels nor scikit-learn provides it. It follows
the fast sort-based algorithm of Sun & Xu (2014, IEEE Signal Processing Letters 21:1389) and matches R's pROC
(Robin et al. 2011) to ~1e-12 on the aSAH data (tests/test_roc.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import StatsError
from ..formulas import Z975, two_sided_p
from ..results import Result
from ._checks import binary_outcome, same_length


def _midranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks with ties given their average rank (Sun & Xu's midrank)."""
    return stats.rankdata(x, method="average")


def _split(y, score, direction: str):
    y = binary_outcome(y, "outcome")
    score = np.asarray(score, dtype=float)
    same_length(y, score, names=("outcome", "score"))
    keep = ~(np.isnan(y) | np.isnan(score))
    y, score = y[keep], score[keep]
    cases, controls = score[y == 1], score[y == 0]
    if len(cases) == 0 or len(controls) == 0:
        raise StatsError("ROC needs at least one case and one control after removing missing values")
    if direction == "auto":
        direction = "<" if np.median(controls) <= np.median(cases) else ">"
    if direction not in ("<", ">"):
        raise StatsError(f"direction {direction!r} is not one of auto, <, >")
    if direction == ">":
        cases, controls = -cases, -controls
    return cases, controls, direction


def _placements(cases: np.ndarray, controls: np.ndarray):
    """AUC and DeLong structural components V10 (per case) and V01 (per control), via midranks."""
    m, n = len(cases), len(controls)
    tz = _midranks(np.concatenate([cases, controls]))
    tx, ty = _midranks(cases), _midranks(controls)
    v10 = (tz[:m] - tx) / n
    v01 = 1.0 - (tz[m:] - ty) / m
    auc = v10.mean()
    return auc, v10, v01


@dataclass(repr=False)
class RocCurve(Result):
    """Empirical ROC curve, AUC and DeLong uncertainty.

    Attributes
    ----------
    auc : float
    variance : float
        DeLong variance of the AUC.
    ci : tuple of float
        95 % DeLong confidence interval (clipped to [0, 1], as pROC does).
    thresholds, sensitivities, specificities : numpy.ndarray
        The curve, thresholds at midpoints between neighbouring observed values (pROC's convention), plus +-inf.
    direction : str
        ``"<"`` when higher scores mean case.
    """

    auc: float
    variance: float
    ci: tuple[float, float]
    thresholds: np.ndarray
    sensitivities: np.ndarray
    specificities: np.ndarray
    direction: str
    n_cases: int
    n_controls: int
    _cases: np.ndarray
    _controls: np.ndarray

    def __post_init__(self) -> None:
        self.title = "ROC curve"
        self.summary = pd.DataFrame(
            {"threshold": self.thresholds, "sensitivity": self.sensitivities, "specificity": self.specificities}
        )

    def formatted(self) -> pd.DataFrame:
        """AUC, its DeLong 95 % CI and the group sizes (the curve itself is ``summary``)."""
        return pd.DataFrame([{"AUC": round(self.auc, 4), "95% CI": f"{self.ci[0]:.4f} - {self.ci[1]:.4f}",
                              "cases": self.n_cases, "controls": self.n_controls, "direction": self.direction}])

    @property
    def se(self) -> float:
        """DeLong standard error of the AUC."""
        return float(np.sqrt(self.variance))

    def coords(self, threshold) -> pd.DataFrame:
        """Sensitivity and specificity at given thresholds (a case is positive at or beyond the threshold)."""
        t = np.atleast_1d(np.asarray(threshold, dtype=float))
        s = t if self.direction == "<" else -t
        sens = np.array([(self._cases >= v).mean() for v in s])
        spec = np.array([(self._controls < v).mean() for v in s])
        return pd.DataFrame({"threshold": t, "specificity": spec, "sensitivity": sens})

    def youden(self) -> dict:
        """Threshold maximising sensitivity + specificity (first of ties, lowest threshold), as pROC's coords 'best'."""
        j = self.sensitivities + self.specificities
        finite = np.isfinite(self.thresholds)
        best = np.flatnonzero(finite & (j >= j[finite].max() - 1e-12))[0]
        return {"threshold": float(self.thresholds[best]), "sensitivity": float(self.sensitivities[best]),
                "specificity": float(self.specificities[best]), "youden_j": float(j[best] - 1.0)}

    def partial_auc(self, bounds=(1.0, 0.9), focus: str = "specificity", correct: bool = False) -> float:
        """Area under the curve between two specificities (or sensitivities), optionally McClish-corrected.

        Matches pROC's ``auc(roc, partial.auc=bounds, partial.auc.focus=focus, partial.auc.correct=correct)``.
        """
        hi, lo = max(bounds), min(bounds)
        if not (0.0 <= lo < hi <= 1.0):
            raise StatsError(f"partial AUC bounds {bounds} must lie in [0, 1] and differ")
        if focus == "specificity":
            x, y = self.specificities, self.sensitivities
        elif focus == "sensitivity":
            x, y = self.sensitivities[::-1], self.specificities[::-1]
        else:
            raise StatsError(f"partial AUC focus {focus!r} is not specificity or sensitivity")
        area = 0.0
        for x0, x1, y0, y1 in zip(x[:-1], x[1:], y[:-1], y[1:]):
            a, b = sorted((x0, x1))
            if b <= a:
                continue
            left, right = max(a, lo), min(b, hi)
            if right <= left:
                continue
            slope = (y1 - y0) / (x1 - x0)
            ya = y0 + slope * (left - x0)
            yb = y0 + slope * (right - x0)
            area += (right - left) * (ya + yb) / 2.0
        if correct:
            minimum = (hi - lo) * ((1 - hi) + (1 - lo)) / 2.0
            maximum = hi - lo
            area = (1.0 + (area - minimum) / (maximum - minimum)) / 2.0
        return float(area)


def roc_auc(y, score, direction: str = "auto") -> RocCurve:
    """AUC with DeLong variance and 95 % CI.

    Parameters
    ----------
    y : array-like of 0/1
        Outcome (1 = case); NaN rows are dropped together with NaN scores.
    score : array-like of float
    direction : {"auto", "<", ">"}
        ``"<"``: controls score lower than cases. ``"auto"`` compares medians, as pROC does.

    Examples
    --------
    >>> r = roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    >>> round(r.auc, 2)
    0.75
    """
    cases, controls, direction = _split(y, score, direction)
    auc, v10, v01 = _placements(cases, controls)
    m, n = len(cases), len(controls)
    variance = (np.var(v10, ddof=1) / m if m > 1 else 0.0) + (np.var(v01, ddof=1) / n if n > 1 else 0.0)
    half = Z975 * np.sqrt(variance)
    ci = (max(0.0, auc - half), min(1.0, auc + half))
    values = np.unique(np.concatenate([cases, controls]))
    cuts = np.concatenate([[-np.inf], (values[:-1] + values[1:]) / 2.0, [np.inf]])
    sens = 1.0 - np.searchsorted(np.sort(cases), cuts, side="left") / m
    spec = np.searchsorted(np.sort(controls), cuts, side="left") / n
    thresholds = cuts if direction == "<" else -cuts
    return RocCurve(float(auc), float(variance), ci, thresholds, sens, spec, direction, m, n, cases, controls)


@dataclass(repr=False)
class DelongTest(Result):
    """DeLong comparison of two AUCs (first minus second, as pROC).

    Two scores with identical ROC curves (e.g. the same model twice) have no DeLong variance: the difference is
    reported as 0 with p = 1 and a ``note`` saying so, never as an error.

    Attributes
    ----------
    statistic : float
        z (paired) or D (unpaired).
    p_value : float
        Two-sided p (see :meth:`p_one_sided` for the others).
    ci : tuple of float
        95 % CI of the AUC difference (paired only; NaN otherwise).
    """

    auc1: float
    auc2: float
    statistic: float
    p_value: float
    ci: tuple[float, float]
    paired: bool
    covariance: float
    df: float = np.inf
    note: str = ""

    def __post_init__(self) -> None:
        self.title = "DeLong test" + (" (paired)" if self.paired else " (unpaired)")
        self.summary = pd.DataFrame([{
            "auc1": self.auc1, "auc2": self.auc2, "difference": self.auc1 - self.auc2,
            "statistic": self.statistic, "p": self.p_value, "ci_low": self.ci[0], "ci_high": self.ci[1],
            "note": self.note,
        }])

    def p_one_sided(self, alternative: str) -> float:
        """p for ``"greater"`` (first AUC larger) or ``"less"``."""
        dist = stats.norm if not np.isfinite(self.df) else stats.t(self.df)
        if alternative == "greater":
            return float(dist.sf(self.statistic))
        if alternative == "less":
            return float(dist.cdf(self.statistic))
        raise StatsError(f"alternative {alternative!r} is not greater or less")


def delong_test(y, score1, score2, paired: bool = True, y2=None, direction: str = "auto") -> DelongTest:
    """Compare two ROC AUCs by DeLong's test.

    Parameters
    ----------
    y : array-like
        Outcome for ``score1`` (and for ``score2`` when paired).
    score1, score2 : array-like
        Scores; paired tests need both on the same patients.
    paired : bool
        Paired test uses the DeLong covariance of the two AUCs; unpaired treats them as independent samples.
    y2 : array-like, optional
        Outcome for ``score2`` in an unpaired test on another sample.
    """
    if paired:
        yy = binary_outcome(y)
        s1, s2 = np.asarray(score1, float), np.asarray(score2, float)
        same_length(yy, s1, s2, names=("outcome", "score1", "score2"))
        keep = ~(np.isnan(yy) | np.isnan(s1) | np.isnan(s2))
        yy, s1, s2 = yy[keep], s1[keep], s2[keep]
        c1, k1, _ = _split(yy, s1, direction)
        c2, k2, _ = _split(yy, s2, direction)
        a1, v10a, v01a = _placements(c1, k1)
        a2, v10b, v01b = _placements(c2, k2)
        m, n = len(c1), len(k1)
        s10 = np.cov(np.vstack([v10a, v10b]))
        s01 = np.cov(np.vstack([v01a, v01b]))
        cov_matrix = s10 / m + s01 / n
        var = cov_matrix[0, 0] + cov_matrix[1, 1] - 2 * cov_matrix[0, 1]
        if var <= 1e-15 * max(cov_matrix[0, 0] + cov_matrix[1, 1], 1e-300):
            if np.array_equal(v10a, v10b) and np.array_equal(v01a, v01b):
                return DelongTest(float(a1), float(a2), 0.0, 1.0, (0.0, 0.0), True, float(cov_matrix[0, 1]),
                                  note="identical ROC curves: difference 0, p = 1 (the DeLong variance is zero)")
            return DelongTest(float(a1), float(a2), np.nan, np.nan, (np.nan, np.nan), True, float(cov_matrix[0, 1]),
                              note="DeLong test undefined: the variance of the AUC difference is zero")
        z = (a1 - a2) / np.sqrt(var)
        half = Z975 * np.sqrt(var)
        return DelongTest(float(a1), float(a2), float(z), float(two_sided_p(z)),
                          (float(a1 - a2 - half), float(a1 - a2 + half)), True, float(cov_matrix[0, 1]))
    r1 = roc_auc(y, score1, direction)
    r2 = roc_auc(y if y2 is None else y2, score2, direction)
    var = r1.variance + r2.variance
    d = (r1.auc - r2.auc) / np.sqrt(var)
    # pROC refers D to a t distribution with Welch-Satterthwaite degrees of freedom over the sample sizes.
    df = var**2 / (r1.variance**2 / (r1.n_cases + r1.n_controls - 1) + r2.variance**2 / (r2.n_cases + r2.n_controls - 1))
    return DelongTest(r1.auc, r2.auc, float(d), float(2 * stats.t.sf(abs(d), df)), (np.nan, np.nan), False, 0.0,
                      float(df))

