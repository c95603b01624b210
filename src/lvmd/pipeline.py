"""One predictive model family fitted from data alone: screening, feature extraction and the logistic model.

The same code fits the final model of a bundle and the model inside every cross-validation fold or bootstrap
resample, so that honest validation refits *everything* learned from data -- the autoencoder (or PCA), the
univariate screening and the multivariate model -- on the training part only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .config import StudyConfig
from .errors import LvmdError
from .features import AutoencoderFeatures, PCAFeatures
from .stats import collinear_split, fit_logit, univariate
from .stats.logistic import LogitFit

FAMILIES = ("clinical", "clinical+psd", "clinical+pbw", "clinical+psd+ae", "clinical+psd+pca")
OUTCOME = "response"


@dataclass
class FittedPipeline:
    """A fitted model family: which variables it uses, the feature extractor and the logistic fit."""

    family: str
    variables: list[str]
    image_features: list[str]
    extractor: AutoencoderFeatures | PCAFeatures | None
    logit: LogitFit

    def design(self, data: pd.DataFrame, phase_maps: np.ndarray | None) -> pd.DataFrame:
        """The model's variables for new patients (image features computed by the fitted extractor)."""
        frame = data.copy()
        if self.image_features:
            if phase_maps is None:
                raise LvmdError(f"model {self.family} needs phase polar maps")
            feats = self.extractor.transform(phase_maps)
            feats.index = data.index
            frame = frame.join(feats[self.image_features])
        missing = [v for v in self.variables if v not in frame.columns]
        if missing:
            raise LvmdError(f"patients lack variable {missing[0]} that model {self.family} needs")
        return frame[self.variables]

    def predict_proba(self, data: pd.DataFrame, phase_maps: np.ndarray | None) -> np.ndarray:
        """Predicted probability of response."""
        return self.logit.predict(self.design(data, phase_maps).to_numpy(float))


def feature_count(config: StudyConfig, kind: str, n_maps: int) -> int:
    """Latent dimension (AE) or components (PCA) used for ``n_maps`` maps: the configured number, at most n - 1.

    A cohort smaller than the paper's 64 features cannot support them; the cap is reported wherever it applies.
    """
    wanted = config.features.latent_dim if kind == "ae" else config.features.pca_components
    return max(1, min(wanted, n_maps - 1))


def make_extractor(kind: str, config: StudyConfig, seed: int, iterations: int | None = None,
                   n_maps: int | None = None):
    """An unfitted AE or PCA configured from the study configuration (feature count capped for ``n_maps`` maps)."""
    fc = config.features
    count = feature_count(config, kind, n_maps) if n_maps is not None else None
    if kind == "ae":
        return AutoencoderFeatures(preset=fc.preset, latent_dim=count or fc.latent_dim, hidden=tuple(fc.hidden),
                                   iterations=iterations or fc.iterations, learning_rate=fc.learning_rate,
                                   random_state=seed, device=fc.device)
    return PCAFeatures(n_components=count or fc.pca_components, random_state=seed)


def select_clinical(data: pd.DataFrame, config: StudyConfig) -> list[str]:
    """Clinical candidates with univariate p < enter_p (at least the best one), screened on ``data`` only."""
    cands = [c for c in config.stats.clinical if c in data.columns]
    uni = univariate(data, OUTCOME, cands).summary.dropna(subset=["p"]).sort_values("p")
    chosen = list(uni.index[uni["p"] < config.stats.enter_p])
    return chosen or list(uni.index[:1])


def select_image(data: pd.DataFrame, features: pd.DataFrame, config: StudyConfig) -> list[str]:
    """Significant image features (most significant first, at most ``max_image_features``), one collinearity group."""
    joined = data[[OUTCOME]].join(features)
    uni = univariate(joined, OUTCOME, list(features.columns)).summary.dropna(subset=["p"]).sort_values("p")
    significant = list(uni.index[uni["p"] < config.stats.significance])[: config.stats.max_image_features]
    if not significant:
        return []
    groups = collinear_split(joined, significant, config.stats.collinearity_r)
    return next(g for g in groups if significant[0] in g)


def fit_pipeline(data: pd.DataFrame, phase_maps: np.ndarray, family: str, config: StudyConfig,
                 extractors: dict | None = None, clinical: list[str] | None = None) -> FittedPipeline:
    """Fit one model family on ``data`` (with a 0/1 ``response`` column) and its phase maps.

    ``extractors`` may hold already-fitted ``{"ae": ..., "pca": ...}`` on the same data (shared between families);
    ``clinical`` a clinical selection already made on the same data.
    """
    if family not in FAMILIES:
        raise LvmdError(f"model family {family!r} is not one of {', '.join(FAMILIES)}")
    variables = list(clinical) if clinical is not None else select_clinical(data, config)
    parts = family.split("+")[1:]
    conventional = {"psd": "psd_deg", "pbw": "pbw_deg"}
    variables += [conventional[p] for p in parts if p in conventional]
    image, extractor = [], None
    kind = next((p for p in parts if p in ("ae", "pca")), None)
    if kind:
        extractor = (extractors or {}).get(kind)
        if extractor is None:
            extractor = make_extractor(kind, config, config.features.seed, n_maps=len(phase_maps)).fit(phase_maps)
        features = extractor.transform(phase_maps)
        features.index = data.index
        image = select_image(data, features, config)
        data = data.join(features[image])
        variables += image
    logit = fit_logit(data, OUTCOME, variables)
    if logit.separation:
        logit = fit_logit(data, OUTCOME, variables, firth=True)
    return FittedPipeline(family, variables, image, extractor if image else None, logit)
