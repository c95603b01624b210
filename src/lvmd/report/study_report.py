"""Outputs of ``lvmd analyze`` / ``lvmd demo``: tables (CSV + markdown), figures, report.html and manifest.json."""

from __future__ import annotations

import html
import json
import time
from pathlib import Path

import pandas as pd

from .. import __version__
from ..provenance import sha256, versions
from ..stats import CorrelationResult
from . import figures
from .html import bullet_list, page, paragraph, save_figure

LIMITATIONS = [
    "This is an in-sample analysis, as in the reference paper: the image features were screened for association "
    "with response on the same patients on whom the AUCs and likelihood-ratio tests were computed. With 64 "
    "candidate features and about 100 patients, some features reach p < 0.05 by chance alone, and AUCs of models "
    "that include screened features are optimistic.",
    "What it can show: whether the phase maps contain structure associated with response in this cohort, which "
    "features carry it, and what they look like on the bullseye (latent traversals). What it cannot show: how well "
    "the model would predict response in new patients. Use `lvmd validate` (nested cross-validation with the "
    "features refit in every fold, and bootstrap optimism correction) for that figure.",
    "Autoencoder features are defined only up to the training run: feature numbers (AE #k) are not comparable "
    "between seeds or cohorts; the stability summary of `lvmd validate` says how reproducible they are.",
    "The PCA baseline is shown beside every autoencoder result: a gain that PCA matches is not specific to deep "
    "learning.",
    "Pattern features (docs/pattern-features.md) are fixed measures of each map (nothing is learned from the "
    "cohort), but those entering a pattern model were still screened on these patients and their ridge penalty "
    "chosen on them: the apparent AUC of a pattern model is optimistic too, and, its estimates being shrunk, it has "
    "no likelihood-ratio test and its terms no p-value. `lvmd validate` gives every family's honest gain.",
]


def write_study(result, out: Path, inputs: list[Path]) -> dict:
    """Write every output of ``lvmd analyze`` into the (temporary) folder ``out``; returns the manifest."""
    started = time.perf_counter()
    cfg = result.config
    kinds = result.kinds
    tables = {"table1": result.table1, "univariate": result.univariate, "multivariate": result.multivariate,
              "roc": result.roc(), "incremental": result.incremental(), "models": result.model_table(),
              **{f"correlation_{k}": result.correlation(k) for k in kinds}}
    if kinds:  # the paper's correlation table: every image feature of every kind against PSD and PBW, in one file
        tables["correlation"] = CorrelationResult(pd.concat([result.correlation(k).summary for k in kinds],
                                                            ignore_index=True))
    for name, res in tables.items():
        res.to_csv(out / f"{name}.csv")
        res.to_markdown(out / f"{name}.md")
    for kind in kinds:
        result.training.features(kind).to_csv(out / f"{kind}_features.csv", float_format="%.8g")

    formats = cfg.report.formats
    labels = result.data["response"].to_numpy()
    phase = result.maps.phase
    ids = result.data.index.to_numpy()
    figs = [save_figure(figures.example_bullseyes(phase, ids, labels, cfg.report.example_maps), out,
                        "example_bullseyes", formats, "Example phase polar maps: responders (top) and non-responders "
                        "(bottom)"),
            save_figure(figures.mean_maps(phase, labels), out, "mean_phase_maps", formats,
                        "Mean (circular) phase map per response group")]
    for kind in kinds:
        figs.append(save_figure(figures.correlation_heatmap(result.correlation(kind).matrix("r")), out,
                                f"correlation_heatmap_{kind}", formats,
                                f"Pearson correlation of every {kind.upper()} feature with PSD and PBW"
                                + (" (Figure 2)" if kind == "ae" else "")))
    figs.append(save_figure(figures.roc_figure(result.roc_curves), out, "roc_curves", formats,
                            "ROC curves of the logistic models (in-sample)"))
    inc = result.incremental().summary
    if len(inc):
        figs.append(save_figure(figures.incremental_bars(inc), out, "incremental_chi2", formats,
                                "Incremental value: model chi-square of each step and likelihood-ratio tests (Figure 3)"))
    for kind in kinds:
        losses = getattr(result.training.extractor(kind), "loss_curve_", None)
        if losses:
            figs.append(save_figure(figures.loss_curve(losses), out, f"{kind}_loss_curve", formats,
                                    f"Training loss of the {kind.upper()} feature extractor"))
    traversals = [save_figure(figures.traversal_figure(t), out, f"traversal_{t.feature}", formats,
                              f"Latent traversal of {t.feature}: the mean map moved -2..+2 SD along the feature")
                  for t in result.traversals]

    head = result.headline()
    summary_items = [
        f"Cohort: {result.source}; {head['patients']} patients analysed, {head['responders']} responders "
        f"({100 * head['responders'] / max(head['patients'], 1):.1f} %), {head['excluded']} excluded.",
        f"Response definition: {cfg.cohort.response}.",
        *[f"Significant {k.upper()} features (univariate p < {cfg.stats.significance}): {', '.join(v) or 'none'}."
          for k, v in head["significant"].items()],
        *(["Image features per kind: " + ", ".join(f"{k.upper()} {n}" for k, n in head["feature_counts"].items())
           + " (the AE latent dimension and PCA components are capped at patients - 1 for a small cohort)."]
          if head["feature_counts"] else []),
        *[f"{m['model']} ({m['role']}): apparent AUC {m['apparent_auc']:.3f}" for m in head["models"]],
    ]
    fallback = {m.selection_.fallback for m in result.models.values() if m.selection_.fallback}
    exclusions = (bullet_list([f"{e.patient_id}: {e.reason}" for e in result.excluded]) if result.excluded
                  else paragraph("None."))
    ver = versions()
    table2_note = (f"Multivariate models of the family {result.table2_family}: the primary model (the collinearity "
                   "group of the most significant image feature) and any alternative model of another group, as "
                   "the paper's AE #30 and AE #28 + #35 models. Rows: the clinical candidates, PSD/PBW and the "
                   "significant image features; every screened variable is in univariate.csv.")
    sections = [
        ("Summary", bullet_list(summary_items)),
        ("Limitations of an in-sample analysis", '<div class="note">' + "".join(paragraph(t) for t in LIMITATIONS)
         + "</div>"),
        ("Table 1: baseline characteristics", result.table1.to_html()),
        ("Table 2: univariate and multivariate logistic regression", result.multivariate.to_html()
         + paragraph(table2_note) + paragraph("Notes per model: " + "; ".join(
             f"{k}: {', '.join(v) or 'none'}" for k, v in result.multivariate.notes.items()))
         + "".join(paragraph(f"Clinical selection: {f}.") for f in sorted(fallback))),
        ("Fitted models", result.model_table().to_html()),
        ("ROC analysis", result.roc().to_html()),
        ("Incremental value", result.incremental().to_html()),
        ("Figures", "".join(figs)),
        ("What the significant image features look like", "".join(traversals)
         or paragraph("No significant image feature with a decoder.")),
        ("Exclusions", exclusions),
        ("Configuration", f"<pre>{_escape_json(cfg.to_dict())}</pre>"),
        ("Software versions and seeds", f"<pre>{_escape_json({**ver, 'feature_seed': cfg.features.seed})}</pre>"),
    ]
    (out / "report.html").write_text(page("lvmd study report: image features of LV dyssynchrony and CRT response",
                                          sections))
    timings = dict(result.timings)
    timings["report"] = round(time.perf_counter() - started, 3)
    manifest = {
        "lvmd_version": __version__, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "inputs": {str(p): sha256(p) for p in inputs if p.is_file()},
        "config": cfg.to_dict(), "response_definition": cfg.cohort.response, "versions": ver,
        "timings_s": timings, "excluded": [{"patient_id": e.patient_id, "reason": e.reason} for e in result.excluded],
        "headline": head, "outputs": sorted(p.name for p in out.iterdir()),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, default=float))
    return manifest


def _escape_json(data) -> str:
    return html.escape(json.dumps(data, indent=2, default=float))
