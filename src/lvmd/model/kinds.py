"""Image-feature kinds: a registry from a name to a factory of unfitted feature transformers.

A kind is one :func:`register_kind` call. Its transformer follows scikit-learn and this contract:

- ``fit(maps)`` with ``maps`` a :class:`~lvmd.io.polarmaps.PolarMaps` (phase, and perfusion / thickening when the
  cohort has them), returning ``self``;
- ``transform(maps)`` returning a DataFrame, one row per map indexed by patient id, with named columns unique across
  kinds (``AE1``..., ``PC1``...);
- ``save(folder)`` writing safetensors + JSON (nothing pickled), read back by the kind's ``load(folder)``;
- optionally ``reconstruction_error(maps)`` (a Series): predictions then warn about maps unlike the training maps;
  ``latent_statistics()`` with ``inverse_transform``: the study report then draws latent traversals.

``build(config, seed, n_maps)`` returns the unfitted transformer for a training set of ``n_maps`` maps (the AE and
PCA cap their feature count at ``n_maps - 1``).

``selection`` says how a kind's features enter a model (:mod:`lvmd.model.selection`):

- ``"paper"`` (``ae``, ``pca``): the reference paper's rule -- univariate screening at ``stats.significance``, the
  ``stats.max_image_features`` most significant, one model per collinearity group, unpenalised. Right when one
  feature stands for the pattern (the paper's AE #30).
- ``"ridge"`` (``pattern``: the pattern features and, where the training maps fall in two groups, each one's class,
  :class:`~lvmd.features.ClassifiedPatternFeatures`): every feature with univariate p < ``stats.significance``
  enters, shrunk together by a ridge penalty chosen by inner cross-validation, beside the unpenalised clinical
  variables, PSD/PBW and any paper-rule features. Right when several features each carry part of a pattern (coherence, harmonic fraction and
  compactness of one wavefront): the paper's cap and collinearity split would keep one of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..config import StudyConfig
from ..errors import ModelError
from ..features import AutoencoderFeatures, ClassifiedPatternFeatures, FeatureClasses, PCAFeatures

RESERVED = ("clinical", "psd", "pbw")
SELECTION_RULES = ("paper", "ridge")


@dataclass(frozen=True)
class ImageKind:
    """One kind of image features: its name, how to build an unfitted transformer and how to load a saved one."""

    name: str
    build: Callable[[StudyConfig, int, int], Any]
    load: Callable[[Path], Any]
    description: str
    selection: str = "paper"


_KINDS: dict[str, ImageKind] = {}


def register_kind(kind: ImageKind) -> ImageKind:
    """Make a kind available to model families (its name becomes a family token)."""
    if not kind.name.isidentifier() or kind.name in RESERVED or kind.name in _KINDS:
        raise ModelError(f"image-feature kind {kind.name!r} is reserved, already registered or not an identifier")
    if kind.selection not in SELECTION_RULES:
        raise ModelError(f"image-feature kind {kind.name!r}: selection {kind.selection!r} is not one of "
                         f"{', '.join(SELECTION_RULES)}")
    _KINDS[kind.name] = kind
    return kind


def image_kind(name: str) -> ImageKind:
    """The registered kind called ``name``."""
    if name not in _KINDS:
        raise ModelError(f"image-feature kind {name!r} is not one of {', '.join(_KINDS)}")
    return _KINDS[name]


def kind_names() -> tuple[str, ...]:
    """Registered kinds, in registration order."""
    return tuple(_KINDS)


def feature_count(wanted: int, n_maps: int) -> int:
    """The configured feature count, at most n - 1: a cohort smaller than the paper's 64 features cannot carry them."""
    return min(int(wanted), max(1, n_maps - 1))


def _autoencoder(config: StudyConfig, seed: int, n_maps: int) -> AutoencoderFeatures:
    fc = config.features
    return AutoencoderFeatures(preset=fc.preset, latent_dim=feature_count(fc.latent_dim, n_maps),
                               hidden=tuple(fc.hidden), iterations=fc.iterations, learning_rate=fc.learning_rate,
                               random_state=seed, device=fc.device)


def _pca(config: StudyConfig, seed: int, n_maps: int) -> PCAFeatures:
    return PCAFeatures(n_components=feature_count(config.features.pca_components, n_maps), random_state=seed)


def _pattern(config: StudyConfig, seed: int, n_maps: int) -> ClassifiedPatternFeatures:
    return ClassifiedPatternFeatures(classes=FeatureClasses(random_state=seed))


register_kind(ImageKind("ae", _autoencoder, AutoencoderFeatures.load,
                        "the reference paper's autoencoder: latent codes of the phase polar map"))


register_kind(ImageKind("pca", _pca, PCAFeatures.load,
                        "principal components of the phase polar map (the linear baseline)"))
register_kind(ImageKind("pattern", _pattern, ClassifiedPatternFeatures.load,
                        "how and where the ventricle activates: phase coherence, circumferential harmonic, regional "
                        "delays, the late region and its viability, and each feature's class where the training "
                        "maps fall in two (docs/pattern-features.md)", selection="ridge"))
