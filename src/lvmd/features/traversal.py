"""What one latent feature looks like on the heart: decode the mean latent moved along that feature."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..errors import ModelError
from ._transformer import MapFeatureTransformer


@dataclass(repr=False)
class Traversal:
    """Decoded bullseyes along one feature (drawn by :func:`lvmd.report.figures.traversal_figure`).

    Attributes
    ----------
    feature : str
        Feature name (e.g. ``"AE30"``).
    steps : tuple of float
        Offsets in SDs of the feature over the training maps.
    maps : numpy.ndarray (len(steps), 64, 64)
        Decoded phase maps (degrees).
    """

    feature: str
    steps: tuple[float, ...]
    maps: np.ndarray

    def __repr__(self) -> str:
        return f"Traversal({self.feature}, steps {', '.join(f'{s:+g} SD' for s in self.steps)})"


def feature_index(model: MapFeatureTransformer, feature) -> int:
    """0-based column of a feature given by name (``"AE30"``) or 1-based number (30)."""
    names = model.feature_names_
    if isinstance(feature, (int, np.integer)):
        if not 1 <= int(feature) <= len(names):
            raise ModelError(f"feature {feature} is outside 1..{len(names)}")
        return int(feature) - 1
    if feature not in names:
        raise ModelError(f"feature {feature!r} is not one of {names[0]}..{names[-1]}")
    return names.index(feature)


def latent_traversal(model: MapFeatureTransformer, feature, steps: Sequence[float] = (-2, -1, 0, 1, 2)) -> Traversal:
    """Decode the mean latent moved by ``k`` SDs along ``feature`` for each ``k`` in ``steps``."""
    j = feature_index(model, feature)
    mean, sd = model.latent_statistics()
    latents = np.tile(mean, (len(steps), 1))
    latents[:, j] += np.asarray(steps, dtype=float) * sd[j]
    return Traversal(model.feature_names_[j], tuple(float(s) for s in steps), model.inverse_transform(latents))
