"""Stability of learned features across training seeds: Hungarian matching on |correlation| and linear CKA."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from ..results import Result
from .autoencoder import AutoencoderFeatures


def linear_cka(a: np.ndarray, b: np.ndarray) -> float:
    """Linear centred kernel alignment (Kornblith et al. 2019) of two (n, k) feature matrices."""
    a = a - a.mean(axis=0)
    b = b - b.mean(axis=0)
    num = np.linalg.norm(a.T @ b, "fro") ** 2
    den = np.linalg.norm(a.T @ a, "fro") * np.linalg.norm(b.T @ b, "fro")
    return float(num / den) if den > 0 else float("nan")


def match_features(reference: np.ndarray, other: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each reference feature, the matched feature of ``other`` and |r| (Hungarian on |correlation|)."""
    k = reference.shape[1]
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.corrcoef(reference.T, other.T)[:k, k:]
    r = np.nan_to_num(np.abs(r))
    rows, cols = linear_sum_assignment(-r)
    order = np.argsort(rows)
    return cols[order], r[rows[order], cols[order]]


class StabilityResult(Result):
    """Matched |r| of every feature of the first seed in each other seed, and CKA between runs."""

    def __init__(self, models: list, seeds: list[int], features: list[pd.DataFrame]):
        self.models = models
        self.seeds = seeds
        names = models[0].feature_names_
        rows = {}
        cka = []
        for seed, feats in zip(seeds[1:], features[1:]):
            match, r = match_features(features[0].to_numpy(), feats.to_numpy())
            rows[f"seed {seed} |r|"] = r
            rows[f"seed {seed} match"] = [names[m] for m in match]
            cka.append(linear_cka(features[0].to_numpy(), feats.to_numpy()))
        self.summary = pd.DataFrame(rows, index=pd.Index(names, name="feature"))
        r_cols = [c for c in self.summary.columns if c.endswith("|r|")]
        self.summary["median |r|"] = self.summary[r_cols].median(axis=1) if r_cols else np.nan
        self.cka = pd.Series(cka, index=[f"seed {seeds[0]} vs {s}" for s in seeds[1:]], name="linear CKA")
        self.title = f"Feature stability across seeds {seeds}"

    def matched_correlation(self, feature: str) -> float:
        """Median matched |r| of one feature across the other seeds."""
        return float(self.summary.loc[feature, "median |r|"])


def fit_seeds(maps, seeds: Sequence[int] = (0, 1, 2), model_factory=None, **params) -> StabilityResult:
    """Train one model per seed on the same maps and compare their features.

    Parameters
    ----------
    maps : maps accepted by :class:`AutoencoderFeatures`
    seeds : sequence of int
    model_factory : callable, optional
        ``model_factory(seed)`` returning an unfitted transformer (defaults to the autoencoder with ``params``).
    """
    seeds = [int(s) for s in seeds]
    factory = model_factory or (lambda seed: AutoencoderFeatures(random_state=seed, **params))
    models = [factory(seed).fit(maps) for seed in seeds]
    features = [m.transform(maps) for m in models]
    return StabilityResult(models, seeds, features)
