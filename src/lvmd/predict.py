"""Scoring new patients with a fitted model, from their polar maps or straight from their gated SPECT studies.

Each patient gets the probability of response with a 95 % CI (delta method on the logit), the value and
contribution of every variable (coefficient x deviation from the training mean), warnings when a variable lies
outside its training range or a map is unlike the training maps (reconstruction error above twice the training
99th percentile), PSD/PBW, and the latest-activating viable segment (the LV lead target) when perfusion is known.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from .errors import ModelError
from .formulas import Z975, expit
from .io.polarmaps import PolarMaps
from .io.spect import read_spect
from .model import CRTResponseModel
from .model.data import as_polarmaps
from .phase import analyze_study
from .phase.metrics import fill_psd_pbw, latest_viable_segment, segment_summary
from .polar import disc_mask, pixel_coordinates
from .results import Result

RECONSTRUCTION_WARNING_FACTOR = 2.0


@dataclass(repr=False)
class Prediction(Result):
    """Predictions for new patients: ``summary`` (one row per patient), their ``maps`` and per-patient warnings."""

    summary: pd.DataFrame
    maps: PolarMaps | None
    variables: list[str]

    def __post_init__(self) -> None:
        self.title = "Predicted probability of CRT response"

    def formatted(self) -> pd.DataFrame:
        s = self.summary
        return pd.DataFrame({"P(response) [95% CI]": [f"{p:.3f} [{lo:.3f}, {hi:.3f}]" for p, lo, hi in
                                                      zip(s["probability"], s["ci_low"], s["ci_high"])],
                             "warnings": [len(w) for w in s["warnings"]]}, index=s.index)

    def records(self) -> list[dict]:
        """One JSON-ready dict per patient."""
        out = []
        for pid, row in self.summary.iterrows():
            optional = {k: (None if pd.isna(row.get(k)) else float(row[k])) for k in ("psd_deg", "pbw_deg")}
            latest = row.get("latest_segment")
            out.append({"patient_id": str(pid), "probability": float(row["probability"]),
                        "ci_low": float(row["ci_low"]), "ci_high": float(row["ci_high"]),
                        "values": {v: float(row[v]) for v in self.variables},
                        "contributions": {v: float(row[f"contribution_{v}"]) for v in self.variables},
                        **optional, "latest_segment": None if pd.isna(latest) else int(latest),
                        "warnings": list(row["warnings"])})
        return out


def latest_segments(maps: PolarMaps) -> list[int | None]:
    """Latest-activating viable segment of each patient's phase and perfusion maps (None without perfusion)."""
    if maps.perfusion is None:
        return [None] * len(maps)
    rho, theta = pixel_coordinates()
    inside = disc_mask()
    out = []
    for phase, perfusion in zip(maps.phase, maps.perfusion):
        ok = inside & np.isfinite(phase) & np.isfinite(perfusion)
        segments = segment_summary(rho[ok], theta[ok], phase[ok], perfusion[ok], np.zeros(int(ok.sum())))
        out.append(latest_viable_segment(segments))
    return out


def predict_patients(model: CRTResponseModel, clinical: pd.DataFrame, maps=None) -> Prediction:
    """Score patients with the model's primary model.

    Parameters
    ----------
    clinical : pandas.DataFrame
        One row per patient, indexed by patient_id, with the model's clinical variables (PSD/PBW measured from the
        maps when absent).
    maps : PolarMaps or numpy.ndarray (n, 64, 64), optional
        Polar maps (PolarMaps may hold more patients: those of ``clinical`` are taken). Needed by models with image
        features and for PSD/PBW when the table lacks them.
    """
    table = clinical.copy()
    pmaps = as_polarmaps(maps, table.index)
    if pmaps is not None:
        table = fill_psd_pbw(table, pmaps.phase)
    design = model.design(table, pmaps)
    variables = list(design.columns)
    X = np.column_stack([np.ones(len(design)), design.to_numpy()])
    beta, cov = model.logit_.params, model.logit_.cov
    eta = X @ beta
    se = np.sqrt(np.einsum("ij,jk,ik->i", X, cov, X))
    out = pd.DataFrame({"probability": expit(eta), "ci_low": expit(eta - Z975 * se), "ci_high": expit(eta + Z975 * se),
                        "logit": eta}, index=design.index)
    training = model.training_["variables"]
    warnings: list[list[str]] = [[] for _ in range(len(design))]
    for j, v in enumerate(variables):
        out[v] = design[v]
        out[f"contribution_{v}"] = beta[j + 1] * (design[v] - training[v]["mean"])
        lo, hi = training[v]["min"], training[v]["max"]
        for i, value in enumerate(design[v]):
            if value < lo or value > hi:
                warnings[i].append(f"{v} = {value:.4g} is outside the training range [{lo:.4g}, {hi:.4g}]")
    for column in ("psd_deg", "pbw_deg"):
        if column in table.columns and column not in out.columns:
            out[column] = table[column].to_numpy()
    reference = model.training_.get("reconstruction_error", {})
    if model.extractor_ is not None and pmaps is not None and reference:
        errors = model.extractor_.reconstruction_error(pmaps)
        for kind, values in errors.items():
            out[f"reconstruction_error_{kind}"] = values.to_numpy()
            limit = RECONSTRUCTION_WARNING_FACTOR * reference[kind]["p99"]
            for i, e in enumerate(values.to_numpy()):
                if e > limit:
                    warnings[i].append(f"phase map reconstruction error ({kind}) {e:.3g} is very high (training 99th "
                                       f"percentile {reference[kind]['p99']:.3g}): the map is unlike the training maps")
    out["latest_segment"] = latest_segments(pmaps) if pmaps is not None else [None] * len(out)
    out["warnings"] = warnings
    out.index.name = "patient_id"
    return Prediction(out, pmaps, variables)


def predict_spect(model: CRTResponseModel, clinical: pd.DataFrame, studies: Sequence) -> Prediction:
    """Score patients from their gated SPECT studies: lvmd's phase analysis gives the maps, PSD/PBW (these replace
    the table's) and the latest viable segment. A study's id is its file or folder stem; every patient of
    ``clinical`` needs one."""
    results = {}
    for path in studies:
        res = analyze_study(read_spect(path))
        if res.study_id in results:
            raise ModelError(f"{path}: a second study with id {res.study_id}")
        results[res.study_id] = res
    ids = list(clinical.index)
    missing = [p for p in ids if p not in results]
    if missing:
        raise ModelError(f"no gated SPECT study named after patients {', '.join(map(str, missing[:8]))} (a study's id "
                         "is its file or folder stem)")
    table = clinical.copy()
    for column in ("psd_deg", "pbw_deg"):
        table[column] = [results[p].metrics[column] for p in ids]
    maps = PolarMaps(np.array(ids, dtype=object), np.stack([results[p].phase_map for p in ids]),
                     np.stack([results[p].perfusion_map for p in ids]))
    prediction = predict_patients(model, table, maps)
    prediction.summary["latest_segment"] = [results[p].latest_segment for p in ids]
    return prediction
