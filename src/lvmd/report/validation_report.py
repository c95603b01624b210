"""Outputs of ``lvmd validate``: validation.csv, predictions, feature selection, figures and report.html."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .html import bullet_list, figure_png, img_tag, page, paragraph
from .study_report import versions

VALIDATION_COLUMNS = ["model", "apparent_auc", "cv_auc", "cv_auc_low", "cv_auc_high", "optimism_corrected_auc",
                      "calibration_intercept", "calibration_slope", "brier"]


def calibration_figure(curves: dict):
    """Observed response rate against mean predicted probability (deciles of pooled out-of-fold predictions)."""
    fig, ax = plt.subplots(figsize=(5, 5))
    for name, grouped in curves.items():
        ax.plot(grouped["p"], grouped["y"], marker="o", ms=3, label=name)
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=0.8)
    ax.set_xlabel("predicted probability (out of fold)")
    ax.set_ylabel("observed response rate")
    ax.legend(fontsize=7)
    ax.set_title("Calibration (cross-validated)", fontsize=9)
    fig.tight_layout()
    return fig


def decision_figure(dca: pd.DataFrame):
    """Net benefit against threshold probability for each model, treat-all and treat-none."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for col in dca.columns[1:]:
        style = {"ls": "--", "color": "grey"} if col in ("treat_all", "treat_none") else {}
        ax.plot(dca["threshold"], dca[col], label=col, **style)
    ax.set_ylim(-0.1, max(0.5, float(np.nanmax(dca.iloc[:, 1:].to_numpy())) + 0.05))
    ax.set_xlabel("threshold probability")
    ax.set_ylabel("net benefit")
    ax.legend(fontsize=7)
    ax.set_title("Decision curves (cross-validated)", fontsize=9)
    fig.tight_layout()
    return fig


def _table(df: pd.DataFrame) -> str:
    import html

    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(f'{v:.3f}' if isinstance(v, float) else str(v))}</td>"
                                    for v in row) + "</tr>" for row in df.itertuples(index=False))
    return f'<table class="lvmd"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def write_validation(result, out: Path, source: str) -> None:
    """Write every output of ``lvmd validate`` into the (temporary) folder ``out``."""
    summary = result.summary
    summary[VALIDATION_COLUMNS + [c for c in summary.columns if c not in VALIDATION_COLUMNS]].to_csv(
        out / "validation.csv", index=False, float_format="%.6g")
    result.predictions.to_csv(out / "predictions.csv", index=False, float_format="%.6g")
    result.selection.to_csv(out / "feature_selection.csv", index=False)
    result.decision_curves.to_csv(out / "decision_curve.csv", index=False, float_format="%.6g")
    if result.stability is not None:
        result.stability.to_csv(out / "stability.csv", float_format="%.4g")
    figs = []
    for name, fig, caption in (("calibration", calibration_figure(result.calibration_curves), "Calibration plot"),
                               ("decision_curve", decision_figure(result.decision_curves), "Decision curves")):
        fig.savefig(out / f"{name}.png", dpi=110, bbox_inches="tight")
        figs.append(img_tag(figure_png(fig), caption))
        plt.close(fig)
    s = result.settings
    side = summary[["model", "apparent_auc", "cv_auc", "cv_auc_low", "cv_auc_high", "optimism_corrected_auc"]]
    gain = result.gain
    gain_text = (f"Apparent AUC gain of clinical+psd+ae over clinical+psd: {gain['apparent_gain']:+.3f}; "
                 f"cross-validated gain: {gain['cv_gain']:+.3f} (95 % CI {gain['cv_gain_low']:+.3f} to "
                 f"{gain['cv_gain_high']:+.3f}, paired DeLong, averaged over repeats).") if gain else "Not computed."
    failures = bullet_list([f"{kind} {key}: {reason}" for kind, key, reason in result.failures]) if result.failures \
        else paragraph("None: every fold and resample completed.")
    sections = [
        ("Settings", bullet_list([f"cohort: {source}", f"{s['patients']} patients, {s['responders']} responders; "
                                  f"response definition {s['response_definition']}",
                                  f"{s['folds']}-fold stratified cross-validation x {s['repeats']} repeats; "
                                  f"{s['bootstrap']} bootstrap resamples (Harrell's optimism correction)",
                                  f"autoencoder latent dimension in the folds: {s['ae_latent_dim_in_folds']}",
                                  "autoencoder iterations per fit: " + str(s["ae_iterations"])
                                  + (" (--fast: fewer than the paper's 1000)" if s["fast"] else ""),
                                  f"executor: {s['scheduler']}; seed {s['seed']}"])),
        ("Apparent (in-sample) and honest AUC side by side", _table(side)
         + paragraph("Apparent AUC: the model fitted and scored on all patients, as the reference paper did. "
                     "Cross-validated AUC: every step (AE/PCA fit, screening, logistic model) refit on the training "
                     "folds and scored on the held-out fold. Optimism-corrected: apparent minus the mean bootstrap "
                     "optimism.")),
        ("Incremental value of the AE features, honestly", paragraph(gain_text)
         + paragraph("Reclassification (out-of-fold, averaged over repeats): "
                     + ", ".join(f"{k} {v:+.3f}" for k, v in result.reclassification.items()))),
        ("Calibration and clinical usefulness", _table(summary[["model", "calibration_intercept", "calibration_slope",
                                                                "brier"]]) + "".join(figs)),
        ("How often each AE feature was selected", paragraph(
            "AE features are re-learned in every fold, so a feature number means a different feature in each fold; "
            f"on average {s['mean_ae_features_selected_per_fold']:.2f} AE features were selected per fold.")
         + _table(result.selection.head(20))),
        ("Stability of the selected features across seeds",
         _table(result.stability.reset_index()) if result.stability is not None else paragraph("Not computed.")),
        ("Failed folds", failures),
        ("Software versions", f"<pre>{json.dumps(versions(), indent=2)}</pre>"),
    ]
    (out / "report.html").write_text(page("lvmd validation report: apparent vs honest performance", sections))
    (out / "manifest.json").write_text(json.dumps({"settings": s, "timings_s": result.timings, "gain": gain,
                                                   "reclassification": result.reclassification,
                                                   "failures": result.failures, "versions": versions()},
                                                  indent=2, default=str))
