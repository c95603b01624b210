"""Command-line interface: a thin layer that parses arguments, calls the library and prints.

Errors raised on purpose (:class:`~lvmd.errors.LvmdError`) are printed as one ``error: ...`` line on stderr with exit
code 2; nothing is written on failure (outputs go to a temporary sibling that is renamed into place).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from . import __version__
from ._atomic import atomic_dir, atomic_file, check_output_dir
from .cohort import cohort_files, load_cohort
from .config import DEFAULTS_TOML, load_config
from .errors import LvmdError
from .report import terminal


def _progress(quiet: bool):
    return terminal.progress(quiet)


def _console(stderr: bool = False):
    return terminal.console(stderr)


def _say(lines) -> None:
    console = _console()
    for line in [lines] if isinstance(lines, str) else lines:
        console.print(line, soft_wrap=True)


def _prepare(args):
    """The study configuration (``--config``), after refusing a non-empty ``--out`` (unless ``--force``)."""
    if getattr(args, "out", None):
        check_output_dir(Path(args.out), args.force)
    return load_config(getattr(args, "config", None))


def cmd_check(args) -> int:
    cohort = load_cohort(args.cohort)
    analysed = cohort.apply_exclusions(args.min_lvesv, args.response)
    _say(terminal.check_lines(args.cohort, cohort.summary(args.response), analysed))
    return 0


# -------------------------------------------------------------------------------------------------------- phantom
def cmd_phantom(args) -> int:
    from .io.spect import write_spect
    from .phantom import make_phantom

    out = Path(args.out)
    if out.exists() and not args.force:
        raise LvmdError(f"{out}: exists (use --force to replace it)")
    phantom = make_phantom(args.pattern, args.delay, gates=args.gates, peak_counts=args.counts, liver=args.liver,
                           seed=args.seed)
    study = phantom.simulate(out.name)
    with atomic_file(out) as tmp:
        write_spect(study, tmp if not tmp.name.endswith(".tmp") else tmp.with_name(tmp.name[:-4]))
        produced = tmp.with_name(tmp.name[:-4]) if tmp.name.endswith(".tmp") else tmp
        if produced != tmp:
            os.replace(produced, tmp)
    print(f"wrote {out} ({args.pattern}, {args.gates} gates, delay {args.delay:g} deg)")
    return 0


# ---------------------------------------------------------------------------------------------------------- phase
STUDY_SUFFIXES = (".npz", ".nii", ".nii.gz", ".dcm")


def _expand_studies(inputs: list[str]) -> list[Path]:
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


def _phase_job(args: tuple) -> tuple:
    path, options, scanner = args
    from .io.spect import read_spect
    from .phase import analyze_study
    from .scanner import from_projections, from_transaxial, is_raw_projection_file

    scanner = dict(scanner)
    transaxial = scanner.pop("transaxial")
    try:
        if is_raw_projection_file(Path(path)):
            study = from_projections(path, **scanner).gated()
        elif transaxial:
            study = from_transaxial(read_spect(path), scanner["lv_centre"], scanner["axis_angles"]).gated()
        else:
            study = read_spect(path)
        result = analyze_study(study, **options)
        return ("ok", str(path), result.to_dict(), result.phase_map, result.perfusion_map, result.thickening_map,
                result.samples)
    except LvmdError as exc:
        return ("error", str(path), str(exc))


def cmd_phase(args) -> int:
    import numpy as np
    import pandas as pd

    studies = _expand_studies(args.inputs)
    options = {"harmonics": args.harmonics, "bin_width": args.bin_width,
               "centre": tuple(args.centre) if args.centre else None, "apex_slice": args.apex, "base_slice": args.base}
    scanner = {"iterations": args.iterations, "subsets": args.subsets, "butterworth_order": args.butterworth_order,
               "butterworth_cutoff": None if args.no_filter else args.butterworth_cutoff, "collimator": args.collimator,
               "lv_centre": args.lv_centre, "axis_angles": args.axis_angles,
               "attenuation_map": _read_mu_map(args.mu_map)}
    jobs = [(p, options, {**scanner, "transaxial": args.transaxial}) for p in studies]
    results = []
    with atomic_dir(args.out, args.force) as tmp, _progress(args.quiet) as progress:
        task = progress.add_task("phase analysis", total=len(jobs))
        workers = min(args.jobs or os.cpu_count() or 1, len(jobs))
        if workers > 1:
            with ProcessPoolExecutor(workers) as pool:
                for res in pool.map(_phase_job, jobs):
                    results.append(res)
                    progress.advance(task)
        else:
            for job in jobs:
                results.append(_phase_job(job))
                progress.advance(task)
        rows, errors, seen = [], [], set()
        for res in results:
            if res[0] == "error":
                errors.append({"input": res[1], "reason": res[2]})
                continue
            _, path, summary, phase, perfusion, thickening, samples = res
            sid = summary["id"]
            if sid in seen:
                errors.append({"input": path, "reason": f"duplicate study id {sid}"})
                continue
            seen.add(sid)
            (tmp / f"{sid}.json").write_text(json.dumps(summary, indent=2))
            with open(tmp / f"{sid}_polarmaps.npz", "wb") as fh:
                np.savez_compressed(fh, patient_id=np.array([sid]), phase=phase[None].astype(np.float32),
                                    perfusion=perfusion[None].astype(np.float32),
                                    thickening=thickening[None].astype(np.float32),
                                    samples_rho=samples["rho"].to_numpy(), samples_theta_deg=samples["theta_deg"].to_numpy(),
                                    samples_phase_deg=samples["phase_deg"].to_numpy())
            rows.append({"id": sid, **{k: summary[k] for k in ("gates", "psd_deg", "pbw_deg", "peak_phase_deg",
                                                                "mean_phase_deg", "entropy_pct", "skewness",
                                                                "kurtosis", "latest_segment")}})
        pd.DataFrame(rows, columns=["id", "gates", "psd_deg", "pbw_deg", "peak_phase_deg", "mean_phase_deg",
                                    "entropy_pct", "skewness", "kurtosis", "latest_segment"]).to_csv(
            tmp / "summary.csv", index=False)
        if errors:
            pd.DataFrame(errors).to_csv(tmp / "errors.csv", index=False)
    for e in errors:
        print(f"error: {e['reason']}", file=sys.stderr)
    print(f"analysed {len(rows)} of {len(jobs)} studies -> {args.out}")
    return 1 if errors else 0


def cmd_simulate(args) -> int:
    from .simulate import simulate_cohort

    _prepare(args)
    cohort = simulate_cohort(args.n, args.seed, null=args.null, maps_only=args.maps_only, with_spect=args.with_spect)
    with atomic_dir(args.out, args.force) as tmp:
        cohort.write(tmp)
    r = int(cohort.truth["response"].sum())
    _say(f"wrote {args.out}: {args.n} patients, {r} responders ({100 * r / args.n:.1f} %)"
         + (", null mechanism" if args.null else ""))
    return 0


def cmd_features(args) -> int:
    from .features import AutoencoderFeatures, PCAFeatures
    from .model import feature_count
    from .report.features_report import write_features

    _prepare(args)
    maps = load_cohort(args.cohort).maps
    if maps is None:
        raise LvmdError(f"{args.cohort}: no phase polar maps (polarmaps.npz or polarmaps/)")
    with _progress(args.quiet) as bar:
        if args.method == "pca":
            model = PCAFeatures(n_components=feature_count(args.components, len(maps)), random_state=args.seed).fit(maps)
        else:
            task = bar.add_task("autoencoder iterations", total=args.iterations)
            model = AutoencoderFeatures(iterations=args.iterations, random_state=args.seed).fit(
                maps, progress=lambda it, loss: bar.update(task, completed=it))
    with atomic_dir(args.out, args.force) as tmp:
        _say(f"wrote {args.out}: {write_features(model, maps, tmp)}")
    return 0


def cmd_analyze(args, cohort=None, inputs=None) -> int:
    from .report.study_report import write_study
    from .study import run_study

    config = _prepare(args)
    cohort = cohort or load_cohort(args.cohort)
    inputs = (inputs or cohort_files(args.cohort)) + ([Path(args.config)] if args.config else [])
    with _progress(args.quiet) as bar:
        result = run_study(cohort, config, progress=terminal.steps(bar, "study"))
        with atomic_dir(args.out, args.force) as tmp:
            manifest = write_study(result, tmp, inputs)
    _say(terminal.study_lines(manifest, args.out))
    return 0


def cmd_demo(args) -> int:
    from .datasets import demo_cohort_path, load_demo_cohort

    return cmd_analyze(args, load_demo_cohort(), cohort_files(demo_cohort_path()))


def cmd_config(args) -> int:
    if args.defaults:
        print(DEFAULTS_TOML, end="")
        return 0
    if not args.check:
        raise LvmdError("config: give --defaults or --check FILE")
    load_config(args.check)
    _say(f"{args.check}: valid")
    return 0


def cmd_validate(args) -> int:
    from .report.validation_report import write_validation
    from .validation import validate

    config = _prepare(args)
    with _progress(args.quiet) as bar:
        result = validate(load_cohort(args.cohort), config, folds=args.folds, repeats=args.repeats,
                          bootstrap=args.bootstrap, seed=args.seed, fast=args.fast, scheduler=args.scheduler,
                          workers=args.workers, stability_seeds=args.stability_seeds, progress=terminal.stage_bars(bar))
    with atomic_dir(args.out, args.force) as tmp:
        write_validation(result, tmp, str(args.cohort))
    _say(terminal.validation_lines(result, args.out))
    return 1 if result.failures else 0


def cmd_fit(args) -> int:
    from .bundle import ModelBundle
    from .model import CRTResponseModel
    from .validation import fit_with_optimism

    config = _prepare(args)
    cohort, corrected = load_cohort(args.cohort), None
    if args.optimism:
        model, corrected = fit_with_optimism(cohort, args.family, config, args.optimism, args.fast)
    else:
        model = CRTResponseModel(args.family, config).fit(cohort)
    with atomic_dir(args.out, args.force) as tmp:
        ModelBundle(model, corrected).save(tmp)
    _say(terminal.fit_line(model, args.out, corrected))
    return 0


def cmd_predict(args) -> int:
    from .bundle import ModelBundle
    from .io.polarmaps import read_polarmaps
    from .io.tables import read_clinical
    from .predict import predict_patients, predict_spect
    from .report.patient import write_predictions

    _prepare(args)
    model = ModelBundle.load(args.bundle).model
    clinical = read_clinical(args.clinical, required=model.table_columns())
    if args.spect:
        prediction = predict_spect(model, clinical, args.spect)
    else:
        prediction = predict_patients(model, clinical, read_polarmaps(args.maps) if args.maps else None)
    if args.out:
        with atomic_dir(args.out, args.force) as tmp:
            write_predictions(prediction, tmp)
    _say(terminal.prediction_lines(prediction, args.json))
    return 0


def cmd_evaluate(args) -> int:
    from .bundle import ModelBundle
    from .evaluate import evaluate
    from .report.evaluation_report import write_evaluation

    _prepare(args)
    model = ModelBundle.load(args.bundle).model
    result = evaluate(model, load_cohort(args.cohort))
    with atomic_dir(args.out, args.force) as tmp:
        manifest = write_evaluation(result, tmp, cohort_files(args.cohort), model.config.report.formats)
    _say(terminal.evaluation_lines(manifest, args.out))
    return 0


# ---------------------------------------------------------------------------------------------------- reconstruct
def _write_short_axis(study, out: Path) -> None:
    """Write a short-axis study from scanner data (gated or, for a plain TOMO acquisition, one frame)."""
    from types import SimpleNamespace

    from .io.spect import write_spect

    if study.counts.shape[0] >= 8:
        write_spect(study.gated(), out)
    elif out.name.lower().endswith(".dcm"):
        raise LvmdError(f"{out}: a non-gated study can be written as .npz or .nii.gz only")
    else:
        write_spect(SimpleNamespace(counts=study.counts, spacing_mm=study.spacing_mm, study_id=study.study_id), out)


def _read_mu_map(path: str | None):
    """An attenuation map (1/cm) from npz (array ``mu``) or NIfTI; None when not given."""
    if path is None:
        return None
    import numpy as np

    p = Path(path)
    if not p.is_file():
        raise LvmdError(f"{p}: file not found")
    try:
        if p.name.lower().endswith(".npz"):
            with np.load(p, allow_pickle=False) as z:
                if "mu" not in z.files:
                    raise LvmdError(f"{p}: missing array mu")
                return z["mu"].astype(np.float32)
        import nibabel as nib

        return np.asarray(nib.load(str(p)).dataobj, dtype=np.float32)
    except (OSError, ValueError) as exc:
        raise LvmdError(f"{p}: not a readable attenuation map ({exc})") from None


def cmd_reconstruct(args) -> int:
    import matplotlib.pyplot as plt

    from .scanner import from_projections, qc_figure

    out = Path(args.out)
    if not out.name.lower().endswith((".npz", ".nii", ".nii.gz", ".dcm")):
        raise LvmdError(f"{out}: output must end in .npz, .nii, .nii.gz or .dcm")
    for target in [out] + ([Path(args.qc)] if args.qc else []):
        if target.exists() and not args.force:
            raise LvmdError(f"{target}: exists (use --force to replace it)")
    mu = _read_mu_map(args.mu_map)
    with _progress(args.quiet) as progress:
        task = progress.add_task("OSEM per gate", total=None)
        study = from_projections(args.projections, args.iterations, args.subsets, args.butterworth_order,
                                 None if args.no_filter else args.butterworth_cutoff, args.collimator,
                                 args.lv_centre, args.axis_angles, attenuation_map=mu,
                                 progress=lambda done, total: progress.update(task, completed=done, total=total))
    suffix = "".join(out.suffixes[-2:]) if out.name.lower().endswith(".nii.gz") else out.suffix
    with atomic_file(out) as tmp:
        named = tmp.with_name(tmp.name[: -len(".tmp" + suffix)] + ".part" + suffix)
        _write_short_axis(study, named)
        os.replace(named, tmp)
    if args.qc:
        fig = qc_figure(study)
        with atomic_file(Path(args.qc)) as tmp:
            fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight")
        plt.close(fig)
    info = study.reorientation
    az, el = info.angles_deg
    print(f"wrote {out}: {study.counts.shape[0]} gate(s), short axis {study.counts.shape[1:]} at "
          f"{study.spacing_mm[0]:.2f} mm; LV centre (x, y, z) {tuple(round(v, 1) for v in info.centre)}, "
          f"axis azimuth {az:.1f} deg, elevation {el:.1f} deg")
    return 0


# ------------------------------------------------------------------------------------------------------- parser
def _add_recon_options(p) -> None:
    p.add_argument("--iterations", type=int, default=3, help="OSEM iterations (paper: 3)")
    p.add_argument("--subsets", type=int, default=10, help="OSEM subsets (paper: 10)")
    p.add_argument("--butterworth-order", type=int, default=10, help="post-filter order (paper: 10)")
    p.add_argument("--butterworth-cutoff", type=float, default=0.3, help="post-filter cutoff, cycles/cm (paper: 0.3)")
    p.add_argument("--no-filter", action="store_true", help="skip the Butterworth post-filter")
    p.add_argument("--collimator", help="PyTomography collimator code (e.g. GI-LEHR) for resolution modelling")
    p.add_argument("--mu-map", help="attenuation map on the reconstruction grid, 1/cm (.npz with array mu, or NIfTI) "
                   "for attenuation correction")
    p.add_argument("--lv-centre", type=float, nargs=3, metavar=("X", "Y", "Z"),
                   help="manual LV centre in the transaxial volume (voxels)")
    p.add_argument("--axis-angles", type=float, nargs=2, metavar=("AZIMUTH", "ELEVATION"),
                   help="manual base-to-apex axis (degrees; see docs/data-format.md)")


def _common(p, func, out: str | None = "required", config: bool = True, quiet: bool = True) -> None:
    """The options every output-writing command shares, and the command's function."""
    p.set_defaults(func=func)
    if out:
        p.add_argument("--out", required=out == "required", default=None if out == "required" else out)
    if config:
        p.add_argument("--config", help="study.toml (see `lvmd config --defaults`)")
    p.add_argument("--force", action="store_true", help="replace an existing output")
    if quiet:
        p.add_argument("--quiet", action="store_true")


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
    p.add_argument("--pattern", default="lbbb", choices=["synchronous", "lbbb", "anterior_late", "two_region"])
    p.add_argument("--delay", type=float, default=90.0, help="activation delay of the late region (deg)")
    p.add_argument("--gates", type=int, default=16, choices=[8, 16])
    p.add_argument("--counts", type=float, default=None, help="peak myocardial counts per voxel and gate (Poisson "
                   "noise); default noise-free")
    p.add_argument("--liver", action="store_true", help="add hot extracardiac activity under the heart")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="study file: .npz, .nii, .nii.gz or .dcm")
    p.add_argument("--force", action="store_true")
    p.set_defaults(func=cmd_phantom)

    p = sub.add_parser("phase", help="phase analysis of gated SPECT studies (npz, NIfTI, DICOM)")
    p.add_argument("inputs", nargs="+", help="study files or folders")
    p.add_argument("--out", required=True)
    p.add_argument("--harmonics", type=int, default=1, choices=[1, 2, 3])
    p.add_argument("--bin-width", type=float, default=6.0, help="histogram bin width (deg)")
    p.add_argument("--centre", type=float, nargs=2, metavar=("ROW", "COL"), help="manual LV centre (voxels)")
    p.add_argument("--apex", type=int, help="manual apex slice (0-based)")
    p.add_argument("--base", type=int, help="manual base slice (0-based)")
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
    p.add_argument("--null", action="store_true", help="no pattern effect: response depends on clinical data only")
    p.add_argument("--maps-only", action="store_true", help="draw maps directly (fast, large n)")
    p.add_argument("--with-spect", action="store_true", help="also keep the gated phantom studies")
    _common(p, cmd_simulate, config=False, quiet=False)

    p = sub.add_parser("features", help="fit the autoencoder (or PCA) on a cohort's phase maps")
    p.add_argument("cohort")
    p.add_argument("--method", default="ae", choices=["ae", "pca"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--iterations", type=int, default=1000)
    p.add_argument("--components", type=int, default=64, help="PCA components")
    _common(p, cmd_features, config=False)

    p = sub.add_parser("analyze", help="run the paper's study on a cohort and write tables, figures, report.html")
    p.add_argument("cohort")
    _common(p, cmd_analyze)
    p = sub.add_parser("demo", help="run the study on the embedded synthetic cohort")
    _common(p, cmd_demo, out="lvmd-demo")

    p = sub.add_parser("validate", help="honest validation: nested cross-validation and bootstrap optimism")
    p.add_argument("cohort")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--bootstrap", type=int, default=200, help="resamples for the optimism correction (0 = skip)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--fast", action="store_true", help="train each autoencoder inside the folds for 50 iterations "
                   "(stated in the report); the full-data models keep the configured number")
    p.add_argument("--scheduler", help="local:N (Dask LocalCluster of N workers) or tcp://HOST:PORT; default: local "
                   "processes")
    p.add_argument("--workers", type=int, default=None, help="local processes (default: CPU count)")
    p.add_argument("--stability-seeds", type=int, default=3)
    _common(p, cmd_validate)

    p = sub.add_parser("fit", help="fit the final model on a whole cohort and save a bundle")
    p.add_argument("cohort")
    p.add_argument("--family", default="clinical+psd+ae", help="model family, e.g. clinical+psd or clinical+psd+ae "
                   "(see docs/model.md)")
    p.add_argument("--optimism", type=int, default=0, metavar="N",
                   help="also estimate the optimism-corrected AUC with N bootstrap resamples")
    p.add_argument("--fast", action="store_true", help="50 AE iterations per bootstrap fit")
    _common(p, cmd_fit, quiet=False)

    p = sub.add_parser("predict", help="score new patients with a saved bundle")
    p.add_argument("bundle")
    p.add_argument("--clinical", required=True, help="patients.csv (clinical.csv columns the model needs)")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--maps", help="polarmaps.npz or a polarmaps/ folder")
    source.add_argument("--spect", nargs="+", help="gated SPECT studies named after the patients")
    p.add_argument("--json", action="store_true", help="print one JSON object per patient")
    p.add_argument("--out", help="folder for predictions.csv/json and a page per patient")
    _common(p, cmd_predict, out=None, config=False, quiet=False)

    p = sub.add_parser("evaluate", help="external validation of a saved bundle on a new cohort (TRIPOD)")
    p.add_argument("bundle")
    p.add_argument("cohort")
    _common(p, cmd_evaluate, config=False, quiet=False)

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
    """Entry point of the ``lvmd`` console script."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except LvmdError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
