"""Table 1: baseline characteristics by group, with the paper's tests.

Continuous rows: mean +- SD and the pooled-variance Student t-test (Welch, or median [IQR] with Mann-Whitney, as
options). Categorical rows: n (%) and Pearson's chi-square, Yates-corrected on 2x2 tables as the paper (and
scipy's ``chi2_contingency`` default) did; Fisher's exact test as an option; one p per multi-level variable.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import StatsError
from ._checks import require_columns
from ._result import Result, format_p


class Table1Result(Result):
    """Table 1 laid out like the paper: variable, level, overall, each group, p, test."""

    def __init__(self, summary: pd.DataFrame, groups: list, labels: dict):
        self.summary = summary
        self.groups = groups
        self.labels = labels
        self.title = "Baseline characteristics"

    def formatted(self) -> pd.DataFrame:
        out = self.summary.drop(columns=["p"]).copy()
        out["P-value"] = [format_p(p) for p in self.summary["p"]]
        return out.set_index("variable")


def _fmt_mean(x: np.ndarray, decimals: int) -> str:
    return f"{np.mean(x):.{decimals}f} ± {np.std(x, ddof=1):.{decimals}f}" if len(x) > 1 else ""


def _fmt_median(x: np.ndarray, decimals: int) -> str:
    q1, q2, q3 = np.percentile(x, [25, 50, 75])
    return f"{q2:.{decimals}f} [{q1:.{decimals}f}, {q3:.{decimals}f}]"


def table1(df: pd.DataFrame, group: str, continuous: Sequence[str] = (), categorical: Sequence[str] = (),
           labels: Mapping[str, str] | None = None, group_labels: Mapping | None = None, welch: bool = False,
           nonnormal: Sequence[str] = (), exact: bool = False, yates: bool = True, decimals: int = 1) -> Table1Result:
    """Baseline characteristics by a two-level group.

    Parameters
    ----------
    df : pandas.DataFrame
    group : str
        Column with the two groups (e.g. response 1/0); the higher level comes first, as the paper's responders.
    continuous, categorical : sequence of str
    labels : mapping, optional
        Display names of variables.
    group_labels : mapping, optional
        Display names of the group levels.
    welch : bool
        Welch's unequal-variance t-test instead of the pooled Student test.
    nonnormal : sequence of str
        Continuous variables reported as median [IQR] and compared by the Mann-Whitney U test.
    exact : bool
        Fisher's exact test on 2x2 tables instead of chi-square.
    yates : bool
        Yates continuity correction on 2x2 tables (the paper's choice; scipy's default).

    Examples
    --------
    >>> df = pd.DataFrame({"g": [1] * 45 + [0] * 57, "male": [1] * 37 + [0] * 8 + [1] * 37 + [0] * 20})
    >>> round(float(table1(df, "g", categorical=["male"]).summary["p"].iloc[0]), 3)
    0.085
    """
    labels = dict(labels or {})
    require_columns(df, [group, *continuous, *categorical])
    g = df[group]
    levels = sorted(g.dropna().unique(), reverse=True)
    if len(levels) != 2:
        raise StatsError(f"group {group!r} must have exactly two levels, found {len(levels)}")
    group_labels = dict(group_labels or {})
    names = [str(group_labels.get(v, v)) for v in levels]
    data = df[g.notna()]
    n_all = len(data)
    counts = [int((data[group] == v).sum()) for v in levels]
    header_all = f"All (n={n_all})"
    header = [f"{name} (n={k}, {100 * k / n_all:.1f}%)" for name, k in zip(names, counts)]
    rows = []
    for var in continuous:
        x = pd.to_numeric(data[var], errors="coerce")
        parts = [x[data[group] == v].dropna().to_numpy() for v in levels]
        allx = x.dropna().to_numpy()
        if var in nonnormal:
            cells = [_fmt_median(allx, decimals)] + [_fmt_median(p, decimals) for p in parts]
            p = stats.mannwhitneyu(parts[0], parts[1], alternative="two-sided").pvalue
            test = "Mann-Whitney U"
        else:
            cells = [_fmt_mean(allx, decimals)] + [_fmt_mean(p, decimals) for p in parts]
            p = stats.ttest_ind(parts[0], parts[1], equal_var=not welch).pvalue
            test = "Welch t" if welch else "Student t"
        rows.append({"variable": labels.get(var, var), "level": "", header_all: cells[0], header[0]: cells[1],
                     header[1]: cells[2], "p": float(p), "test": test, "n": int(len(allx))})
    for var in categorical:
        sub = data[[group, var]].dropna()
        values = sorted(sub[var].unique())
        table = np.array([[int(((sub[var] == val) & (sub[group] == lev)).sum()) for lev in levels] for val in values])
        if table.shape[0] < 2:
            p, test = np.nan, "constant"
        elif table.shape == (2, 2) and exact:
            p, test = stats.fisher_exact(table).pvalue, "Fisher exact"
        else:
            res = stats.chi2_contingency(table, correction=yates)
            p = res.pvalue
            test = "chi-square" + (" (Yates)" if yates and table.shape == (2, 2) else "")
        binary = set(values) <= {0, 1} and len(values) == 2
        shown = [1] if binary else values
        for val in shown:
            i = values.index(val)
            k_all = int(table[i].sum())
            cells = [f"{k_all} ({100 * k_all / max(len(sub), 1):.1f}%)"]
            cells += [f"{table[i, j]} ({100 * table[i, j] / max(table[:, j].sum(), 1):.1f}%)" for j in range(2)]
            first = val == shown[0]
            rows.append({"variable": labels.get(var, var) if (binary or first) else "",
                         "level": "" if binary else _level_text(val), header_all: cells[0], header[0]: cells[1],
                         header[1]: cells[2], "p": float(p) if first else np.nan, "test": test if first else "",
                         "n": int(len(sub))})
    summary = pd.DataFrame(rows, columns=["variable", "level", header_all, *header, "p", "test", "n"])
    return Table1Result(summary, levels, labels)


def _level_text(value) -> str:
    return str(int(value)) if isinstance(value, (float, np.floating)) and float(value).is_integer() else str(value)
