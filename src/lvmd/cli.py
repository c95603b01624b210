"""Command-line interface: a thin layer that parses arguments, calls the library and prints.

Errors raised on purpose (:class:`~lvmd.errors.LvmdError`) are printed as one ``error: ...`` line on stderr with exit
code 2; nothing is written on failure (outputs go to a temporary sibling that is renamed into place).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from . import __version__
from ._atomic import atomic_dir, check_output_dir
from .errors import LvmdError


def _progress(quiet: bool):
    """A rich progress bar on a terminal (elsewhere, or with ``quiet``, a silent stand-in with the same interface,
    so that a redirected stderr holds only messages); descriptions are never markup."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = _console(stderr=True)
    if quiet or not console.is_terminal:
        return Progress(disable=True)
    return Progress(TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), transient=False, console=console)


def _console(stderr: bool = False):
    """The console every command prints through: user text is shown literally (see :mod:`lvmd._console`)."""
    from ._console import SafeConsole

    return SafeConsole(stderr=stderr)


# ---------------------------------------------------------------------------------------------------------- check
def cmd_check(args) -> int:
    from .cohort import load_cohort

    cohort = load_cohort(args.cohort)
    summary = cohort.summary(args.response)
    analysed = cohort.apply_exclusions(args.min_lvesv, args.response)
    console = _console()
    console.print(f"cohort {args.cohort}: {summary['patients']} patients")
    console.print(f"response ({args.response}): {summary['responders']} responders, "
                  f"{summary['non_responders']} non-responders, {summary['response_unknown']} unknown")
    if analysed.excluded:
        console.print(f"excluded {len(analysed.excluded)}:")
        for e in analysed.excluded:
            console.print(f"  {e.patient_id}: {e.reason}")
    else:
        console.print("excluded: none")
    console.print(f"maps: {', '.join(summary['maps']) or 'none (phase maps are needed for analyze)'}")
    missing = cohort.table.columns[cohort.table.isna().any()].tolist()
    if missing:
        console.print("columns with missing values (complete cases per analysis): " + ", ".join(missing))
    console.print(f"usable: {len(analysed)} patients after exclusions")
    return 0


# -------------------------------------------------------------------------------------------------------- phantom
def cmd_phantom(args) -> int:
    from .phantom import make_phantom, write_phantom

    phantom = make_phantom(args.pattern, args.delay, gates=args.gates, peak_counts=args.counts, liver=args.liver,
                           base_descent_mm=args.descent, seed=args.seed)
    write_phantom(phantom, args.out, args.force)
    print(f"wrote {args.out} ({args.pattern}, {args.gates} gates, delay {args.delay:g} deg)")
    return 0


# ---------------------------------------------------------------------------------------------------------- phase
def _printable(text: str) -> str:
    """User-supplied text (ids come from file names) with control characters replaced, for plain printing."""
    return "".join(c if c.isprintable() else "?" for c in str(text))


def _scanner_options(args) -> dict:
    from .scanner import read_mu_map

    return {"iterations": args.iterations, "subsets": args.subsets, "butterworth_order": args.butterworth_order,
            "butterworth_cutoff": None if args.no_filter else args.butterworth_cutoff, "collimator": args.collimator,
            "lv_centre": args.lv_centre, "axis_angles": args.axis_angles, "mask_radius_mm": args.mask_radius,
            "attenuation_map": read_mu_map(args.mu_map)}


def cmd_phase(args) -> int:
    from .batch import PhaseOptions, run_batch

    options = PhaseOptions(args.harmonics, args.bin_width, tuple(args.centre) if args.centre else None, args.apex,
                           args.base, args.mask_radius, args.transaxial, args.qc, _scanner_options(args))
    with _progress(args.quiet) as progress:
        task = progress.add_task("phase analysis", total=None)
        result = run_batch(args.inputs, args.out, options, args.force, args.jobs,
                           lambda done, total: progress.update(task, completed=done, total=total))
    for sid, lines in result.warnings.items():
        for line in lines:
            print(f"warning: {_printable(sid)}: {_printable(line)}", file=sys.stderr)
    for e in result.errors:
        print(f"error: {_printable(e['reason'])}", file=sys.stderr)
    print(f"analysed {len(result.rows)} of {result.total} studies -> {_printable(args.out)}")
    return 1 if result.errors else 0


# ------------------------------------------------------------------------------------------------------- simulate
def cmd_simulate(args) -> int:
    from .simulate import simulate_cohort

    check_output_dir(Path(args.out), args.force)
    cohort = simulate_cohort(args.n, args.seed, null=args.null, maps_only=args.maps_only, with_spect=args.with_spect)
    with atomic_dir(args.out, args.force) as tmp:
        cohort.write(tmp)
    r = int(cohort.truth["response"].sum())
    print(f"wrote {args.out}: {args.n} patients, {r} responders ({100 * r / args.n:.1f} %)"
          + (", null mechanism" if args.null else ""))
    return 0


# ------------------------------------------------------------------------------------------------------- features
def cmd_features(args) -> int:
    import matplotlib.pyplot as plt

    from .cohort import load_cohort
    from .features import AutoencoderFeatures, PCAFeatures
    from .report.figures import loss_curve

    cohort = load_cohort(args.cohort)
    if cohort.maps is None:
        raise LvmdError(f"{args.cohort}: no phase polar maps (polarmaps.npz or polarmaps/)")
    check_output_dir(Path(args.out), args.force)
    with _progress(args.quiet) as progress:
        if args.method == "ae":
            model = AutoencoderFeatures(iterations=args.iterations, random_state=args.seed)
            task = progress.add_task("autoencoder iterations", total=args.iterations)
            model.fit(cohort.maps, progress=lambda it, loss: progress.update(task, completed=it))
        else:
            model = PCAFeatures(n_components=min(args.components, len(cohort) - 1), random_state=args.seed).fit(cohort.maps)
    features = model.transform(cohort.maps)
    errors = model.reconstruction_error(cohort.maps)
    with atomic_dir(args.out, args.force) as tmp:
        features.join(errors).to_csv(tmp / "features.csv", float_format="%.8g")
        model.save(tmp / "model")
        if args.method == "ae":
            fig = loss_curve(model.loss_curve_)
            fig.savefig(tmp / "loss_curve.png", dpi=110, bbox_inches="tight")
            plt.close(fig)
    print(f"wrote {args.out}: {features.shape[1]} {args.method.upper()} features of {len(features)} patients; "
          f"mean masked reconstruction MSE {errors.mean():.3g}")
    return 0


# ---------------------------------------------------------------------------------------- analyze / demo / config
def _run_analyze(cohort, cohort_inputs: list[Path], out: str, config, config_path, force: bool, quiet: bool):
    from .report.study_report import write_study
    from .study import run_study

    stages = ["exclusions", "table 1", "autoencoder", "pca", "univariate and multivariate",
              "roc and incremental value", "report"]
    with _progress(quiet) as progress:
        task = progress.add_task("study", total=len(stages))

        def step(name: str) -> None:
            progress.update(task, completed=stages.index(name), description=f"study: {name}")

        result = run_study(cohort, config, progress=step)
        step("report")
        with atomic_dir(out, force) as tmp:
            inputs = cohort_inputs + ([Path(config_path)] if config_path else [])
            manifest = write_study(result, tmp, inputs)
        progress.update(task, completed=len(stages), description="study: done")
    return result, manifest


def _cohort_inputs(folder: Path) -> list[Path]:
    files = [folder / "clinical.csv", folder / "polarmaps.npz"]
    maps_dir = folder / "polarmaps"
    if maps_dir.is_dir():
        files += sorted(maps_dir.glob("*.png"))
    return [f for f in files if f.is_file()]


def cmd_analyze(args) -> int:
    from .cohort import load_cohort
    from .config import load_config

    config = load_config(args.config)
    check_output_dir(Path(args.out), args.force)
    cohort = load_cohort(args.cohort)
    _, manifest = _run_analyze(cohort, _cohort_inputs(Path(args.cohort)), args.out, config, args.config, args.force,
                               args.quiet)
    _print_headline(manifest, args.out)
    return 0


def _print_headline(manifest: dict, out: str) -> None:
    head = manifest["headline"]
    console = _console()
    console.print(f"report: {Path(out) / 'report.html'}")
    console.print(f"{head['patients']} patients, {head['responders']} responders, {head['excluded']} excluded "
                  f"(response: {head['response_definition']})")
    console.print(f"significant AE features: {', '.join(head['significant_ae']) or 'none'}")
    for model, auc in head["auc"].items():
        console.print(f"  AUC {auc:.3f}  {model}")
    for t in head["lr_tests"]:
        console.print(f"  LR {t['lr']:.2f} (df {t['df']}), P = {t['p']:.3f}  {t['sequence']}: {t['model']}")
    timings = manifest["timings_s"]
    console.print("stage times (s): " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()))


def cmd_demo(args) -> int:
    from .config import load_config
    from .datasets import demo_cohort_path, load_demo_cohort

    out = args.out
    config = load_config(args.config)
    check_output_dir(Path(out), args.force)
    _, manifest = _run_analyze(load_demo_cohort(), _cohort_inputs(demo_cohort_path()), out, config, args.config,
                               args.force, args.quiet)
    _print_headline(manifest, out)
    return 0


def cmd_config(args) -> int:
    from .config import DEFAULTS_TOML, load_config

    if args.defaults:
        print(DEFAULTS_TOML, end="")
        return 0
    if args.check:
        load_config(args.check)
        print(f"{args.check}: valid")
        return 0
    raise LvmdError("config: give --defaults or --check FILE")


# ------------------------------------------------------------------------------------------------------ validate
def cmd_validate(args) -> int:
    from .cohort import load_cohort
    from .config import load_config
    from .report.validation_report import write_validation
    from .validation import validate

    config = load_config(args.config)
    check_output_dir(Path(args.out), args.force)
    if args.scheduler and args.scheduler.startswith("tcp://"):
        from .validation import _connect

        _connect(args.scheduler, None)[1].close()  # fail within 10 s, before any work, when nobody answers
    cohort = load_cohort(args.cohort)
    with _progress(args.quiet) as progress:
        tasks = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(stage, total=total)
            progress.update(tasks[stage], completed=done)

        result = validate(cohort, config, folds=args.folds, repeats=args.repeats, bootstrap=args.bootstrap,
                          seed=args.seed, fast=args.fast, scheduler=args.scheduler, workers=args.workers,
                          stability_seeds=args.stability_seeds, progress=update)
    with atomic_dir(args.out, args.force) as tmp:
        write_validation(result, tmp, str(args.cohort))
    console = _console()
    console.print(f"report: {Path(args.out) / 'report.html'}")
    for _, row in result.summary.iterrows():
        console.print(f"  {row['model']:<18} apparent AUC {row['apparent_auc']:.3f}  cross-validated "
                      f"{row['cv_auc']:.3f} [{row['cv_auc_low']:.3f}, {row['cv_auc_high']:.3f}]  "
                      f"optimism-corrected {row['optimism_corrected_auc']:.3f}")
    if result.gain:
        g = result.gain
        console.print(f"AE gain over clinical+psd: apparent {g['apparent_gain']:+.3f}, cross-validated "
                      f"{g['cv_gain']:+.3f} [{g['cv_gain_low']:+.3f}, {g['cv_gain_high']:+.3f}]")
    console.print("times (s): " + ", ".join(f"{k} {v}" for k, v in result.timings.items()))
    if result.failures:
        console.print(f"{len(result.failures)} folds or resamples failed twice; they are listed in the report")
        return 1
    return 0


# --------------------------------------------------------------------------------------------------- fit / predict
def cmd_fit(args) -> int:
    from .bundle import ModelBundle
    from .cohort import load_cohort
    from .config import load_config

    config = load_config(args.config)
    check_output_dir(Path(args.out), args.force)
    cohort = load_cohort(args.cohort)
    corrected = None
    if args.optimism:
        from .validation import validate

        res = validate(cohort, config, folds=2, repeats=1, bootstrap=args.optimism, families=[args.family],
                       fast=args.fast, stability_seeds=0)
        corrected = float(res.summary["optimism_corrected_auc"].iloc[0])
    bundle = ModelBundle.fit(cohort, config, args.family, corrected)
    with atomic_dir(args.out, args.force) as tmp:
        bundle.save(tmp)
    perf = bundle.meta["performance"]
    print(f"wrote {args.out}: {args.family} on {bundle.meta['training']['patients']} patients; variables "
          f"{', '.join(bundle.pipeline.variables)}; apparent AUC {perf['apparent_auc']:.3f}"
          + (f", optimism-corrected {corrected:.3f}" if corrected is not None else ""))
    return 0


def _safe_name(pid: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in pid) or "patient"


def cmd_predict(args) -> int:
    import numpy as np

    from .bundle import ModelBundle
    from .io.polarmaps import read_polarmaps
    from .io.tables import read_clinical
    from .phase.metrics import latest_viable_segment, segment_summary
    from .polar import disc_mask, pixel_coordinates

    if args.out:
        check_output_dir(Path(args.out), args.force)
    bundle = ModelBundle.load(args.bundle)
    needed = [v for v in bundle.pipeline.variables if v not in bundle.pipeline.image_features
              and v not in ("psd_deg", "pbw_deg")]
    clinical = read_clinical(args.clinical, required=needed)
    ids = list(clinical.index)
    phase = None
    latest: dict[str, int | None] = {}
    if args.maps:
        maps = read_polarmaps(args.maps)
        missing = [p for p in ids if p not in set(maps.patient_id)]
        if missing:
            raise LvmdError(f"{args.maps}: no maps for patients {', '.join(missing[:8])}")
        maps = maps.subset(ids)
        phase = maps.phase
        if maps.perfusion is not None:
            rho, theta = pixel_coordinates()
            inside = disc_mask()
            for pid, ph, pf in zip(ids, maps.phase, maps.perfusion):
                ok = inside & np.isfinite(ph) & np.isfinite(pf)
                seg = segment_summary(rho[ok], theta[ok], ph[ok], pf[ok], np.zeros(int(ok.sum())))
                latest[pid] = latest_viable_segment(seg)
    elif args.spect:
        from .io.spect import read_spect
        from .phase import analyze_study

        results = {}
        for path in args.spect:
            res = analyze_study(read_spect(path))
            results[res.study_id] = res
        missing = [p for p in ids if p not in results]
        if missing:
            raise LvmdError(f"--spect: no study named after patients {', '.join(missing[:8])} (a study's id is its "
                            "file or folder stem)")
        phase = np.stack([results[p].phase_map for p in ids])
        for p in ids:
            latest[p] = results[p].latest_segment
            clinical.loc[p, "psd_deg"] = results[p].metrics["psd_deg"]
            clinical.loc[p, "pbw_deg"] = results[p].metrics["pbw_deg"]
    table = bundle.predict(clinical, phase)
    table["latest_segment"] = [latest.get(p) for p in table.index]
    records = []
    for pid, row in table.iterrows():
        values = {v: float(row[v]) for v in bundle.pipeline.variables}
        records.append({"patient_id": pid, "probability": float(row["probability"]), "ci_low": float(row["ci_low"]),
                        "ci_high": float(row["ci_high"]), "values": values,
                        "contributions": {v: float(row[f"contribution_{v}"]) for v in bundle.pipeline.variables},
                        "psd_deg": float(clinical.loc[pid, "psd_deg"]) if "psd_deg" in clinical else None,
                        "pbw_deg": float(clinical.loc[pid, "pbw_deg"]) if "pbw_deg" in clinical else None,
                        "latest_segment": latest.get(pid), "warnings": list(row["warnings"])})
    if args.out:
        from .report.patient import write_patient_pages

        with atomic_dir(args.out, args.force) as tmp:
            flat = table.drop(columns=["warnings"]).assign(warnings=["; ".join(w) for w in table["warnings"]])
            flat.to_csv(tmp / "predictions.csv", float_format="%.6g")
            (tmp / "predictions.json").write_text(json.dumps(records, indent=2))
            for i, rec in enumerate(records):
                write_patient_pages(tmp, rec["patient_id"], None if phase is None else phase[i], rec,
                                    rec["latest_segment"], _safe_name(rec["patient_id"]))
    if args.json:
        for rec in records:
            print(json.dumps(rec))
    else:
        for rec in records:
            flag = f"  [{len(rec['warnings'])} warning(s)]" if rec["warnings"] else ""
            print(f"{rec['patient_id']}: P(response) = {rec['probability']:.3f} "
                  f"[{rec['ci_low']:.3f}, {rec['ci_high']:.3f}]{flag}")
    return 0


# ---------------------------------------------------------------------------------------------------- reconstruct
def cmd_reconstruct(args) -> int:
    from .scanner import check_reconstruction_outputs, from_projections, write_reconstruction

    check_reconstruction_outputs(args.out, args.qc, args.force)
    options = _scanner_options(args)
    with _progress(args.quiet) as progress:
        task = progress.add_task("OSEM per gate", total=None)
        study = from_projections(args.projections, progress=lambda done, total: progress.update(
            task, completed=done, total=total), **options)
    write_reconstruction(study, args.out, args.qc, args.force)
    for line in study.qc["warnings"]:
        print(f"warning: {_printable(line)}", file=sys.stderr)
    info = study.reorientation
    az, el = info.angles_deg
    print(f"wrote {_printable(args.out)}: {study.counts.shape[0]} gate(s), short axis {study.counts.shape[1:]} at "
          f"{study.spacing_mm[0]:.2f} mm; LV centre (x, y, z) {tuple(round(float(v), 1) for v in info.centre)}, "
          f"axis azimuth {az:.1f} deg, elevation {el:.1f} deg; {info.localisation.method} localisation, "
          f"confidence {info.localisation.confidence:.2f}")
    return 0


# ------------------------------------------------------------------------------------------------------- parser
def _add_recon_options(p) -> None:
    p.add_argument("--mask-radius", type=float, metavar="MM", help="ignore activity farther than this from the LV "
                   "(axis in short axis, centre in transaxial volumes)")
    p.add_argument("--iterations", type=int, default=3, help="OSEM iterations (paper: 3)")
    p.add_argument("--subsets", type=int, default=10, help="OSEM subsets (paper: 10)")
    p.add_argument("--butterworth-order", type=int, default=10, help="post-filter order (paper: 10)")
    p.add_argument("--butterworth-cutoff", type=float, default=0.3, help="post-filter cutoff, cycles/cm (paper: 0.3)")
    p.add_argument("--no-filter", action="store_true", help="skip the Butterworth post-filter")
    p.add_argument("--collimator", help="PyTomography collimator code (e.g. GI-LEHR) for resolution modelling")
    p.add_argument("--mu-map", help="attenuation map on the reconstruction grid, 1/cm (.npz with array mu, or NIfTI) "
                   "for attenuation correction")
    p.add_argument("--lv-centre", type=float, nargs=3, metavar=("X", "Y", "Z"),
                   help="operator's LV centre in the transaxial volume (voxels); always used")
    p.add_argument("--axis-angles", type=float, nargs=2, metavar=("AZIMUTH", "ELEVATION"),
                   help="operator's base-to-apex axis (degrees; see docs/data-format.md); always used")


def build_parser() -> argparse.ArgumentParser:
    """The ``lvmd`` argument parser with all subcommands."""
    parser = argparse.ArgumentParser(prog="lvmd", description="Phase analysis of gated SPECT and autoencoder "
                                     "dyssynchrony features for CRT patient selection.")
    parser.add_argument("--version", action="version", version=f"lvmd {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("check", help="validate a cohort folder and summarise it")
    p.add_argument("cohort")
    p.add_argument("--response", default="esv15", choices=["esv15", "ef5", "column"])
    p.add_argument("--min-lvesv", type=float, default=20.0, help="exclude baseline LVESV below this (mL; 0 = off)")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("phantom", help="write a digital gated-SPECT phantom with a known activation pattern")
    p.add_argument("--pattern", default="lbbb", help="synchronous, lbbb, anterior_late, two_region or "
                   "two_region_step")
    p.add_argument("--delay", type=float, default=90.0, help="activation delay of the late region (deg)")
    p.add_argument("--gates", type=int, default=16, choices=[8, 16])
    p.add_argument("--counts", type=float, default=None, help="peak myocardial counts per voxel and gate (Poisson "
                   "noise); default noise-free")
    p.add_argument("--liver", action="store_true", help="add hot extracardiac activity under the heart")
    p.add_argument("--descent", type=float, default=0.0, help="systolic descent of the base towards the apex (mm; "
                   "real hearts 8-15)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="study file: .npz, .nii, .nii.gz or .dcm")
    p.add_argument("--force", action="store_true")
    p.set_defaults(func=cmd_phantom)

    p = sub.add_parser("phase", help="phase analysis of gated SPECT studies (npz, NIfTI, DICOM)")
    p.add_argument("inputs", nargs="+", help="study files or folders")
    p.add_argument("--out", required=True)
    p.add_argument("--harmonics", type=int, default=1, choices=[1, 2, 3])
    p.add_argument("--bin-width", type=float, default=6.0, help="histogram bin width (deg)")
    p.add_argument("--centre", type=float, nargs=2, metavar=("ROW", "COL"),
                   help="operator's LV axis position in the short-axis slices (voxels); always used")
    p.add_argument("--apex", type=int, help="operator's apex slice (0-based); always used")
    p.add_argument("--base", type=int, help="operator's base slice (0-based, last slice sampled); always used")
    p.add_argument("--qc", action="store_true", help="also write <id>_qc.png: the sampled myocardium and base plane "
                   "over short-axis, vertical and horizontal long-axis views")
    p.add_argument("--jobs", type=int, default=None, help="parallel processes (default: CPU count)")
    p.add_argument("--transaxial", action="store_true", help="inputs are reconstructed transaxial gated volumes "
                   "(RECON GATED TOMO): reorient them to short axis first")
    _add_recon_options(p)
    p.add_argument("--force", action="store_true")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_phase)

    p = sub.add_parser("simulate", help="simulate a synthetic CRT cohort with a planted mechanism")
    p.add_argument("--n", type=int, default=103)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True)
    p.add_argument("--null", action="store_true", help="no pattern effect: response depends on clinical data only")
    p.add_argument("--maps-only", action="store_true", help="draw maps directly (fast, large n)")
    p.add_argument("--with-spect", action="store_true", help="also keep the gated phantom studies")
    p.add_argument("--force", action="store_true")
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser("features", help="fit the autoencoder (or PCA) on a cohort's phase maps")
    p.add_argument("cohort")
    p.add_argument("--out", required=True)
    p.add_argument("--method", default="ae", choices=["ae", "pca"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--iterations", type=int, default=1000)
    p.add_argument("--components", type=int, default=64, help="PCA components")
    p.add_argument("--force", action="store_true")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_features)

    for name, helptext in (("analyze", "run the paper's study on a cohort and write tables, figures, report.html"),
                           ("demo", "run the study on the embedded synthetic cohort")):
        p = sub.add_parser(name, help=helptext)
        if name == "analyze":
            p.add_argument("cohort")
            p.add_argument("--out", required=True)
        else:
            p.add_argument("--out", default="lvmd-demo")
        p.add_argument("--config", help="study.toml (see `lvmd config --defaults`)")
        p.add_argument("--force", action="store_true")
        p.add_argument("--quiet", action="store_true")
        p.set_defaults(func=cmd_analyze if name == "analyze" else cmd_demo)

    p = sub.add_parser("validate", help="honest validation: nested cross-validation and bootstrap optimism")
    p.add_argument("cohort")
    p.add_argument("--out", required=True)
    p.add_argument("--config", help="study.toml")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--bootstrap", type=int, default=200, help="resamples for the optimism correction (0 = skip)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--fast", action="store_true", help="train each autoencoder for 50 iterations (stated in the "
                   "report) instead of the configured 1000")
    p.add_argument("--scheduler", help="local:N (Dask LocalCluster of N workers) or tcp://HOST:PORT; default: local "
                   "processes")
    p.add_argument("--workers", type=int, default=None, help="local processes (default: CPU count)")
    p.add_argument("--stability-seeds", type=int, default=3)
    p.add_argument("--force", action="store_true")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("fit", help="fit the final model on a whole cohort and save a bundle")
    p.add_argument("cohort")
    p.add_argument("--out", required=True, help="bundle folder")
    p.add_argument("--family", default="clinical+psd+ae",
                   choices=["clinical", "clinical+psd", "clinical+pbw", "clinical+psd+ae", "clinical+psd+pca"])
    p.add_argument("--config", help="study.toml")
    p.add_argument("--optimism", type=int, default=0, metavar="N",
                   help="also estimate the optimism-corrected AUC with N bootstrap resamples")
    p.add_argument("--fast", action="store_true", help="50 AE iterations per bootstrap fit")
    p.add_argument("--force", action="store_true")
    p.set_defaults(func=cmd_fit)

    p = sub.add_parser("predict", help="score new patients with a saved bundle")
    p.add_argument("bundle")
    p.add_argument("--clinical", required=True, help="patients.csv (clinical.csv columns the model needs)")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--maps", help="polarmaps.npz or a polarmaps/ folder")
    source.add_argument("--spect", nargs="+", help="gated SPECT studies named after the patients")
    p.add_argument("--out", help="folder for predictions.csv/json and a page per patient")
    p.add_argument("--json", action="store_true", help="print one JSON object per patient")
    p.add_argument("--force", action="store_true")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("reconstruct", help="raw gated projections -> OSEM -> automatic short-axis study")
    p.add_argument("projections", help="DICOM NM TOMO or GATED TOMO projections")
    p.add_argument("--out", required=True, help="short-axis study: .npz, .nii.gz or .dcm")
    p.add_argument("--qc", help="QC figure (PNG): transaxial views with the detected axis, SA, VLA and HLA")
    _add_recon_options(p)
    p.add_argument("--force", action="store_true")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_reconstruct)

    p = sub.add_parser("config", help="print the default study configuration, or check a file")
    p.add_argument("--defaults", action="store_true")
    p.add_argument("--check", metavar="FILE")
    p.set_defaults(func=cmd_config)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``lvmd`` console script: one ``error:`` line and exit 2 on failure, never a traceback.

    SIGTERM and SIGHUP raise inside the command like Ctrl-C, so every cleanup runs (exit 128 + signal). An
    exception that is not an :class:`LvmdError` is a bug in lvmd: it is reported on one line too (exit 2), with
    the traceback only when the environment sets ``LVMD_DEBUG=1``.
    """
    from ._atomic import Terminated, signals_raise
    from ._console import print_error

    args = build_parser().parse_args(argv)
    try:
        with signals_raise():
            return int(args.func(args) or 0)
    except LvmdError as exc:
        print_error(exc)
        return 2
    except KeyboardInterrupt:
        print_error("interrupted")
        return 130
    except Terminated as exc:
        print_error(exc)
        return 128 + exc.signum
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # the reader left (e.g. `| head`)
        return 141
    except Exception as exc:
        if os.environ.get("LVMD_DEBUG") == "1":
            raise
        print_error(f"internal error ({type(exc).__name__}: {exc}); this is a bug in lvmd, please report it "
                    "(LVMD_DEBUG=1 shows the traceback)")
        return 2


if __name__ == "__main__":
    sys.exit(main())
