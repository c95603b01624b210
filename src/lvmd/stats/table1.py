"""Table 1: baseline characteristics by group, with the paper's tests.

Continuous rows: mean +- SD and the pooled-variance Student t-test (Welch, or median [IQR] with Mann-Whitney, as
options). Categorical rows: n (%) and Pearson's chi-square, Yates-corrected on 2x2 tables as the paper (and
scipy's ``chi2_contingency`` default) did; one p per multi-level variable. An expected cell count below 5 is stated in
the row's ``note``; with ``sparse_test="fisher"`` such a table is tested by Fisher's exact test instead (exact on
2x2 tables; on larger ones the Freeman-Halton extension, its p estimated from 100 000 Monte Carlo tables with a fixed
seed). A variable missing for every patient of a group is shown, with "not testable" and the reason, never an error.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import StatsError
from ..results import Result, format_p
from ._checks import require_columns

SPARSE_TESTS = ("chi2", "fisher")
MIN_EXPECTED = 5.0
MONTE_CARLO_TABLES = 100_000


class Table1Result(Result):
    """Table 1 laid out like the paper: variable, level, overall, each group, p, test, note."""

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
    if not len(x):
        return ""
    q1, q2, q3 = np.percentile(x, [25, 50, 75])
    return f"{q2:.{decimals}f} [{q1:.{decimals}f}, {q3:.{decimals}f}]"


def _categorical_test(table: np.ndarray, exact: bool, sparse_test: str, yates: bool) -> tuple[float, str, str]:
    """p, test name and note of a levels x 2 contingency table with both groups and >= 2 levels observed."""
    expected = stats.contingency.expected_freq(table)
    small = int((expected < MIN_EXPECTED).sum())
    note = f"{small} of {expected.size} expected counts < {MIN_EXPECTED:g}" if small else ""
    if exact or (small and sparse_test == "fisher"):
        if table.shape == (2, 2):
            return float(stats.fisher_exact(table).pvalue), "Fisher exact", note
        method = stats.MonteCarloMethod(n_resamples=MONTE_CARLO_TABLES, rng=np.random.default_rng(0))
        return (float(stats.fisher_exact(table, method=method).pvalue),
                f"Fisher-Freeman-Halton ({MONTE_CARLO_TABLES:,} Monte Carlo tables)", note)
    res = stats.chi2_contingency(table, correction=yates)
    test = "chi-square" + (" (Yates)" if yates and table.shape == (2, 2) else "")
    return float(res.pvalue), test, note + ("; chi-square approximate" if small else "")


def table1(df: pd.DataFrame, group: str, continuous: Sequence[str] = (), categorical: Sequence[str] = (),
           labels: Mapping[str, str] | None = None, group_labels: Mapping | None = None, welch: bool = False,
           nonnormal: Sequence[str] = (), exact: bool = False, yates: bool = True, decimals: int = 1,
           sparse_test: str = "chi2") -> Table1Result:
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
        Fisher's exact test on every categorical table instead of chi-square.
    yates : bool
        Yates continuity correction on 2x2 tables (the paper's choice; scipy's default).
    sparse_test : {"chi2", "fisher"}
        Test of a table with an expected count below 5: chi-square, stated in the note (the paper's), or Fisher.

    Examples
    --------
    >>> df = pd.DataFrame({"g": [1] * 45 + [0] * 57, "male": [1] * 37 + [0] * 8 + [1] * 37 + [0] * 20})
    >>> round(float(table1(df, "g", categorical=["male"]).summary["p"].iloc[0]), 3)
    0.085
    """
    if sparse_test not in SPARSE_TESTS:
        raise StatsError(f"sparse_test = {sparse_test!r} is not one of {', '.join(SPARSE_TESTS)}")
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
        fmt = _fmt_median if var in nonnormal else _fmt_mean
        cells = [fmt(allx, decimals)] + [fmt(p, decimals) for p in parts]
        short = [name for name, part in zip(names, parts) if len(part) < 2]
        if short:
            p, test, note = np.nan, "not testable", f"fewer than 2 values in group {', '.join(short)}"
        elif var in nonnormal:
            p, test, note = stats.mannwhitneyu(parts[0], parts[1], alternative="two-sided").pvalue, "Mann-Whitney U", ""
        else:
            p, note = stats.ttest_ind(parts[0], parts[1], equal_var=not welch).pvalue, ""
            test = "Welch t" if welch else "Student t"
        rows.append({"variable": labels.get(var, var), "level": "", header_all: cells[0], header[0]: cells[1],
                     header[1]: cells[2], "p": float(p), "test": test, "n": int(len(allx)), "note": note})
    for var in categorical:
        sub = data[[group, var]].dropna()
        values = sorted(sub[var].unique())
        if not values:
            rows.append({"variable": labels.get(var, var), "level": "", header_all: "-", header[0]: "-",
                         header[1]: "-", "p": np.nan, "test": "not testable", "n": 0,
                         "note": "missing for every patient"})
            continue
        table = np.array([[int(((sub[var] == val) & (sub[group] == lev)).sum()) for lev in levels] for val in values],
                         dtype=int).reshape(len(values), 2)
        empty = [name for name, total in zip(names, table.sum(axis=0)) if total == 0]
        if empty:
            p, test, note = np.nan, "not testable", f"missing for every patient of group {', '.join(empty)}"
        elif table.shape[0] < 2:
            p, test, note = np.nan, "constant", ""
        else:
            p, test, note = _categorical_test(table, exact, sparse_test, yates)
        binary = set(values) <= {0, 1} and len(values) == 2
        shown = [1] if binary else values
        for val in shown:
            i = values.index(val)
            k_all = int(table[i].sum())
            cells = [f"{k_all} ({100 * k_all / max(len(sub), 1):.1f}%)"]
            cells += [f"{table[i, j]} ({100 * table[i, j] / table[:, j].sum():.1f}%)" if table[:, j].sum() else "-"
                      for j in range(2)]
            first = val == shown[0]
            rows.append({"variable": labels.get(var, var) if (binary or first) else "",
                         "level": "" if binary else _level_text(val), header_all: cells[0], header[0]: cells[1],
                         header[1]: cells[2], "p": float(p) if first else np.nan, "test": test if first else "",
                         "n": int(len(sub)), "note": note if first else ""})
    summary = pd.DataFrame(rows, columns=["variable", "level", header_all, *header, "p", "test", "n", "note"])
    return Table1Result(summary, levels, labels)


def _level_text(value) -> str:
    return str(int(value)) if isinstance(value, (float, np.floating)) and float(value).is_integer() else str(value)
