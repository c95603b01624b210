"""lvmd's result objects: numbers in a ``.summary`` DataFrame, rendered as CSV, markdown, HTML and LaTeX, and the
one p-value and odds-ratio formatting every table uses."""

from __future__ import annotations

import html
import math
from pathlib import Path

import numpy as np
import pandas as pd

from .outputs import atomic_file


def format_p(p: float) -> str:
    """Format a p-value the way the paper's tables do: three decimals, ``<0.001`` below that."""
    if p is None or not np.isfinite(p):
        return ""
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def format_or(odds: float, low: float, high: float) -> str:
    """``1.24 [1.07, 1.44]``; empty when not estimable."""
    if not all(np.isfinite([odds, low, high])):
        return "not estimable"
    return f"{odds:.2f} [{low:.2f}, {high:.2f}]"


def dataframe_to_markdown(df: pd.DataFrame, index: bool = True) -> str:
    """Render a DataFrame as a GitHub-flavoured markdown table (no extra dependency)."""
    frame = _with_index(df) if index else df
    cols = [str(c) for c in frame.columns]

    def cell(v) -> str:
        if isinstance(v, float):
            if math.isnan(v):
                return ""
            return f"{v:.4g}"
        return str(v).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for row in frame.itertuples(index=False):
        lines.append("| " + " | ".join(cell(v) for v in row) + " |")
    return "\n".join(lines) + "\n"


class Result:
    """Base of lvmd's result objects: numbers in ``.summary`` and four renderings of it.

    Subclasses set ``self.summary`` (a DataFrame) and may override :meth:`formatted` to give the paper-style
    text table used by the renderings.
    """

    summary: pd.DataFrame
    title: str = ""

    def formatted(self) -> pd.DataFrame:
        """The table as a person reads it (numbers formatted like the paper); defaults to ``summary``."""
        return self.summary

    def to_csv(self, path: str | Path | None = None) -> str | None:
        """Write (or return) the raw ``summary`` as CSV."""
        text = self.summary.to_csv(float_format="%.10g")
        if path is None:
            return text
        with atomic_file(path) as tmp:
            Path(tmp).write_text(text)
        return None

    def to_markdown(self, path: str | Path | None = None) -> str | None:
        """Write (or return) the formatted table as markdown."""
        text = (f"### {self.title}\n\n" if self.title else "") + dataframe_to_markdown(self.formatted())
        if path is None:
            return text
        with atomic_file(path) as tmp:
            Path(tmp).write_text(text)
        return None

    def to_html(self) -> str:
        """The formatted table as an HTML fragment (every cell escaped)."""
        frame = self.formatted()
        frame = _with_index(frame)
        head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
        rows = []
        for row in frame.itertuples(index=False):
            cells = "".join(f"<td>{html.escape(_cell_text(v))}</td>" for v in row)
            rows.append(f"<tr>{cells}</tr>")
        caption = f"<caption>{html.escape(self.title)}</caption>" if self.title else ""
        return f'<table class="lvmd">{caption}<thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'

    def to_latex(self) -> str:
        """The formatted table as a LaTeX tabular."""
        frame = self.formatted()
        frame = _with_index(frame)
        esc = lambda s: (str(s).replace("\\", r"\textbackslash{}").replace("&", r"\&").replace("%", r"\%")  # noqa: E731
                         .replace("_", r"\_").replace("#", r"\#").replace("±", r"$\pm$"))
        lines = [r"\begin{tabular}{" + "l" * len(frame.columns) + "}", r"\hline",
                 " & ".join(esc(c) for c in frame.columns) + r" \\", r"\hline"]
        for row in frame.itertuples(index=False):
            lines.append(" & ".join(esc(_cell_text(v)) for v in row) + r" \\")
        lines += [r"\hline", r"\end{tabular}"]
        return "\n".join(lines) + "\n"

    def __repr__(self) -> str:
        title = f" ({self.title})" if self.title else ""
        return f"{type(self).__name__}{title}\n{self.formatted().to_string()}"


class TableResult(Result):
    """A plain table wrapped as a result (ROC comparisons, incremental sequences, model lists)."""

    def __init__(self, summary: pd.DataFrame, title: str, formatted: pd.DataFrame | None = None):
        self.summary = summary
        self.title = title
        self._formatted = formatted

    def formatted(self) -> pd.DataFrame:
        return self._formatted if self._formatted is not None else self.summary


def _with_index(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with its named index levels (single or several) as leading columns; an unnamed index is dropped."""
    return frame.reset_index() if any(name is not None for name in frame.index.names) else frame


def _cell_text(v) -> str:
    if isinstance(v, float):
        return "" if math.isnan(v) else f"{v:.4g}"
    return str(v)
