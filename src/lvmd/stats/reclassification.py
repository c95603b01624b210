"""Net reclassification improvement and integrated discrimination improvement of a new model over an old one,
computed as R's PredictABEL ``reclassification()`` does (through Hmisc's ``improveProb``).

Categorical NRI: risks cut into categories ``[0, c1), [c1, c2), ..., [ck, 1]``; a move up or down a category counts.
Continuous (category-free) NRI: any rise or fall of the risk counts. IDI: the change in mean risk of events minus
that of non-events. Standard errors are the asymptotic ones of Pencina et al. (Stat Med 2008; 27:157), as in
``improveProb``: Var(NRI_events) = (up + down) / n_e^2 - (up - down)^2 / n_e^3 (the same for non-events, summed),
Var(IDI) = var(d_events) / n_e + var(d_non-events) / n_ne with d the risk change and var the n - 1 sample variance.
95 % intervals are estimate +- z SE and p two-sided normal (PredictABEL rounds z to 1.96; lvmd uses 1.959964,
which moves an interval end by less than 4e-5 SE). Written here because no Python library provides it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import StatsError
from ..formulas import Z975, two_sided_p
from ..results import Result
from ._checks import binary_outcome, same_length


def _nri(y: np.ndarray, change: np.ndarray) -> dict:
    """NRI of a per-patient change (its sign is a move up or down) with the components of improveProb."""
    events, nonevents = y == 1, y == 0
    n_e, n_ne = int(events.sum()), int(nonevents.sum())
    up_e, down_e = int(np.sum(change[events] > 0)), int(np.sum(change[events] < 0))
    up_ne, down_ne = int(np.sum(change[nonevents] > 0)), int(np.sum(change[nonevents] < 0))
    nri_e = (up_e - down_e) / n_e
    nri_ne = (down_ne - up_ne) / n_ne
    var_e = (up_e + down_e) / n_e**2 - (up_e - down_e) ** 2 / n_e**3
    var_ne = (down_ne + up_ne) / n_ne**2 - (down_ne - up_ne) ** 2 / n_ne**3
    return {"estimate": nri_e + nri_ne, "se": float(np.sqrt(var_e + var_ne)), "events": nri_e,
            "se_events": float(np.sqrt(var_e)), "nonevents": nri_ne, "se_nonevents": float(np.sqrt(var_ne)),
            "up_events": up_e, "down_events": down_e, "up_nonevents": up_ne, "down_nonevents": down_ne}


def _interior_cutoffs(cutoffs) -> np.ndarray:
    cuts = np.asarray(cutoffs, dtype=float).ravel()
    cuts = cuts[(cuts > 0) & (cuts < 1)] if len(cuts) and (cuts.min() == 0 or cuts.max() == 1) else cuts
    if not len(cuts) or np.any(~np.isfinite(cuts)) or cuts.min() <= 0 or cuts.max() >= 1:
        raise StatsError(f"cutoffs {list(np.ravel(cutoffs))} must hold risk thresholds strictly between 0 and 1")
    if np.any(np.diff(cuts) <= 0):
        raise StatsError(f"cutoffs {list(cuts)} must increase")
    return cuts


@dataclass(repr=False)
class ReclassificationResult(Result):
    """NRI and IDI: ``summary`` rows ``nri_categorical`` (with cutoffs), ``nri_continuous``, ``idi``; columns
    ``estimate``, ``ci_low``, ``ci_high``, ``p``. ``details`` adds the SE, z, event and non-event components and the
    counts of moves."""

    summary: pd.DataFrame
    details: pd.DataFrame
    cutoffs: tuple[float, ...] | None
    n: int
    events: int

    def __post_init__(self) -> None:
        self.title = "Reclassification (new model over old)"


def nri_idi(y, p_old, p_new, cutoffs=None) -> ReclassificationResult:
    """NRI (categorical when ``cutoffs`` are given, and continuous) and IDI of ``p_new`` over ``p_old``.

    Parameters
    ----------
    y : array-like of 0/1
        Outcome (1 = event). Rows with a missing outcome or risk are dropped, as improveProb does.
    p_old, p_new : array-like of float in [0, 1]
        Predicted risks of the old and the new model.
    cutoffs : sequence of float, optional
        Risk-category thresholds, e.g. ``[0.3, 0.6]`` (PredictABEL's ``c(0, .3, .6, 1)`` is accepted too).

    Examples
    --------
    >>> res = nri_idi([0, 0, 1, 1], [0.2, 0.4, 0.5, 0.6], [0.1, 0.5, 0.7, 0.8])
    >>> res.summary.loc[["nri_continuous", "idi"], "estimate"].round(3).tolist()
    [1.0, 0.2]
    """
    y = binary_outcome(y, "outcome")
    old, new = np.asarray(p_old, dtype=float).ravel(), np.asarray(p_new, dtype=float).ravel()
    same_length(y, old, new, names=("outcome", "p_old", "p_new"))
    keep = ~(np.isnan(y) | np.isnan(old) | np.isnan(new))
    y, old, new = y[keep], old[keep], new[keep]
    if min(old.min(), new.min()) < 0 or max(old.max(), new.max()) > 1:
        raise StatsError("p_old and p_new must be probabilities in [0, 1]")
    if len(np.unique(y)) < 2:
        raise StatsError("outcome needs events and non-events after removing missing values")
    rows = {}
    interior = None
    with np.errstate(divide="ignore", invalid="ignore"):
        if cutoffs is not None:
            interior = _interior_cutoffs(cutoffs)
            moved = (np.searchsorted(interior, new, side="right") - np.searchsorted(interior, old, side="right"))
            rows["nri_categorical"] = _nri(y, moved.astype(float))
        rows["nri_continuous"] = _nri(y, new - old)
        d = new - old
        de, dne = d[y == 1], d[y == 0]
        se_idi = float(np.sqrt(np.var(de, ddof=1) / len(de) + np.var(dne, ddof=1) / len(dne)))
        rows["idi"] = {"estimate": float(de.mean() - dne.mean()), "se": se_idi, "events": float(de.mean()),
                       "nonevents": float(-dne.mean())}
        details = pd.DataFrame(rows).T
        details["z"] = details["estimate"] / details["se"]
        details["ci_low"] = details["estimate"] - Z975 * details["se"]
        details["ci_high"] = details["estimate"] + Z975 * details["se"]
        details["p"] = two_sided_p(details["z"].astype(float))
    details.index.name = "measure"
    summary = details[["estimate", "ci_low", "ci_high", "p"]].astype(float)
    return ReclassificationResult(summary, details, None if interior is None else tuple(map(float, interior)),
                                  int(len(y)), int(y.sum()))
