"""Outputs of ``lvmd validate``: validation.csv, models.csv (the full-data refit), gains and reclassification,
predictions, feature selection, calibration and decision curves, report.html and manifest.json."""

from __future__ import annotations

import json
from pathlib import Path

from ..provenance import versions
from ..results import format_p
from . import figures
from .html import bullet_list, page, paragraph, save_figure, table

VALIDATION_COLUMNS = ["model", "apparent_auc", "cv_auc", "cv_auc_low", "cv_auc_high", "optimism_corrected_auc",
                      "calibration_intercept", "calibration_slope", "brier"]


def write_validation(result, out: Path, source: str) -> dict:
    """Write every output of ``lvmd validate`` into the (temporary) folder ``out``; returns the manifest."""
    summary = result.summary
    summary[VALIDATION_COLUMNS + [c for c in summary.columns if c not in VALIDATION_COLUMNS]].to_csv(
        out / "validation.csv", index=False, float_format="%.6g")
    models = result.model_table()
    models.to_csv(out / "models.csv", index=False, float_format="%.10g")
    result.gains.to_csv(out / "gains.csv", index=False, float_format="%.6g")
    result.reclassification.to_csv(out / "reclassification.csv", index=False, float_format="%.6g")
    result.predictions.to_csv(out / "predictions.csv", index=False, float_format="%.6g")
    result.selection.to_csv(out / "feature_selection.csv", index=False)
    result.decision_curves.to_csv(out / "decision_curve.csv", index=False, float_format="%.6g")
    if result.stability is not None:
        result.stability.to_csv(out / "stability.csv", float_format="%.4g")
    figs = [save_figure(figures.calibration_figure(result.calibration_curves), out, "calibration", ["png"],
                        "Calibration plot (pooled out-of-fold predictions, deciles)"),
            save_figure(figures.decision_figure(result.decision_curves), out, "decision_curve", ["png"],
                        "Decision curves (out-of-fold, averaged over repeats)")]
    s = result.settings
    gains = result.gains
    gain_rows = gains.assign(delong_p_median=[format_p(p) for p in gains["delong_p_median"]])
    reclass = result.reclassification.assign(p=[format_p(p) for p in result.reclassification["p"]])
    selection_text = ", ".join(f"{f} {n:.2f}" for f, n in s["mean_image_features_selected_per_fold"].items())
    failures = (bullet_list([f"{kind} {key}: {reason}" for kind, key, reason in result.failures]) if result.failures
                else paragraph("None: every fold and resample completed."))
    kinds = ", ".join(f"{k} {'/'.join(map(str, n))}" for k, n in s["image_features_per_kind_in_folds"].items())
    sections = [
        ("Settings", bullet_list([
            f"cohort: {source}", f"{s['patients']} patients, {s['responders']} responders; response definition "
            f"{s['response_definition']}; {len(s['excluded'])} excluded",
            f"{s['folds']}-fold stratified cross-validation x {s['repeats']} repeats; {s['bootstrap']} bootstrap "
            "resamples (Harrell's optimism correction)",
            f"image features per fit in the folds: {kinds or 'none'}",
            f"autoencoder iterations: {s['ae_iterations_full_data']} for the full-data models, "
            f"{s['ae_iterations_in_folds']} per fit in the folds and resamples"
            + (" (--fast)" if s["fast"] else ""),
            f"executor: {s['scheduler']}; seed {s['seed']}"])),
        ("Apparent (in-sample) and honest AUC side by side",
         table(summary[["model", "apparent_auc", "cv_auc", "cv_auc_low", "cv_auc_high", "optimism_corrected_auc"]])
         + paragraph("Apparent AUC: the model fitted and scored on all patients, as the reference paper did (the "
                     "same models as `lvmd analyze` reports and `lvmd fit` saves: models.csv). Cross-validated AUC: "
                     "every step (feature extractor, screening, logistic model) refit on the training folds and "
                     "scored on the held-out fold. Optimism-corrected: apparent minus the mean bootstrap optimism.")),
        ("Full-data models", table(models[["family", "model", "role", "variables", "apparent_auc"]])),
        ("Incremental value of the image features, honestly", table(gain_rows)
         + paragraph("Gain of each image family over its base family: apparent, and cross-validated (paired DeLong "
                     "test of the out-of-fold predictions, averaged over repeats; median p over repeats). Identical "
                     "predictions (no image feature entered) are a result: difference 0, p = 1.")
         + paragraph("Reclassification of the out-of-fold risks averaged over repeats (NRI and IDI as R's "
                     "PredictABEL computes them):") + table(reclass)),
        ("Calibration and clinical usefulness", table(summary[["model", "calibration_intercept", "calibration_slope",
                                                               "brier"]]) + "".join(figs)),
        ("How often each image feature was selected", paragraph(
            "Features are re-learned in every fold, so a feature number means a different feature in each fold. "
            f"Mean image features entering the primary model per fold: {selection_text or 'none'}.")
         + table(result.selection.groupby("family", sort=False).head(10))),
        ("Stability of the selected features across seeds",
         table(result.stability.reset_index()) if result.stability is not None else paragraph("Not computed.")),
        ("Failed folds", failures),
        ("Software versions", f"<pre>{json.dumps(versions(), indent=2)}</pre>"),
    ]
    (out / "report.html").write_text(page("lvmd validation report: apparent vs honest performance", sections))
    manifest = {"settings": s, "timings_s": result.timings, "gains": gains.to_dict(orient="records"),
                "reclassification": result.reclassification.to_dict(orient="records"),
                "models": models.to_dict(orient="records"), "failures": result.failures, "versions": versions()}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str))
    return manifest
