"""Write a study's outputs: tables (CSV + markdown), figures (PNG/SVG), report.html and manifest.json."""

from __future__ import annotations

import hashlib
import html
import json
import platform
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from .. import __version__
from ..features import latent_traversal
from . import figures
from .html import bullet_list, figure_png, img_tag, page, paragraph

LIMITATIONS = [
    "This is an in-sample analysis, as in the reference paper: the autoencoder features were screened for "
    "association with response on the same patients on whom the AUCs and likelihood-ratio tests were computed. "
    "With 64 candidate features and about 100 patients, some features reach p < 0.05 by chance alone, and AUCs of "
    "models that include screened features are optimistic.",
    "What it can show: whether the phase maps contain structure associated with response in this cohort, which "
    "features carry it, and what they look like on the bullseye (latent traversals). What it cannot show: how well "
    "the model would predict response in new patients. Use `lvmd validate` (nested cross-validation with the "
    "autoencoder refit in every fold, and bootstrap optimism correction) for that figure.",
    "Autoencoder features are defined only up to the training run: feature numbers (AE #k) are not comparable "
    "between seeds or cohorts; the stability summary of `lvmd validate` says how reproducible they are.",
    "The PCA baseline is shown beside every autoencoder result: a gain that PCA matches is not specific to deep "
    "learning.",
]


def sha256(path: Path) -> str:
    """Hex SHA-256 of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def versions() -> dict:
    """Versions of lvmd and the libraries whose numbers it reports."""
    import pandas
    import scipy
    import sklearn
    import statsmodels
    import torch

    return {"lvmd": __version__, "python": platform.python_version(), "numpy": np.__version__,
            "scipy": scipy.__version__, "pandas": pandas.__version__, "statsmodels": statsmodels.__version__,
            "scikit-learn": sklearn.__version__, "torch": torch.__version__, "platform": platform.platform()}


def _save(fig, folder: Path, name: str, formats: list[str], figures_html: list[str], caption: str) -> None:
    for fmt in formats:
        fig.savefig(folder / f"{name}.{fmt}", dpi=110, bbox_inches="tight")
    figures_html.append(img_tag(figure_png(fig), caption))
    plt.close(fig)


def write_study(result, out: Path, inputs: list[Path]) -> dict:
    """Write every output of ``lvmd analyze`` into the (temporary) folder ``out``; returns the manifest."""
    started = time.perf_counter()
    cfg = result.config
    tables = {"table1": result.table1, "univariate": result.univariate, "multivariate": result.multivariate,
              "correlation": result.correlation(), "roc": result.roc(), "incremental": result.incremental()}
    for name, res in tables.items():
        res.to_csv(out / f"{name}.csv")
        res.to_markdown(out / f"{name}.md")
    result.ae.features.to_csv(out / "ae_features.csv", float_format="%.8g")
    result.pca.features.to_csv(out / "pca_features.csv", float_format="%.8g")

    formats = cfg.report.formats
    labels = result.data["response"].to_numpy()
    phase = result.maps.phase
    ids = result.data.index.to_numpy()
    figs: list[str] = []
    _save(figures.example_bullseyes(phase, ids, labels, cfg.report.example_maps), out, "example_bullseyes", formats,
          figs, "Example phase polar maps: responders (top) and non-responders (bottom)")
    _save(figures.mean_maps(phase, labels), out, "mean_phase_maps", formats, figs,
          "Mean (circular) phase map per response group")
    _save(figures.correlation_heatmap(result.correlation().matrix("r")), out, "correlation_heatmap", formats, figs,
          "Pearson correlation of every AE feature with PSD and PBW (Figure 2)")
    curves = {**result.ae.roc_curves, **{k: v for k, v in result.pca.roc_curves.items() if k not in result.ae.roc_curves}}
    _save(figures.roc_figure(curves), out, "roc_curves", formats, figs, "ROC curves of the logistic models (in-sample)")
    inc = result.incremental().summary
    if len(inc):
        _save(figures.incremental_bars(inc), out, "incremental_chi2", formats, figs,
              "Incremental value: model chi-square of each step and likelihood-ratio tests (Figure 3)")
    _save(figures.loss_curve(result.ae.model.loss_curve_), out, "ae_loss_curve", formats, figs,
          "Autoencoder training loss")
    traversals = []
    for feature in result.ae.significant[: cfg.report.max_traversals]:
        trav = latent_traversal(result.ae.model, feature)
        name = f"traversal_{feature}"
        _save(trav.figure(), out, name, formats, traversals,
              f"Latent traversal of {feature}: the mean map moved -2..+2 SD along the feature")

    head = result.headline()
    summary_items = [
        f"Cohort: {result.source}; {head['patients']} patients analysed, {head['responders']} responders "
        f"({100 * head['responders'] / max(head['patients'], 1):.1f} %), {head['excluded']} excluded.",
        f"Response definition: {cfg.cohort.response}.",
        "Significant AE features (univariate p < "
        f"{cfg.stats.significance}): {', '.join(result.ae.significant) or 'none'}.",
        f"Significant PCA features: {', '.join(result.pca.significant) or 'none'}.",
    ] + ([f"Autoencoder latent dimension {head['ae_latent_dim']} and PCA components {head['pca_components']}: the "
          f"configured {cfg.features.latent_dim} / {cfg.features.pca_components} capped at patients - 1 for this "
          "small cohort."] if head["ae_latent_dim"] < cfg.features.latent_dim else []) + [f"AUC {m}: {a:.3f}" for m, a in head["auc"].items()]
    exclusions = bullet_list([f"{e.patient_id}: {e.reason}" for e in result.excluded]) if result.excluded else paragraph("None.")
    ver = versions()
    sections = [
        ("Summary", bullet_list(summary_items)),
        ("Limitations of an in-sample analysis", '<div class="note">' + "".join(paragraph(t) for t in LIMITATIONS) + "</div>"),
        ("Table 1: baseline characteristics", result.table1.to_html()),
        ("Table 2: univariate and multivariate logistic regression", result.multivariate.to_html()
         + paragraph("Notes per model: " + "; ".join(f"{k}: {', '.join(v) or 'none'}" for k, v in result.multivariate.notes.items()))),
        ("Univariate screening (all variables)", result.univariate.to_html()),
        ("ROC analysis", result.roc().to_html()),
        ("Incremental value", result.incremental().to_html()),
        ("Figures", "".join(figs)),
        ("What the significant AE features look like", "".join(traversals) or paragraph("No significant AE feature.")),
        ("Exclusions", exclusions),
        ("Configuration", f"<pre>{_escape_json(cfg.to_dict())}</pre>"),
        ("Software versions and seeds", f"<pre>{_escape_json({**ver, 'autoencoder_seed': cfg.features.seed})}</pre>"),
    ]
    (out / "report.html").write_text(page("lvmd study report: autoencoder LVMD features and CRT response", sections))
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
