"""CRTResponseModel: the paper's procedure as one scikit-learn estimator, and the training set its families share."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from ..config import SECTIONS, StudyConfig
from ..errors import ModelError
from ..formulas import expit
from ..phase.metrics import fill_psd_pbw
from ..results import Result
from ..stats import LogitFit, UnivariateResult, fit_logit, roc_auc, univariate
from ..stats.penalised import cross_validated_penalty, fit_ridge_logit
from .data import OUTCOME, AnalysisSet, analysis_set, as_cohort
from .extractor import ImageFeatures
from .family import CONVENTIONAL, Family, parse_family
from .kinds import image_kind
from .selection import Selection, select_clinical, select_image, select_penalised


class TrainingSet:
    """A training cohort prepared once (:func:`~lvmd.model.data.analysis_set`), with the steps that do not depend
    on the family fitted on demand and shared by every family fitted on it: the clinical screening and, per
    image-feature kind, the fitted extractor, its features and their univariate screening.

    Parameters
    ----------
    X, maps
        A :class:`~lvmd.cohort.Cohort`, or a clinical table indexed by patient_id and its polar maps.
    config : StudyConfig, optional
    seed : int, optional
        Seed of the extractors (default ``config.features.seed``).
    """

    def __init__(self, X, maps=None, config: StudyConfig | None = None, seed: int | None = None):
        self.config = (config or StudyConfig()).validate()
        self.seed = self.config.features.seed if seed is None else int(seed)
        self.analysis: AnalysisSet = analysis_set(X, maps, self.config)
        self.timings: dict[str, float] = {}
        self._clinical: UnivariateResult | None = None
        self._kinds: dict[str, tuple] = {}

    @property
    def data(self) -> pd.DataFrame:
        """The analysed patients' table (with ``response``)."""
        return self.analysis.data

    @property
    def maps(self):
        """Their polar maps (or None)."""
        return self.analysis.maps

    @property
    def fitted_kinds(self) -> list[str]:
        """Image-feature kinds fitted so far."""
        return list(self._kinds)

    def clinical_screening(self) -> UnivariateResult:
        """Univariate logistic screening of the clinical candidates present in the table."""
        if self._clinical is None:
            candidates = [c for c in self.config.stats.clinical if c in self.data.columns]
            self._clinical = univariate(self.data, OUTCOME, candidates, firth=self.config.stats.firth)
        return self._clinical

    def clinical_selection(self) -> tuple[list[str], str]:
        """Clinical variables that enter (see :func:`~lvmd.model.selection.select_clinical`) and the fallback note."""
        screening = self.clinical_screening()
        if screening.summary.empty:
            raise ModelError(f"{self.analysis.source}: none of the clinical candidates (stats.clinical) is a column "
                             "of the table")
        return select_clinical(screening, self.config.stats.enter_p)

    def _kind(self, kind: str) -> tuple:
        if kind not in self._kinds:
            if self.maps is None:
                raise ModelError(f"{self.analysis.source}: the cohort has no phase polar maps (polarmaps.npz or "
                                 f"polarmaps/), which image features ({kind}) need")
            started = time.perf_counter()
            extractor = image_kind(kind).build(self.config, self.seed, len(self.data)).fit(self.maps)
            features = extractor.transform(self.maps)
            features.index = self.data.index
            self.timings[kind] = round(time.perf_counter() - started, 3)
            screening = univariate(self.data[[OUTCOME]].join(features), OUTCOME, list(features.columns),
                                   firth=self.config.stats.firth)
            self._kinds[kind] = (extractor, features, screening)
        return self._kinds[kind]

    def extractor(self, kind: str):
        """The fitted transformer of an image-feature kind."""
        return self._kind(kind)[0]

    def features(self, kind: str) -> pd.DataFrame:
        """Its features of the training maps (indexed like :attr:`data`)."""
        return self._kind(kind)[1]

    def screening(self, kind: str) -> UnivariateResult:
        """Univariate screening of its features."""
        return self._kind(kind)[2]


@dataclass(repr=False)
class SubModel(Result):
    """One fitted multivariate model of a family: the primary model or an alternative (another collinearity group)."""

    label: str
    role: str
    variables: list[str]
    image_features: list[str]
    logit: LogitFit
    apparent_auc: float

    def __post_init__(self) -> None:
        self.title = f"{self.label} ({self.role}; apparent AUC {self.apparent_auc:.3f})"

    @property
    def summary(self) -> pd.DataFrame:
        """The logistic model's table."""
        return self.logit.table()

    @property
    def penalised(self) -> list[str]:
        """Image features entered with a ridge penalty (the ``ridge`` kinds'; [] for the paper's rule)."""
        return list(self.logit.penalised)


def _label(family: Family, group: list[str], penalised: list[str]) -> str:
    if not family.kinds:
        return family.label
    if not group and not penalised:
        return f"{family.label} (no feature selected)"
    ridge = [k.upper() for k in family.kinds if image_kind(k).selection == "ridge"]
    block = [f"{'/'.join(ridge)} (ridge, {len(penalised)} feature{'s' if len(penalised) > 1 else ''})"] if penalised else []
    return " + ".join(([family.base.label] if family.base.label else []) + group + block)


def _fit_logit(frame: pd.DataFrame, variables: list[str], penalised: list[str], config: StudyConfig,
               seed: int) -> LogitFit:
    """Maximum likelihood (Firth's fit under separation); with ``penalised`` terms, the ridge fit whose penalty
    inner cross-validation on these patients chose (folds seeded by ``seed``)."""
    if penalised:
        penalty, _ = cross_validated_penalty(frame, OUTCOME, variables, penalised, seed)
        return fit_ridge_logit(frame, OUTCOME, variables, penalised, penalty)
    fit = fit_logit(frame, OUTCOME, variables, firth=config.stats.firth)
    if fit.separation and not config.stats.firth:
        fit = fit_logit(frame, OUTCOME, variables, firth=True)
    return fit


def _number(value) -> float:
    """A saved number (null stands for a value that was not finite)."""
    return float("nan") if value is None else float(value)


def _checked_training(training: dict, models: list) -> dict:
    """A saved training summary, checked for what scoring reads: each variable's mean, min and max as numbers, and
    each reconstruction-error reference as a number."""
    for m in models:
        for v in m.variables:
            for key in ("mean", "min", "max"):
                _number(training["variables"][v][key])
    for reference in training.get("reconstruction_error", {}).values():
        _number(reference["p99"])
    return training


def _config_from_dict(values: dict) -> StudyConfig:
    try:
        return StudyConfig(**{name: SECTIONS[name](**section) for name, section in values.items()}).validate()
    except (KeyError, TypeError) as exc:
        raise ModelError(f"saved model configuration is not one this lvmd reads ({exc})") from None


class CRTResponseModel(BaseEstimator):
    """Probability of CRT response from clinical data and phase polar maps, fitted by the reference paper's
    procedure (see :mod:`lvmd.model`).

    Parameters
    ----------
    family : str or Family
        Which variables the model may use, e.g. ``"clinical+psd+ae"`` (see :mod:`lvmd.model.family`).
    config : StudyConfig, optional
        Every choice of the procedure (defaults: the paper's).
    random_state : int, optional
        Seed of the image-feature extractors (default ``config.features.seed``).

    Attributes
    ----------
    family_ : Family
    variables_ : list of str
        Variables of the primary model.
    logit_ : LogitFit
        The primary multivariate logistic model.
    models_ : list of SubModel
        The primary model, then the alternative models of the other collinearity groups.
    extractor_ : ImageFeatures or None
        Fitted image-feature transformers of the kinds the models use.
    selection_ : Selection
    apparent_auc_ : float
        AUC of the primary model on its training patients (optimistic: see :mod:`lvmd.validation`).
    training_ : dict
        Training patients, responders, exclusions, and each variable's mean, SD and range (JSON-ready).

    Examples
    --------
    >>> from lvmd.datasets import load_demo_cohort
    >>> from lvmd.config import StudyConfig
    >>> config = StudyConfig()
    >>> config.features.iterations = 20
    >>> model = CRTResponseModel("clinical+psd+ae", config).fit(load_demo_cohort())
    >>> model.predict_proba(load_demo_cohort()).shape
    (103, 2)
    """

    def __init__(self, family: "str | Family" = "clinical+psd+ae", config: StudyConfig | None = None,
                 random_state: int | None = None):
        self.family = family
        self.config = config
        self.random_state = random_state

    # ------------------------------------------------------------------------------------------------ fitting
    def _settings(self) -> tuple[StudyConfig, int]:
        config = self.config if self.config is not None else StudyConfig()
        return config, config.features.seed if self.random_state is None else int(self.random_state)

    def fit(self, X, maps=None) -> "CRTResponseModel":
        """Fit on a cohort: exclusions, response, PSD/PBW, screening, image features, collinearity split, logit.

        Parameters
        ----------
        X : Cohort, pandas.DataFrame or TrainingSet
            A cohort; a clinical table indexed by patient_id (with ``maps``); or a :class:`TrainingSet` prepared
            with this model's configuration and seed, whose extractors and screening are then shared.
        maps : PolarMaps or numpy.ndarray (n, 64, 64), optional
            Polar maps of a table's patients.
        """
        config, seed = self._settings()
        if isinstance(X, TrainingSet):
            if maps is not None or X.config != config or X.seed != seed:
                raise ModelError("the TrainingSet was prepared with another configuration or seed than the model's")
            training = X
        else:
            training = TrainingSet(X, maps, config, seed)
        family = parse_family(self.family)
        data, stats_cfg = training.data, config.stats
        clinical, fallback = training.clinical_selection() if family.clinical else ([], "")
        conventional = family.conventional_columns
        for column in conventional:
            if column not in data.columns:
                raise ModelError(f"{training.analysis.source}: model {family} needs {column}, which the table lacks "
                                 "and no phase maps measure")
        frame, image_screening, significant, groups, penalised, by_kind = data, None, [], [], [], {}
        if family.kinds:
            by_kind = {kind: training.features(kind) for kind in family.kinds}
            features = pd.concat(by_kind.values(), axis=1)
            screenings = {kind: training.screening(kind).summary for kind in family.kinds}
            image_screening = UnivariateResult(pd.concat(screenings.values()), OUTCOME, False)
            paper = [screenings[k] for k in family.kinds if image_kind(k).selection == "paper"]
            ridge = [screenings[k] for k in family.kinds if image_kind(k).selection == "ridge"]
            if paper:
                significant, groups = select_image(UnivariateResult(pd.concat(paper), OUTCOME, False), features,
                                                   stats_cfg.significance, stats_cfg.max_image_features,
                                                   stats_cfg.collinearity_r)
            if ridge:
                penalised = select_penalised(UnivariateResult(pd.concat(ridge), OUTCOME, False),
                                             stats_cfg.significance)
            frame = data.join(features)
        y = frame[OUTCOME].to_numpy()
        models = []
        for i, group in enumerate(groups or [[]]):
            variables = clinical + conventional + group + penalised
            fit = _fit_logit(frame, variables, penalised, config, seed)
            label = _label(family, group, penalised)
            if penalised and not fit.estimable:
                # the unpenalised terms separate the outcome, so no ridge fit converges: the block is not entered
                # and the rest is fitted as any family is (Firth's fit under separation); the label says so
                variables = [v for v in variables if v not in set(penalised)]
                penalised = []
                fit = _fit_logit(frame, variables, [], config, seed)
                label = f"{_label(family, group, penalised)}: ridge block not entered, the other terms separate the outcome"
            auc = roc_auc(y, fit.linear_predictor(frame[variables].to_numpy(float)), "<").auc if fit.estimable else np.nan
            models.append(SubModel(label, "primary" if i == 0 else "alternative", variables,
                                   list(group) + penalised, fit, float(auc)))
        if not models[0].logit.estimable:
            raise ModelError(f"{training.analysis.source}: model {family} ({' + '.join(models[0].variables)}): "
                             f"{models[0].logit.note}")
        used = {kind: training.extractor(kind) for kind, f in by_kind.items()
                if any(v in f.columns for m in models for v in m.image_features)}
        self.family_ = family
        self.models_ = models
        self.variables_ = models[0].variables
        self.logit_ = models[0].logit
        self.extractor_ = ImageFeatures(used) if used else None
        self.selection_ = Selection(clinical, fallback, significant, groups,
                                    training.clinical_screening() if family.clinical else None, image_screening,
                                    penalised)
        self.apparent_auc_ = models[0].apparent_auc
        self.classes_ = np.array([0, 1])
        self.training_ = self._training_summary(training, frame, models)
        return self

    def _training_summary(self, training: TrainingSet, frame: pd.DataFrame, models: list[SubModel]) -> dict:
        variables = list(dict.fromkeys(v for m in models for v in m.variables))
        summary = {v: {"mean": float(frame[v].mean()), "sd": float(frame[v].std()), "min": float(frame[v].min()),
                       "max": float(frame[v].max())} for v in variables}
        reconstruction = {}
        if self.extractor_ is not None:
            errors = self.extractor_.reconstruction_error(training.maps)
            reconstruction = {k: {"p99": float(np.percentile(e, 99)), "median": float(np.median(e))}
                              for k, e in errors.items()}
        return {"source": training.analysis.source, "patients": int(len(frame)),
                "responders": int(frame[OUTCOME].sum()),
                "excluded": [[e.patient_id, e.reason] for e in training.analysis.excluded],
                "variables": summary, "reconstruction_error": reconstruction}

    # ------------------------------------------------------------------------------------------------ scoring
    def table_columns(self) -> list[str]:
        """Columns a new patients' table must hold for the primary model (PSD/PBW may instead come from the maps)."""
        check_is_fitted(self, "models_")
        sub = self.models_[0]
        return [v for v in sub.variables if v not in sub.image_features and v not in CONVENTIONAL.values()]

    def design(self, X, maps=None, model: int = 0) -> pd.DataFrame:
        """The variables of one model (0 = primary) for new patients: PSD/PBW measured on the maps where the table
        lacks them, image features from the fitted extractor.

        Parameters
        ----------
        X : Cohort or pandas.DataFrame
            Patients (a table indexed by patient_id, with the model's clinical variables).
        maps : PolarMaps or numpy.ndarray (n, 64, 64), optional
            Their polar maps (needed for image features, and for PSD/PBW when the table lacks them).
        """
        check_is_fitted(self, "models_")
        sub = self.models_[model]
        cohort = as_cohort(X, maps)
        table = cohort.table.copy()
        if cohort.maps is not None:
            table = fill_psd_pbw(table, cohort.maps.phase)
        for v in sub.variables:
            if v in sub.image_features:
                continue
            if v not in table.columns:
                raise ModelError(f"patients lack variable {v} that the model needs")
            missing = table.index[table[v].isna()]
            if len(missing):
                raise ModelError(f"patient {missing[0]}: variable {v} is missing and the model needs it")
        if sub.image_features:
            if cohort.maps is None:
                raise ModelError(f"model {self.family_} uses features of the phase polar maps: give the maps")
            features = self.extractor_.transform(cohort.maps)
            features.index = table.index
            table = table.join(features[sub.image_features])
        return table[sub.variables].astype(float)

    def decision_function(self, X, maps=None, model: int = 0) -> np.ndarray:
        """Linear predictor (log-odds of response) of one model (0 = primary)."""
        check_is_fitted(self, "models_")
        return self.models_[model].logit.linear_predictor(self.design(X, maps, model).to_numpy())

    def predict_proba(self, X, maps=None) -> np.ndarray:
        """Probabilities of non-response and response, shape (n, 2) (scikit-learn's layout; column 1 = response)."""
        p = expit(self.decision_function(X, maps))
        return np.column_stack([1.0 - p, p])

    def predict(self, X, maps=None) -> np.ndarray:
        """Predicted response (1) or not (0) at probability 0.5."""
        return (self.predict_proba(X, maps)[:, 1] >= 0.5).astype(int)

    # ------------------------------------------------------------------------------------------------ state
    def state(self) -> dict:
        """The fitted model as JSON-ready values (what a bundle's model.json holds; the extractor is saved apart)."""
        check_is_fitted(self, "models_")
        config, seed = self._settings()
        sel = self.selection_
        return {
            "family": self.family_.name, "random_state": seed, "config": config.to_dict(),
            "models": [{"label": m.label, "role": m.role, "variables": m.variables, "image_features": m.image_features,
                        "coefficients": dict(zip(m.logit.names, map(float, m.logit.params))),
                        "covariance": m.logit.cov.tolist(), "log_likelihood": float(m.logit.llf),
                        "estimation": m.logit.method, "n": m.logit.n, "events": m.logit.events, "note": m.logit.note,
                        "penalty": m.logit.penalty, "penalised": m.penalised,
                        "apparent_auc": m.apparent_auc} for m in self.models_],
            "selection": {"clinical": sel.clinical, "fallback": sel.fallback, "significant": sel.significant,
                          "groups": sel.groups, "penalised": sel.penalised,
                          "screening": {name: s.summary.reset_index().to_dict(orient="list")
                                        for name, s in (("clinical", sel.clinical_screening),
                                                        ("image", sel.image_screening)) if s is not None}},
            "extractor_kinds": [] if self.extractor_ is None else self.extractor_.kinds,
            "apparent_auc": self.apparent_auc_, "training": self.training_,
        }

    @classmethod
    def from_state(cls, state: dict, extractor: ImageFeatures | None = None) -> "CRTResponseModel":
        """Rebuild a fitted model from :meth:`state` and its extractor (as saved by a bundle)."""
        try:
            model = cls(state["family"], _config_from_dict(state["config"]), state["random_state"])
            models = []
            for m in state["models"]:
                names = ["const", *m["variables"]]
                params = np.array([_number(m["coefficients"][n]) for n in names])
                cov = np.array(m["covariance"], dtype=float)
                if cov.shape != (len(names), len(names)):
                    raise ModelError(f"covariance of shape {cov.shape} does not match {len(names)} terms")
                logit = LogitFit(names, params, cov, _number(m["log_likelihood"]), int(m["n"]), int(m["events"]), False,
                                 m["estimation"], True, note=m["note"], penalty=_number(m.get("penalty", 0.0)),
                                 penalised=list(m.get("penalised", [])))
                models.append(SubModel(m["label"], m["role"], list(m["variables"]), list(m["image_features"]), logit,
                                       _number(m["apparent_auc"])))
            sel = state["selection"]
            screening = {name: UnivariateResult(pd.DataFrame(table).set_index("variable"), OUTCOME, False)
                         for name, table in sel["screening"].items()}
            model.family_ = parse_family(state["family"])
            model.selection_ = Selection(list(sel["clinical"]), sel["fallback"], list(sel["significant"]),
                                         [list(g) for g in sel["groups"]], screening.get("clinical"),
                                         screening.get("image"), list(sel.get("penalised", [])))
            model.apparent_auc_ = _number(state["apparent_auc"])
            model.training_ = _checked_training(state["training"], models)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            raise ModelError(f"saved model is incomplete or malformed ({type(exc).__name__}: {exc})") from None
        if any(m.image_features for m in models) and extractor is None:
            raise ModelError("saved model uses image features but its extractor is missing")
        model.models_ = models
        model.variables_ = models[0].variables
        model.logit_ = models[0].logit
        model.extractor_ = extractor
        model.classes_ = np.array([0, 1])
        return model


def model_table(models: dict) -> pd.DataFrame:
    """One row per fitted model of each family (primary first, then alternatives): role, variables, apparent AUC.

    The same table is written by ``lvmd analyze`` and ``lvmd validate`` (models.csv) and summarised in a bundle's
    model.json, so that what is reported, validated and saved can be compared line by line.
    """
    rows = [{"family": family, "model": m.label, "role": m.role, "variables": " + ".join(m.variables),
             "apparent_auc": m.apparent_auc, "estimation": m.logit.method, "n": m.logit.n, "note": m.logit.note}
            for family, model in models.items() for m in model.models_]
    return pd.DataFrame(rows, columns=["family", "model", "role", "variables", "apparent_auc", "estimation", "n",
                                       "note"])
