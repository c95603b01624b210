"""Model bundle: exact round trip, tamper and pickle refusal, warnings, bad input, CLI."""

import json
import pickle

import numpy as np
import pandas as pd
import pytest

from lvmd import load_cohort
from lvmd.bundle import ModelBundle
from lvmd.config import StudyConfig
from lvmd.errors import ModelError
from lvmd.io.polarmaps import read_polarmaps
from lvmd.io.tables import read_clinical
from lvmd.model import CRTResponseModel
from lvmd.predict import predict_patients


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    from lvmd.datasets import demo_cohort_path

    config = StudyConfig()
    config.features.iterations = 60
    bundle = ModelBundle(CRTResponseModel("clinical+psd+ae", config).fit(load_cohort(demo_cohort_path())))
    folder = tmp_path_factory.mktemp("b") / "bundle"
    bundle.save(folder)
    clinical = read_clinical(demo_cohort_path() / "clinical.csv")
    maps = read_polarmaps(demo_cohort_path() / "polarmaps.npz")
    return bundle, folder, clinical, maps


def test_round_trip_identical(fitted):
    bundle, folder, clinical, maps = fitted
    before = predict_patients(bundle.model, clinical, maps.phase).summary
    loaded = ModelBundle.load(folder).model
    after = predict_patients(loaded, clinical, maps).summary
    np.testing.assert_array_equal(before["probability"].to_numpy(), after["probability"].to_numpy())
    assert (after["ci_low"] <= after["probability"]).all() and (after["probability"] <= after["ci_high"]).all()
    assert {"MODEL_CARD.md", "model.json", "checksums.json"} <= {p.name for p in folder.iterdir()}
    assert "not a medical device" in (folder / "MODEL_CARD.md").read_text()
    assert loaded.variables_ == bundle.model.variables_ and loaded.apparent_auc_ == bundle.model.apparent_auc_
    assert [m.label for m in loaded.models_] == [m.label for m in bundle.model.models_]
    assert loaded.selection_.summary.equals(bundle.model.selection_.summary)
    np.testing.assert_array_equal(loaded.logit_.cov, bundle.model.logit_.cov)


def test_delta_method_ci(fitted):
    bundle, _, clinical, maps = fitted
    out = predict_patients(bundle.model, clinical.iloc[:1], maps.phase[:1]).summary
    design = bundle.model.design(clinical.iloc[:1].assign(psd_deg=out["psd_deg"].to_numpy()), maps.phase[:1])
    x = np.concatenate([[1.0], design.to_numpy()[0]])
    se = np.sqrt(x @ bundle.model.logit_.cov @ x)
    eta = x @ bundle.model.logit_.params
    assert out["ci_high"].iloc[0] == pytest.approx(1 / (1 + np.exp(-(eta + 1.959963984540054 * se))))
    contrib = out[[c for c in out.columns if c.startswith("contribution_")]].sum(axis=1).iloc[0]
    assert np.isfinite(contrib)


def test_tampered_json_refused(fitted, tmp_path):
    _, folder, _, _ = fitted
    copy = tmp_path / "b"
    copy.mkdir()
    for p in folder.rglob("*"):
        if p.is_file():
            target = copy / p.relative_to(folder)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(p.read_bytes())
    meta = json.loads((copy / "model.json").read_text())
    meta["model"]["models"][0]["coefficients"]["const"] += 1.0
    (copy / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="model.json: checksum mismatch"):
        ModelBundle.load(copy)


class Payload:
    def __reduce__(self):
        import pathlib

        return (pathlib.Path.write_text, (pathlib.Path(MARKER), "pwned"))


MARKER = ""


def test_pickle_payload_never_runs(fitted, tmp_path, cli):
    global MARKER
    _, folder, _, _ = fitted
    copy = tmp_path / "b"
    for p in folder.rglob("*"):
        if p.is_file():
            target = copy / p.relative_to(folder)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(p.read_bytes())
    MARKER = str(tmp_path / "pwned.txt")
    (copy / "extractor" / "ae" / "weights.safetensors").write_bytes(pickle.dumps(Payload()))
    with pytest.raises(ModelError, match="weights.safetensors: checksum mismatch"):
        ModelBundle.load(copy)
    # Even with the checksum list updated to match, the payload is never unpickled.
    sums = json.loads((copy / "checksums.json").read_text())
    import hashlib

    sums["extractor/ae/weights.safetensors"] = hashlib.sha256(
        (copy / "extractor" / "ae" / "weights.safetensors").read_bytes()).hexdigest()
    (copy / "checksums.json").write_text(json.dumps(sums))
    with pytest.raises(ModelError, match="not a readable safetensors"):
        ModelBundle.load(copy)
    res = cli("predict", str(copy), "--clinical", "x.csv")
    assert res.returncode == 2 and "safetensors" in res.stderr
    assert not (tmp_path / "pwned.txt").exists()


def test_incompatible_version_refused(fitted, tmp_path):
    from lvmd.provenance import sha256

    bundle, _, _, _ = fitted
    bundle.save(tmp_path / "old")
    meta = json.loads((tmp_path / "old" / "model.json").read_text())
    meta["lvmd_version"] = "9.0.0"
    (tmp_path / "old" / "model.json").write_text(json.dumps(meta))
    sums = json.loads((tmp_path / "old" / "checksums.json").read_text())
    sums["model.json"] = sha256(tmp_path / "old" / "model.json")
    (tmp_path / "old" / "checksums.json").write_text(json.dumps(sums))
    with pytest.raises(ModelError, match="incompatible with lvmd"):
        ModelBundle.load(tmp_path / "old")


def test_warnings_and_bad_input(fitted):
    bundle, _, clinical, maps = fitted
    odd = clinical.iloc[:2].copy()
    odd.loc[odd.index[0], "lvesv_ml"] = 900.0
    weird = maps.phase[:2].copy()
    checker = (np.indices((64, 64)).sum(axis=0) % 2) * 358.0  # nothing like a heart: 0 / 358 deg checkerboard
    weird[1] = np.where(np.isnan(weird[1]), np.nan, checker)
    out = predict_patients(bundle.model, odd, weird).summary
    assert any("lvesv_ml = 900 is outside the training range" in w for w in out["warnings"].iloc[0])
    assert any("reconstruction error" in w for w in out["warnings"].iloc[1])
    with pytest.raises(ModelError, match="variable qrs_ms"):
        predict_patients(bundle.model, clinical.iloc[:2].drop(columns=["qrs_ms"]), maps.phase[:2])
    with pytest.raises(ModelError, match="patient P0002: variable sex is missing"):
        predict_patients(bundle.model, clinical.iloc[:2].assign(sex=[1.0, np.nan]), maps.phase[:2])
    with pytest.raises(ModelError, match="do not match 2 patients"):
        predict_patients(bundle.model, clinical.iloc[:2], maps.phase[:2, :32])


def test_fit_predict_cli(tmp_path, cli):
    from lvmd.datasets import demo_cohort_path

    cfg = tmp_path / "c.toml"
    cfg.write_text("[features]\niterations = 30\n")
    res = cli("fit", str(demo_cohort_path()), "--out", str(tmp_path / "b"), "--config", str(cfg))
    assert res.returncode == 0, res.stderr
    pts = pd.read_csv(demo_cohort_path() / "clinical.csv").head(3)
    pts[["patient_id", "age", "sex", "qrs_ms", "lvef_pct", "lvedv_ml", "lvesv_ml", "nyha", "cad", "ckd", "ischemia",
         "smoking", "acei_arb", "scar_burden_pct"]].to_csv(tmp_path / "patients.csv", index=False)
    res = cli("predict", str(tmp_path / "b"), "--clinical", str(tmp_path / "patients.csv"), "--maps",
              str(demo_cohort_path() / "polarmaps.npz"), "--json", "--out", str(tmp_path / "p"))
    assert res.returncode == 0, res.stderr
    records = [json.loads(line) for line in res.stdout.splitlines()]
    assert [r["patient_id"] for r in records] == ["P0001", "P0002", "P0003"]
    for r in records:
        assert {"probability", "ci_low", "ci_high", "warnings", "latest_segment"} <= set(r)
        assert 0 < r["ci_low"] <= r["probability"] <= r["ci_high"] < 1
    assert (tmp_path / "p" / "P0001.png").exists() and (tmp_path / "p" / "P0001.html").exists()
    bad = pd.read_csv(tmp_path / "patients.csv").drop(columns=["qrs_ms"])
    bad.to_csv(tmp_path / "bad.csv", index=False)
    res = cli("predict", str(tmp_path / "b"), "--clinical", str(tmp_path / "bad.csv"), "--maps",
              str(demo_cohort_path() / "polarmaps.npz"))
    assert res.returncode == 2 and "missing column qrs_ms" in res.stderr


def test_predict_from_spect(tmp_path, cli):
    from lvmd.io.spect import write_spect
    from lvmd.phantom import make_phantom
    from lvmd.datasets import demo_cohort_path

    cfg = tmp_path / "c.toml"
    cfg.write_text("[features]\niterations = 20\n")
    assert cli("fit", str(demo_cohort_path()), "--out", str(tmp_path / "b"), "--family", "clinical+psd",
               "--config", str(cfg)).returncode == 0
    pts = pd.read_csv(demo_cohort_path() / "clinical.csv").head(1).drop(columns=["psd_deg", "pbw_deg"])
    pts["patient_id"] = "study7"
    pts.to_csv(tmp_path / "patients.csv", index=False)
    write_spect(make_phantom("lbbb", 120, gates=8).simulate("study7"), tmp_path / "study7.npz")
    res = cli("predict", str(tmp_path / "b"), "--clinical", str(tmp_path / "patients.csv"), "--spect",
              str(tmp_path / "study7.npz"), "--json")
    assert res.returncode == 0, res.stderr
    rec = json.loads(res.stdout)
    assert rec["psd_deg"] > 30 and rec["latest_segment"] in (5, 6, 11, 12, 16)
