"""Command-line interface: a thin layer that parses arguments, calls the library and prints.

Errors raised on purpose (:class:`~lvmd.errors.LvmdError`) are printed as one ``error: ...`` line on stderr with exit
code 2; nothing is written on failure (outputs go to a temporary sibling that is renamed into place).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from . import __version__
from ._atomic import atomic_dir, check_output_dir
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


def cmd_simulate(args) -> int:
    from .simulate import simulate_cohort

    _prepare(args)
    cohort = simulate_cohort(args.n, args.seed, null=args.null, maps_only=args.maps_only, with_spect=args.with_spect,
                             mechanism=args.mechanism)
    with atomic_dir(args.out, args.force) as tmp:
        cohort.write(tmp)
    r = int(cohort.truth["response"].sum())
    _say(f"wrote {args.out}: {args.n} patients, {r} responders ({100 * r / args.n:.1f} %), mechanism "
         f"{args.mechanism}" + (" with no pattern effect (--null)" if args.null and args.mechanism != "null" else ""))
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


def cmd_analyze(args, cohort=None, inputs=None, compare: bool = False) -> int:
    from .report.study_report import write_study
    from .report.validation_report import write_validation
    from .study import run_study
    from .validation import honest_comparison

    config = _prepare(args)
    cohort = cohort or load_cohort(args.cohort)
    inputs = (inputs or cohort_files(args.cohort)) + ([Path(args.config)] if args.config else [])
    with _progress(args.quiet) as bar:
        result = run_study(cohort, config, progress=terminal.steps(bar, "study"))
        honest = honest_comparison(result.training, progress=terminal.stage_bars(bar)) if compare else None
        with atomic_dir(args.out, args.force) as tmp:
            manifest = write_study(result, tmp, inputs)
            if honest is not None:
                (tmp / "validation").mkdir()
                write_validation(honest, tmp / "validation", result.source)
    _say(terminal.study_lines(manifest, args.out)
         + (terminal.comparison_lines(honest, Path(args.out) / "validation") if honest is not None else []))
    return 0


def cmd_demo(args) -> int:
    from .datasets import demo_cohort_path, load_demo_cohort

    return cmd_analyze(args, load_demo_cohort(), cohort_files(demo_cohort_path()), compare=True)


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
    p.add_argument("--mechanism", default="lvmd", choices=["lvmd", "where", "how", "null"],
                   help="how the maps carry the planted pattern (docs/synthetic-cohort.md): lvmd (the default: coherent "
                   "septal-to-lateral sweep vs scattered patches), where (the late region's location: lateral vs "
                   "elsewhere, one wavefront each), how (one coherent wavefront vs patchy scar-related activation), "
                   "null (maps of both, unrelated to response)")
    p.add_argument("--null", action="store_true", help="no pattern effect: response depends on clinical data only "
                   "(with any --mechanism)")
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
    p = sub.add_parser("demo", help="run the study on the embedded synthetic cohort, then compare the paper's "
                       "family with the pattern families honestly (short cross-validation, validation/)")
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
