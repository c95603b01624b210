"""External validation of a saved model on a new cohort, as TRIPOD asks: discrimination (AUC with its DeLong CI),
calibration-in-the-large, the calibration slope, a calibration curve, the Brier score, the decision curve, and the
logistic recalibration that would fit the new site (its intercept and slope, and the coefficients they give).

The new cohort is prepared by the model's own rules (exclusions, response definition, PSD/PBW on the maps where the
table lacks them); patients missing a variable the model uses are excluded and listed.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from .cohort import Cohort
from .formulas import expit
from .model import OUTCOME, CRTResponseModel, analysis_set
from .results import Result
from .stats import Calibration, RocCurve, calibration, calibration_curve, decision_curve, roc_auc


@dataclass(repr=False)
class EvaluationResult(Result):
    """Performance of a fitted model on a new cohort.

    Attributes
    ----------
    summary : DataFrame
        Rows ``auc``, ``calibration_in_the_large``, ``calibration_slope``, ``recalibration_intercept``, ``brier``;
        columns ``estimate``, ``ci_low``, ``ci_high``.
    predictions : DataFrame
        Per patient: response, predicted probability and linear predictor.
    recalibration : DataFrame
        Per term: the model's coefficient and the logistically recalibrated one (a + b x linear predictor).
    """

    summary: pd.DataFrame
    predictions: pd.DataFrame
    roc: RocCurve
    calibration: Calibration
    calibration_curve: pd.DataFrame
    decision_curve: pd.DataFrame
    recalibration: pd.DataFrame
    excluded: list
    family: str
    source: str
    training_source: str

    def __post_init__(self) -> None:
        self.title = f"External validation of {self.family} on {self.source}"


def evaluate(model: CRTResponseModel, cohort: Cohort) -> EvaluationResult:
    """Evaluate a fitted model (e.g. ``ModelBundle.load(folder).model``) on a cohort it was not fitted on."""
    config = model.config
    primary = model.models_[0]
    needed = [v for v in primary.variables if v not in primary.image_features]
    analysis = analysis_set(cohort, config=config, complete=needed)
    y = analysis.data[OUTCOME].to_numpy()
    lp = model.decision_function(analysis.data, analysis.maps)
    p = expit(lp)
    roc = roc_auc(y, lp, direction="<")
    cal = calibration(y, linear_predictor=lp)
    summary = pd.concat([pd.DataFrame({"estimate": [roc.auc], "ci_low": [roc.ci[0]], "ci_high": [roc.ci[1]]},
                                      index=pd.Index(["auc"], name="measure")), cal.summary])
    beta = pd.Series(model.logit_.params, index=model.logit_.names)
    recalibrated = cal.slope * beta
    recalibrated["const"] += cal.recalibration_intercept
    recalibration = pd.DataFrame({"coefficient": beta, "recalibrated": recalibrated})
    recalibration.index.name = "term"
    predictions = pd.DataFrame({"response": y.astype(int), "probability": p, "linear_predictor": lp},
                               index=analysis.data.index)
    return EvaluationResult(summary, predictions, roc, cal, calibration_curve(y, p), decision_curve(y, {model.family_.name: p}),
                            recalibration, analysis.excluded, model.family_.name, analysis.source,
                            model.training_["source"])
