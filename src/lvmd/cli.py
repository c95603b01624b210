"""Command-line interface: a thin layer that parses arguments (:mod:`lvmd.cli_args`), calls the library and prints.

Every command follows one convention:

- bad input is one ``error: ...`` line on stderr and exit code 2 (never a traceback);
- outputs are written whole or not at all (:mod:`lvmd.outputs`): refused before any work when the output cannot or
  must not be written, and never at the cost of the command's inputs (each command passes them as ``inputs``);
- everything printed goes through the safe console (:func:`lvmd.report.terminal.say`), so user text (ids, paths)
  is shown literally.
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

from .outputs import atomic_dir, check_output_dir
from .cli_args import build_parser
from .cohort import cohort_files, load_cohort
from .config import DEFAULTS_TOML, load_config
from .errors import LvmdError
from .report import terminal


def _inputs(*items) -> list[Path]:
    """The paths a command reads (None and empty entries dropped; lists flattened), to protect from its output."""
    out: list[Path] = []
    for item in items:
        if isinstance(item, (list, tuple)):
            out += _inputs(*item)
        elif item:
            out.append(Path(item))
    return out


def _cohort_inputs(cohort) -> list[Path]:
    return _inputs(cohort, cohort_files(cohort) if Path(cohort).exists() else [])


def _prepare(args, inputs: list[Path]):
    """Refuse ``--out`` before any work (see :func:`lvmd.outputs.check_output_dir`); the study configuration."""
    if getattr(args, "out", None):
        check_output_dir(args.out, args.force, inputs)
    return load_config(getattr(args, "config", None))


def cmd_check(args) -> int:
    cohort = load_cohort(args.cohort)
    analysed = cohort.apply_exclusions(args.min_lvesv, args.response)
    terminal.say(terminal.check_lines(args.cohort, cohort.summary(args.response), analysed))
    return 0


def cmd_phantom(args) -> int:
    from .phantom import make_phantom, write_phantom

    phantom = make_phantom(args.pattern, args.delay, gates=args.gates, peak_counts=args.counts, liver=args.liver,
                           base_descent_mm=args.descent, seed=args.seed)
    write_phantom(phantom, args.out, args.force)
    terminal.say(f"wrote {args.out} ({args.pattern}, {args.gates} gates, delay {args.delay:g} deg)")
    return 0


def _scanner_options(args) -> dict:
    from .scanner import check_collimator, read_mu_map

    if args.collimator is not None:
        check_collimator(args.collimator)
    return {"iterations": args.iterations, "subsets": args.subsets, "butterworth_order": args.butterworth_order,
            "butterworth_cutoff": None if args.no_filter else args.butterworth_cutoff, "collimator": args.collimator,
            "lv_centre": args.lv_centre, "axis_angles": args.axis_angles, "mask_radius_mm": args.mask_radius,
            "attenuation_map": read_mu_map(args.mu_map)}


def cmd_phase(args) -> int:
    from .batch import PhaseOptions, run_batch

    inputs = _inputs(args.inputs, args.mu_map)
    check_output_dir(args.out, args.force, inputs)
    options = PhaseOptions(args.harmonics, args.bin_width, tuple(args.centre) if args.centre else None, args.apex,
                           args.base, args.mask_radius, args.transaxial, args.qc, _scanner_options(args))
    with terminal.progress(args.quiet) as progress:
        task = progress.add_task("phase analysis", total=None)
        result = run_batch(args.inputs, args.out, options, args.force, args.jobs,
                           lambda done, total: progress.update(task, completed=done, total=total), protect=inputs)
    out_lines, err_lines = terminal.batch_lines(result, args.out)
    terminal.say(err_lines, stderr=True)
    terminal.say(out_lines)
    return 1 if result.errors else 0


def cmd_simulate(args) -> int:
    from .simulate import simulate_cohort

    _prepare(args, [])
    cohort = simulate_cohort(args.n, args.seed, null=args.null, maps_only=args.maps_only, with_spect=args.with_spect,
                             mechanism=args.mechanism)
    with atomic_dir(args.out, args.force) as tmp:
        cohort.write(tmp)
    terminal.say(terminal.simulate_line(cohort, args.out, args.mechanism, args.null))
    return 0


def cmd_features(args) -> int:
    from .features import AutoencoderFeatures, PCAFeatures
    from .model import feature_count
    from .report.features_report import write_features

    inputs = _cohort_inputs(args.cohort)
    _prepare(args, inputs)
    maps = load_cohort(args.cohort).maps
    if maps is None:
        raise LvmdError(f"{args.cohort}: no phase polar maps (polarmaps.npz or polarmaps/)")
    with terminal.progress(args.quiet) as bar:
        if args.method == "pca":
            model = PCAFeatures(n_components=feature_count(args.components, len(maps)), random_state=args.seed).fit(maps)
        else:
            task = bar.add_task("autoencoder iterations", total=args.iterations)
            model = AutoencoderFeatures(iterations=args.iterations, random_state=args.seed).fit(
                maps, progress=lambda it, loss: bar.update(task, completed=it))
    with atomic_dir(args.out, args.force, inputs) as tmp:
        summary = write_features(model, maps, tmp)
    terminal.say(f"wrote {args.out}: {summary}")
    return 0


def cmd_analyze(args, cohort=None, files=None, compare: bool = False) -> int:
    from .report.study_report import write_study
    from .report.validation_report import write_validation
    from .study import run_study
    from .validation import honest_comparison

    files = files if cohort is not None else cohort_files(args.cohort)
    inputs = _inputs(None if cohort is not None else args.cohort, files, args.config)
    config = _prepare(args, inputs)
    cohort = cohort or load_cohort(args.cohort)
    with terminal.progress(args.quiet) as bar:
        result = run_study(cohort, config, progress=terminal.steps(bar, "study"))
        honest = honest_comparison(result.training, progress=terminal.stage_bars(bar)) if compare else None
        with atomic_dir(args.out, args.force, inputs) as tmp:
            manifest = write_study(result, tmp, files + _inputs(args.config))
            if honest is not None:
                (tmp / "validation").mkdir()
                write_validation(honest, tmp / "validation", result.source)
    terminal.say(terminal.study_lines(manifest, args.out)
                 + (terminal.comparison_lines(honest, Path(args.out) / "validation") if honest is not None else []))
    return 0


def cmd_demo(args) -> int:
    from .datasets import demo_cohort_path, load_demo_cohort

    return cmd_analyze(args, load_demo_cohort(), cohort_files(demo_cohort_path()), compare=True)


def cmd_config(args) -> int:
    if args.defaults:
        terminal.say(DEFAULTS_TOML.splitlines())
        return 0
    if not args.check:
        raise LvmdError("config: give --defaults or --check FILE")
    from .model import check_families

    check_families(load_config(args.check).stats.families, f"{args.check}: stats.families")
    terminal.say(f"{args.check}: valid")
    return 0


def cmd_validate(args) -> int:
    from .report.validation_report import write_validation
    from .validation import validate

    inputs = _inputs(_cohort_inputs(args.cohort), args.config)
    config = _prepare(args, inputs)
    with terminal.progress(args.quiet) as bar:
        result = validate(load_cohort(args.cohort), config, folds=args.folds, repeats=args.repeats,
                          bootstrap=args.bootstrap, seed=args.seed, fast=args.fast, scheduler=args.scheduler,
                          workers=args.workers, stability_seeds=args.stability_seeds, progress=terminal.stage_bars(bar))
    with atomic_dir(args.out, args.force, inputs) as tmp:
        write_validation(result, tmp, str(args.cohort))
    terminal.say(terminal.validation_lines(result, args.out))
    return 1 if result.failures else 0


def cmd_fit(args) -> int:
    from .bundle import ModelBundle
    from .model import CRTResponseModel
    from .validation import fit_with_optimism

    inputs = _inputs(_cohort_inputs(args.cohort), args.config)
    config = _prepare(args, inputs)
    cohort, corrected = load_cohort(args.cohort), None
    if args.optimism:
        model, corrected = fit_with_optimism(cohort, args.family, config, args.optimism, args.fast)
    else:
        model = CRTResponseModel(args.family, config).fit(cohort)
    with atomic_dir(args.out, args.force, inputs) as tmp:
        ModelBundle(model, corrected).save(tmp)
    terminal.say(terminal.fit_line(model, args.out, corrected))
    return 0


def cmd_predict(args) -> int:
    from .bundle import ModelBundle
    from .io.polarmaps import read_polarmaps
    from .io.tables import read_clinical
    from .predict import predict_patients, predict_spect
    from .report.patient import write_predictions

    inputs = _inputs(args.bundle, args.clinical, args.maps, args.spect)
    _prepare(args, inputs)
    model = ModelBundle.load(args.bundle).model
    clinical = read_clinical(args.clinical, required=model.table_columns())
    if args.spect:
        prediction = predict_spect(model, clinical, args.spect)
    else:
        prediction = predict_patients(model, clinical, read_polarmaps(args.maps) if args.maps else None)
    if args.out:
        with atomic_dir(args.out, args.force, inputs) as tmp:
            write_predictions(prediction, tmp)
    terminal.say(terminal.prediction_lines(prediction, args.json))
    return 0


def cmd_evaluate(args) -> int:
    from .bundle import ModelBundle
    from .evaluate import evaluate
    from .report.evaluation_report import write_evaluation

    inputs = _inputs(args.bundle, _cohort_inputs(args.cohort))
    _prepare(args, inputs)
    model = ModelBundle.load(args.bundle).model
    result = evaluate(model, load_cohort(args.cohort))
    with atomic_dir(args.out, args.force, inputs) as tmp:
        manifest = write_evaluation(result, tmp, cohort_files(args.cohort), model.config.report.formats)
    terminal.say(terminal.evaluation_lines(manifest, args.out))
    return 0


def cmd_reconstruct(args) -> int:
    from .scanner import check_reconstruction_outputs, from_projections, write_reconstruction

    inputs = _inputs(args.projections, args.mu_map)
    check_reconstruction_outputs(args.out, args.qc, args.force, inputs)
    options = _scanner_options(args)
    with terminal.progress(args.quiet) as progress:
        task = progress.add_task("OSEM per gate", total=None)
        study = from_projections(args.projections, progress=lambda done, total: progress.update(
            task, completed=done, total=total), **options)
    figure = None
    if args.qc:
        from .report.qc_figures import reorientation_figure

        figure = reorientation_figure(study)
    write_reconstruction(study, args.out, args.qc, args.force, inputs, figure)
    terminal.say([f"warning: {line}" for line in study.qc["warnings"]], stderr=True)
    terminal.say(terminal.reconstruction_line(study, args.out))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``lvmd`` console script: one ``error:`` line and exit 2 on failure, never a traceback.

    SIGTERM and SIGHUP raise inside the command like Ctrl-C, so every cleanup runs (exit 128 + signal). An
    exception that is not an :class:`LvmdError` is a bug in lvmd: it is reported on one line too (exit 2), with
    the traceback only when the environment sets ``LVMD_DEBUG=1``.
    """
    from .outputs import Terminated, signals_raise
    from .console import print_error, show_warning

    args = build_parser().parse_args(argv)
    command = globals()[f"cmd_{args.command}"]
    try:
        with signals_raise(), warnings.catch_warnings():
            warnings.showwarning = show_warning
            return int(command(args) or 0)
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
