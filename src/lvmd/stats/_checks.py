"""Input validation shared by the statistics routines: one clear message per problem."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from ..errors import StatsError


def require_columns(df: pd.DataFrame, columns: Sequence[str], what: str = "variable") -> None:
    """Raise naming the first requested column that is not in ``df``."""
    for c in columns:
        if c not in df.columns:
            raise StatsError(f"{what} {c!r} is not a column of the data")


def binary_outcome(values, name: str = "outcome") -> np.ndarray:
    """Return the outcome as 0/1 floats; refuse non-binary or single-class outcomes (NaN allowed, kept)."""
    y = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=float)
    observed = y[~np.isnan(y)]
    levels = np.unique(observed)
    if not np.all(np.isin(levels, (0.0, 1.0))):
        raise StatsError(f"{name} is not binary 0/1 (values {', '.join(f'{v:g}' for v in levels[:5])})")
    if len(levels) < 2:
        raise StatsError(f"{name} has a single class ({'none' if not len(levels) else f'{levels[0]:g}'}); need both 0 and 1")
    return y


def same_length(*arrays, names: Sequence[str]) -> None:
    """Raise when the arrays differ in length, naming them."""
    lengths = [len(a) for a in arrays]
    if len(set(lengths)) > 1:
        raise StatsError("mismatched lengths: " + ", ".join(f"{n} has {k}" for n, k in zip(names, lengths)))


def no_nan(values: np.ndarray, name: str, index=None) -> None:
    """Raise naming the rows where ``values`` is NaN."""
    bad = np.flatnonzero(np.isnan(np.asarray(values, dtype=float)))
    if len(bad):
        rows = [str(index[i]) if index is not None else str(i) for i in bad[:8]]
        raise StatsError(f"{name} has NaN in rows {', '.join(rows)}" + (" ..." if len(bad) > 8 else ""))
