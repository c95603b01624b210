"""The paper's autoencoder as a scikit-learn transformer (PyTorch underneath).

Paper preset: phase / 360 in [0, 1]; the disc pixels only; encoder Linear(D -> 512) - ReLU - Linear(512 -> 64),
decoder Linear(64 -> 512) - ReLU - Linear(512 -> D) - Sigmoid (four linear layers; the features are layer 2's 64
outputs); MSE on the disc pixels; Adam; 1000 full-batch iterations.
"""

from __future__ import annotations

import platform
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

from .. import __version__
from .._device import resolve_device
from .._values import real, seed, text, whole, whole_list
from ..config import MAX_HIDDEN_LAYERS, MAX_ITERATIONS, MAX_LATENT_DIM, MAX_LAYER_WIDTH
from ..errors import ModelError
from ..polar import disc_mask
from ._base import constructor_params, read_json, read_safetensors, write_json
from ._transformer import MapFeatureTransformer

FORMAT = "lvmd-autoencoder"
FORMAT_VERSION = 1


def _mlp(sizes: list[int], final: nn.Module | None) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    if final is not None:
        layers.append(final)
    return nn.Sequential(*layers)


class _Network(nn.Module):
    def __init__(self, n_inputs: int, hidden: tuple[int, ...], latent_dim: int):
        super().__init__()
        self.encoder = _mlp([n_inputs, *hidden, latent_dim], None)
        self.decoder = _mlp([latent_dim, *reversed(hidden), n_inputs], nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))

    def four_layers(self) -> list[nn.Linear] | None:
        """The four Linear layers when the network is the paper's shape (one hidden layer each side), else None."""
        linears = [m for m in self.modules() if isinstance(m, nn.Linear)]
        return linears if len(linears) == 4 else None


@torch.no_grad()
def _manual_gradients(layers: list[nn.Linear], x: torch.Tensor) -> torch.Tensor:
    """MSE loss of the four-layer autoencoder on ``x`` and its gradients, written into each parameter's ``.grad``.

    Hand-written backward pass of Linear-ReLU-Linear-Linear-ReLU-Linear-Sigmoid (the same GEMMs autograd runs, in
    preallocated gradient buffers): at these sizes autograd's bookkeeping costs about a fifth of an iteration.
    tests/test_features.py checks it against autograd.
    """
    l1, l2, l3, l4 = layers
    n, d = x.shape
    h1 = torch.addmm(l1.bias, x, l1.weight.T)
    a1 = h1.clamp_min(0)
    z = torch.addmm(l2.bias, a1, l2.weight.T)
    h3 = torch.addmm(l3.bias, z, l3.weight.T)
    a3 = h3.clamp_min(0)
    y = torch.addmm(l4.bias, a3, l4.weight.T).sigmoid_()
    residual = y - x
    loss = residual.square().mean()
    d_out = residual.mul_(2.0 / (n * d)).mul_(y).mul_(1 - y)
    torch.mm(d_out.T, a3, out=l4.weight.grad)
    torch.sum(d_out, 0, out=l4.bias.grad)
    d_h3 = (d_out @ l4.weight).mul_(h3 > 0)
    torch.mm(d_h3.T, z, out=l3.weight.grad)
    torch.sum(d_h3, 0, out=l3.bias.grad)
    d_z = d_h3 @ l3.weight
    torch.mm(d_z.T, a1, out=l2.weight.grad)
    torch.sum(d_z, 0, out=l2.bias.grad)
    d_h1 = (d_z @ l2.weight).mul_(h1 > 0)
    torch.mm(d_h1.T, x, out=l1.weight.grad)
    torch.sum(d_h1, 0, out=l1.bias.grad)
    return loss


class AutoencoderFeatures(MapFeatureTransformer):
    """Unsupervised dyssynchrony features from phase polar maps (the paper's autoencoder).

    Parameters
    ----------
    preset : {"paper"}
        The reference paper's architecture and training (the defaults below).
    latent_dim : int
        Number of features (64).
    hidden : tuple of int
        Hidden layer sizes of the encoder (mirrored by the decoder).
    iterations : int
        Full-batch Adam iterations (1000); with ``batch_size`` these are epochs.
    learning_rate, weight_decay : float
        Adam settings.
    batch_size : int or None
        None = full batch (the paper); an int trains on mini-batches (an option, not the default).
    early_stopping : int or None
        Stop when the loss has not improved for this many iterations (option).
    random_state : int
        Seed of the weights' initialisation and the batch order.
    device : str
        "auto" (GPU when present), "cpu" or a torch device string.

    Examples
    --------
    >>> from lvmd.datasets import load_demo_cohort
    >>> maps = load_demo_cohort().maps
    >>> ae = AutoencoderFeatures(iterations=20, random_state=0).fit(maps)
    >>> ae.transform(maps).shape
    (103, 64)
    """

    prefix = "AE"

    def __init__(self, preset: str = "paper", latent_dim: int = 64, hidden: tuple[int, ...] = (512,),
                 iterations: int = 1000, learning_rate: float = 1e-3, weight_decay: float = 0.0,
                 batch_size: int | None = None, early_stopping: int | None = None, random_state: int = 0,
                 device: str = "auto"):
        self.preset = preset
        self.latent_dim = latent_dim
        self.hidden = hidden
        self.iterations = iterations
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.early_stopping = early_stopping
        self.random_state = random_state
        self.device = device

    @property
    def n_components_(self) -> int:
        return int(self.latent_dim)

    def _check_params(self, where: str = "", error: type[ModelError] = ModelError) -> None:
        """Types and ranges of the parameters, with the configuration's limits (before any allocation)."""
        text(self.preset, f"{where}preset", ("paper",), error)
        whole(self.latent_dim, f"{where}latent_dim", 1, MAX_LATENT_DIM, error)
        whole_list(self.hidden, f"{where}hidden", 1, MAX_LAYER_WIDTH, MAX_HIDDEN_LAYERS, error)
        whole(self.iterations, f"{where}iterations", 1, MAX_ITERATIONS, error)
        real(self.learning_rate, f"{where}learning_rate", 0, 1, low_open=True, error=error)
        real(self.weight_decay, f"{where}weight_decay", 0, None, error=error)
        for name in ("batch_size", "early_stopping"):
            if getattr(self, name) is not None:
                whole(getattr(self, name), f"{where}{name}", 1, None, error)
        seed(self.random_state, f"{where}random_state", error)
        text(self.device, f"{where}device", error=error)

    def fit(self, X, y=None, progress: Callable[[int, float], None] | None = None) -> "AutoencoderFeatures":
        """Train on phase maps ((n, 64, 64), (n, 4096), a DataFrame or PolarMaps); ``y`` is ignored.

        ``progress(iteration, loss)`` is called after every iteration when given.
        """
        self._check_params()
        values = self._prepare_fit(X)
        if len(values) < self.latent_dim:
            raise ModelError(f"{len(values)} maps are fewer than latent_dim = {self.latent_dim}; "
                             "use more maps or a smaller latent_dim")
        device = resolve_device(self.device)
        torch.manual_seed(self.random_state)
        generator = torch.Generator().manual_seed(self.random_state)
        net = _Network(values.shape[1], tuple(self.hidden), self.latent_dim)
        with torch.no_grad():
            for module in net.modules():
                if isinstance(module, nn.Linear):
                    bound = 1.0 / np.sqrt(module.in_features)
                    module.weight.uniform_(-bound, bound, generator=generator)
                    module.bias.uniform_(-bound, bound, generator=generator)
        net = net.to(device)
        data = torch.as_tensor(values, dtype=torch.float32, device=device)
        fused = device.type in ("cpu", "cuda")
        optimizer = torch.optim.Adam(net.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay,
                                     fused=fused)
        losses: list[float] = []
        best, since_best = np.inf, 0
        n = len(data)
        full_batch = self.batch_size is None or self.batch_size >= n
        layers = net.four_layers() if full_batch else None
        if layers is not None:
            for p in net.parameters():
                p.grad = torch.zeros_like(p)
        for it in range(int(self.iterations)):
            if full_batch:
                batches = [data]
            else:
                order = torch.randperm(n, generator=generator).to(device)
                batches = [data[order[i:i + self.batch_size]] for i in range(0, n, self.batch_size)]
            total = 0.0
            for batch in batches:
                if layers is not None:
                    loss = _manual_gradients(layers, batch)
                else:
                    optimizer.zero_grad(set_to_none=True)
                    loss = torch.mean((net(batch) - batch) ** 2)
                    loss.backward()
                optimizer.step()
                total += float(loss.detach()) * len(batch)
            losses.append(total / n)
            if progress is not None:
                progress(it + 1, losses[-1])
            if self.early_stopping:
                if losses[-1] < best - 1e-7:
                    best, since_best = losses[-1], 0
                else:
                    since_best += 1
                    if since_best >= self.early_stopping:
                        break
        self.network_ = net.to("cpu").eval()
        self.loss_curve_ = losses
        self._record_latents(values)
        return self

    def _encode(self, values: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return self.network_.encoder(torch.tensor(values, dtype=torch.float32)).double().numpy()

    def _decode(self, latents: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return self.network_.decoder(torch.tensor(latents, dtype=torch.float32)).double().numpy()

    def get_params_json(self) -> dict:
        """Constructor parameters as JSON-ready values."""
        params = self.get_params()
        params["hidden"] = list(params["hidden"])
        return params

    def save(self, folder: str | Path) -> None:
        """Save as ``weights.safetensors`` + ``model.json`` (nothing pickled)."""
        from safetensors.torch import save_file

        if not hasattr(self, "network_"):
            raise ModelError("the autoencoder is not fitted; fit it before saving")
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        tensors = {f"network.{k}": v.contiguous() for k, v in self.network_.state_dict().items()}
        tensors["pixel_fill"] = torch.as_tensor(self.pixel_fill_, dtype=torch.float64)
        tensors["latent_mean"] = torch.as_tensor(self.latent_mean_, dtype=torch.float64)
        tensors["latent_std"] = torch.as_tensor(self.latent_std_, dtype=torch.float64)
        save_file(tensors, str(folder / "weights.safetensors"))
        write_json(folder / "model.json", {
            "format": FORMAT, "format_version": FORMAT_VERSION, "config": self.get_params_json(),
            "feature_names": self.feature_names_, "input_shape": [64, 64], "n_disc_pixels": int(disc_mask().sum()),
            "lvmd_version": __version__, "torch_version": torch.__version__, "python": platform.python_version(),
            "loss_curve": [float(v) for v in self.loss_curve_],
        })

    @classmethod
    def load(cls, folder: str | Path) -> "AutoencoderFeatures":
        """Load a model saved by :meth:`save`; refuses other folders, mismatched shapes or format versions.

        Every parameter is checked against the configuration's limits and every tensor's shape against the
        parameters from the file header before anything is allocated.
        """
        folder = Path(folder)
        meta = read_json(folder / "model.json", "model description")
        if meta.get("format") != FORMAT:
            raise ModelError(f"{folder}: not an lvmd autoencoder (format {meta.get('format')!r})")
        if meta.get("format_version") != FORMAT_VERSION:
            raise ModelError(f"{folder}: autoencoder format version {meta.get('format_version')} is not supported "
                             f"(this lvmd reads version {FORMAT_VERSION})")
        if meta.get("input_shape") != [64, 64] or meta.get("n_disc_pixels") != int(disc_mask().sum()):
            raise ModelError(f"{folder}: model input shape {meta.get('input_shape')} does not match 64x64 polar maps")
        model = cls(**constructor_params(cls, meta, folder / "model.json"))
        model._check_params(f"{folder / 'model.json'}: config.")
        model.hidden = tuple(model.hidden)
        n_inputs = int(meta["n_disc_pixels"])
        with torch.device("meta"):  # shapes only: nothing is allocated before the file's header is checked
            expected = {f"network.{k}": tuple(v.shape) for k, v in
                        _Network(n_inputs, model.hidden, model.latent_dim).state_dict().items()}
        expected |= {"pixel_fill": (n_inputs,), "latent_mean": (model.latent_dim,), "latent_std": (model.latent_dim,)}
        tensors = read_safetensors(folder / "weights.safetensors", expected, "pt")
        net = _Network(n_inputs, model.hidden, model.latent_dim)
        net.load_state_dict({k[len("network."):]: v for k, v in tensors.items() if k.startswith("network.")})
        model.network_ = net.eval()
        model.pixel_fill_ = tensors["pixel_fill"].double().numpy()
        model.latent_mean_ = tensors["latent_mean"].double().numpy()
        model.latent_std_ = tensors["latent_std"].double().numpy()
        model.n_features_in_ = 64 * 64
        curve = meta.get("loss_curve", [])
        if not isinstance(curve, list) or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in curve):
            raise ModelError(f"{folder / 'model.json'}: loss_curve is not a list of numbers")
        model.loss_curve_ = [float(v) for v in curve]
        return model

