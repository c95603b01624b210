"""Features of phase polar maps: the paper's autoencoder, a PCA baseline, interpretation, stability, and
physically defined pattern features (coherence, harmonic, regional delays, the late region, synchrony)."""

from .autoencoder import AutoencoderFeatures
from .pattern import (DEFAULT_FEATURES, CircumferentialHarmonic, LateRegion, PatternFeatures, PhaseCoherence,
                      PhaseHistogram, RegionalDelay, SynchronousFraction)
from .pattern_classes import ClassifiedPatternFeatures, FeatureClasses
from .pca import PCAFeatures
from .stability import StabilityResult, fit_seeds, linear_cka
from .traversal import Traversal, latent_traversal

__all__ = ["AutoencoderFeatures", "CircumferentialHarmonic", "ClassifiedPatternFeatures", "DEFAULT_FEATURES",
           "FeatureClasses", "LateRegion", "PCAFeatures", "PatternFeatures", "PhaseCoherence", "PhaseHistogram",
           "RegionalDelay", "StabilityResult", "SynchronousFraction", "Traversal", "fit_seeds", "latent_traversal",
           "linear_cka"]
