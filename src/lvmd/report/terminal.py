"""What the command line prints: each command's results as lines of plain text (the CLI only prints them)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Callable

from ..results import format_p


def say(lines, stderr: bool = False) -> None:
    """Print one line or a list of lines of plain text to stdout (or stderr), user text shown literally: control
    characters and ANSI sequences escaped, nothing read as markup (see :mod:`lvmd.console`)."""
    from ..console import write_line

    stream = sys.stderr if stderr else sys.stdout
    for line in [lines] if isinstance(lines, str) else lines:
        write_line(line, stream)


def check_lines(source: str, summary: dict, analysed) -> list[str]:
    """``lvmd check``: the cohort's patients and exclusions (with reasons), then the analysed patients' response
    counts (the counts a study reports), maps and missing values."""
    definition = summary["response_definition"]
    label = analysed.response(definition)
    lines = [f"cohort {source}: {summary['patients']} patients",
             f"excluded {len(analysed.excluded)}:" if analysed.excluded else "excluded: none"]
    lines += [f"  {e.patient_id}: {e.reason}" for e in analysed.excluded]
    lines.append(f"analysed: {len(analysed)} patients; response ({definition}): {int((label == 1).sum())} "
                 f"responders, {int((label == 0).sum())} non-responders")
    lines.append(f"maps: {', '.join(summary['maps']) or 'none (phase maps are needed for analyze)'}")
    if summary["columns_with_missing"]:
        lines.append("columns with missing values (complete cases per analysis): "
                     + ", ".join(summary["columns_with_missing"]))
    return lines


def batch_lines(result, out: str) -> tuple[list[str], list[str]]:
    """``lvmd phase``: (lines for stdout, lines for stderr: each study's warnings and errors)."""
    errors = [f"warning: {sid}: {line}" for sid, lines in result.warnings.items() for line in lines]
    errors += [f"error: {e['reason']}" if e["reason"].startswith(f"{e['input']}:") else f"error: {e['input']}: {e['reason']}"
               for e in result.errors]
    done = f"analysed {len(result.rows)} of {result.total} studies -> {out}"
    if result.errors:
        done += f"; {len(result.errors)} failed (listed in {Path(out) / 'errors.csv'})"
    return [done], errors


def simulate_line(cohort, out: str, mechanism: str, null: bool) -> str:
    """``lvmd simulate``: what was written, with its mechanism."""
    n, r = len(cohort.truth), int(cohort.truth["response"].sum())
    return (f"wrote {out}: {n} patients, {r} responders ({100 * r / n:.1f} %), mechanism {mechanism}"
            + (" with no pattern effect (--null)" if null and mechanism != "null" else ""))


def reconstruction_line(study, out: str) -> str:
    """``lvmd reconstruct``: the short-axis study written and where the LV was found."""
    info = study.reorientation
    az, el = info.angles_deg
    return (f"wrote {out}: {study.counts.shape[0]} gate(s), short axis {study.counts.shape[1:]} at "
            f"{study.spacing_mm[0]:.2f} mm; LV centre (x, y, z) {tuple(round(float(v), 1) for v in info.centre)}, "
            f"axis azimuth {az:.1f} deg, elevation {el:.1f} deg; {info.localisation.method} localisation, "
            f"confidence {info.localisation.confidence:.2f}")


def study_lines(manifest: dict, out: str) -> list[str]:
    """``lvmd analyze`` / ``demo``: the headline numbers of the study."""
    head = manifest["headline"]
    lines = [f"report: {Path(out) / 'report.html'}",
             f"{head['patients']} patients, {head['responders']} responders, {head['excluded']} excluded "
             f"(response: {head['response_definition']})"]
    lines += [f"significant {kind.upper()} features: {', '.join(names) or 'none'}"
              for kind, names in head["significant"].items()]
    lines += [f"  AUC {m['apparent_auc']:.3f}  {m['model']}" + (" (alternative)" if m["role"] != "primary" else "")
              for m in head["models"]]
    lines += [f"  LR {t['lr']:.2f} (df {t['df']}), P = {format_p(t['p'])}  {t['sequence']}: {t['model']}"
              for t in head["lr_tests"]]
    return lines + ["stage times (s): " + ", ".join(f"{k} {v:.1f}" for k, v in manifest["timings_s"].items())]


def validation_lines(result, out: str) -> list[str]:
    """``lvmd validate``: apparent, cross-validated and optimism-corrected AUC, and each image family's gain."""
    lines = [f"report: {Path(out) / 'report.html'}"]
    lines += [f"  {row['model']:<18} apparent AUC {row['apparent_auc']:.3f}  cross-validated {row['cv_auc']:.3f} "
              f"[{row['cv_auc_low']:.3f}, {row['cv_auc_high']:.3f}]  optimism-corrected "
              f"{row['optimism_corrected_auc']:.3f}" for _, row in result.summary.iterrows()]
    lines += [f"{g['family']} gain over {g['base']}: apparent {g['apparent_gain']:+.3f}, cross-validated "
              f"{g['cv_gain']:+.3f} [{g['cv_gain_low']:+.3f}, {g['cv_gain_high']:+.3f}]"
              + (f" ({g['note']})" if g["note"] else "") for _, g in result.gains.iterrows()]
    lines.append("times (s): " + ", ".join(f"{k} {v}" for k, v in result.timings.items()))
    if result.failures:
        lines.append(f"{len(result.failures)} folds or resamples failed twice; they are listed in the report")
    return lines


def comparison_lines(result, folder) -> list[str]:
    """``lvmd demo``: each image family's gain over its base, apparent (in-sample) beside cross-validated."""
    s = result.settings
    lines = [f"honest comparison ({s['folds']}-fold cross-validation x {s['repeats']} repeats, autoencoder "
             f"{s['ae_iterations_in_folds']} iterations per fold; {Path(folder) / 'report.html'}):"]
    chosen = result.selection.groupby("family", sort=False)
    for _, g in result.gains.iterrows():
        lines.append(f"  {g['family']:<24} gain over {g['base']}: apparent {g['apparent_gain']:+.3f}, cross-validated "
                     f"{g['cv_gain']:+.3f} [{g['cv_gain_low']:+.3f}, {g['cv_gain_high']:+.3f}]")
        if g["family"] in chosen.groups:
            top = chosen.get_group(g["family"]).head(4)
            lines.append("    chosen in the folds: " + ", ".join(f"{f} {share:.0%}" for f, share in
                                                             zip(top["feature"], top["fraction_of_folds"])))
    return lines


def fit_line(model, out: str, optimism_corrected_auc: float | None) -> str:
    """``lvmd fit``: what was saved."""
    corrected = "" if optimism_corrected_auc is None else f", optimism-corrected {optimism_corrected_auc:.3f}"
    return (f"wrote {out}: {model.family_} on {model.training_['patients']} patients; variables "
            f"{', '.join(model.variables_)}; apparent AUC {model.apparent_auc_:.3f}{corrected}")


def prediction_lines(prediction, as_json: bool) -> list[str]:
    """``lvmd predict``: one line per patient (a JSON object with ``--json``)."""
    lines = []
    for rec in prediction.records():
        flag = f"  [{len(rec['warnings'])} warning(s)]" if rec["warnings"] else ""
        lines.append(json.dumps(rec) if as_json else f"{rec['patient_id']}: P(response) = {rec['probability']:.3f} "
                     f"[{rec['ci_low']:.3f}, {rec['ci_high']:.3f}]{flag}")
    return lines


def evaluation_lines(manifest: dict, out: str) -> list[str]:
    """``lvmd evaluate``: discrimination and calibration on the new cohort."""
    h = manifest["headline"]
    return [f"report: {Path(out) / 'report.html'}",
            f"{h['family']} on {h['patients']} patients ({h['excluded']} excluded): AUC {h['auc']:.3f} "
            f"[{h['auc_ci'][0]:.3f}, {h['auc_ci'][1]:.3f}], calibration-in-the-large "
            f"{_number(h['calibration_in_the_large'], '+.3f')}, slope {_number(h['calibration_slope'], '.3f')}, "
            f"Brier {h['brier']:.3f}"] + ([f"note: {h['calibration_note']}"] if h.get("calibration_note") else [])


def _number(value, spec: str) -> str:
    """``value`` formatted, or "not estimable" for a value that is missing (null in a manifest)."""
    return "not estimable" if value is None else format(value, spec)


def console(stderr: bool = False):
    """The console every command prints through: user text is shown literally (see :mod:`lvmd.console`)."""
    from ..console import SafeConsole

    return SafeConsole(stderr=stderr)


def progress(quiet: bool):
    """A rich progress bar on a terminal (elsewhere, or with ``quiet``, a silent stand-in with the same interface,
    so that a redirected stderr holds only messages); descriptions are never markup."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    err = console(stderr=True)
    if quiet or not err.is_terminal:
        return Progress(disable=True)
    return Progress(TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), transient=False, console=err)


def stage_bars(bar) -> Callable[[str, int, int], None]:
    """A ``progress(stage, done, total)`` callback that keeps one bar per stage on a rich Progress."""
    tasks: dict = {}

    def update(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = bar.add_task(stage, total=total)
        bar.update(tasks[stage], completed=done, total=total)

    return update


def steps(bar, label: str) -> Callable[[str, int, int], None]:
    """A ``progress(stage, index, total)`` callback that shows sequential stages on one bar of a rich Progress."""
    task = bar.add_task(label, total=None)

    def update(stage: str, index: int, total: int) -> None:
        bar.update(task, completed=index, total=total, description=f"{label}: {stage}")

    return update
