"""Outputs of ``lvmd features``: features.csv (with each map's reconstruction error), the model and its loss curve."""

from __future__ import annotations

from pathlib import Path

from .figures import loss_curve


def write_features(model, maps, out: Path) -> str:
    """Write a fitted extractor's features of ``maps``, the model and (autoencoder) its loss curve; returns a summary."""
    features, errors = model.transform(maps), model.reconstruction_error(maps)
    features.join(errors).to_csv(out / "features.csv", float_format="%.8g")
    model.save(out / "model")
    if getattr(model, "loss_curve_", None):
        loss_curve(model.loss_curve_).savefig(out / "loss_curve.png", dpi=110, bbox_inches="tight")
    return (f"{features.shape[1]} {model.prefix} features of {len(features)} patients; mean masked reconstruction MSE "
            f"{errors.mean():.3g}")
