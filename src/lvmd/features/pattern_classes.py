"""Pattern classes: where a pattern feature splits the training cohort into two groups, which group a map is in.

A pattern feature often measures a *class* of activation -- one coherent wavefront (LBBB-type) versus patchy,
scar-related delays -- plus a continuous variation within each class (a correlation length, a wave's speed) that
says nothing about the outcome. A linear term in such a feature dilutes the class effect with that within-class
variation; the posterior probability of the class does not. Where the feature is a graded amount (a late region's
location), the linear term is right and the class is not. So both are offered, and the screening and the ridge
penalty (:mod:`lvmd.model.selection`) choose.

:class:`FeatureClasses` fits, per feature and on the *training* values only (so inside every cross-validation
fold), a one-dimensional two-component Gaussian mixture (scikit-learn ``GaussianMixture``, each component its own
spread) on the standardised values, and keeps it only where the values clearly form two groups:

- the integrated completed likelihood (ICL; Biernacki, Celeux & Govaert, IEEE Trans PAMI 2000) of two components
  better than one component's by more than ``min_icl_gain`` = 10. ICL is BIC plus twice the entropy of the
  patients' component memberships: BIC alone also splits a skewed or heavy-tailed *unimodal* feature into two
  overlapping components (it approximates a density, not groups), whose memberships are then uncertain and whose
  entropy ICL charges, while two separated groups -- including a point mass beside a continuum, such as "one late
  region" (compactness exactly 1) beside "several" -- cost almost nothing. 10 is "very strong" evidence on Kass &
  Raftery's BIC scale (J Am Stat Assoc 1995);
- each component holds at least ``min_share`` = 10 % of the patients: a class of a handful of outliers is no
  pattern class and its coefficient would rest on a few patients.

``transform`` appends ``<feature>_class``: the posterior probability of the upper component (the higher mean), at
the value clipped to the interval between the two means. Between the means the posterior rises monotonically; with
unequal spreads the wider component would otherwise take back the far tail beyond the narrower one (a map more
extreme than the whole lower class would be called "upper"), so beyond the means the class is that of the nearer
mean's end: 0-1, monotone in the feature.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import expit
from scipy.stats import norm
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.mixture import GaussianMixture
from sklearn.utils.validation import check_is_fitted

from ..errors import ModelError
from ._base import read_json, write_json
from .pattern import PatternFeatures

CLASS_SUFFIX = "_class"
MIN_ICL_GAIN = 10.0  # Kass & Raftery (1995): a difference above 10 on the BIC scale is very strong evidence
MIN_SHARE = 0.10
MIN_PATIENTS = 20  # fewer values cannot show two classes of >= 10 % each with any reliability
JUDGED = ("bic_gain", "entropy", "icl_gain", "smaller_share")


@dataclass(frozen=True)
class Mixture:
    """A feature's two-component mixture in the feature's own units, lower component first."""

    weights: tuple[float, float]
    means: tuple[float, float]
    sds: tuple[float, float]

    def upper_posterior(self, values: np.ndarray) -> np.ndarray:
        """Posterior probability of the upper component at ``values`` clipped to [lower mean, upper mean]."""
        x = np.clip(np.asarray(values, dtype=float), self.means[0], self.means[1])
        log_lower = np.log(self.weights[0]) + norm.logpdf(x, self.means[0], self.sds[0])
        log_upper = np.log(self.weights[1]) + norm.logpdf(x, self.means[1], self.sds[1])
        return expit(log_upper - log_lower)

    @classmethod
    def from_dict(cls, values: dict, where: str) -> "Mixture":
        """Read a saved mixture, checked: two finite means in order, positive SDs, weights in (0, 1)."""
        try:
            w, m, s = (tuple(float(v) for v in values[k]) for k in ("weights", "means", "sds"))
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"{where}: not a saved two-component mixture ({exc})") from None
        arrays = np.array([w, m, s])
        if arrays.shape != (3, 2) or not np.all(np.isfinite(arrays)) or not (m[0] < m[1]) or min(s) <= 0 \
                or min(w) <= 0 or max(w) >= 1:
            raise ModelError(f"{where}: not a valid two-component mixture (weights {w}, means {m}, sds {s})")
        return cls(w, m, s)


def _json_number(value) -> float | None:
    """A float for JSON (None for NaN, which JSON cannot hold)."""
    return float(value) if np.isfinite(value) else None


class FeatureClasses(TransformerMixin, BaseEstimator):
    """Per feature, a two-component Gaussian mixture fitted on the training values and kept where they are clearly
    bimodal; ``transform`` appends ``<feature>_class``, the posterior of the upper component (module docstring).

    Parameters
    ----------
    min_icl_gain : float
        ICL(1 component) - ICL(2 components) must exceed this (ICL on the BIC scale: lower is better).
    min_share : float
        Each component's weight must be at least this.
    n_init : int
        Starts of the EM fit (the best likelihood kept).
    random_state : int
        Seed of the starts (fixed: the same training values give the same mixture).

    Attributes
    ----------
    mixtures_ : dict
        Feature -> :class:`Mixture`, for the features kept, in input order.
    bimodality_ : pandas.DataFrame
        Per input feature: ``bic_gain`` (BIC of one component minus two), ``entropy`` (of the memberships, nats),
        ``icl_gain`` (``bic_gain - 2 entropy``), ``smaller_share`` and ``kept``: why a feature has a class column
        or not.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = pd.DataFrame({"a": np.r_[rng.normal(0, 1, 100), rng.normal(6, 1, 100)], "b": rng.normal(0, 1, 200)})
    >>> list(FeatureClasses().fit_transform(x).columns)
    ['a', 'b', 'a_class']
    """

    def __init__(self, min_icl_gain: float = MIN_ICL_GAIN, min_share: float = MIN_SHARE, n_init: int = 4,
                 random_state: int = 0):
        self.min_icl_gain = min_icl_gain
        self.min_share = min_share
        self.n_init = n_init
        self.random_state = random_state

    def _check_params(self) -> None:
        if not (isinstance(self.min_icl_gain, (int, float)) and np.isfinite(self.min_icl_gain)):
            raise ModelError(f"min_icl_gain = {self.min_icl_gain!r} must be a finite number")
        if not (isinstance(self.min_share, (int, float)) and 0 <= self.min_share < 0.5):
            raise ModelError(f"min_share = {self.min_share!r} must be in [0, 0.5)")
        if not (isinstance(self.n_init, int) and self.n_init >= 1):
            raise ModelError(f"n_init = {self.n_init!r} must be an integer >= 1")

    def fit(self, X: pd.DataFrame, y=None) -> "FeatureClasses":
        """Fit and judge one mixture per column of ``X`` (training values; ``y`` is ignored: unsupervised)."""
        self._check_params()
        if not isinstance(X, pd.DataFrame):
            raise ModelError(f"FeatureClasses: features must be a DataFrame of named columns, not {type(X).__name__}")
        rows, mixtures = [], {}
        for name in X.columns:
            mixture, row = self._judge(pd.to_numeric(X[name], errors="coerce").to_numpy(float))
            rows.append({"feature": name, **row})
            if row["kept"]:
                mixtures[name] = mixture
        self.feature_names_in_ = np.array(list(X.columns), dtype=object)
        self.mixtures_ = mixtures
        self.bimodality_ = pd.DataFrame(rows, columns=["feature", *JUDGED, "kept"]).set_index("feature")
        return self

    def _judge(self, values: np.ndarray) -> tuple[Mixture | None, dict]:
        x = values[np.isfinite(values)]
        row = {name: np.nan for name in JUDGED} | {"kept": False}
        if len(x) < MIN_PATIENTS or np.std(x) == 0:
            return None, row
        mean, sd = x.mean(), x.std()
        z = ((x - mean) / sd)[:, None]  # standardised: the mixture's variance floor means the same for any unit
        one = GaussianMixture(1, init_params="k-means++", random_state=self.random_state).fit(z)
        # k-means++ starts: a tenth of the cost of full k-means starts, and fitted once per feature in every fold
        two = GaussianMixture(2, n_init=self.n_init, init_params="k-means++", random_state=self.random_state).fit(z)
        order = np.argsort(two.means_.ravel())
        mixture = Mixture(tuple(float(w) for w in two.weights_[order]),
                          tuple(float(mean + sd * m) for m in two.means_.ravel()[order]),
                          tuple(float(sd * np.sqrt(v)) for v in two.covariances_.ravel()[order]))
        membership = np.clip(two.predict_proba(z), 1e-300, 1.0)
        entropy = float(-np.sum(membership * np.log(membership)))
        bic_gain = float(one.bic(z) - two.bic(z))
        row.update(bic_gain=bic_gain, entropy=entropy, icl_gain=bic_gain - 2.0 * entropy,
                   smaller_share=min(mixture.weights))
        row["kept"] = bool(row["icl_gain"] > self.min_icl_gain and row["smaller_share"] >= self.min_share
                           and mixture.means[0] < mixture.means[1])
        return mixture, row

    @property
    def class_names_(self) -> list[str]:
        """Names of the appended columns."""
        check_is_fitted(self, "mixtures_")
        return [f"{name}{CLASS_SUFFIX}" for name in self.mixtures_]

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """``X`` with a ``<feature>_class`` column per kept mixture (the training mixtures; NaN where X is NaN)."""
        check_is_fitted(self, "mixtures_")
        missing = [name for name in self.mixtures_ if name not in X.columns]
        if missing:
            raise ModelError(f"FeatureClasses: feature {missing[0]!r} of the fitted mixtures is not a column of the "
                             "input")
        classes = {f"{name}{CLASS_SUFFIX}": np.where(np.isfinite(v := X[name].to_numpy(float)),
                                                     mixture.upper_posterior(v), np.nan)
                   for name, mixture in self.mixtures_.items()}
        return pd.concat([X, pd.DataFrame(classes, index=X.index, dtype=float)], axis=1)

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Input names then the class columns (scikit-learn API)."""
        check_is_fitted(self, "mixtures_")
        return np.array(list(self.feature_names_in_) + self.class_names_, dtype=object)

    def save(self, path: str | Path) -> None:
        """Write the parameters, the kept mixtures and the bimodality table as JSON (floats round-trip exactly)."""
        check_is_fitted(self, "mixtures_")
        judged = [{"feature": str(name), **{k: _json_number(row[k]) for k in JUDGED}, "kept": bool(row["kept"])}
                  for name, row in self.bimodality_.iterrows()]
        write_json(Path(path), {
            "config": self.get_params(), "features": [str(f) for f in self.feature_names_in_],
            "mixtures": {name: asdict(m) for name, m in self.mixtures_.items()}, "bimodality": judged})

    @classmethod
    def load(cls, path: str | Path) -> "FeatureClasses":
        """Read what :meth:`save` wrote; refuses invalid parameters or mixtures, naming the file."""
        path = Path(path)
        meta = read_json(path, "pattern-class description")
        try:
            model = cls(**meta["config"])
            model._check_params()
            features = [str(f) for f in meta["features"]]
            mixtures = {str(k): Mixture.from_dict(v, f"{path}: mixture {k!r}") for k, v in meta["mixtures"].items()}
            judged = pd.DataFrame(meta.get("bimodality", []), columns=["feature", *JUDGED, "kept"])
            judged[list(JUDGED)] = judged[list(JUDGED)].astype(float)
        except ModelError as exc:
            raise ModelError(f"{path}: {exc}" if not str(exc).startswith(str(path)) else str(exc)) from None
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"{path}: not a saved FeatureClasses ({type(exc).__name__}: {exc})") from None
        unknown = [k for k in mixtures if k not in features]
        if unknown:
            raise ModelError(f"{path}: mixture {unknown[0]!r} is not one of the saved features")
        model.feature_names_in_ = np.array(features, dtype=object)
        model.mixtures_ = {k: mixtures[k] for k in features if k in mixtures}
        model.bimodality_ = judged.astype({"kept": bool}).set_index("feature")
        return model


CLASSES_FILE = "classes.json"


class ClassifiedPatternFeatures(TransformerMixin, BaseEstimator):
    """What the ``pattern`` kind fits: :class:`~lvmd.features.PatternFeatures` of the maps, then
    :class:`FeatureClasses` fitted on the training maps' features, so the model sees each feature's linear value and,
    where the training cohort is clearly bimodal in it, its class.

    Parameters
    ----------
    features : PatternFeatures, optional
        The (unfitted) pattern features (default ``PatternFeatures()``).
    classes : FeatureClasses, optional
        The (unfitted) class step (default ``FeatureClasses()``).

    Attributes
    ----------
    features_ : PatternFeatures
    feature_classes_ : FeatureClasses
        Fitted on the maps given to :meth:`fit` (a cross-validation fold's training maps).
    """

    def __init__(self, features: PatternFeatures | None = None, classes: FeatureClasses | None = None):
        self.features = features
        self.classes = classes

    def fit(self, maps, y=None) -> "ClassifiedPatternFeatures":
        """Fit the features (nothing learned) and the class mixtures on their values on ``maps``."""
        self.features_ = clone(self.features if self.features is not None else PatternFeatures()).fit(maps)
        step = clone(self.classes if self.classes is not None else FeatureClasses())
        self.feature_classes_ = step.fit(self.features_.transform(maps))
        return self

    def transform(self, maps) -> pd.DataFrame:
        """Pattern features of ``maps`` and the class columns of the training mixtures, indexed like the input."""
        check_is_fitted(self, "feature_classes_")
        return self.feature_classes_.transform(self.features_.transform(maps))

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Names of the output columns (scikit-learn API)."""
        check_is_fitted(self, "feature_classes_")
        return self.feature_classes_.get_feature_names_out()

    def save(self, folder: str | Path) -> None:
        """``model.json`` of the pattern features and ``classes.json`` of the mixtures (JSON only)."""
        check_is_fitted(self, "feature_classes_")
        self.features_.save(folder)
        self.feature_classes_.save(Path(folder) / CLASSES_FILE)

    @classmethod
    def load(cls, folder: str | Path) -> "ClassifiedPatternFeatures":
        """Load what :meth:`save` wrote; a folder without ``classes.json`` (a model saved before the class step
        existed) loads with no class columns, so it predicts as it did."""
        folder = Path(folder)
        model = cls()
        model.features_ = PatternFeatures.load(folder)
        if (folder / CLASSES_FILE).exists():
            model.feature_classes_ = FeatureClasses.load(folder / CLASSES_FILE)
            names = list(model.feature_classes_.feature_names_in_)
            if names != list(model.features_.feature_names_):
                raise ModelError(f"{folder / CLASSES_FILE}: its features do not match the pattern features of "
                                 f"{folder / 'model.json'}")
        else:
            model.feature_classes_ = FeatureClasses()
            model.feature_classes_.feature_names_in_ = np.array(model.features_.feature_names_, dtype=object)
            model.feature_classes_.mixtures_ = {}
            model.feature_classes_.bimodality_ = pd.DataFrame(columns=[*JUDGED, "kept"],
                                                              index=pd.Index([], name="feature"))
        return model
