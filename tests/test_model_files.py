"""Issue 16, families 2 and 6 (saved feature extractors): a malformed model.json is one clear ModelError, and the
declared sizes are checked against the configuration's limits and the safetensors header before any allocation."""

import json
import subprocess
import sys

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from lvmd.errors import ModelError
from lvmd.features import AutoencoderFeatures, PCAFeatures

from .conftest import PEAK_MB


@pytest.fixture(scope="module")
def maps():
    from lvmd.datasets import load_demo_cohort

    return load_demo_cohort().maps.phase[:40]


@pytest.fixture
def tiny_ae(maps, tmp_path):
    folder = tmp_path / "ae"
    AutoencoderFeatures(latent_dim=4, hidden=(8,), iterations=2, random_state=1).fit(maps).save(folder)
    return folder


def _edit(folder, change):
    meta = json.loads((folder / "model.json").read_text())
    change(meta)
    (folder / "model.json").write_text(json.dumps(meta))


@pytest.mark.parametrize("change, message", [
    (lambda m: m["config"].update(hidden=[60000]), r"config.hidden\[0\] = 60000: must be in \[1, 16384\]"),
    (lambda m: m["config"].update(latent_dim=2.5), "config.latent_dim = 2.5: must be a whole number"),
    (lambda m: m["config"].update(learning_rate="fast"), "config.learning_rate = 'fast': must be a number"),
    (lambda m: m["config"].update(random_state=-3), r"config.random_state = -3: must be in \[0, 4294967295\]"),
    (lambda m: m["config"].update(evil=1), "config has unknown parameter 'evil'"),
    (lambda m: m.update(config=[1, 2]), "config is missing or not an object"),
    (lambda m: m.pop("config"), "config is missing or not an object"),
    (lambda m: m.update(loss_curve="abc"), "loss_curve is not a list of numbers"),
    (lambda m: m["config"].update(hidden=[9]), r"tensor network.encoder.0.weight has shape \(8, \d+\), expected \(9, \d+\)"),
])
def test_malformed_autoencoder_description(tiny_ae, change, message):
    _edit(tiny_ae, change)
    with pytest.raises(ModelError, match=message):
        AutoencoderFeatures.load(tiny_ae)


def test_model_json_not_an_object(tiny_ae):
    (tiny_ae / "model.json").write_text("[1, 2, 3]")
    with pytest.raises(ModelError, match="model.json: corrupt model description .a JSON list, not an object"):
        AutoencoderFeatures.load(tiny_ae)
    (tiny_ae / "model.json").write_bytes(b"\xff\xfe{}")
    with pytest.raises(ModelError, match="model.json: corrupt model description"):
        AutoencoderFeatures.load(tiny_ae)


def test_non_finite_or_extra_weights_refused(tiny_ae):
    tensors = load_file(str(tiny_ae / "weights.safetensors"))
    tensors["latent_std"] = np.full_like(tensors["latent_std"], np.nan)
    save_file(tensors, str(tiny_ae / "weights.safetensors"))
    with pytest.raises(ModelError, match="tensor latent_std holds NaN or infinite values"):
        AutoencoderFeatures.load(tiny_ae)
    tensors["latent_std"] = np.ones_like(tensors["latent_std"])
    tensors["payload"] = np.zeros(3, dtype=np.float32)
    save_file(tensors, str(tiny_ae / "weights.safetensors"))
    with pytest.raises(ModelError, match="unexpected tensor payload"):
        AutoencoderFeatures.load(tiny_ae)


def test_huge_declared_layers_allocate_nothing(tiny_ae):
    """hidden = [16000, 16000] is within the limits: the network would hold ~620 M parameters (2.5 GB), but the
    header's shapes disagree, so loading must fail having allocated nothing of that size."""
    _edit(tiny_ae, lambda m: m["config"].update(hidden=[16000, 16000]))
    code = ("import sys\nfrom lvmd.features import AutoencoderFeatures\nfrom lvmd.errors import ModelError\n"
            "try:\n    AutoencoderFeatures.load(sys.argv[1])\nexcept ModelError as e:\n    print('refused', e)\n"
            f"print({PEAK_MB})\n")
    res = subprocess.run([sys.executable, "-c", code, str(tiny_ae)], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0].startswith("refused") and "has shape (8," in lines[0]
    assert int(lines[1]) < 1500, f"peak memory {lines[1]} MB: the declared network was allocated"


def test_pca_description_checked(maps, tmp_path):
    PCAFeatures(n_components=3).fit(maps).save(tmp_path / "p")
    _edit(tmp_path / "p", lambda m: m["config"].update(n_components=4000))
    with pytest.raises(ModelError, match=r"tensor components has shape \(3, \d+\), expected \(4000, \d+\)"):
        PCAFeatures.load(tmp_path / "p")
    _edit(tmp_path / "p", lambda m: m["config"].update(n_components=10**9))
    with pytest.raises(ModelError, match=r"config.n_components = 1000000000: must be in \[1, 4096\]"):
        PCAFeatures.load(tmp_path / "p")


def test_fit_checks_parameters(maps):
    with pytest.raises(ModelError, match="latent_dim = 2.5: must be a whole number"):
        AutoencoderFeatures(latent_dim=2.5).fit(maps)
    with pytest.raises(ModelError, match=r"hidden\[0\] = -5"):
        AutoencoderFeatures(hidden=(-5,)).fit(maps)
    with pytest.raises(ModelError, match="n_components = 0"):
        PCAFeatures(n_components=0).fit(maps)


def test_features_cli_components_zero(small_cohort_dir, tmp_path, cli):
    """Issue 16: `features --components 0` ended in scikit-learn's traceback."""
    res = cli("features", str(small_cohort_dir), "--method", "pca", "--components", "0", "--out", str(tmp_path / "f"))
    assert res.returncode == 2, res.stderr
    assert res.stderr == "error: lvmd features: argument --components: 0: must be in [1, 4096] (see lvmd features --help)\n"
    assert list(tmp_path.iterdir()) == []
