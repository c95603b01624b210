"""Autoencoder and PCA transformers: contract, determinism, persistence, interpretation, stability, bad input."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from lvmd.errors import ModelError
from lvmd.features import AutoencoderFeatures, PCAFeatures, fit_seeds, latent_traversal, linear_cka
from lvmd.features.autoencoder import _Network
from lvmd.polar import disc_mask


@pytest.fixture(scope="module")
def maps():
    from lvmd.datasets import load_demo_cohort

    return load_demo_cohort().maps


@pytest.fixture(scope="module")
def small_ae(maps):
    return AutoencoderFeatures(iterations=60, random_state=0).fit(maps)


def test_paper_architecture(small_ae):
    net = small_ae.network_
    linears = [m for m in net.modules() if isinstance(m, torch.nn.Linear)]
    d = int(disc_mask().sum())
    assert [(m.in_features, m.out_features) for m in linears] == [(d, 512), (512, 64), (64, 512), (512, d)]
    assert isinstance(net.decoder[-1], torch.nn.Sigmoid) and isinstance(net.encoder[1], torch.nn.ReLU)
    assert len(small_ae.loss_curve_) == 60 and small_ae.loss_curve_[-1] < small_ae.loss_curve_[0]


def test_transform_named_and_indexed(small_ae, maps):
    f = small_ae.transform(maps)
    assert f.shape == (103, 64) and list(f.columns[:2]) == ["AE1", "AE2"] and f.columns[-1] == "AE64"
    assert list(f.index) == list(maps.patient_id)
    rows = pd.DataFrame(maps.phase.reshape(103, -1), index=pd.Index(maps.patient_id, name="patient_id"))
    pd.testing.assert_frame_equal(small_ae.transform(rows), f)
    np.testing.assert_allclose(small_ae.transform(maps.phase).to_numpy(), f.to_numpy())
    decoded = small_ae.inverse_transform(f.to_numpy()[:2])
    assert decoded.shape == (2, 64, 64) and np.isnan(decoded[:, ~disc_mask()]).all()
    assert np.nanmin(decoded) >= 0 and np.nanmax(decoded) <= 360


def test_nan_inside_disc_is_filled_not_fed(small_ae, maps):
    holed = maps.phase.copy()
    holed[0, 32, 32] = np.nan
    f = small_ae.transform(holed)
    assert np.isfinite(f.to_numpy()).all()


def test_determinism(maps):
    a = AutoencoderFeatures(iterations=30, random_state=7).fit(maps).transform(maps)
    b = AutoencoderFeatures(iterations=30, random_state=7).fit(maps).transform(maps)
    c = AutoencoderFeatures(iterations=30, random_state=8).fit(maps).transform(maps)
    assert np.array_equal(a.to_numpy(), b.to_numpy())
    assert not np.array_equal(a.to_numpy(), c.to_numpy())


def test_save_load_round_trip(small_ae, maps, tmp_path):
    small_ae.save(tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "model.json").read_text())
    assert meta["feature_names"][29] == "AE30" and meta["torch_version"] == torch.__version__
    loaded = AutoencoderFeatures.load(tmp_path / "m")
    assert np.array_equal(loaded.transform(maps).to_numpy(), small_ae.transform(maps).to_numpy())
    assert loaded.loss_curve_ == pytest.approx(small_ae.loss_curve_)


def test_load_refuses_bad_folders(small_ae, tmp_path):
    with pytest.raises(ModelError, match="not an lvmd model folder"):
        AutoencoderFeatures.load(tmp_path)
    small_ae.save(tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "model.json").read_text())
    meta["config"]["latent_dim"] = 32
    (tmp_path / "m" / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="has shape"):
        AutoencoderFeatures.load(tmp_path / "m")
    meta["format_version"] = 99
    (tmp_path / "m" / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="format version 99"):
        AutoencoderFeatures.load(tmp_path / "m")
    (tmp_path / "m" / "weights.safetensors").write_bytes(b"\x80\x04not safetensors")
    meta["format_version"] = 1
    meta["config"]["latent_dim"] = 64
    (tmp_path / "m" / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="not a readable safetensors"):
        AutoencoderFeatures.load(tmp_path / "m")


def test_bad_input(maps):
    with pytest.raises(ModelError, match="is not \\(n, 64, 64\\)"):
        AutoencoderFeatures(iterations=1).fit(np.zeros((10, 32, 32)))
    with pytest.raises(ModelError, match="fewer than latent_dim = 64"):
        AutoencoderFeatures(iterations=1).fit(maps.phase[:20])
    bad = maps.phase.copy()
    bad[3] = np.nan
    with pytest.raises(ModelError, match="map 3 is all NaN"):
        AutoencoderFeatures(iterations=1).fit(bad)


def test_pca_baseline(maps, tmp_path):
    pca = PCAFeatures(n_components=64).fit(maps)
    f = pca.transform(maps)
    assert list(f.columns[:2]) == ["PC1", "PC2"] and f.shape == (103, 64)
    pca.save(tmp_path / "p")
    again = PCAFeatures.load(tmp_path / "p")
    np.testing.assert_allclose(again.transform(maps).to_numpy(), f.to_numpy(), atol=1e-10)
    full = PCAFeatures(n_components=102).fit(maps)
    assert full.reconstruction_error(maps).max() < 1e-20 + pca.reconstruction_error(maps).max()


def test_traversal(small_ae):
    trav = latent_traversal(small_ae, "AE5")
    assert trav.maps.shape == (5, 64, 64) and trav.steps == (-2, -1, 0, 1, 2)
    assert np.allclose(trav.maps[2], small_ae.inverse_transform(small_ae.latent_mean_[None])[0], equal_nan=True)
    assert not np.allclose(trav.maps[0], trav.maps[4], equal_nan=True)
    assert latent_traversal(small_ae, 5).feature == "AE5"
    with pytest.raises(ModelError, match="outside 1..64"):
        latent_traversal(small_ae, 65)
    from lvmd.report.figures import traversal_figure

    fig = traversal_figure(trav)
    assert len(fig.axes) >= 5
    assert repr(trav) == "Traversal(AE5, steps -2 SD, -1 SD, +0 SD, +1 SD, +2 SD)"


def test_stability(maps):
    res = fit_seeds(maps, seeds=[0, 1], iterations=20)
    assert res.summary.shape[0] == 64 and "seed 1 |r|" in res.summary.columns
    assert 0 < res.cka.iloc[0] <= 1
    x = np.random.default_rng(0).normal(size=(50, 4))
    assert linear_cka(x, x @ np.linalg.qr(np.random.default_rng(1).normal(size=(4, 4)))[0]) == pytest.approx(1.0)


def test_network_matches_state_dict_layout():
    net = _Network(10, (8,), 3)
    assert list(net.state_dict()) == ["encoder.0.weight", "encoder.0.bias", "encoder.2.weight", "encoder.2.bias",
                                      "decoder.0.weight", "decoder.0.bias", "decoder.2.weight", "decoder.2.bias"]


def test_features_cli(tmp_path, cli):
    from lvmd.datasets import demo_cohort_path

    res = cli("features", str(demo_cohort_path()), "--out", str(tmp_path / "f"), "--iterations", "15", "--quiet")
    assert res.returncode == 0, res.stderr
    f = pd.read_csv(tmp_path / "f" / "features.csv", index_col=0)
    assert f.shape == (103, 65) and (tmp_path / "f" / "loss_curve.png").exists()
    assert AutoencoderFeatures.load(tmp_path / "f" / "model").iterations == 15
    res = cli("features", str(demo_cohort_path()), "--out", str(tmp_path / "p"), "--method", "pca")
    assert res.returncode == 0 and PCAFeatures.load(tmp_path / "p" / "model").n_components == 64


def test_manual_backward_matches_autograd():
    from lvmd.features.autoencoder import _manual_gradients

    torch.manual_seed(0)
    net = _Network(50, (16,), 4)
    x = torch.rand(7, 50)
    loss = torch.mean((net(x) - x) ** 2)
    loss.backward()
    expected = [p.grad.clone() for p in net.parameters()]
    for p in net.parameters():
        p.grad = torch.zeros_like(p)
    manual = _manual_gradients(net.four_layers(), x)
    assert float(manual) == pytest.approx(float(loss.detach()), rel=1e-6)
    for p, g in zip(net.parameters(), expected):
        torch.testing.assert_close(p.grad, g, rtol=1e-5, atol=1e-7)


def test_minibatch_and_early_stopping_options(maps):
    ae = AutoencoderFeatures(iterations=30, batch_size=32, early_stopping=3, random_state=0).fit(maps)
    assert 3 <= len(ae.loss_curve_) <= 30 and np.isfinite(ae.loss_curve_).all()
