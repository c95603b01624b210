"""The ``lvmd`` command line: every subcommand, its options and their help texts (the commands are in
:mod:`lvmd.cli`).

Every number is typed when it is parsed (:mod:`lvmd._args`: ``--bin-width 0``, ``--centre nan nan``,
``--seed -1`` or ``--scheduler local:0`` is one ``error:`` line and exit code 2 before any work), and every option
says what it does in ``lvmd COMMAND --help``.
"""

from __future__ import annotations

from . import __version__
from ._args import (ArgumentParser, finite_float, float_in, int_in, non_negative_int,
                    positive_float, positive_int, scheduler, seed)
from .config import MAX_ITERATIONS, MAX_LATENT_DIM
from .phantom import PATTERNS

OUT_HELP = "output folder: written whole or not at all; must be new or empty (see --force)"
FORCE_HELP = ("replace an existing output that lvmd wrote before (never a folder lvmd did not write, the working "
              "folder or a folder holding an input)")
CONFIG_HELP = "study configuration, TOML (see `lvmd config --defaults`)"
QUIET_HELP = "no progress bars (they are shown only on a terminal anyway)"
STUDY_FILE_HELP = "study file: .npz, .nii, .nii.gz or .dcm"


def _add_outputs(p, out: str | None = "required", config: bool = True, quiet: bool = True,
                 out_help: str = OUT_HELP) -> None:
    """The options every output-writing command shares; ``out`` is "required", "optional" or a default folder."""
    if out == "required" or out == "optional":
        p.add_argument("--out", required=out == "required", metavar="DIR", help=out_help)
    elif out:
        p.add_argument("--out", default=out, metavar="DIR", help=f"{out_help} (default: {out})")
    if config:
        p.add_argument("--config", metavar="TOML", help=CONFIG_HELP)
    p.add_argument("--force", action="store_true", help=FORCE_HELP)
    if quiet:
        p.add_argument("--quiet", action="store_true", help=QUIET_HELP)


def _add_recon_options(p) -> None:
    p.add_argument("--mask-radius", type=positive_float, metavar="MM", help="ignore activity farther than this from "
                   "the LV (axis in short axis, centre in transaxial volumes)")
    p.add_argument("--iterations", type=int_in(1, 100), default=3, help="OSEM iterations (paper: 3)")
    p.add_argument("--subsets", type=int_in(1, 256), default=10, help="OSEM subsets (paper: 10)")
    p.add_argument("--butterworth-order", type=int_in(1, 64), default=10, help="post-filter order (paper: 10)")
    p.add_argument("--butterworth-cutoff", type=positive_float, default=0.3,
                   help="post-filter cutoff, cycles/cm (paper: 0.3)")
    p.add_argument("--no-filter", action="store_true", help="skip the Butterworth post-filter")
    p.add_argument("--collimator", help="PyTomography collimator code (e.g. GI-LEHR) for resolution modelling")
    p.add_argument("--mu-map", metavar="FILE", help="attenuation map on the reconstruction grid, 1/cm (.npz with "
                   "array mu, or NIfTI) for attenuation correction")
    p.add_argument("--lv-centre", type=finite_float, nargs=3, metavar=("X", "Y", "Z"),
                   help="operator's LV centre in the transaxial volume (voxels); always used")
    p.add_argument("--axis-angles", type=finite_float, nargs=2, metavar=("AZIMUTH", "ELEVATION"),
                   help="operator's base-to-apex axis (degrees; see docs/data-format.md); always used")


def _check(sub) -> None:
    p = sub.add_parser("check", help="validate a cohort folder and summarise it")
    p.add_argument("cohort", help="cohort folder (clinical.csv and polarmaps.npz or polarmaps/), or its clinical.csv")
    p.add_argument("--response", default="esv15", choices=["esv15", "ef5", "column"],
                   help="response definition (default: esv15, the paper's)")
    p.add_argument("--min-lvesv", type=float_in(0, 1500), default=20.0, metavar="ML",
                   help="exclude baseline LVESV below this (mL; 0 = off)")


def _phantom(sub) -> None:
    p = sub.add_parser("phantom", help="write a digital gated-SPECT phantom with a known activation pattern")
    p.add_argument("--pattern", default="lbbb", choices=PATTERNS, help="activation pattern (default: lbbb)")
    p.add_argument("--delay", type=float_in(0, 360), default=90.0,
                   help="activation delay of the late region (deg)")
    p.add_argument("--gates", type=int, default=16, choices=[8, 16], help="gates per R-R interval")
    p.add_argument("--counts", type=positive_float, default=None, help="peak myocardial counts per voxel and gate "
                   "(Poisson noise); default noise-free")
    p.add_argument("--liver", action="store_true", help="add hot extracardiac activity under the heart")
    p.add_argument("--descent", type=float_in(0, 40), default=0.0, metavar="MM",
                   help="systolic descent of the base towards the apex (mm; real hearts 8-15)")
    p.add_argument("--seed", type=seed, default=0, help="seed of the Poisson noise")
    p.add_argument("--out", required=True, metavar="FILE", help=STUDY_FILE_HELP)
    p.add_argument("--force", action="store_true", help="replace an existing file")


def _phase(sub) -> None:
    p = sub.add_parser("phase", help="phase analysis of gated SPECT studies (npz, NIfTI, DICOM)")
    p.add_argument("inputs", nargs="+", help="study files or folders")
    p.add_argument("--harmonics", type=int, default=1, choices=[1, 2, 3], help="Fourier harmonics of the phase fit")
    p.add_argument("--bin-width", type=float_in(0, 360, low_open=True), default=6.0,
                   help="histogram bin width (deg, in (0, 360])")
    p.add_argument("--centre", type=finite_float, nargs=2, metavar=("ROW", "COL"),
                   help="operator's LV axis position in the short-axis slices (voxels); always used")
    p.add_argument("--apex", type=non_negative_int, help="operator's apex slice (0-based); always used")
    p.add_argument("--base", type=non_negative_int, help="operator's base slice (0-based, last slice sampled); "
                   "always used")
    p.add_argument("--qc", action="store_true", help="also write <id>_qc.png: the sampled myocardium and base plane "
                   "over short-axis, vertical and horizontal long-axis views")
    p.add_argument("--jobs", type=positive_int, default=None, help="parallel processes (default: CPU count)")
    p.add_argument("--transaxial", action="store_true", help="inputs are reconstructed transaxial gated volumes "
                   "(RECON GATED TOMO): reorient them to short axis first")
    _add_recon_options(p)
    _add_outputs(p, config=False)


def _simulate(sub) -> None:
    p = sub.add_parser("simulate", help="simulate a synthetic CRT cohort with a planted mechanism")
    p.add_argument("--n", type=int_in(10, 100_000), default=103, help="patients (default: 103, the paper's)")
    p.add_argument("--seed", type=seed, default=0, help="random seed (same seed, same cohort)")
    p.add_argument("--mechanism", default="lvmd", choices=["lvmd", "where", "how", "null"],
                   help="how the maps carry the planted pattern (docs/synthetic-cohort.md): lvmd (the default: coherent "
                   "septal-to-lateral sweep vs scattered patches), where (the late region's location: lateral vs "
                   "elsewhere, one wavefront each), how (one coherent wavefront vs patchy scar-related activation), "
                   "null (maps of both, unrelated to response)")
    p.add_argument("--null", action="store_true", help="no pattern effect: response depends on clinical data only "
                   "(with any --mechanism)")
    p.add_argument("--maps-only", action="store_true", help="draw maps directly (fast, large n)")
    p.add_argument("--with-spect", action="store_true", help="also keep the gated phantom studies")
    _add_outputs(p, config=False, quiet=False)


def _features(sub) -> None:
    p = sub.add_parser("features", help="fit the autoencoder (or PCA) on a cohort's phase maps")
    p.add_argument("cohort", help="cohort folder")
    p.add_argument("--method", default="ae", choices=["ae", "pca"], help="autoencoder (default) or PCA")
    p.add_argument("--seed", type=seed, default=0, help="seed of the model's initialisation")
    p.add_argument("--iterations", type=int_in(1, MAX_ITERATIONS), default=1000,
                   help="autoencoder training iterations (paper: 1000)")
    p.add_argument("--components", type=int_in(1, MAX_LATENT_DIM), default=64,
                   help="PCA components (at most patients - 1 are used)")
    _add_outputs(p, config=False)


def _study(sub) -> None:
    p = sub.add_parser("analyze", help="run the paper's study on a cohort and write tables, figures, report.html")
    p.add_argument("cohort", help="cohort folder")
    _add_outputs(p)
    p = sub.add_parser("demo", help="run the study on the embedded synthetic cohort, then compare the paper's "
                       "family with the pattern families honestly (short cross-validation, validation/)")
    _add_outputs(p, out="lvmd-demo")


def _validate(sub) -> None:
    p = sub.add_parser("validate", help="honest validation: nested cross-validation and bootstrap optimism")
    p.add_argument("cohort", help="cohort folder")
    p.add_argument("--folds", type=int_in(2, 100), default=5, help="folds of the repeated stratified "
                   "cross-validation (at most the size of the smaller response class)")
    p.add_argument("--repeats", type=int_in(1, 1000), default=20, help="repeats of the cross-validation")
    p.add_argument("--bootstrap", type=int_in(0, 100_000), default=200,
                   help="resamples for the optimism correction (0 = skip)")
    p.add_argument("--seed", type=seed, default=0, help="seed of the splits, resamples and models fitted in them")
    p.add_argument("--fast", action="store_true", help="train each autoencoder inside the folds for 50 iterations "
                   "(stated in the report); the full-data models keep the configured number")
    p.add_argument("--scheduler", type=scheduler, help="local:N (Dask LocalCluster of N workers) or tcp://HOST:PORT; "
                   "default: local processes")
    p.add_argument("--workers", type=positive_int, default=None, help="local processes (default: CPU count)")
    p.add_argument("--stability-seeds", type=int_in(0, 100), default=3,
                   help="autoencoders trained with other seeds to measure feature stability (0 = skip)")
    _add_outputs(p)


def _fit(sub) -> None:
    p = sub.add_parser("fit", help="fit the final model on a whole cohort and save a bundle")
    p.add_argument("cohort", help="cohort folder")
    p.add_argument("--family", default="clinical+psd+ae", help="model family, e.g. clinical+psd or clinical+psd+ae "
                   "(see docs/model.md)")
    p.add_argument("--optimism", type=int_in(0, 100_000), default=0, metavar="N",
                   help="also estimate the optimism-corrected AUC with N bootstrap resamples")
    p.add_argument("--fast", action="store_true", help="50 AE iterations per bootstrap fit")
    _add_outputs(p, quiet=False, out_help="bundle folder: written whole or not at all; must be new or empty")


def _predict(sub) -> None:
    p = sub.add_parser("predict", help="score new patients with a saved bundle")
    p.add_argument("bundle", help="bundle folder written by `lvmd fit`")
    p.add_argument("--clinical", required=True, metavar="CSV",
                   help="patients.csv (clinical.csv columns the model needs)")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--maps", help="polarmaps.npz or a polarmaps/ folder")
    source.add_argument("--spect", nargs="+", metavar="STUDY", help="gated SPECT studies named after the patients")
    p.add_argument("--json", action="store_true", help="print one JSON object per patient")
    _add_outputs(p, out="optional", config=False, quiet=False,
                 out_help="folder for predictions.csv/json and a page per patient")


def _evaluate(sub) -> None:
    p = sub.add_parser("evaluate", help="external validation of a saved bundle on a new cohort (TRIPOD)")
    p.add_argument("bundle", help="bundle folder written by `lvmd fit`")
    p.add_argument("cohort", help="cohort folder with outcomes")
    _add_outputs(p, config=False, quiet=False)


def _reconstruct(sub) -> None:
    p = sub.add_parser("reconstruct", help="raw gated projections -> OSEM -> automatic short-axis study")
    p.add_argument("projections", help="DICOM NM TOMO or GATED TOMO projections")
    p.add_argument("--out", required=True, metavar="FILE", help="short-axis study: .npz, .nii.gz or .dcm")
    p.add_argument("--qc", metavar="PNG", help="QC figure (PNG): transaxial views with the detected axis, SA, VLA "
                   "and HLA")
    _add_recon_options(p)
    p.add_argument("--force", action="store_true", help="replace existing files")
    p.add_argument("--quiet", action="store_true", help=QUIET_HELP)


def _config(sub) -> None:
    p = sub.add_parser("config", help="print the default study configuration, or check a file")
    p.add_argument("--defaults", action="store_true", help="print the default study.toml")
    p.add_argument("--check", metavar="FILE", help="check a study.toml with the checks every analysis applies")


def build_parser() -> ArgumentParser:
    """The ``lvmd`` argument parser; ``args.command`` names the subcommand."""
    parser = ArgumentParser(prog="lvmd", description="Phase analysis of gated SPECT and autoencoder dyssynchrony "
                            "features for CRT patient selection.")
    parser.add_argument("--version", action="version", version=f"lvmd {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for declare in (_check, _phantom, _phase, _simulate, _features, _study, _validate, _fit, _predict, _evaluate,
                    _reconstruct, _config):
        declare(sub)
    return parser
