"""The study end to end: run_study, `lvmd analyze`, `lvmd demo`, the report and output safety."""

import json
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

from lvmd import load_cohort
from lvmd.config import DEFAULTS_TOML, StudyConfig, load_config
from lvmd.errors import ConfigError
from lvmd.io.polarmaps import read_polarmaps
from lvmd.io.tables import read_clinical, write_clinical
from lvmd.study import run_study

FAST = "[features]\niterations = 40\n[report]\nformats = [\"png\"]\n"


@pytest.fixture(scope="module")
def fast_config(tmp_path_factory):
    path = tmp_path_factory.mktemp("cfg") / "study.toml"
    path.write_text(FAST)
    return path


@pytest.fixture(scope="module")
def study(small_cohort_dir):
    config = StudyConfig()
    config.features.iterations = 40
    return run_study(load_cohort(small_cohort_dir), config)


def test_run_study_contents(study, small_cohort_dir):
    truth = pd.read_csv(small_cohort_dir / "truth.csv", index_col=0)
    assert len(study.data) == 80 - int(truth["esv_outlier"].sum())
    assert study.data["response"].sum() == truth.loc[study.data.index, "response"].sum()
    assert "p" in study.table1.summary.columns
    assert study.training.features("ae").shape == (len(study.data), 64)
    corr = study.correlation().summary
    assert len(corr) == 128 and set(corr["against"]) == {"psd_deg", "pbw_deg"}
    uni = study.univariate.summary
    assert {"qrs_ms", "psd_deg", "AE1", "AE64"} <= set(uni.index)
    roc = study.roc().summary
    assert "clinical + PSD" in roc.index and "clinical + PBW" in roc.index
    for _, row in roc.iterrows():
        assert 0.5 <= row["auc"] <= 1.0 and row["ci_low"] <= row["auc"] <= row["ci_high"]
    inc = study.incremental().summary
    assert (inc["df"] >= 0).all() and inc["p"].dropna().between(0, 1).all()
    head = study.headline()
    assert head["response_definition"] == "esv15" and head["patients"] == len(study.data)
    pattern = study.training.features("pattern").shape[1]  # the 17 pattern features and the classes kept
    assert pattern >= 17 and head["feature_counts"] == {"ae": 64, "pca": 64, "pattern": pattern}
    models = study.model_table().summary
    assert set(models.index.get_level_values("family")) == set(StudyConfig().stats.families)
    for family, model in study.models.items():  # the study reports its fitted models, nothing refit aside
        primary = models.loc[(family, model.models_[0].label)]
        assert primary["role"] == "primary" and primary["apparent_auc"] == model.apparent_auc_
        assert primary["variables"] == " + ".join(model.variables_)
        assert study.roc().summary.loc[model.models_[0].label, "auc"] == pytest.approx(model.apparent_auc_, abs=1e-12)


def test_small_cohort_caps_feature_count(tmp_path, cli):
    from lvmd.simulate import simulate_cohort

    simulate_cohort(40, seed=1, maps_only=True).write(tmp_path)
    config = StudyConfig()
    config.features.iterations = 10
    result = run_study(load_cohort(tmp_path), config)
    assert result.training.features("ae").shape[1] == len(result.data) - 1 == result.headline()["feature_counts"]["ae"]


def test_analyze_outputs(small_cohort_dir, fast_config, tmp_path, cli):
    out = tmp_path / "a"
    before = {p.name: p.read_bytes() for p in small_cohort_dir.iterdir()}
    res = cli("analyze", str(small_cohort_dir), "--out", str(out), "--config", str(fast_config), "--quiet")
    assert res.returncode == 0, res.stderr
    assert res.stderr == ""  # quiet, and no numpy RuntimeWarning (the circular mean of pixels outside the disc)
    for name in ("table1", "univariate", "multivariate", "correlation_ae", "correlation_pca", "roc", "incremental",
                 "models"):
        assert (out / f"{name}.csv").exists() and (out / f"{name}.md").exists()
    for fig in ("example_bullseyes", "mean_phase_maps", "correlation_heatmap_ae", "roc_curves"):
        assert (out / f"{fig}.png").exists()
    # correlation.csv: the paper's table, every kind's features in one file, row for row the per-kind files
    combined = pd.read_csv(out / "correlation.csv")
    per_kind = [pd.read_csv(f) for f in sorted(out.glob("correlation_*.csv"))]
    assert len(combined) == sum(len(t) for t in per_kind) and {"AE1", "PC1"} <= set(combined["column"])
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["response_definition"] == "esv15" and manifest["config"]["features"]["iterations"] == 40
    assert set(manifest["timings_s"]) >= {"features (ae)", "report"}
    clinical = str(small_cohort_dir / "clinical.csv")
    assert len(manifest["inputs"][clinical]) == 64
    html = (out / "report.html").read_text()
    assert "data:image/png;base64," in html and "Limitations" in html and "in-sample" in html
    assert "AUC" in res.stdout and "report.html" in res.stdout
    assert {p.name: p.read_bytes() for p in small_cohort_dir.iterdir()} == before  # inputs untouched
    roc = pd.read_csv(out / "roc.csv")
    assert {"model", "auc", "ci_low", "ci_high", "delong_p"} <= set(roc.columns)


def test_analyze_refuses_non_empty_and_leaves_nothing_on_failure(small_cohort_dir, fast_config, tmp_path, cli):
    out = tmp_path / "busy"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    res = cli("analyze", str(small_cohort_dir), "--out", str(out), "--config", str(fast_config))
    assert res.returncode == 2 and "not empty" in res.stderr and (out / "keep.txt").read_text() == "x"
    nomaps = tmp_path / "nomaps"
    nomaps.mkdir()
    shutil.copy(small_cohort_dir / "clinical.csv", nomaps / "clinical.csv")
    res = cli("analyze", str(nomaps), "--out", str(tmp_path / "fail"), "--config", str(fast_config))
    assert res.returncode == 2 and "no phase polar maps" in res.stderr
    assert not (tmp_path / "fail").exists()
    assert not any(p.name.startswith(".fail") for p in tmp_path.iterdir())


def test_report_escapes_user_strings(small_cohort_dir, fast_config, tmp_path, cli):
    cohort = tmp_path / "evil"
    cohort.mkdir()
    table = read_clinical(small_cohort_dir / "clinical.csv")
    maps = read_polarmaps(small_cohort_dir / "polarmaps.npz")
    ids = np.array([f"<b>{p}</b>" for p in table.index], dtype=object)
    table.index = pd.Index(ids, name="patient_id")
    table.loc[ids[0], "lvesv_ml"] = 10.0  # excluded, so its id reaches the report's exclusion list
    write_clinical(table, cohort / "clinical.csv")
    maps.patient_id = ids
    maps.save(cohort / "polarmaps.npz")
    res = cli("analyze", str(cohort), "--out", str(tmp_path / "r"), "--config", str(fast_config), "--quiet")
    assert res.returncode == 0, res.stderr
    html = (tmp_path / "r" / "report.html").read_text()
    assert "&lt;b&gt;P0001&lt;/b&gt;" in html and "<b>P0001" not in html


def test_config_defaults_round_trip(tmp_path, cli):
    res = cli("config", "--defaults")
    assert res.returncode == 0 and res.stdout == DEFAULTS_TOML
    path = tmp_path / "c.toml"
    path.write_text(res.stdout)
    assert load_config(path).to_dict() == StudyConfig().to_dict()
    path.write_text("[stats]\nenter_p = 2\n")
    with pytest.raises(ConfigError, match="enter_p"):
        load_config(path)
    path.write_text("[stats]\nbogus = 1\n")
    res = cli("analyze", "x", "--out", str(tmp_path / "o"), "--config", str(path))
    assert res.returncode == 2 and "unknown key 'bogus'" in res.stderr


def test_table2_shows_clinical_and_significant_features_only(study):
    shown = study.multivariate.formatted()
    significant = study.models[study.table2_family].selection_.significant
    clinical = list(study.training.clinical_screening().summary.index)
    assert list(shown.index) == clinical + ["psd_deg", "pbw_deg"] + significant
    pattern = study.training.features("pattern").shape[1]
    assert len(study.univariate.summary) == len(clinical) + 2 + 128 + pattern  # the full screening stays in univariate.csv


def test_table1_fisher_when_configured(small_cohort_dir):
    config = StudyConfig()
    config.features.iterations = 5
    config.stats.families = ["clinical+psd"]
    config.stats.table1_exact = "fisher"
    rows = run_study(load_cohort(small_cohort_dir), config).table1.summary.set_index("variable")
    assert rows.loc["CKD", "test"] == "Fisher exact" and "expected counts < 5" in rows.loc["CKD", "note"]
    config.stats.table1_exact = "chi2"
    rows = run_study(load_cohort(small_cohort_dir), config).table1.summary.set_index("variable")
    assert rows.loc["CKD", "test"] == "chi-square (Yates)" and "approximate" in rows.loc["CKD", "note"]


def test_response_definition_recorded(small_cohort_dir, tmp_path):
    config = StudyConfig()
    config.features.iterations = 5
    config.cohort.response = "ef5"
    res = run_study(load_cohort(small_cohort_dir), config)
    assert res.headline()["response_definition"] == "ef5"


def _chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser")


def test_demo_report_renders_in_chromium(fast_config, tmp_path, cli):
    res = cli("demo", "--out", str(tmp_path / "demo"), "--config", str(fast_config), "--quiet")
    assert res.returncode == 0, res.stderr
    assert "AUC" in res.stdout and "LR" in res.stdout
    browser = _chromium()
    if browser is None:
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    report = tmp_path / "demo" / "report.html"
    profile = tmp_path / "profile"
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
           "--enable-logging=stderr", "--v=0", "--virtual-time-budget=3000", "--dump-dom", report.as_uri()]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    n_images = (tmp_path / "demo" / "report.html").read_text().count("<img ")
    assert n_images >= 5 and dom.count("<img ") == n_images
    console_errors = [line for line in done.stderr.splitlines() if "CONSOLE" in line and "ERROR" in line.upper()]
    assert not console_errors
    shot = tmp_path / "shot.png"
    subprocess.run([*cmd[:-2], f"--screenshot={shot}", "--window-size=1200,3000", report.as_uri()],
                   capture_output=True, timeout=120)
    assert shot.exists() and shot.stat().st_size > 10000
