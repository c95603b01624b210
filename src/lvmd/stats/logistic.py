"""Logistic regression as the paper used it: univariate screening and multivariate models with the collinearity
split, built on statsmodels, with fits that cannot be estimated reported as such rather than crashing or printing
absurd ORs.

A fit is *not estimable* when its design is rank-deficient (a constant or duplicated variable), when the data are
separated, or when Newton's method does not converge. Separation is decided by the linear-programming criterion of
Konis (2007; R's safeBinaryRegression): the data are (quasi-)completely separated exactly when some non-zero
direction ``b`` has ``x_i . b >= 0`` for every responder and ``<= 0`` for every non-responder. The LP is run only when
the maximum-likelihood fit shows a symptom (statsmodels' perfect-separation signal, non-convergence, a fitted
probability within 1e-6 of 0 or 1, non-finite estimates), so a valid fit with one far point is never flagged.

Firth's penalised likelihood (Firth 1993) is offered as an option; statsmodels has no implementation, so it is
written here (Newton-Raphson on the Jeffreys-penalised score, Wald intervals from the penalised information).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy.optimize import linprog
from statsmodels.stats.outliers_influence import variance_inflation_factor
from statsmodels.tools.sm_exceptions import ConvergenceWarning, PerfectSeparationError, PerfectSeparationWarning

from ..errors import StatsError
from ..formulas import Z975, expit, two_sided_p
from ..results import Result, format_or, format_p
from ._checks import binary_outcome, require_columns

FITTED_EDGE = 1e-6  # a fitted probability this close to 0 or 1 is a symptom worth the separation check


@dataclass(repr=False)
class LogitFit(Result):
    """A fitted logistic model: coefficients, covariance, log-likelihood and why it is not estimable, if it is not.

    Attributes
    ----------
    names : list of str
        ``"const"`` followed by the variables.
    params, cov : numpy.ndarray
        Estimates and their covariance (NaN when not estimable).
    llf : float
        Log-likelihood at the estimates (NaN when not estimable: never a stand-in value).
    separation : bool
        The data are (quasi-)completely separated: the maximum-likelihood estimates do not exist.
    method : str
        ``"mle"``, ``"firth"`` or ``"ridge"`` (:mod:`lvmd.stats.penalised`).
    note : str
        Why the fit is not estimable ("" when it is).
    penalty, penalised :
        A ridge fit's penalty on the standardised ``penalised`` terms (0 and [] otherwise). Their ``cov`` is the
        Bayesian covariance of the penalised fit and :meth:`table` gives them no p-value.
    """

    names: list[str]
    params: np.ndarray
    cov: np.ndarray
    llf: float
    n: int
    events: int
    separation: bool
    method: str
    converged: bool
    rows: pd.Index = field(default_factory=lambda: pd.Index([]))
    note: str = ""
    penalty: float = 0.0
    penalised: list = field(default_factory=list)

    def __post_init__(self) -> None:
        self.title = f"Logistic model ({self.method}, n = {self.n}, {self.events} events)"

    @property
    def estimable(self) -> bool:
        """True when the estimates exist and were found (no separation, full rank, converged, finite)."""
        return not self.note and bool(np.all(np.isfinite(self.params))) and np.isfinite(self.llf)

    @property
    def bse(self) -> np.ndarray:
        """Standard errors."""
        return np.sqrt(np.clip(np.diag(self.cov), 0, None))

    @property
    def summary(self) -> pd.DataFrame:
        """:meth:`table`, so that the fit prints and renders like every lvmd result."""
        return self.table()

    def table(self) -> pd.DataFrame:
        """OR, 95 % CI and Wald p per term (intercept excluded); NaN where not estimable, and no p for a penalised
        term (shrinkage biases its estimate towards 0: a Wald test of it tests nothing)."""
        beta, se = self.params[1:], self.bse[1:]
        ok = np.isfinite(se) & self.estimable
        tested = ok & ~np.isin(self.names[1:], list(self.penalised))
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            out = pd.DataFrame({
                "beta": beta, "se": se,
                "odds_ratio": np.where(ok, np.exp(beta), np.nan),
                "ci_low": np.where(ok, np.exp(beta - Z975 * se), np.nan),
                "ci_high": np.where(ok, np.exp(beta + Z975 * se), np.nan),
                "p": np.where(tested, two_sided_p(beta / se), np.nan),
            }, index=pd.Index(self.names[1:], name="variable"))
        return out

    def linear_predictor(self, X: np.ndarray) -> np.ndarray:
        """Logit of new rows (without the intercept column)."""
        return self.params[0] + np.asarray(X, float) @ self.params[1:]

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Probability for new rows (without the intercept column)."""
        return expit(self.linear_predictor(X))


def _firth(X: np.ndarray, y: np.ndarray, max_iter: int = 100, tol: float = 1e-8) -> tuple[np.ndarray, np.ndarray, float, bool]:
    """Firth-penalised logistic regression; returns params, covariance, unpenalised log-likelihood, converged."""
    beta = np.zeros(X.shape[1])
    converged = False
    for _ in range(max_iter):
        p = expit(X @ beta)
        w = p * (1 - p)
        info = X.T @ (X * w[:, None])
        inv = np.linalg.pinv(info)
        h = np.einsum("ij,jk,ik->i", X * np.sqrt(w)[:, None], inv, X * np.sqrt(w)[:, None])
        score = X.T @ (y - p + h * (0.5 - p))
        step = inv @ score
        step_norm = np.max(np.abs(step))
        if step_norm > 5:
            step *= 5 / step_norm
        beta = beta + step
        if np.max(np.abs(step)) < tol:
            converged = True
            break
    p = np.clip(expit(X @ beta), 1e-15, 1 - 1e-15)
    w = p * (1 - p)
    cov = np.linalg.pinv(X.T @ (X * w[:, None]))
    llf = float(np.sum(y * np.log(p) + (1 - y) * np.log(1 - p)))
    return beta, cov, llf, converged


def rank_deficiency(X: np.ndarray, names: Sequence[str]) -> str:
    """Why the design (intercept first) is rank-deficient -- a constant or a duplicated variable -- or ""."""
    if np.linalg.matrix_rank(X) == X.shape[1]:
        return ""
    for j in range(1, X.shape[1]):
        if np.ptp(X[:, j]) == 0:
            return f"{names[j]} is constant"
        if np.linalg.matrix_rank(X[:, : j + 1]) <= j:
            return f"{names[j]} is a linear combination of the variables before it (duplicated?)"
    return "the design matrix is rank-deficient"


def is_separated(X: np.ndarray, y: np.ndarray) -> bool:
    """Konis' linear-programming test: True when the outcome is (quasi-)completely separated by the columns of X.

    Maximises sum_i s_i x_i . b subject to s_i x_i . b >= 0 (s = +1 for y = 1, -1 for y = 0) and |b_j| <= 1 on the
    standardised columns (the column space, and so the answer, is unchanged); a positive optimum is a direction along
    which the likelihood rises for ever.
    """
    Z = X.astype(float).copy()
    for j in range(Z.shape[1]):
        sd = Z[:, j].std()
        if sd > 0:
            Z[:, j] = (Z[:, j] - Z[:, j].mean()) / sd
    signed = Z * np.where(y == 1, 1.0, -1.0)[:, None]
    res = linprog(-signed.sum(axis=0), A_ub=-signed, b_ub=np.zeros(len(y)), bounds=[(-1, 1)] * Z.shape[1],
                  method="highs")
    return bool(res.status == 0 and -res.fun > 1e-6 * max(1, len(y)))


def fit_logit(df: pd.DataFrame, outcome: str, variables: Sequence[str], firth: bool = False) -> LogitFit:
    """Fit one logistic model on the complete cases of ``outcome`` and ``variables``.

    A fit that cannot be estimated -- rank-deficient design, separation (see the module docstring), no convergence --
    comes back with NaN estimates and log-likelihood and the reason in ``note``; ``separation`` says whether
    Firth's penalised fit (``firth=True``, finite under separation) would help.
    """
    variables = list(variables)
    require_columns(df, [outcome, *variables])
    data = df[[outcome, *variables]].apply(pd.to_numeric, errors="coerce").dropna()
    y = binary_outcome(data[outcome], outcome)
    if len(np.unique(y)) < 2:
        raise StatsError(f"{outcome} has a single class among the complete cases of {', '.join(variables)}")
    X = sm.add_constant(data[variables].to_numpy(float), has_constant="add")
    names = ["const", *variables]
    k = len(names)

    def not_estimable(note: str, separation: bool = False) -> LogitFit:
        return LogitFit(names, np.full(k, np.nan), np.full((k, k), np.nan), np.nan, len(y), int(y.sum()), separation,
                        "firth" if firth else "mle", False, data.index, note)

    deficient = rank_deficiency(X, names)
    if deficient:
        return not_estimable(f"not estimable: {deficient}")
    if firth:
        params, cov, llf, converged = _firth(X, y)
        fit = LogitFit(names, params, cov, llf, len(y), int(y.sum()), False, "firth", converged, data.index)
        return fit if converged else not_estimable("not estimable: Firth's iterations did not converge")
    flagged, converged = False, True
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PerfectSeparationWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", RuntimeWarning)  # overflow of exp() while a separated fit diverges
        try:
            res = sm.Logit(y, X).fit(disp=0, method="newton", maxiter=100)
            params, llf = np.asarray(res.params, float), float(res.llf)
            converged = bool(res.mle_retvals.get("converged", True))
            try:
                cov = np.asarray(res.cov_params(), float)
            except (np.linalg.LinAlgError, ValueError):
                cov = np.full((k, k), np.nan)
        except (PerfectSeparationError, np.linalg.LinAlgError):
            flagged, params, cov, llf = True, np.full(k, np.nan), np.full((k, k), np.nan), np.nan
    flagged = flagged or any(issubclass(w.category, PerfectSeparationWarning) for w in caught)
    fitted = expit(X @ params) if np.all(np.isfinite(params)) else np.full(len(y), np.nan)
    symptom = (flagged or not converged or not np.all(np.isfinite(params)) or not np.all(np.isfinite(cov))
               or np.any(np.minimum(fitted, 1 - fitted) < FITTED_EDGE) or not np.all(np.isfinite(fitted)))
    if symptom and (flagged or is_separated(X, y)):
        return not_estimable("not estimable: separation (the outcome is perfectly predicted; use firth = true)",
                             separation=True)
    if not converged or not np.all(np.isfinite(params)) or not np.isfinite(llf):
        return not_estimable("not estimable: Newton's iterations did not converge")
    return LogitFit(names, params, cov, llf, len(y), int(y.sum()), False, "mle", True, data.index)


def _flags(df: pd.DataFrame, variables: Sequence[str], fit: LogitFit | None) -> list[str]:
    notes = []
    for v in variables:
        col = pd.to_numeric(df[v], errors="coerce").dropna()
        if col.nunique() <= 1:
            notes.append(f"{v}: constant column")
    if fit is not None:
        smaller = min(fit.events, fit.n - fit.events)
        k = len(variables)
        if k and smaller / k < 10:
            notes.append(f"{smaller / k:.1f} events per variable (< 10)")
        if fit.separation:
            notes.append("separation: OR not estimable (use firth=True)")
        elif fit.note and not any("constant" in n for n in notes):
            notes.append(fit.note)
    return notes


class UnivariateResult(Result):
    """One logistic model per variable: OR, 95 % CI, Wald p, n used, flags."""

    def __init__(self, summary: pd.DataFrame, outcome: str, per_sd: bool):
        self.summary = summary
        self.outcome = outcome
        self.per_sd = per_sd
        self.title = "Univariate logistic regression" + (" (OR per SD)" if per_sd else " (OR per unit)")

    def significant(self, alpha: float) -> list[str]:
        """Variables with Wald p below ``alpha``."""
        s = self.summary
        return list(s.index[(s["p"] < alpha).fillna(False)])

    def formatted(self) -> pd.DataFrame:
        s = self.summary
        return pd.DataFrame({
            "OR [95% CI]": [format_or(o, lo, hi) for o, lo, hi in zip(s["odds_ratio"], s["ci_low"], s["ci_high"])],
            "P value": [format_p(p) for p in s["p"]],
            "n": s["n"].astype(int),
            "notes": s["notes"],
        }, index=s.index)


def univariate(df: pd.DataFrame, outcome: str, variables: Sequence[str], per_sd: bool = False,
               firth: bool = False) -> UnivariateResult:
    """Screen variables one at a time with a logistic model each (complete cases per variable).

    Parameters
    ----------
    df : pandas.DataFrame
    outcome : str
        Binary 0/1 column.
    variables : sequence of str
    per_sd : bool
        Report the OR per standard deviation of the variable instead of per unit.
    firth : bool
        Use Firth's penalised likelihood (finite estimates under separation).
    """
    require_columns(df, [outcome])
    require_columns(df, variables)
    binary_outcome(df[outcome], outcome)
    rows = []
    for v in variables:
        data = df[[outcome, v]].apply(pd.to_numeric, errors="coerce")
        sd = data[v].std()
        if per_sd and sd > 0:
            data[v] = data[v] / sd
        if data[v].dropna().nunique() <= 1:
            fit = None
            row = {"beta": np.nan, "se": np.nan, "odds_ratio": np.nan, "ci_low": np.nan, "ci_high": np.nan,
                   "p": np.nan, "n": int(data.dropna().shape[0])}
        else:
            fit = fit_logit(data, outcome, [v], firth=firth)
            row = fit.table().iloc[0].to_dict()
            row["n"] = fit.n
        row["notes"] = "; ".join(_flags(df, [v], fit))
        row["variable"] = v
        rows.append(row)
    summary = pd.DataFrame(rows).set_index("variable")
    return UnivariateResult(summary, outcome, per_sd)


def collinear_split(df: pd.DataFrame, variables: Sequence[str], threshold: float = 0.7,
                    max_models: int = 12) -> list[list[str]]:
    """Group candidate variables into models in which no pair is correlated beyond ``threshold`` (|Pearson r|).

    Each model is a maximal set of mutually non-collinear candidates (a maximal independent set of the collinearity
    graph), which reproduces the paper's split: AE #30, correlated with both AE #28 and AE #35, goes alone, while
    AE #28 and AE #35 go together; variables collinear with nothing enter every model.
    """
    variables = list(variables)
    if not variables:
        return []
    r = df[variables].apply(pd.to_numeric, errors="coerce").corr().abs().to_numpy()
    k = len(variables)
    adjacent = [{j for j in range(k) if j != i and np.isfinite(r[i, j]) and r[i, j] > threshold} for i in range(k)]
    found: list[frozenset[int]] = []

    def expand(chosen: frozenset[int], candidates: set[int], excluded: set[int]) -> None:
        # Bron-Kerbosch on the complement graph: maximal sets with no collinear pair.
        if len(found) >= max_models:
            return
        if not candidates and not excluded:
            found.append(chosen)
            return
        for v in sorted(candidates):
            expand(chosen | {v}, {u for u in candidates if u not in adjacent[v] and u != v},
                   {u for u in excluded if u not in adjacent[v] and u != v})
            candidates = candidates - {v}
            excluded = excluded | {v}

    expand(frozenset(), set(range(k)), set())
    return [[variables[i] for i in sorted(s)] for s in found]


def vif(df: pd.DataFrame, variables: Sequence[str]) -> pd.Series:
    """Variance inflation factors (statsmodels) on the complete cases, intercept included in each regression."""
    data = df[list(variables)].apply(pd.to_numeric, errors="coerce").dropna()
    if len(variables) < 2:
        return pd.Series(1.0, index=list(variables))
    X = sm.add_constant(data.to_numpy(float), has_constant="add")
    with np.errstate(divide="ignore", invalid="ignore"):
        values = [variance_inflation_factor(X, i + 1) for i in range(len(variables))]
    return pd.Series(values, index=list(variables))


class MultivariateResult(Result):
    """Multivariate models laid out like the paper's Table 2: one column block per model.

    ``summary`` holds every term of every model (the CSV); the formatted table shows the univariate OR of the
    ``shown`` variables (by default every screened one) beside each model's ORs.
    """

    def __init__(self, models: dict[str, LogitFit], summary: pd.DataFrame, screening: UnivariateResult,
                 candidates: list[str], notes: dict[str, list[str]], shown: list[str] | None = None):
        self.models = models
        self.summary = summary
        self.screening = screening
        self.candidates = candidates
        self.notes = notes
        self.shown = shown
        self.title = "Univariate and multivariate logistic regression"

    def formatted(self) -> pd.DataFrame:
        uni = self.screening.formatted()[["OR [95% CI]", "P value"]]
        if self.shown is not None:
            uni = uni.loc[[v for v in self.shown if v in uni.index]]
        uni.columns = ["Univariate OR [95% CI]", "Univariate P"]
        blocks = [uni]
        for name in self.models:
            part = self.summary[self.summary["model"] == name].set_index("variable")
            blocks.append(pd.DataFrame({
                f"{name} OR [95% CI]": [format_or(o, lo, hi) for o, lo, hi in
                                        zip(part["odds_ratio"], part["ci_low"], part["ci_high"])],
                f"{name} P": [format_p(p) for p in part["p"]],
            }, index=part.index))
        out = pd.concat(blocks, axis=1).fillna("")
        out.index.name = "variable"
        return out


def tabulate_models(df: pd.DataFrame, models: dict[str, LogitFit], screening: UnivariateResult,
                    shown: Sequence[str] | None = None) -> MultivariateResult:
    """Lay out already-fitted multivariate models like the paper's Table 2 (VIFs on ``df``, flags per model)."""
    rows, notes = [], {}
    for name, fit in models.items():
        variables = fit.names[1:]
        table = fit.table()
        table["vif"] = vif(df, variables)
        table["model"] = name
        table["n"] = fit.n
        rows.append(table.reset_index())
        notes[name] = _flags(df, variables, fit)
    summary = (pd.concat(rows, ignore_index=True) if rows else
               pd.DataFrame(columns=["variable", "beta", "se", "odds_ratio", "ci_low", "ci_high", "p", "vif", "model", "n"]))
    entered = list(dict.fromkeys(v for fit in models.values() for v in fit.names[1:]))
    return MultivariateResult(dict(models), summary, screening, entered, notes, None if shown is None else list(shown))


def multivariate(df: pd.DataFrame, outcome: str, candidates: Sequence[str], enter_p: float = 0.1,
                 collinearity_r: float = 0.7, force: Sequence[str] = (), firth: bool = False,
                 screening: UnivariateResult | None = None) -> MultivariateResult:
    """The paper's multivariate step: screen, split collinear candidates into separate models, fit each.

    Parameters
    ----------
    candidates : sequence of str
        Variables screened univariately; those with p < ``enter_p`` enter.
    collinearity_r : float
        Candidates correlated beyond this |r| go into separate models.
    force : sequence of str
        Variables entered whatever their univariate p.
    screening : UnivariateResult, optional
        A univariate result to reuse instead of refitting.
    """
    candidates = list(candidates)
    screening = screening if screening is not None else univariate(df, outcome, candidates, firth=firth)
    entered = [v for v in screening.significant(enter_p) if v in candidates]
    entered += [v for v in force if v not in entered]
    groups = collinear_split(df, entered, collinearity_r)
    names = [f"Model {i}" if len(groups) > 1 else "Model" for i in range(1, len(groups) + 1)]
    return tabulate_models(df, {name: fit_logit(df, outcome, g, firth=firth) for name, g in zip(names, groups)},
                           screening)
