"""Every plot lvmd draws: bullseyes, mean maps, correlation heatmap, ROC curves, likelihood-ratio bars, latent
traversals, loss curve, calibration and decision curves, patient summaries.

Each function returns a :class:`matplotlib.figure.Figure` built with the object-oriented API: nothing here touches
pyplot's global state or switches the backend, so importing lvmd never changes a notebook's plotting.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Circle

from ..console import printable
from ..polar import GRID, RING_EDGES, disc_mask, segment_map
from ..results import format_p

PHASE_CMAP = "twilight_shifted"


def bullseye(ax, values: np.ndarray, kind: str = "phase", title: str = "", vmin=None, vmax=None,
             mark_segment: int | None = None):
    """Draw one 64x64 bullseye (anterior up, septum left) with the AHA ring outlines."""
    cmap = PHASE_CMAP if kind == "phase" else "viridis"
    lo, hi = (0, 360) if kind == "phase" and vmin is None else (vmin, vmax)
    image = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, vmin=lo, vmax=hi, interpolation="nearest")
    centre, radius = (GRID - 1) / 2.0, GRID / 2.0
    for edge in RING_EDGES[1:]:
        ax.add_patch(Circle((centre, centre), edge * radius, fill=False, lw=0.5, color="white", alpha=0.7))
    if mark_segment:
        seg = segment_map() == mark_segment
        ax.contour(seg.astype(float), levels=[0.5], colors="red", linewidths=1.5)
    ax.set_title(printable(title), fontsize=8, pad=9, parse_math=False)  # ids are user text: no mathtext, no controls
    ax.set_xticks([])
    ax.set_yticks([])
    ax.text(centre, -2, "ant", ha="center", va="bottom", fontsize=6)
    ax.text(-2, centre, "sept", ha="right", va="center", fontsize=6, rotation=90)
    return image


def circular_mean_map(phase_maps: np.ndarray) -> np.ndarray:
    """Pixel-wise circular mean of phase maps (degrees), over the disc pixels (NaN outside, never a mean of nothing)."""
    inside = disc_mask()
    rad = np.radians(np.asarray(phase_maps, dtype=float)[:, inside])
    sin, cos = np.sin(rad), np.cos(rad)
    seen = np.isfinite(rad).any(axis=0)
    out = np.full((GRID, GRID), np.nan)
    mean_sin = np.where(seen, np.nansum(sin, axis=0), np.nan)
    mean_cos = np.where(seen, np.nansum(cos, axis=0), np.nan)
    out[inside] = np.degrees(np.arctan2(mean_sin, mean_cos)) % 360.0
    return out


def example_bullseyes(maps: np.ndarray, ids, labels: np.ndarray, per_group: int = 3) -> Figure:
    """Example phase maps of responders (top row) and non-responders (bottom row)."""
    fig = Figure(figsize=(2.2 * per_group, 4.6))
    axes = fig.subplots(2, per_group, squeeze=False)
    image = None
    for row, (group, name) in enumerate(((1, "responder"), (0, "non-responder"))):
        idx = np.flatnonzero(labels == group)[:per_group]
        for col in range(per_group):
            ax = axes[row, col]
            if col < len(idx):
                image = bullseye(ax, maps[idx[col]], title=f"{ids[idx[col]]} ({name})")
            else:
                ax.axis("off")
    if image is not None:
        fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.6, label="phase (deg of R-R)")
    return fig


def mean_maps(maps: np.ndarray, labels: np.ndarray) -> Figure:
    """Circular mean phase map of each response group."""
    fig = Figure(figsize=(6, 3.2))
    axes = fig.subplots(1, 2)
    image = None
    for ax, (group, name) in zip(axes, ((1, "Responders"), (0, "Non-responders"))):
        sel = maps[labels == group]
        image = bullseye(ax, circular_mean_map(sel), title=f"{name} (n={len(sel)})")
    fig.colorbar(image, ax=list(axes), shrink=0.7, label="mean phase (deg)")
    return fig


def correlation_heatmap(matrix: pd.DataFrame) -> Figure:
    """Pearson r of each feature (rows) with PSD and PBW (columns)."""
    fig = Figure(figsize=(2.0 + 0.6 * matrix.shape[1], max(3.0, 0.14 * matrix.shape[0] + 1)))
    ax = fig.subplots()
    image = ax.imshow(matrix.to_numpy(float), cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto")
    ax.set_xticks(range(matrix.shape[1]), [str(c) for c in matrix.columns], fontsize=8)
    ax.set_yticks(range(matrix.shape[0]), [str(r) for r in matrix.index], fontsize=5)
    fig.colorbar(image, ax=ax, label="Pearson r")
    ax.set_title("Features vs conventional LVMD", fontsize=9)
    fig.tight_layout()
    return fig


def roc_figure(curves: dict) -> Figure:
    """ROC curves, one per model, AUC in the legend."""
    fig = Figure(figsize=(5.2, 5))
    ax = fig.subplots()
    for name, roc in curves.items():
        ax.plot(1 - roc.specificities, roc.sensitivities, lw=1.4, label=f"{name} (AUC {roc.auc:.2f})")
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--")
    ax.set_xlabel("1 - specificity")
    ax.set_ylabel("sensitivity")
    ax.legend(fontsize=6, loc="lower right")
    ax.set_title("ROC (in-sample)", fontsize=9)
    fig.tight_layout()
    return fig


def incremental_bars(summary: pd.DataFrame) -> Figure:
    """Model chi-square of each step of each likelihood-ratio sequence (the paper's Figure 3)."""
    sequences = list(dict.fromkeys(summary.index.get_level_values(0)))
    fig = Figure(figsize=(3.0 * max(len(sequences), 1), 3.4))
    axes = fig.subplots(1, max(len(sequences), 1), squeeze=False)
    for ax, seq in zip(axes[0], sequences):
        part = summary.loc[seq]
        chi = part["model_chi2"].to_numpy(float)
        ax.bar(range(len(part)), chi, color=["#999999", "#4c72b0", "#dd8452", "#55a868"][: len(part)])
        ax.set_xticks(range(len(part)), [str(m) for m in part.index], rotation=30, ha="right", fontsize=6)
        for i, (lr, p) in enumerate(zip(part["lr_statistic"], part["p"])):
            if np.isfinite(lr):
                ax.text(i, chi[i], f"LR {lr:.2f}\nP = {format_p(p)}", ha="center", va="bottom", fontsize=6)
        ax.set_title(seq, fontsize=8)
        ax.set_ylabel("model chi-square vs first")
    fig.tight_layout()
    return fig


def traversal_figure(traversal) -> Figure:
    """Decoded bullseyes along one latent feature (a :class:`~lvmd.features.Traversal`)."""
    n = len(traversal.steps)
    fig = Figure(figsize=(2.0 * n, 2.6))
    axes = fig.subplots(1, n, squeeze=False)
    image = None
    for ax, step, m in zip(axes[0], traversal.steps, traversal.maps):
        image = bullseye(ax, m, title=f"{traversal.feature} {step:+g} SD")
    fig.colorbar(image, ax=axes[0].tolist(), shrink=0.7, label="phase (deg)")
    return fig


def loss_curve(losses) -> Figure:
    """Training loss per iteration (log scale)."""
    fig = Figure(figsize=(5, 3))
    ax = fig.subplots()
    ax.semilogy(np.arange(1, len(losses) + 1), losses)
    ax.set_xlabel("iteration")
    ax.set_ylabel("masked MSE")
    ax.set_title("Autoencoder training loss", fontsize=9)
    fig.tight_layout()
    return fig


def calibration_figure(curves: dict, title: str = "Calibration (cross-validated)") -> Figure:
    """Observed response rate against mean predicted risk per risk group, one line per model (name -> curve with
    columns ``predicted``, ``observed``), with the line of perfect calibration."""
    fig = Figure(figsize=(5, 5))
    ax = fig.subplots()
    for name, curve in curves.items():
        ax.plot(curve["predicted"], curve["observed"], marker="o", ms=3, label=name)
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=0.8, label="perfect calibration")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("predicted probability")
    ax.set_ylabel("observed response rate")
    ax.legend(fontsize=7)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def decision_figure(dca: pd.DataFrame, title: str = "Decision curves (cross-validated)") -> Figure:
    """Net benefit against threshold probability for each model, treating all and treating none."""
    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    for col in dca.columns[1:]:
        style = {"ls": "--", "color": "grey"} if col in ("treat_all", "treat_none") else {}
        ax.plot(dca["threshold"], dca[col], label=col, **style)
    ax.set_ylim(-0.1, max(0.5, float(np.nanmax(dca.iloc[:, 1:].to_numpy())) + 0.05))
    ax.set_xlabel("threshold probability")
    ax.set_ylabel("net benefit")
    ax.legend(fontsize=7)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def patient_figure(pid: str, phase: np.ndarray | None, record: dict) -> Figure:
    """Phase bullseye with the latest viable segment outlined, the probability and the key numbers of one patient."""
    fig = Figure(figsize=(8, 4))
    ax_map, ax_text = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.1]})
    latest = record.get("latest_segment")
    if phase is not None:
        image = bullseye(ax_map, phase, title=f"{pid}: phase map" + (f" (latest viable segment {latest})" if latest else ""),
                         mark_segment=latest)
        fig.colorbar(image, ax=ax_map, shrink=0.7, label="phase (deg)")
    else:
        ax_map.axis("off")
    ax_text.axis("off")
    lines = [f"P(response) = {record['probability']:.2f}", f"95 % CI {record['ci_low']:.2f} - {record['ci_high']:.2f}", ""]
    lines += [f"{k}: {v:.4g}" for k, v in record.get("values", {}).items()]
    if record.get("warnings"):
        lines += ["", "Warnings:"] + [w[:60] for w in record["warnings"]]
    ax_text.text(0, 1, "\n".join(printable(line) for line in lines), va="top", family="monospace", fontsize=8,
                 parse_math=False)
    fig.tight_layout()
    return fig
