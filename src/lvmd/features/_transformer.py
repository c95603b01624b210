"""Common scikit-learn plumbing of the polar-map feature extractors (autoencoder and PCA).

Both scale phase to [0, 1] (phase / 360), keep only the pixels inside the bullseye disc (never feeding NaN: a NaN
inside the disc takes the training mean of that pixel), and return features named ``<prefix>1 ... <prefix>k``
(1-based, as the paper's "AE #30").
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ..errors import ModelError
from ..io.polarmaps import PolarMaps
from ..polar import disc_mask
from ._base import as_rows, disc_values, frame, to_maps

PHASE_SCALE = 360.0


class MapFeatureTransformer(TransformerMixin, BaseEstimator):
    """Base of :class:`AutoencoderFeatures` and :class:`PCAFeatures`: input handling, naming, decoding."""

    prefix = "F"

    def _rows(self, X, what: str = "maps") -> tuple[np.ndarray, pd.Index | None]:
        if isinstance(X, PolarMaps):
            return as_rows(X.phase, what)[0], pd.Index(X.patient_id, name="patient_id")
        return as_rows(X, what)

    def _prepare_fit(self, X) -> np.ndarray:
        rows, _ = self._rows(X)
        scaled = rows / PHASE_SCALE
        with np.errstate(all="ignore"):
            inside_mean = np.nanmean(np.where(np.isnan(scaled).all(axis=0), 0.5, scaled), axis=0)
        self.pixel_fill_ = np.nan_to_num(inside_mean[disc_mask().ravel()], nan=0.5)
        self.n_features_in_ = rows.shape[1]
        return disc_values(scaled, self.pixel_fill_)

    def _prepare(self, X) -> tuple[np.ndarray, pd.Index | None]:
        check_is_fitted(self, "pixel_fill_")
        rows, index = self._rows(X)
        return disc_values(rows / PHASE_SCALE, self.pixel_fill_), index

    @property
    def feature_names_(self) -> list[str]:
        """Feature names, 1-based."""
        return [f"{self.prefix}{i + 1}" for i in range(self.n_components_)]

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Names of the output features (scikit-learn API)."""
        return np.array(self.feature_names_, dtype=object)

    def transform(self, X) -> pd.DataFrame:
        """Features of maps: a DataFrame indexed by patient id when the input carries ids (DataFrame, PolarMaps)."""
        values, index = self._prepare(X)
        return frame(self._encode(values), self.feature_names_, index)

    def inverse_transform(self, Z) -> np.ndarray:
        """Decode features back to (n, 64, 64) phase maps in degrees (NaN outside the disc)."""
        check_is_fitted(self, "pixel_fill_")
        Z = np.asarray(Z, dtype=float)
        if Z.ndim != 2 or Z.shape[1] != self.n_components_:
            raise ModelError(f"latents of shape {Z.shape} do not match {self.n_components_} features")
        return to_maps(self._decode(Z)) * PHASE_SCALE

    def reconstruction_error(self, X) -> pd.Series:
        """Per-map mean squared error on the disc pixels, in the model's [0, 1] scale."""
        values, index = self._prepare(X)
        recon = self._decode(self._encode(values))
        err = np.mean((recon - values) ** 2, axis=1)
        return pd.Series(err, index=index if index is not None else pd.RangeIndex(len(err)), name="reconstruction_mse")

    def latent_statistics(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean and SD of each feature over the training maps."""
        check_is_fitted(self, "latent_mean_")
        return self.latent_mean_, self.latent_std_

    def _record_latents(self, values: np.ndarray) -> None:
        latents = self._encode(values)
        self.latent_mean_ = latents.mean(axis=0)
        self.latent_std_ = latents.std(axis=0, ddof=1) if len(latents) > 1 else np.zeros(latents.shape[1])

    def _encode(self, values: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _decode(self, latents: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError
