"""Synthetic cohort: Table 1 fidelity, determinism, the planted mechanism and the null switch."""

import hashlib

import numpy as np
import pandas as pd
import pytest

from lvmd import load_cohort
from lvmd.cohort import response_labels
from lvmd.datasets import demo_cohort_path, load_demo_cohort, load_demo_truth
from lvmd.errors import LvmdError
from lvmd.simulate import BINARY, CONTINUOUS, NYHA, simulate_cohort
from lvmd.stats import roc_auc, univariate


@pytest.fixture(scope="module")
def large():
    return simulate_cohort(5000, seed=11, maps_only=True)


def test_table1_fidelity_at_n5000(large):
    table = large.clinical.assign(r=large.truth["response"])
    assert 0.41 <= table["r"].mean() <= 0.47
    assert (response_labels(large.clinical, "esv15") == large.truth["response"]).all()
    means = table.groupby("r").mean()
    for name, ((m1, _), (m0, _)) in CONTINUOUS.items():
        assert means.loc[1, name] == pytest.approx(m1, rel=0.05), name
        assert means.loc[0, name] == pytest.approx(m0, rel=0.05), name
    esv = {1: 191.5, 0: 222.6}
    pbw = {1: 197.1, 0: 194.1}
    for g in (0, 1):
        assert means.loc[g, "lvesv_ml"] == pytest.approx(esv[g], rel=0.05)
        assert means.loc[g, "pbw_deg"] == pytest.approx(pbw[g], rel=0.05)
        for name, (p1, p0) in BINARY.items():
            assert abs(means.loc[g, name] - (p1 if g else p0)) < 0.03, name
        for level, (p1, p0) in NYHA.items():
            assert abs((table.loc[table.r == g, "nyha"] == level).mean() - (p1 if g else p0)) < 0.03
    ef = (1 - large.clinical["lvesv_ml"] / large.clinical["lvedv_ml"]) * 100
    assert np.allclose(ef, large.clinical["lvef_pct"], atol=0.1)
    assert 0.005 <= (large.clinical["lvesv_ml"] < 20).mean() <= 0.015


def test_same_seed_same_bytes(tmp_path):
    for k in (1, 2):
        (tmp_path / f"c{k}").mkdir()
        simulate_cohort(30, seed=5, maps_only=True).write(tmp_path / f"c{k}")
    for name in ("clinical.csv", "polarmaps.npz", "truth.csv"):
        a = hashlib.sha256((tmp_path / "c1" / name).read_bytes()).hexdigest()
        b = hashlib.sha256((tmp_path / "c2" / name).read_bytes()).hexdigest()
        assert a == b, name


def test_pattern_recoverable_psd_not():
    # Over several seeds at n = 103: the planted pattern separates the groups, PSD mostly does not.
    psd_significant, pattern_auc = 0, []
    for seed in range(5):
        c = simulate_cohort(103, seed=seed, maps_only=True)
        d = c.clinical.assign(r=c.truth["response"], coherent=(c.truth["pattern"] == "coherent").astype(float))
        uni = univariate(d, "r", ["psd_deg", "coherent"]).summary
        psd_significant += uni.loc["psd_deg", "p"] < 0.05
        pattern_auc.append(roc_auc(d["r"], d["coherent"]).auc)
    assert psd_significant <= 1
    assert np.mean(pattern_auc) > 0.65


def test_null_switch_removes_pattern_effect():
    c = simulate_cohort(3000, seed=2, null=True, maps_only=True)
    coherent = (c.truth["pattern"] == "coherent")
    rates = c.truth.groupby(coherent)["response"].mean()
    assert abs(rates[True] - rates[False]) < 0.05
    live = simulate_cohort(3000, seed=2, maps_only=True)
    coherent = (live.truth["pattern"] == "coherent")
    rates = live.truth.groupby(coherent)["response"].mean()
    assert rates[True] - rates[False] > 0.25


def test_true_probability_is_calibrated(large):
    bins = pd.cut(large.truth["response_probability"], [0, 0.2, 0.4, 0.6, 0.8, 1.0])
    observed = large.truth.groupby(bins, observed=True)["response"].mean()
    expected = large.truth.groupby(bins, observed=True)["response_probability"].mean()
    assert np.all(np.abs(observed - expected) < 0.06)


def test_phantom_mode_measures_maps():
    c = simulate_cohort(12, seed=4, workers=1)
    assert c.maps.phase.shape == (12, 64, 64)
    assert np.isfinite(c.clinical["psd_deg"]).all()
    corr = np.corrcoef(c.clinical["psd_deg"], c.truth["psd_target_deg"])[0, 1]
    assert corr > 0.8


def test_demo_cohort_shipped():
    cohort = load_demo_cohort()
    assert len(cohort) == 103 and cohort.summary()["responders"] == 45
    assert len(cohort.apply_exclusions()) == 102
    assert set(load_demo_truth()["pattern"]) == {"coherent", "scattered"}
    assert load_cohort(demo_cohort_path()).maps.kinds() == ["phase", "perfusion", "thickening"]


@pytest.mark.slow
def test_demo_cohort_regenerates_identically(tmp_path):
    simulate_cohort(103, seed=0).write(tmp_path)
    for name in ("clinical.csv", "truth.csv"):
        assert (tmp_path / name).read_text() == (demo_cohort_path() / name).read_text()


def test_simulate_bad_input(tmp_path, cli):
    with pytest.raises(LvmdError, match=r"--n = 5: must be in \[10, 100000\]"):
        simulate_cohort(5)
    res = cli("simulate", "--n", "5", "--out", str(tmp_path / "x"))
    assert res.returncode == 2
    assert res.stderr == "error: lvmd simulate: argument --n: 5: must be in [10, 100000] (see lvmd simulate --help)\n"
    assert not (tmp_path / "x").exists()
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    res = cli("simulate", "--n", "20", "--maps-only", "--out", str(tmp_path / "full"))
    assert res.returncode == 2 and "not empty" in res.stderr
    assert (tmp_path / "full" / "keep.txt").read_text() == "mine"
    res = cli("simulate", "--n", "20", "--maps-only", "--out", str(tmp_path / "full"), "--force")
    assert res.returncode == 2 and "not a previous lvmd output" in res.stderr  # issue 16: --force spares user folders
    assert (tmp_path / "full" / "keep.txt").read_text() == "mine"
    res = cli("simulate", "--n", "20", "--maps-only", "--out", str(tmp_path / "sim"))
    res = cli("simulate", "--n", "20", "--seed", "1", "--maps-only", "--out", str(tmp_path / "sim"), "--force")
    assert res.returncode == 0 and (tmp_path / "sim" / "truth.csv").exists() and (tmp_path / "sim" / ".lvmd-output").exists()
    res = cli("simulate", "--n", "20", "--bogus", "--out", str(tmp_path / "y"))
    assert res.returncode == 2


def test_with_spect_keeps_gated_studies(tmp_path):
    from lvmd.io.spect import read_spect

    cohort = simulate_cohort(10, seed=6, with_spect=True, workers=1)
    cohort.write(tmp_path)
    study = read_spect(tmp_path / "studies" / "P0001.npz")
    assert study.gates == 8 and study.study_id == "P0001"
    with pytest.raises(LvmdError, match="cannot be combined"):
        simulate_cohort(10, maps_only=True, with_spect=True)


def test_simulate_bad_seed_is_one_error_line(tmp_path, cli):
    """Issue 16: `simulate --seed -1` ended in numpy's traceback."""
    res = cli("simulate", "--maps-only", "--out", str(tmp_path / "c"), "--seed", "-1")
    assert res.returncode == 2 and res.stderr == ("error: lvmd simulate: argument --seed: -1: must be in [0, 4294967295] "
                                                "(see lvmd simulate --help)\n"), res.stderr
    assert not (tmp_path / "c").exists() and list(tmp_path.iterdir()) == []
