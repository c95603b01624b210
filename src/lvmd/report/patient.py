"""Outputs of ``lvmd predict --out``: predictions.csv / .json and a PNG and self-contained HTML page per patient."""

from __future__ import annotations

import html
import json
from pathlib import Path

from .figures import patient_figure
from .html import figure_png, img_tag, page


def safe_name(pid: str) -> str:
    """A file name for a patient id (anything but letters, digits, '-', '_' and '.' becomes '_')."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in str(pid)) or "patient"


def write_patient_page(folder: Path, record: dict, phase) -> None:
    """``<id>.png`` and ``<id>.html`` for one patient's prediction record."""
    pid = record["patient_id"]
    fig = patient_figure(pid, phase, record)
    name = safe_name(pid)
    fig.savefig(folder / f"{name}.png", dpi=110, bbox_inches="tight")
    png = figure_png(fig)
    items = "".join(f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(f'{v:.4g}')}</td></tr>"
                    for k, v in record.get("values", {}).items())
    warn = "".join(f"<li>{html.escape(w)}</li>" for w in record.get("warnings", [])) or "<li>none</li>"
    body = (f"<p><b>Probability of CRT response: {record['probability']:.2f}</b> (95 % CI {record['ci_low']:.2f} to "
            f"{record['ci_high']:.2f})</p>{img_tag(png, 'phase map with the latest viable segment outlined')}"
            f'<table class="lvmd">{items}</table><p>Warnings:</p><ul>{warn}</ul>'
            "<p>Research use only; not a medical device.</p>")
    (folder / f"{name}.html").write_text(page(f"lvmd prediction: {pid}", [("Summary", body)]))


def write_predictions(prediction, out: Path) -> None:
    """predictions.csv, predictions.json and one page per patient into the (temporary) folder ``out``."""
    table = prediction.summary
    flat = table.drop(columns=["warnings"]).assign(warnings=["; ".join(w) for w in table["warnings"]])
    flat.to_csv(out / "predictions.csv", float_format="%.6g")
    records = prediction.records()
    (out / "predictions.json").write_text(json.dumps(records, indent=2))
    maps = prediction.maps
    for i, record in enumerate(records):
        write_patient_page(out, record, None if maps is None else maps.phase[i])
