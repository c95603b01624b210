"""Unsupervised features of phase polar maps: the paper's autoencoder, a PCA baseline, interpretation, stability."""

from .autoencoder import AutoencoderFeatures
from .pca import PCAFeatures
from .stability import StabilityResult, fit_seeds, linear_cka
from .traversal import Traversal, latent_traversal

__all__ = ["AutoencoderFeatures", "PCAFeatures", "StabilityResult", "Traversal", "fit_seeds", "latent_traversal",
           "linear_cka"]
