"""Statistics of the reference paper, each usable alone on pandas data and validated against reference software.

``table1`` (Student t, Yates chi-square), ``univariate`` / ``multivariate`` logistic regression (statsmodels),
``correlation`` (Pearson with Fisher-z CIs), ``roc_auc`` / ``delong_test`` (DeLong, matching pROC) and
``incremental`` (likelihood-ratio tests of nested models).
"""

from .correlation import CorrelationResult, correlation
from .incremental import IncrementalResult, incremental
from .logistic import LogitFit, MultivariateResult, UnivariateResult, collinear_split, fit_logit, multivariate, univariate, vif
from .roc import DelongTest, RocCurve, delong_test, roc_auc
from .table1 import Table1Result, table1

__all__ = [
    "CorrelationResult", "DelongTest", "IncrementalResult", "LogitFit", "MultivariateResult", "RocCurve",
    "Table1Result", "UnivariateResult", "collinear_split", "correlation", "delong_test", "fit_logit", "incremental",
    "multivariate", "roc_auc", "table1", "univariate", "vif",
]
