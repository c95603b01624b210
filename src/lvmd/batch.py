"""Phase analysis of many studies: one broken file never sinks the batch.

Each study (short-axis npz / NIfTI / DICOM, reconstructed transaxial DICOM, or raw gated projections) is analysed on
its own -- in worker processes when asked -- and *every* exception it raises is caught and recorded as one clean
line in ``errors.csv`` (a damaged file can raise anything: ValueError, KeyError, struct.error, MemoryError, ...; a
worker that dies outright is retried alone and, if it dies again, recorded). The outputs -- ``<id>.json``,
``<id>_polarmaps.npz``, optionally ``<id>_qc.png``, ``summary.csv`` and ``errors.csv`` -- are written into a
temporary sibling folder that replaces the output folder only when the batch is done.
"""

from __future__ import annotations

import io
import json
import os
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from .outputs import atomic_dir, check_output_dir
from ._paths import unique_filenames
from .errors import LvmdError
from .executor import process_pool
from .phase.analyze import METRIC_KEYS, PhaseResult, analyze_study

STUDY_SUFFIXES = (".npz", ".nii", ".nii.gz", ".dcm")
SUMMARY_COLUMNS = ["id", "gates", *METRIC_KEYS, "latest_segment", "localisation_confidence", "localisation_method",
                   "extracardiac_ratio", "clipping", "gating_consistency", "lv_counts_cv", "base_slice",
                   "base_sensitivity_deg", "phase_noise_deg", "n_warnings", "warnings"]


@dataclass
class PhaseOptions:
    """How each study is analysed: :func:`lvmd.phase.analyze_study` keywords and the scanner path's settings.

    ``scanner`` holds :func:`lvmd.scanner.from_projections` keywords (reconstruction, ``lv_centre``,
    ``axis_angles``, ``mask_radius_mm``, ``attenuation_map``); ``transaxial`` says that DICOM inputs are
    reconstructed transaxial volumes to reorient first.
    """

    harmonics: int = 1
    bin_width: float = 6.0
    centre: tuple[float, float] | None = None
    apex_slice: int | None = None
    base_slice: int | None = None
    mask_radius_mm: float | None = None
    transaxial: bool = False
    qc_figure: bool = False
    scanner: dict = field(default_factory=dict)


@dataclass
class StudyOutcome:
    """One study's result as it travels back from a worker: its JSON record and arrays, or one error line."""

    path: str
    record: dict | None = None
    maps: dict | None = None
    figure_png: bytes | None = None
    error: str | None = None


@dataclass
class BatchResult:
    """What a batch produced: the summary rows, the errors and every study's warnings (id -> list of lines)."""

    rows: list[dict]
    errors: list[dict]
    warnings: dict[str, list[str]]
    total: int


def expand_studies(inputs: list[str]) -> list[Path]:
    """Study files from files and folders (a folder of DICOM files only is one multi-file study)."""
    paths: list[Path] = []
    for item in inputs:
        p = Path(item)
        if not p.exists():
            raise LvmdError(f"{p}: file not found")
        if p.is_dir():
            inner = sorted(f for f in p.iterdir() if f.is_file() and f.name.lower().endswith(STUDY_SUFFIXES))
            paths.extend(inner if inner and any(not f.name.lower().endswith(".dcm") for f in inner) else [p])
        else:
            paths.append(p)
    return paths


def one_line(exc: BaseException) -> str:
    """An exception as one clean line: the message alone for lvmd's own errors, the type first otherwise."""
    message = " ".join(str(exc).split())
    if isinstance(exc, LvmdError):
        return message
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def load_study(path: Path, options: PhaseOptions):
    """The short-axis gated study of a file, and the reorientation's QC when it came from scanner data."""
    from .io.spect import read_spect
    from .scanner import from_projections, from_transaxial, is_raw_projection_file

    scanner = dict(options.scanner)
    if is_raw_projection_file(path):
        study = from_projections(path, **scanner)
    elif options.transaxial:
        study = from_transaxial(read_spect(path, transaxial=True), scanner.get("lv_centre"), scanner.get("axis_angles"),
                                scanner.get("mask_radius_mm"))
    else:
        return read_spect(path), None
    return study.gated(), study.qc


def analyse_file(path: str, options: PhaseOptions) -> StudyOutcome:
    """Analyse one file; any exception becomes the outcome's one-line error (never raised)."""
    try:
        study, scanner_qc = load_study(Path(path), options)
        result = analyze_study(study, harmonics=options.harmonics, bin_width=options.bin_width, centre=options.centre,
                               apex_slice=options.apex_slice, base_slice=options.base_slice,
                               mask_radius_mm=options.mask_radius_mm)
        if scanner_qc is not None:
            merge_scanner_qc(result, scanner_qc)
        png = _figure_png(study, result) if options.qc_figure else None
        maps = {"phase": result.phase_map, "perfusion": result.perfusion_map, "thickening": result.thickening_map,
                "samples_rho": result.samples["rho"].to_numpy(),
                "samples_theta_deg": result.samples["theta_deg"].to_numpy(),
                "samples_phase_deg": result.samples["phase_deg"].to_numpy()}
        return StudyOutcome(str(path), json.loads(json.dumps(result.to_dict(), default=_json_default)), maps, png)
    except BaseException as exc:  # noqa: BLE001 - a broken file may raise anything; the batch records it and goes on
        if isinstance(exc, KeyboardInterrupt):
            raise
        return StudyOutcome(str(path), error=one_line(exc))


def merge_scanner_qc(result: PhaseResult, scanner_qc: dict) -> None:
    """Add the reorientation's figures and warnings (prefixed) to a result's ``qc``."""
    for key, value in scanner_qc.items():
        if key != "warnings":
            result.qc[key] = value
    confidence = scanner_qc.get("reorientation_confidence")
    extra = [f"reorientation: {w}" for w in scanner_qc.get("warnings", [])]
    if confidence is not None and confidence < 0.5:
        extra.append(f"reorientation: low confidence {confidence:.2f} in the LV found in the transaxial volume; check "
                     "`lvmd reconstruct --qc` and give --lv-centre/--axis-angles if it is wrong")
    result.qc["warnings"] = extra + list(result.qc.get("warnings", []))


def _figure_png(study, result: PhaseResult) -> bytes:
    from .report.qc_figures import phase_qc_figure

    buffer = io.BytesIO()
    phase_qc_figure(study, result).savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return buffer.getvalue()


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _run_all(paths: list[Path], options: PhaseOptions, workers: int,
             advance: Callable[[], None]) -> list[StudyOutcome]:
    """Outcomes in input order; a worker that dies is retried alone, then recorded as an error."""
    jobs = [str(p) for p in paths]
    if workers <= 1:
        out = []
        for job in jobs:
            out.append(analyse_file(job, options))
            advance()
        return out
    outcomes: dict[str, StudyOutcome] = {}
    with process_pool(workers) as pool:
        futures = {job: pool.submit(analyse_file, job, options) for job in jobs}
        for job, future in futures.items():
            try:
                outcomes[job] = future.result()
                advance()
            except BrokenProcessPool:
                break
    for job in jobs:
        if job not in outcomes:
            try:
                with process_pool(1) as alone:
                    outcomes[job] = alone.submit(analyse_file, job, options).result()
            except BrokenProcessPool:
                outcomes[job] = StudyOutcome(job, error="the analysis process died (out of memory or a crash in a "
                                                        "library) on this file")
            advance()
    return [outcomes[job] for job in jobs]


def run_batch(inputs: list[str], out: str | Path, options: PhaseOptions | None = None, force: bool = False,
              jobs: int | None = None, progress: Callable[[int, int], None] | None = None,
              protect: Sequence[str | Path] = ()) -> BatchResult:
    """Analyse every study in ``inputs`` and write the outputs to ``out`` (atomically).

    Parameters
    ----------
    inputs : list of str
        Files and folders.
    out : path
        Output folder (refused when it exists and is not empty, unless ``force``).
    options : PhaseOptions
    jobs : int, optional
        Worker processes (default: CPU count; 1 runs in this process).
    progress : callable, optional
        ``progress(done, total)`` after each study.
    protect : paths
        Other files the batch reads (an attenuation map): like ``inputs``, ``out`` must not be nor hold them.

    Each study's files are named by :func:`lvmd._paths.unique_filenames` of its id (``a/b`` and ``a_b`` never
    share a file); a second study with the same id is recorded in ``errors.csv``.
    """
    options = options or PhaseOptions()
    protected = [*inputs, *protect]
    check_output_dir(Path(out), force, protected)
    paths = expand_studies(inputs)
    done = [0]

    def advance() -> None:
        done[0] += 1
        if progress:
            progress(done[0], len(paths))

    workers = max(1, min(jobs or os.cpu_count() or 1, len(paths)))
    outcomes = _run_all(paths, options, workers, advance)
    rows, errors, warnings, studies = [], [], {}, {}
    for outcome in outcomes:
        if outcome.error is not None:
            errors.append({"input": outcome.path, "reason": outcome.error})
        elif outcome.record["id"] in studies:
            errors.append({"input": outcome.path, "reason": f"duplicate study id {outcome.record['id']} (also "
                                                            f"{studies[outcome.record['id']].path})"})
        else:
            studies[outcome.record["id"]] = outcome
    names = unique_filenames(studies)
    with atomic_dir(out, force, protected) as tmp:
        for sid, outcome in studies.items():
            record = outcome.record
            _write_study(tmp, names[sid], record, outcome)
            qc = record["qc"]
            warnings[sid] = list(qc.get("warnings", []))
            rows.append({**{k: record[k] for k in ("id", "gates", *METRIC_KEYS, "latest_segment")},
                         **{k: qc.get(k) for k in SUMMARY_COLUMNS if k in qc},
                         "n_warnings": len(warnings[sid]), "warnings": " | ".join(warnings[sid])})
        pd.DataFrame(rows, columns=SUMMARY_COLUMNS).to_csv(tmp / "summary.csv", index=False)
        if errors:
            pd.DataFrame(errors, columns=["input", "reason"]).to_csv(tmp / "errors.csv", index=False)
    return BatchResult(rows, errors, warnings, len(paths))


def _write_study(folder: Path, name: str, record: dict, outcome: StudyOutcome) -> None:
    (folder / f"{name}.json").write_text(json.dumps(record, indent=2))
    maps = outcome.maps
    with open(folder / f"{name}_polarmaps.npz", "wb") as fh:
        np.savez_compressed(fh, patient_id=np.array([record["id"]]),
                            **{k: maps[k][None].astype(np.float32) for k in ("phase", "perfusion", "thickening")},
                            **{k: maps[k] for k in ("samples_rho", "samples_theta_deg", "samples_phase_deg")})
    if outcome.figure_png is not None:
        (folder / f"{name}_qc.png").write_bytes(outcome.figure_png)
