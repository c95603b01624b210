"""Statistics of the reference paper, each usable alone on pandas data and validated against reference software.

``table1`` (Student t, Yates chi-square, Fisher where asked), ``univariate`` / ``multivariate`` logistic regression
(statsmodels), ``correlation`` (Pearson with Fisher-z CIs), ``roc_auc`` / ``delong_test`` (DeLong, matching pROC),
``incremental`` (likelihood-ratio tests of nested models), ``nri_idi`` (as R's PredictABEL) and the calibration and
decision-curve measures of a validation (``calibration``, ``calibration_curve``, ``decision_curve``).
"""

from .calibration import THRESHOLDS, Calibration, calibration, calibration_curve, decision_curve, net_benefit
from .correlation import CorrelationResult, correlation
from .incremental import IncrementalResult, incremental
from .logistic import (LogitFit, MultivariateResult, UnivariateResult, collinear_split, fit_logit, multivariate,
                       tabulate_models, univariate, vif)
from .reclassification import ReclassificationResult, nri_idi
from .roc import DelongTest, RocCurve, delong_test, roc_auc
from .table1 import SPARSE_TESTS, Table1Result, table1

__all__ = [
    "SPARSE_TESTS", "THRESHOLDS", "Calibration", "CorrelationResult", "DelongTest", "IncrementalResult", "LogitFit",
    "MultivariateResult", "ReclassificationResult", "RocCurve", "Table1Result", "UnivariateResult", "calibration",
    "calibration_curve", "collinear_split", "correlation", "decision_curve", "delong_test", "fit_logit",
    "incremental", "multivariate", "net_benefit", "nri_idi", "roc_auc", "table1", "tabulate_models", "univariate",
    "vif",
]
