"""Pearson correlation matrix with p-values and Fisher-z confidence intervals (the paper's Figure 2)."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from ..formulas import Z975
from ..results import Result, format_p
from ._checks import require_columns


class CorrelationResult(Result):
    """Long table (``column``, ``against``, ``r``, ``p``, ``ci_low``, ``ci_high``, ``n``) and matrix views."""

    def __init__(self, summary: pd.DataFrame):
        self.summary = summary
        self.title = "Pearson correlation"

    def matrix(self, value: str = "r") -> pd.DataFrame:
        """One value (``r`` or ``p``) as a columns x against matrix."""
        return self.summary.pivot(index="column", columns="against", values=value).loc[
            list(dict.fromkeys(self.summary["column"])), list(dict.fromkeys(self.summary["against"]))]

    def formatted(self) -> pd.DataFrame:
        s = self.summary
        return pd.DataFrame({
            "column": s["column"], "against": s["against"],
            "r [95% CI]": [f"{r:.2f} [{lo:.2f}, {hi:.2f}]" if np.isfinite(r) else "" for r, lo, hi in
                           zip(s["r"], s["ci_low"], s["ci_high"])],
            "P value": [format_p(p) for p in s["p"]], "n": s["n"],
        }).set_index("column")


def correlation(df: pd.DataFrame, columns: Sequence[str], against: Sequence[str]) -> CorrelationResult:
    """Pearson r of every ``columns`` variable with every ``against`` variable (pairwise complete cases).

    The 95 % CI uses Fisher's z transform, ``tanh(atanh(r) +- 1.96 / sqrt(n - 3))``.
    """
    require_columns(df, [*columns, *against])
    rows = []
    for c in columns:
        for a in against:
            pair = df[[c, a]].apply(pd.to_numeric, errors="coerce").dropna()
            n = len(pair)
            x, y = pair.iloc[:, 0].to_numpy(), pair.iloc[:, -1].to_numpy()
            if n < 3 or np.std(x) == 0 or np.std(y) == 0:
                r, p, lo, hi = np.nan, np.nan, np.nan, np.nan
            else:
                r, p = stats.pearsonr(x, y)
                if n > 3 and abs(r) < 1:
                    half = Z975 / np.sqrt(n - 3)
                    lo, hi = np.tanh(np.arctanh(r) - half), np.tanh(np.arctanh(r) + half)
                else:
                    lo, hi = np.nan, np.nan
            rows.append({"column": c, "against": a, "r": float(r), "p": float(p), "ci_low": float(lo),
                         "ci_high": float(hi), "n": n})
    return CorrelationResult(pd.DataFrame(rows))
