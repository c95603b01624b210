"""One-page patient summaries of a prediction: a PNG and a self-contained HTML page."""

from __future__ import annotations

import html
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from .figures import bullseye
from .html import figure_png, img_tag, page


def patient_figure(pid: str, phase: np.ndarray | None, row: dict, latest: int | None):
    """Phase bullseye with the latest viable segment outlined, the probability and the key numbers."""
    fig, (ax_map, ax_text) = plt.subplots(1, 2, figsize=(8, 4), gridspec_kw={"width_ratios": [1, 1.1]})
    if phase is not None:
        image = bullseye(ax_map, phase, title=f"{pid}: phase map" + (f" (latest viable segment {latest})" if latest else ""),
                         mark_segment=latest)
        fig.colorbar(image, ax=ax_map, shrink=0.7, label="phase (deg)")
    else:
        ax_map.axis("off")
    ax_text.axis("off")
    lines = [f"P(response) = {row['probability']:.2f}", f"95 % CI {row['ci_low']:.2f} - {row['ci_high']:.2f}", ""]
    lines += [f"{k}: {v:.4g}" for k, v in row.get("values", {}).items()]
    if row.get("warnings"):
        lines += ["", "Warnings:"] + [w[:60] for w in row["warnings"]]
    ax_text.text(0, 1, "\n".join(lines), va="top", family="monospace", fontsize=8)
    fig.tight_layout()
    return fig


def write_patient_pages(folder: Path, pid: str, phase: np.ndarray | None, row: dict, latest: int | None,
                        safe_name: str) -> None:
    """``<safe_name>.png`` and ``<safe_name>.html`` for one patient."""
    fig = patient_figure(pid, phase, row, latest)
    fig.savefig(folder / f"{safe_name}.png", dpi=110, bbox_inches="tight")
    png = figure_png(fig)
    plt.close(fig)
    items = "".join(f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(f'{v:.4g}')}</td></tr>"
                    for k, v in row.get("values", {}).items())
    warn = "".join(f"<li>{html.escape(w)}</li>" for w in row.get("warnings", [])) or "<li>none</li>"
    body = (f"<p><b>Probability of CRT response: {row['probability']:.2f}</b> (95 % CI {row['ci_low']:.2f} to "
            f"{row['ci_high']:.2f})</p>{img_tag(png, 'phase map with the latest viable segment outlined')}"
            f'<table class="lvmd">{items}</table><p>Warnings:</p><ul>{warn}</ul>'
            "<p>Research use only; not a medical device.</p>")
    (folder / f"{safe_name}.html").write_text(page(f"lvmd prediction: {pid}", [("Summary", body)]))
