"""Run lvmd's public API on one torso case and score the result (used by benchmarks/localisation.py and the tests).

Three entry paths, as a user meets them: raw gated projections (DICOM NM GATED TOMO ->
:func:`lvmd.scanner.from_projections`), a reconstructed transaxial gated study (:func:`lvmd.scanner.from_transaxial`)
and a short-axis gated study made with the true axis (:func:`lvmd.phase.analyze_study` directly). Anything lvmd
raises is caught and recorded as a failure with its one-line message.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from .acquire import short_axis_study, transaxial_study, write_projection_file
from .case import TorsoCase
from .draw import gut_band
from .render import render
from .score import (angle_difference, localisation_errors, psd_tolerance, sample_truth, structure_at)

PATHS = ("projections", "transaxial", "short-axis")
MEAN_PHASE_TOLERANCE_DEG = 5.0


def case_summary(case: TorsoCase) -> dict:
    """The case parameters a breakdown needs."""
    return {"gates": case.gates, "views": case.views, "pattern": case.pattern, "delay_deg": round(case.delay_deg, 1),
            "edv_ml": round(case.edv_ml, 1), "counts_per_view": round(case.counts_per_view),
            "collimator": case.collimator, "defects": len(case.defects), "liver": round(case.liver_activity, 2),
            "descent_mm": round(case.descent_mm, 1), "azimuth_deg": round(case.azimuth_deg, 1),
            "elevation_deg": round(case.elevation_deg, 1), "last_gate_fraction": round(case.last_gate_fraction, 3)}


def _short_axis_layout(case: TorsoCase) -> dict:
    """Margins and off-centring of the short-axis export, drawn from the case (an operator's reorientation)."""
    rng = np.random.default_rng([case.anatomy_seed, 21])
    return {"margin_apex_mm": float(rng.uniform(15.0, 40.0)), "margin_base_mm": float(rng.uniform(25.0, 50.0)),
            "offset_vox": (float(rng.uniform(-2.0, 2.0)), float(rng.uniform(-2.0, 2.0)))}


def _short_axis_centre(result):
    """The engine's LV centre in short-axis voxels (slice, row, col), from what its result reports, or None."""
    geometry = getattr(result, "geometry", None)
    centres = getattr(geometry, "centres", None)
    apex, base = getattr(geometry, "apex_slice", None), getattr(geometry, "base_slice", None)
    if centres is None or apex is None or base is None:
        return None
    centres = np.asarray(centres, float)
    lo, hi = sorted((int(apex), int(base)))
    rows_cols = np.nanmean(centres[lo:hi + 1], axis=0)
    qc = getattr(result, "qc", None) or {}
    ends = [qc.get("apex_position"), qc.get("base_position")]
    if all(isinstance(v, (int, float)) and np.isfinite(v) for v in ends):
        # The LV's extent as the engine reports it (mid-wall apex to end-diastolic base plane, slice units): the last
        # sampled slice may deliberately stop short of the valve plane, which is not where the engine puts the LV.
        return np.array([(ends[0] + ends[1]) / 2.0, rows_cols[0], rows_cols[1]])
    return np.array([(lo + hi) / 2.0, rows_cols[0], rows_cols[1]])


def _qc_fields(result) -> dict:
    qc = getattr(result, "qc", None)
    if qc is None:
        qc = {}
    elif not isinstance(qc, dict):
        qc = getattr(qc, "__dict__", {})
    metrics = getattr(result, "metrics", {}) or {}
    warnings = qc.get("warnings") or []
    sensitivity = qc.get("base_sensitivity_deg", metrics.get("base_sensitivity_deg", np.nan))
    confidence = qc.get("localisation_confidence", qc.get("localization_confidence", np.nan))
    def number(key):
        value = qc.get(key)
        return float(value) if isinstance(value, (int, float)) else np.nan

    return {"base_sensitivity_deg": float(sensitivity) if sensitivity is not None else np.nan,
            "qc_confidence": float(confidence) if isinstance(confidence, (int, float)) else np.nan,
            "qc_reorientation_confidence": number("reorientation_confidence"),
            "qc_reorientation_margin": number("reorientation_margin"), "qc_margin": number("localisation_margin"),
            "qc_axis_disagreement_deg": number("reorientation_axis_disagreement_deg"),
            "qc_phase_noise_deg": number("phase_noise_deg"), "qc_beating_snr": number("beating_snr"),
            "qc_warnings": " | ".join(str(w) for w in warnings)}


def run_case(case: TorsoCase, path: str = "projections", workdir: str | Path | None = None) -> dict:
    """Simulate a case, run lvmd on it through ``path`` and return one scored row (a dict)."""
    if path not in PATHS:
        raise ValueError(f"path {path!r} is not one of {', '.join(PATHS)}")
    from ..batch import merge_scanner_qc
    from ..phase import analyze_study
    from ..scanner import from_projections, from_transaxial

    row = {"path": path, **case_summary(case)}
    t0 = time.perf_counter()
    rendered = render(case)
    row.update(gut_ratio=round(rendered.gut_ratio, 3), gut_band=gut_band(rendered.gut_ratio),
               gut_gap_mm=round(rendered.gut_gap_mm, 1), extracardiac_ratio=round(rendered.extracardiac_ratio, 3))
    reorientation, sa_truth, result = None, None, None
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        try:
            stage = "simulate"
            if path == "projections":
                source = write_projection_file(case, Path(tmp) / "torso.dcm", rendered)
            elif path == "transaxial":
                source = transaxial_study(case, rendered)
            else:
                source, sa_truth = short_axis_study(case, rendered, **_short_axis_layout(case))
            row["bench_s"] = round(time.perf_counter() - t0, 2)
            t1 = time.perf_counter()
            stage = "localise"
            if path == "projections":
                study = from_projections(source)
            elif path == "transaxial":
                study = from_transaxial(source)
            if path != "short-axis":
                reorientation = study.reorientation
                source = study.gated()
            stage = "phase"
            result = analyze_study(source)
            if reorientation is not None:  # what `lvmd phase` prints: the reorientation's warnings too
                merge_scanner_qc(result, study.qc)
            row["engine_s"] = round(time.perf_counter() - t1, 2)
            row["error"] = ""
        except Exception as exc:  # noqa: BLE001 - every failure of lvmd is a scored outcome, not a crash
            message = " ".join(str(exc).split())
            row["error"] = f"{stage}: {type(exc).__name__}: {message}"[:300]
    row.update(_score_localisation(case, reorientation, sa_truth, result))
    row.update(_score_phase(case, result))
    return row


def _score_localisation(case, reorientation, sa_truth, result) -> dict:
    out = {"centre_err_mm": np.nan, "centre_radial_mm": np.nan, "centre_axial_mm": np.nan, "axis_err_deg": np.nan,
           "localised": False, "landed_in": "", "engine_centre_vox": "", "engine_axis": ""}
    if reorientation is not None:
        out.update(localisation_errors(case, reorientation.centre, reorientation.apex_direction))
        out["engine_centre_vox"] = " ".join(f"{v:.2f}" for v in np.asarray(reorientation.centre, float))
        out["engine_axis"] = " ".join(f"{v:.4f}" for v in np.asarray(reorientation.apex_direction, float))
        if not out["localised"]:
            out["landed_in"] = structure_at(case, reorientation.centre)
    elif sa_truth is not None and result is not None:
        centre = _short_axis_centre(result)
        if centre is not None:
            point = sa_truth.origin_mm + case.voxel_mm * centre @ sa_truth.axes_mm
            out.update(localisation_errors(case, case.to_voxel(point), None))
            if not out["localised"]:
                out["landed_in"] = structure_at(case, case.to_voxel(point))
    return out


def _score_phase(case, result) -> dict:
    out = {"psd_true": np.nan, "psd_est": np.nan, "psd_err": np.nan, "psd_ok": False, "mean_true": np.nan,
           "mean_est": np.nan, "mean_err": np.nan, "mean_ok": False, "base_sensitivity_deg": np.nan,
           "qc_confidence": np.nan, "qc_reorientation_confidence": np.nan, "qc_reorientation_margin": np.nan,
           "qc_margin": np.nan, "qc_axis_disagreement_deg": np.nan, "qc_phase_noise_deg": np.nan,
           "qc_beating_snr": np.nan, "qc_warnings": ""}
    if result is None:
        return out
    samples = result.samples
    truth = sample_truth(case, samples["rho"].to_numpy(), samples["theta_deg"].to_numpy())
    psd, mean = float(result.metrics["psd_deg"]), float(result.metrics["mean_phase_deg"])
    out.update(psd_true=truth["psd_true"], psd_est=psd, psd_err=psd - truth["psd_true"],
               mean_true=truth["mean_true"], mean_est=mean, mean_err=angle_difference(mean, truth["mean_true"]))
    out["psd_ok"] = bool(abs(out["psd_err"]) <= psd_tolerance(truth["psd_true"]))
    out["mean_ok"] = bool(abs(out["mean_err"]) <= MEAN_PHASE_TOLERANCE_DEG)
    out.update(_qc_fields(result))
    return out
