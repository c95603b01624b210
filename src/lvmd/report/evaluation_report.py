"""Outputs of ``lvmd evaluate``: performance, calibration, recalibration and decision-curve tables (CSV + markdown),
predictions, figures, report.html and manifest.json."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

from .. import __version__
from ..provenance import sha256, versions
from ..results import TableResult
from . import figures
from .html import bullet_list, page, paragraph, save_figure, table


def write_evaluation(result, out: Path, inputs: list[Path], formats=("png", "svg")) -> dict:
    """Write every output of ``lvmd evaluate`` into the (temporary) folder ``out``; returns the manifest."""
    tables = {"performance": TableResult(result.summary, "Performance on the new cohort"),
              "recalibration": TableResult(result.recalibration, "Logistic recalibration (a + b x linear predictor)"),
              "calibration_curve": TableResult(result.calibration_curve, "Calibration by risk decile"),
              "decision_curve": TableResult(result.decision_curve, "Decision curve (net benefit)")}
    for name, res in tables.items():
        res.to_csv(out / f"{name}.csv")
        res.to_markdown(out / f"{name}.md")
    result.predictions.to_csv(out / "predictions.csv", float_format="%.10g")
    figs = [save_figure(figures.roc_figure({result.family: result.roc}), out, "roc_curve", formats,
                        "ROC curve on the new cohort"),
            save_figure(figures.calibration_figure({result.family: result.calibration_curve},
                                                   "Calibration on the new cohort"), out, "calibration", formats,
                        "Calibration plot: observed response rate by decile of predicted risk"),
            save_figure(figures.decision_figure(result.decision_curve, "Decision curve on the new cohort"), out,
                        "decision_curve", formats, "Decision curve: net benefit of treating by the model")]
    cal = result.calibration
    auc = result.summary.loc["auc"]
    headline = {"family": result.family, "patients": int(len(result.predictions)),
                "responders": int(result.predictions["response"].sum()), "excluded": len(result.excluded),
                "auc": float(auc["estimate"]), "auc_ci": [float(auc["ci_low"]), float(auc["ci_high"])],
                "calibration_in_the_large": _finite(cal.citl), "calibration_slope": _finite(cal.slope),
                "recalibration_intercept": _finite(cal.recalibration_intercept), "brier": cal.brier,
                "calibration_note": cal.note}
    reading = [
        f"Discrimination: AUC {auc['estimate']:.3f} (95 % CI {auc['ci_low']:.3f} to {auc['ci_high']:.3f}, "
        "DeLong).",
        f"Calibration-in-the-large {cal.citl:+.3f} (95 % CI {cal.citl_ci[0]:+.3f} to {cal.citl_ci[1]:+.3f}): 0 is "
        "perfect; above 0 the model under-predicts response at this site, below 0 it over-predicts.",
        f"Calibration slope {cal.slope:.3f} (95 % CI {cal.slope_ci[0]:.3f} to {cal.slope_ci[1]:.3f}): 1 is perfect; "
        "below 1 the predictions are too extreme (overfitting), above 1 too modest.",
        f"Brier score {cal.brier:.3f}.",
        f"Logistic recalibration for this site: new logit = {cal.recalibration_intercept:+.3f} + {cal.slope:.3f} x "
        "model logit; the recalibrated coefficients are in the table below.",
    ]
    if cal.note:
        reading = [reading[0], reading[1], f"{cal.note[0].upper()}{cal.note[1:]}.", reading[3]]
    sections = [
        ("Summary", bullet_list([f"Model: {result.family}, trained on {result.training_source}.",
                                 f"New cohort: {result.source}; {headline['patients']} patients, "
                                 f"{headline['responders']} responders, {headline['excluded']} excluded."] + reading)),
        ("Performance", tables["performance"].to_html()),
        ("Logistic recalibration", paragraph("The intercept and slope that would fit this cohort, and the model's "
                                             "coefficients after applying them. Recalibrating changes calibration, "
                                             "not discrimination.") + tables["recalibration"].to_html()),
        ("Calibration by decile of predicted risk", table(result.calibration_curve)),
        ("Figures", "".join(figs)),
        ("Exclusions", bullet_list([f"{e.patient_id}: {e.reason}" for e in result.excluded]) if result.excluded
         else paragraph("None.")),
        ("Software versions", f"<pre>{json.dumps(versions(), indent=2)}</pre>"),
    ]
    (out / "report.html").write_text(page("lvmd external validation report", sections))
    manifest = {"lvmd_version": __version__, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "inputs": {str(p): sha256(p) for p in inputs if p.is_file()}, "headline": headline,
                "excluded": [{"patient_id": e.patient_id, "reason": e.reason} for e in result.excluded],
                "versions": versions(), "outputs": sorted(p.name for p in out.iterdir())}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, default=float))
    return manifest


def _finite(value: float) -> float | None:
    """A headline number for manifest.json: None (null) where it is not estimable, so the file stays strict JSON."""
    return value if math.isfinite(value) else None
