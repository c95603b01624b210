"""Variable selection of the paper's procedure, with its one fallback rule.

Clinical candidates enter when their univariate p < ``stats.enter_p`` (0.1); when none does, the single candidate
with the smallest p enters (the fallback, stated in the selection), so that every family has a clinical base.
Image features of the family's kinds with the paper's rule (``ae``, ``pca``) are screened together: those with
p < ``stats.significance`` (0.05) are significant; the ``stats.max_image_features`` most significant enter the
collinearity split, which makes one model per maximal group of features not correlated beyond
``stats.collinearity_r``. The group holding the most significant feature is the primary model; the others are
alternative models, reported beside it. Features of ``ridge`` kinds (``pattern``) with p < ``stats.significance``
all enter every model, shrunk together by a ridge penalty (:mod:`lvmd.model.kinds`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..results import Result, format_p
from ..stats import UnivariateResult, collinear_split


def select_clinical(screening: UnivariateResult, enter_p: float) -> tuple[list[str], str]:
    """Candidates with p < ``enter_p`` (in candidate order), else the most significant one; and the fallback note."""
    p = screening.summary["p"]
    chosen = [v for v in p.index if np.isfinite(p[v]) and p[v] < enter_p]
    if chosen or not p.notna().any():
        return chosen, ""
    best = p.idxmin()
    return [best], (f"no clinical candidate reached p < {enter_p:g}; the most significant one ({best}, "
                    f"p = {format_p(p[best])}) entered")


def select_penalised(screening: UnivariateResult, significance: float) -> list[str]:
    """Features of the ``ridge`` kinds with p < ``significance``, most significant first: all enter, together, with
    a ridge penalty (no cap, no collinearity split: the penalty shares the weight among correlated features)."""
    p = screening.summary["p"].dropna()
    return list(p[p < significance].sort_values(kind="stable").index)


def select_image(screening: UnivariateResult, features: pd.DataFrame, significance: float, max_features: int,
                 collinearity_r: float) -> tuple[list[str], list[list[str]]]:
    """Significant features (most significant first) and the collinearity groups of those entering, primary first."""
    p = screening.summary["p"].dropna()
    ranked = list(p[p < significance].sort_values(kind="stable").index)
    entered = ranked[:max_features]
    if not entered:
        return ranked, []
    rank = {v: i for i, v in enumerate(entered)}
    groups = collinear_split(features, entered, collinearity_r)
    groups = sorted(([v for v in entered if v in g] for g in groups), key=lambda g: min(rank[v] for v in g))
    return ranked, groups


@dataclass(repr=False)
class Selection(Result):
    """What the screening chose, and why: one row per candidate (source, univariate p, whether and where it entered).

    Attributes
    ----------
    clinical : list of str
        Clinical variables in every model of the family.
    fallback : str
        The fallback note when no clinical candidate passed (else "").
    significant : list of str
        Image features of the paper's rule with p < significance, most significant first.
    groups : list of list of str
        Their features entering each model (collinearity groups), the primary model's first.
    penalised : list of str
        Features of ``ridge`` kinds with p < significance: they enter every model, with a ridge penalty.
    """

    clinical: list[str]
    fallback: str
    significant: list[str]
    groups: list[list[str]]
    clinical_screening: UnivariateResult | None
    image_screening: UnivariateResult | None
    penalised: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.title = "Variable selection"
        rows = []
        for source, screening in (("clinical", self.clinical_screening), ("image", self.image_screening)):
            if screening is None:
                continue
            for v, p in screening.summary["p"].items():
                models = [i + 1 for i, g in enumerate(self.groups) if v in g]
                if v in self.penalised:
                    models = list(range(1, max(len(self.groups), 1) + 1))
                rows.append({"variable": v, "source": source, "p": p,
                             "entered": v in self.clinical or bool(models),
                             "models": ", ".join(map(str, models)) if source == "image" else "",
                             "entry": "ridge" if v in self.penalised else "as is" if v in self.clinical or models
                             else ""})
        columns = ["variable", "source", "p", "entered", "models", "entry"]
        self.summary = pd.DataFrame(rows, columns=columns).set_index("variable")

    def formatted(self) -> pd.DataFrame:
        chosen = self.summary.index.isin(self.significant) | self.summary.index.isin(self.penalised)
        shown = self.summary[(self.summary["source"] == "clinical") | chosen]
        return shown.assign(p=[format_p(p) for p in shown["p"]])
