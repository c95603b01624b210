"""Logistic regression with a ridge penalty on some terms only, and the penalty chosen by cross-validation.

Used when many image features that each carry part of a pattern enter one model (the ``pattern`` kind, see
:mod:`lvmd.model.kinds`): the clinical variables and PSD stay unpenalised, the image features are shrunk together.

The penalty acts on standardised columns (each divided by its training SD), so one ``penalty`` means the same for
features in degrees and in fractions: the fit maximises ``loglik(b) - penalty / 2 * sum_j (b_j sd_j)^2`` over the
penalised terms j. Estimates are reported per unit of each variable, as :func:`lvmd.stats.fit_logit` reports them.

Uncertainty: ``cov`` is the Bayesian (posterior) covariance ``(X'WX + P)^-1`` of the penalised fit (the ridge
estimate is the posterior mode under a Gaussian prior on the penalised terms; Wood, *Generalized Additive Models*,
2017, sec. 6.10; Marra & Wood, Scand J Stat 2012, show that intervals from it have close to nominal coverage on
average over the data). It does not count the screening before the fit nor the choice of the penalty, so
probabilities' intervals from it are narrower than an honest interval would be; cross-validation measures the
model, not this covariance.

Written here rather than taken from a library: scikit-learn penalises every coefficient alike, and statsmodels'
``GLM.fit_regularized`` (per-term ridge weights) uses a general-purpose optimiser that is slower and less exact than
the Newton iterations below, which run some 45 times per model fit during the penalty's cross-validation.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold

from ..errors import StatsError
from ..formulas import expit
from ._checks import binary_outcome, require_columns
from .logistic import LogitFit, rank_deficiency

PENALTY_GRID = tuple(float(v) for v in np.logspace(3, -1, 9))  # strongest first: ties keep the stronger penalty
INNER_FOLDS = 5
MAX_STEP = 5.0  # no Newton step beyond 5 logits per standardised unit: no overshoot on nearly separated data


def _newton(X: np.ndarray, y: np.ndarray, penalty: np.ndarray, start: np.ndarray | None = None,
            max_iter: int = 100, tol: float = 1e-10) -> tuple[np.ndarray, np.ndarray, bool]:
    """Penalised Newton-Raphson on a design whose first column is the intercept; returns (b, X'WX + P, converged)."""
    beta = np.zeros(X.shape[1]) if start is None else start.copy()
    P = np.diag(penalty)
    for _ in range(max_iter):
        p = expit(X @ beta)
        hessian = (X * (p * (1.0 - p))[:, None]).T @ X + P
        step = np.linalg.lstsq(hessian, X.T @ (y - p) - penalty * beta, rcond=None)[0]
        largest = np.max(np.abs(step))
        if largest > MAX_STEP:
            step *= MAX_STEP / largest
        beta = beta + step
        if largest < tol:
            p = expit(X @ beta)
            return beta, (X * (p * (1.0 - p))[:, None]).T @ X + P, True
    return beta, np.full((X.shape[1], X.shape[1]), np.nan), False


def _standardised(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    mean = values.mean(axis=0)
    sd = values.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    return (values - mean) / sd, mean, sd


def _penalty_vector(variables: Sequence[str], penalised: Sequence[str], penalty: float) -> np.ndarray:
    chosen = set(penalised)
    return np.array([0.0] + [penalty if v in chosen else 0.0 for v in variables])


def fit_ridge_logit(df: pd.DataFrame, outcome: str, variables: Sequence[str], penalised: Sequence[str],
                    penalty: float) -> LogitFit:
    """Fit a logistic model with a ridge penalty on the ``penalised`` subset of ``variables`` (complete cases).

    Parameters
    ----------
    variables : sequence of str
        Every term, in order (the intercept is added and never penalised).
    penalised : sequence of str
        The terms shrunk (a subset of ``variables``); the others are estimated as by maximum likelihood.
    penalty : float
        Ridge weight on the standardised penalised terms (>= 0; 0 is maximum likelihood).

    Returns
    -------
    LogitFit
        ``method`` ``"ridge"``, ``penalty`` and ``penalised`` set, ``llf`` the unpenalised log-likelihood at the
        estimates, ``cov`` the Bayesian covariance (module docstring); a fit that cannot be estimated comes back
        with NaN estimates and the reason in ``note``.
    """
    variables, penalised = list(variables), list(penalised)
    unknown = [v for v in penalised if v not in variables]
    if unknown:
        raise StatsError(f"penalised term {unknown[0]!r} is not one of the model's variables")
    if not (np.isfinite(penalty) and penalty >= 0):
        raise StatsError(f"penalty = {penalty!r} must be a finite number >= 0")
    require_columns(df, [outcome, *variables])
    data = df[[outcome, *variables]].apply(pd.to_numeric, errors="coerce").dropna()
    y = binary_outcome(data[outcome], outcome)
    names = ["const", *variables]
    k = len(names)
    raw = data[variables].to_numpy(float)

    def not_estimable(note: str) -> LogitFit:
        return LogitFit(names, np.full(k, np.nan), np.full((k, k), np.nan), np.nan, len(y), int(y.sum()), False,
                        "ridge", False, data.index, note, float(penalty), penalised)

    # a ridge penalty makes the penalised terms estimable whatever their collinearity; the others must not be
    free = [j for j, v in enumerate(variables) if not penalty or v not in set(penalised)]
    deficient = rank_deficiency(np.column_stack([np.ones(len(y)), raw[:, free]]), ["const"] + [variables[j] for j in free])
    if deficient:
        return not_estimable(f"not estimable: {deficient}")
    Z, mean, sd = _standardised(raw)
    X = np.column_stack([np.ones(len(y)), Z])
    b, information, converged = _newton(X, y, _penalty_vector(variables, penalised, penalty))
    if not converged or not np.all(np.isfinite(b)):
        return not_estimable("not estimable: the penalised Newton iterations did not converge")
    # back to the variables' own units: beta_j = b_j / sd_j, intercept b_0 - sum_j b_j mean_j / sd_j
    to_raw = np.eye(k)
    to_raw[1:, 1:] = np.diag(1.0 / sd)
    to_raw[0, 1:] = -mean / sd
    params = to_raw @ b
    cov = to_raw @ np.linalg.pinv(information) @ to_raw.T
    p = np.clip(expit(X @ b), 1e-15, 1 - 1e-15)
    llf = float(np.sum(y * np.log(p) + (1 - y) * np.log(1 - p)))
    return LogitFit(names, params, cov, llf, len(y), int(y.sum()), False, "ridge", True, data.index, "",
                    float(penalty), penalised)


def cross_validated_penalty(df: pd.DataFrame, outcome: str, variables: Sequence[str], penalised: Sequence[str],
                            seed: int, grid: Sequence[float] = PENALTY_GRID,
                            folds: int = INNER_FOLDS) -> tuple[float, pd.Series]:
    """The penalty of :func:`fit_ridge_logit` with the smallest held-out log-loss in stratified ``folds``-fold
    cross-validation on ``df`` (the training patients only), and the summed log-loss of every candidate.

    The columns are standardised on each inner training part, as the final fit standardises on all rows. Ties go to
    the stronger penalty (``grid`` runs from strongest to weakest); a class with fewer patients than ``folds`` uses
    as many folds as it has patients (at least 2). Inner folds where no penalty converges (the unpenalised terms
    separate the outcome there) are left out; where none converges at all, the strongest penalty is returned.
    """
    variables, penalised = list(variables), list(penalised)
    data = df[[outcome, *variables]].apply(pd.to_numeric, errors="coerce").dropna()
    y = binary_outcome(data[outcome], outcome)
    raw = data[variables].to_numpy(float)
    smaller = int(min(y.sum(), len(y) - y.sum()))
    k_folds = max(2, min(folds, smaller))
    losses = np.zeros(len(grid))
    informative = 0
    splitter = StratifiedKFold(k_folds, shuffle=True, random_state=seed)
    for train, test in splitter.split(raw, y):
        Z, mean, sd = _standardised(raw[train])
        X = np.column_stack([np.ones(len(train)), Z])
        X_test = np.column_stack([np.ones(len(test)), (raw[test] - mean) / sd])
        fold = np.full(len(grid), np.inf)
        start = None
        for j, penalty in enumerate(grid):
            b, _, converged = _newton(X, y[train], _penalty_vector(variables, penalised, penalty), start)
            if not converged or not np.all(np.isfinite(b)):
                continue
            start = b  # warm start along the path (weaker penalties follow)
            p = np.clip(expit(X_test @ b), 1e-12, 1 - 1e-12)
            fold[j] = -np.sum(y[test] * np.log(p) + (1 - y[test]) * np.log(1 - p))
        # a fold where no penalty converges (its unpenalised terms separate the outcome) says nothing about the
        # penalty: it is left out; a penalty that fails where another converges is ruled out
        if np.isfinite(fold).any():
            losses += fold
            informative += 1
    if not informative:
        losses[:] = np.inf
    table = pd.Series(losses, index=pd.Index(list(grid), name="penalty"), name="cv_log_loss")
    if not informative:
        # no inner fit converged anywhere: the strongest penalty, the safest choice (the caller's fit decides
        # whether the model can be estimated at all)
        return float(grid[0]), table
    return float(grid[int(np.argmin(losses))]), table
