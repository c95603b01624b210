"""PCA baseline with the autoencoder's interface (scikit-learn PCA on the same scaled disc pixels)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.decomposition import PCA

from .. import __version__
from .._values import seed, whole
from ..config import MAX_LATENT_DIM
from ..errors import ModelError
from ..polar import disc_mask
from ._base import constructor_params, read_json, read_safetensors, write_json
from ._transformer import MapFeatureTransformer

FORMAT = "lvmd-pca"
FORMAT_VERSION = 1


class PCAFeatures(MapFeatureTransformer):
    """Principal components of phase polar maps: the linear baseline every AE result is shown beside.

    Parameters
    ----------
    n_components : int
        Number of features ``PC1 ... PCk``.
    random_state : int
        Passed to scikit-learn's PCA (used by its randomised solvers).
    """

    prefix = "PC"

    def __init__(self, n_components: int = 64, random_state: int = 0):
        self.n_components = n_components
        self.random_state = random_state

    @property
    def n_components_(self) -> int:
        return int(self.n_components)

    def _check_params(self, where: str = "", error: type[ModelError] = ModelError) -> None:
        """Types and ranges of the parameters, with the configuration's limits."""
        whole(self.n_components, f"{where}n_components", 1, MAX_LATENT_DIM, error)
        seed(self.random_state, f"{where}random_state", error)

    def fit(self, X, y=None) -> "PCAFeatures":
        """Fit on phase maps; ``y`` is ignored."""
        self._check_params()
        values = self._prepare_fit(X)
        if len(values) < self.n_components:
            raise ModelError(f"{len(values)} maps are fewer than n_components = {self.n_components}")
        self.pca_ = PCA(n_components=self.n_components, svd_solver="full", random_state=self.random_state).fit(values)
        self._record_latents(values)
        return self

    def _encode(self, values: np.ndarray) -> np.ndarray:
        return self.pca_.transform(values)

    def _decode(self, latents: np.ndarray) -> np.ndarray:
        return self.pca_.inverse_transform(latents)

    def save(self, folder: str | Path) -> None:
        """Save as ``weights.safetensors`` + ``model.json``."""
        from safetensors.numpy import save_file

        if not hasattr(self, "pca_"):
            raise ModelError("the PCA model is not fitted; fit it before saving")
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        arrays = {"components": self.pca_.components_, "mean": self.pca_.mean_,
                  "explained_variance": self.pca_.explained_variance_, "pixel_fill": self.pixel_fill_,
                  "latent_mean": self.latent_mean_, "latent_std": self.latent_std_}
        # safetensors stores raw buffers: views (PCA components are a slice of Vt) must be made contiguous first.
        save_file({k: np.ascontiguousarray(v) for k, v in arrays.items()}, str(folder / "weights.safetensors"))
        write_json(folder / "model.json", {
            "format": FORMAT, "format_version": FORMAT_VERSION, "config": self.get_params(),
            "feature_names": self.feature_names_, "input_shape": [64, 64], "n_disc_pixels": int(disc_mask().sum()),
            "lvmd_version": __version__,
        })

    @classmethod
    def load(cls, folder: str | Path) -> "PCAFeatures":
        """Load a model saved by :meth:`save`; shapes are checked from the file header before anything is read."""
        folder = Path(folder)
        meta = read_json(folder / "model.json", "model description")
        if meta.get("format") != FORMAT or meta.get("format_version") != FORMAT_VERSION:
            raise ModelError(f"{folder}: not an lvmd PCA model of format version {FORMAT_VERSION}")
        model = cls(**constructor_params(cls, meta, folder / "model.json"))
        model._check_params(f"{folder / 'model.json'}: config.")
        k, d = model.n_components, int(disc_mask().sum())
        t = read_safetensors(folder / "weights.safetensors", {
            "components": (k, d), "mean": (d,), "explained_variance": (k,), "pixel_fill": (d,), "latent_mean": (k,),
            "latent_std": (k,)}, "numpy")
        pca = PCA(n_components=k)
        pca.components_, pca.mean_ = t["components"], t["mean"]
        pca.explained_variance_ = t["explained_variance"]
        pca.n_components_, pca.n_features_in_ = k, d
        pca.whiten = False
        model.pca_ = pca
        model.pixel_fill_, model.latent_mean_, model.latent_std_ = t["pixel_fill"], t["latent_mean"], t["latent_std"]
        model.n_features_in_ = 64 * 64
        return model
