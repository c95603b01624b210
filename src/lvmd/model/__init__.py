"""One CRT-response model from study to bedside: the reference paper's procedure, implemented once.

:class:`CRTResponseModel` is a scikit-learn estimator (``get_params`` / ``clone`` work). Its ``fit`` runs, in order:

1. **Patients** (:func:`~lvmd.model.data.analysis_set`): the exclusion rule (baseline LVESV < ``cohort.min_lvesv_ml``),
   the response definition, PSD/PBW measured on the phase maps where the table lacks them, and complete cases of
   the candidate variables (every excluded patient is listed with the reason).
2. **Clinical screening**: univariate logistic models; candidates with p < ``stats.enter_p`` enter. The one fallback
   rule: when none does, the single most significant candidate enters (stated in ``selection_.fallback``).
3. **Conventional parameters** named by the family (``psd``, ``pbw``) enter as they are.
4. **Image features** of the family's kinds (``ae``, ``pca``; a registry, :mod:`lvmd.model.kinds`) are learned on
   the training maps and screened *together*: all features with p < ``stats.significance`` are significant, the
   ``stats.max_image_features`` most significant enter. Joint screening keeps the number of image variables a
   family may add fixed, whatever the number of kinds.
5. **Collinearity split**: the entering features form one model per maximal group of features not correlated beyond
   ``stats.collinearity_r`` (the paper: AE #30 alone; AE #28 with AE #35).
6. **Multivariate logistic model** per group (Firth's penalised fit when the data are separated).

**Several collinearity groups.** The group holding the most significant feature gives the *primary* model
(``models_[0]``, ``variables_``, ``logit_``: what predicts, what a bundle scores with, what validation refits); the
other groups give *alternative* models (``models_[1:]``), fitted on the same patients and reported beside the
primary one with the role ``alternative`` (the paper's "AE #28 + #35" model). Validation measures the primary model.

**Families** (:mod:`lvmd.model.family`) are parsed once into :class:`Family` objects. A new image-feature kind is one
:func:`~lvmd.model.kinds.register_kind` call; families then name it (``clinical+psd+pattern``), several kinds
together too (``clinical+psd+ae+pattern``).

**Sharing.** Families fitted on the same patients share a :class:`TrainingSet`: the clinical screening and each
kind's extractor, features and screening are computed once (``model.fit(training_set)``). The study, every
cross-validation fold and every bootstrap resample use it; results are identical to fitting each family alone.
"""

from .data import OUTCOME, AnalysisSet, analysis_set
from .estimator import CRTResponseModel, SubModel, TrainingSet, model_table
from .extractor import ImageFeatures
from .family import DEFAULT_FAMILIES, Family, parse_family
from .kinds import ImageKind, feature_count, image_kind, kind_names, register_kind
from .selection import Selection

__all__ = ["DEFAULT_FAMILIES", "OUTCOME", "AnalysisSet", "CRTResponseModel", "Family", "ImageFeatures", "ImageKind",
           "Selection", "SubModel", "TrainingSet", "analysis_set", "feature_count", "image_kind", "kind_names",
           "model_table", "parse_family", "register_kind"]
