"""Issue 16, round 3: regression tests for the failures an independent hostile run found on main.

Each test reproduces one failure with a small file built here and asserts the promised behaviour: one ``error:``
line and exit code 2 (or the documented success), nothing written, nothing changed.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lvmd.errors import SpectError
from lvmd.scanner import check_collimator, collimator_codes
from lvmd.stats.logistic import univariate

DATA = Path(__file__).parent / "data"
PROJECTIONS = DATA / "nm_tomo_projections_30views.dcm"


def _one_error_line(res) -> str:
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert res.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    assert "internal error" not in lines[0] and "Traceback" not in res.stderr
    return lines[0]


# --- family 2: an unknown --collimator reached PyTomography, whose lookup ends in UnboundLocalError -------------
def test_collimator_codes_are_exact():
    codes = collimator_codes()
    assert "GI-LEHR" in codes and len(codes) > 100
    assert check_collimator("GI-LEHR") == "GI-LEHR"
    for bad in ("NOPE", "LEHR", "GI-LEH", "\x1b[31mGI-LEHR", ""):  # unknown, or only a part of a real code
        with pytest.raises(SpectError, match="not a PyTomography collimator code"):
            check_collimator(bad)


def test_unknown_collimator_is_one_line_before_any_work(tmp_path, cli):
    out = tmp_path / "sa.npz"
    res = cli("reconstruct", str(PROJECTIONS), "--out", str(out), "--collimator", "[/x]\x1b[31mNOPE", "--quiet")
    line = _one_error_line(res)
    assert "--collimator" in line and "\x1b" not in line and "\\x1b" in line
    assert list(tmp_path.iterdir()) == []


# --- family 2: an empty candidate list (stats.conventional = []) crashed the univariate table ------------------
def test_univariate_of_no_variables_is_an_empty_table():
    df = pd.DataFrame({"y": [0, 1, 0, 1], "x": [1.0, 2.0, 3.0, 5.0]})
    result = univariate(df, "y", [])
    assert result.summary.empty and result.summary.index.name == "variable"
    assert {"p", "odds_ratio", "n"} <= set(result.summary.columns)
    assert univariate(df, "y", ["x"]).summary.index.tolist() == ["x"]


# --- family 2/8: a model.json with consistent checksums but hostile content ------------------------------------
@pytest.fixture(scope="module")
def pca_bundle(tmp_path_factory):
    """A small clinical+psd+pca bundle (PCA: no training loop, so the fixture is quick)."""
    from lvmd.bundle import ModelBundle
    from lvmd.config import StudyConfig
    from lvmd.model import CRTResponseModel
    from lvmd.simulate import simulate_cohort

    config = StudyConfig()
    config.features.pca_components = 4
    cohort_dir = tmp_path_factory.mktemp("cohort")
    simulate_cohort(40, seed=0, maps_only=True).write(cohort_dir)  # a PC feature is selected with this seed
    from lvmd.cohort import load_cohort

    folder = tmp_path_factory.mktemp("bundle") / "b"
    ModelBundle(CRTResponseModel("clinical+psd+pca", config).fit(load_cohort(cohort_dir))).save(folder)
    return folder


def _tampered(bundle: Path, tmp_path: Path, edit) -> Path:
    """A copy of ``bundle`` whose model.json is edited and whose checksums are recomputed (a forger can)."""
    import hashlib
    import json
    import shutil

    folder = tmp_path / "b"
    shutil.copytree(bundle, folder)
    meta = json.loads((folder / "model.json").read_text())
    edit(meta)
    (folder / "model.json").write_text(json.dumps(meta))
    sums = json.loads((folder / "checksums.json").read_text())
    sums["model.json"] = hashlib.sha256((folder / "model.json").read_bytes()).hexdigest()
    (folder / "checksums.json").write_text(json.dumps(sums))
    return folder


@pytest.mark.parametrize("edit, message", [
    (lambda m: m["model"]["models"][0]["coefficients"].__setitem__("const", float("nan")),
     "coefficient of const is nan, not a finite number"),
    (lambda m: m["model"]["models"][0]["coefficients"].__setitem__("const", None), "coefficient of const is None"),
    (lambda m: m["model"].__setitem__("models", []), "models must be a non-empty list"),
    (lambda m: m["model"].__setitem__("models", {"primary": 1}), "models must be a non-empty list"),
    (lambda m: m["model"].__setitem__("extractor_kinds", ["../../etc"]), "does not match the saved extractor"),
])
def test_hostile_model_json_is_refused(pca_bundle, tmp_path, edit, message):
    from lvmd.bundle import ModelBundle
    from lvmd.errors import ModelError

    assert ModelBundle.load(pca_bundle).model.extractor_.kinds == ["pca"]
    with pytest.raises(ModelError, match=message.replace("(", r"\(").replace("[", r"\[")) as info:
        ModelBundle.load(_tampered(pca_bundle, tmp_path, edit))
    assert "\n" not in str(info.value) and "model.json" in str(info.value)


# --- family 11: external validation on a tiny cohort printed 13 statsmodels/numpy warnings and a slope of 14.8 ---
def test_calibration_under_separation_is_not_estimable_and_silent():
    import warnings

    from lvmd.stats.calibration import calibration

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cal = calibration(np.array([0, 1, 0, 1]), linear_predictor=np.array([-1.0, 0.5, -0.8, 0.9]))
    assert caught == []
    assert np.isnan(cal.slope) and np.isnan(cal.recalibration_intercept) and np.isnan(cal.slope_ci[0])
    assert "not estimable" in cal.note and np.isfinite(cal.citl)
    assert cal.brier == pytest.approx(np.mean((np.array([0, 1, 0, 1]) - 1 / (1 + np.exp(-np.array([-1.0, 0.5, -0.8, 0.9])))) ** 2))
    mixed = calibration(np.array([0, 1, 0, 1, 1, 0]), linear_predictor=np.array([-1.0, 0.5, 0.8, 0.9, -0.2, -0.5]))
    assert mixed.note == "" and np.isfinite(mixed.slope)


# --- family 4: `reconstruct --qc q.jpg` wrote PNG bytes under a .jpg name, after the whole reconstruction ----------
@pytest.mark.parametrize("qc", ["q.jpg", "q", ".png", "q.png.txt"])
def test_qc_figure_name_is_checked_before_any_work(tmp_path, cli, qc):
    res = cli("reconstruct", str(PROJECTIONS), "--out", str(tmp_path / "sa.npz"), "--qc", str(tmp_path / qc), "--quiet")
    assert "name it NAME.png" in _one_error_line(res)
    assert list(tmp_path.iterdir()) == []


# --- family 4: an --out under a read-only folder was refused only after all the work (at the final write) --------
def test_output_under_a_read_only_folder_is_refused_before_any_work(tmp_path, monkeypatch):
    import os

    from lvmd.outputs import OutputError, check_output_dir, check_output_file

    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access
    # Root may write anywhere, so the read-only folder is simulated where lvmd asks the operating system.
    monkeypatch.setattr(os, "access", lambda path, mode, **kw: False if Path(path) == locked else real_access(path, mode, **kw))
    for check, target in ((check_output_dir, locked / "new" / "out"), (check_output_file, locked / "x.npz")):
        with pytest.raises(OutputError, match="cannot write in .*locked"):
            check(target, False)
    check_output_dir(tmp_path / "free", False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["locked"]


# --- family 2: `clinical = []` passed the configuration check and failed only after the autoencoder was trained ---
def test_empty_clinical_list_is_refused_with_the_configuration(tmp_path, cli):
    from lvmd.config import load_config
    from lvmd.errors import ConfigError

    bad = tmp_path / "s.toml"
    bad.write_text("[stats]\nclinical = []\n")
    with pytest.raises(ConfigError, match="stats.clinical is empty, but stats.families lists 'clinical'"):
        load_config(bad)
    assert "stats.clinical is empty" in _one_error_line(cli("config", "--check", str(bad)))
    ok = tmp_path / "ok.toml"
    ok.write_text("[stats]\nclinical = []\nfamilies = [\"psd+pca\"]\n")
    assert load_config(ok).stats.clinical == []


# --- families 1/2: raw projections whose numeric header values are text or not finite reached PyTomography -------
@pytest.mark.filterwarnings("ignore:Invalid value for VR DS")  # pydicom, while this test writes the hostile file
@pytest.mark.parametrize("edit, message", [
    (lambda ds: ds.add_new(0x00280030, "LO", "a\\b"), r"Pixel Spacing \(0028,0030\) = .* is not a number"),
    (lambda ds: ds.RotationInformationSequence[0].add_new(0x00540200, "LO", "abc"), r"Start Angle .* is not a number"),
    (lambda ds: setattr(ds.RotationInformationSequence[0], "AngularStep", "nan"), r"Angular Step .* not a finite number"),
    (lambda ds: setattr(ds.RotationInformationSequence[0], "RadialPosition", ["inf"] * 30), r"Radial Position .* finite"),
    (lambda ds: setattr(ds.RotationInformationSequence[0], "NumberOfFramesInRotation", 0), r"at least 1"),
    (lambda ds: ds.add_new(0x00280008, "LO", "thirty"), r"Number of Frames \(0028,0008\) = 'thirty' is not a number"),
])
def test_projection_header_values_are_numbers(tmp_path, edit, message):
    import pydicom

    from lvmd.scanner import read_projections

    ds = pydicom.dcmread(PROJECTIONS)
    edit(ds)
    path = tmp_path / "proj.dcm"
    ds.save_as(path, enforce_file_format=False)
    with pytest.raises(SpectError, match=message):
        read_projections(path)
