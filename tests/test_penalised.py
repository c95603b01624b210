"""Ridge logistic regression with unpenalised terms, and its penalty chosen by inner cross-validation: against
statsmodels' maximum likelihood, scikit-learn's ridge, the penalised likelihood's own derivatives, and limits known
in closed form."""

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from sklearn.linear_model import LogisticRegression

from lvmd.errors import StatsError
from lvmd.stats import fit_logit
from lvmd.stats import penalised
from lvmd.stats.penalised import PENALTY_GRID, cross_validated_penalty, fit_ridge_logit


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    """Three predictors on very different scales (units, tens, tenths), one of them without effect."""
    rng = np.random.default_rng(0)
    n = 300
    X = rng.normal(size=(n, 3)) * [1.0, 10.0, 0.1] + [0.0, 50.0, 1.0]
    eta = 0.8 * X[:, 0] + 0.05 * (X[:, 1] - 50.0)
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-eta))).astype(float)
    return pd.DataFrame(X, columns=["a", "b", "c"]).assign(y=y)


def _penalised_loglik(df, variables, penalised, penalty, beta):
    X = np.column_stack([np.ones(len(df)), df[variables].to_numpy()])
    eta = X @ beta
    sd = df[variables].std(ddof=0).to_numpy()
    weights = np.array([penalty if v in penalised else 0.0 for v in variables])
    return float(np.sum(df["y"] * eta - np.logaddexp(0.0, eta)) - 0.5 * np.sum(weights * (beta[1:] * sd) ** 2))


def test_no_penalty_is_maximum_likelihood(data):
    fit = fit_ridge_logit(data, "y", ["a", "b", "c"], ["b", "c"], 0.0)
    mle = sm.Logit(data["y"], sm.add_constant(data[["a", "b", "c"]])).fit(disp=0)
    np.testing.assert_allclose(fit.params, mle.params, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(fit.cov, mle.cov_params(), rtol=1e-7)
    assert fit.llf == pytest.approx(mle.llf, rel=1e-12)


def test_all_penalised_equals_scikit_learn_on_standardised_columns(data):
    penalty = 7.0
    fit = fit_ridge_logit(data, "y", ["a", "b", "c"], ["a", "b", "c"], penalty)
    X = data[["a", "b", "c"]].to_numpy()
    Z = (X - X.mean(axis=0)) / X.std(axis=0)
    sk = LogisticRegression(C=1.0 / penalty, tol=1e-12, max_iter=10_000).fit(Z, data["y"])
    np.testing.assert_allclose(fit.params[1:] * X.std(axis=0), sk.coef_[0], rtol=1e-6)
    assert fit.method == "ridge" and fit.penalty == penalty and fit.penalised == ["a", "b", "c"]


def test_estimates_maximise_the_penalised_likelihood_and_cov_is_its_curvature(data):
    variables, penalised, penalty = ["a", "b", "c"], ["c"], 30.0
    fit = fit_ridge_logit(data, "y", variables, penalised, penalty)
    # finite differences in coordinates scaled by each column's root mean square (b's mean is 50)
    scale = np.concatenate([[1.0], np.sqrt((data[variables] ** 2).mean().to_numpy())])
    f = lambda g: _penalised_loglik(data, variables, penalised, penalty, g / scale)  # noqa: E731
    g0, h = fit.params * scale, 1e-4
    steps = np.eye(len(g0)) * h
    gradient = np.array([(f(g0 + s) - f(g0 - s)) / (2 * h) for s in steps])
    np.testing.assert_allclose(gradient, 0.0, atol=1e-5)
    hessian = np.array([[(f(g0 + si + sj) - f(g0 + si - sj) - f(g0 - si + sj) + f(g0 - si - sj)) / (4 * h * h)
                         for sj in steps] for si in steps])
    np.testing.assert_allclose(fit.cov * np.outer(scale, scale), np.linalg.inv(-hessian), rtol=1e-4, atol=1e-8)


def test_huge_penalty_leaves_the_unpenalised_model(data):
    fit = fit_ridge_logit(data, "y", ["a", "b", "c"], ["c"], 1e9)
    base = fit_logit(data, "y", ["a", "b"])
    np.testing.assert_allclose(fit.params[:3], base.params, rtol=1e-6, atol=1e-8)
    assert abs(fit.params[3]) < 1e-6


def test_table_gives_no_p_value_to_penalised_terms(data):
    table = fit_ridge_logit(data, "y", ["a", "b", "c"], ["c"], 10.0).table()
    assert np.isnan(table.loc["c", "p"]) and table.loc[["a", "b"], "p"].notna().all()
    assert np.isfinite(table.loc["c", ["ci_low", "ci_high"]]).all()


def test_collinear_penalised_terms_are_estimable_but_not_unpenalised_ones(data):
    twice = data.assign(c2=2.0 * data["c"])
    assert fit_ridge_logit(twice, "y", ["a", "c", "c2"], ["c", "c2"], 1.0).estimable
    fit = fit_ridge_logit(twice, "y", ["a", "c", "c2"], ["a"], 1.0)
    assert not fit.estimable and "c2 is a linear combination" in fit.note


def test_penalty_without_information_is_the_strongest(data):
    # a constant penalised column changes no prediction: every penalty ties, the strongest wins
    penalty, losses = cross_validated_penalty(data.assign(k=3.0), "y", ["a", "k"], ["k"], seed=0)
    assert penalty == PENALTY_GRID[0] == 1000.0
    assert np.ptp(losses.to_numpy()) < 1e-9 and list(losses.index) == list(PENALTY_GRID)


def test_penalty_follows_the_signal(data):
    strong, _ = cross_validated_penalty(data, "y", ["a", "b", "c"], ["a", "b"], seed=0)
    rng = np.random.default_rng(1)
    noise = data.assign(**{f"z{i}": rng.normal(size=len(data)) for i in range(10)})
    weak, _ = cross_validated_penalty(noise, "y", ["a", "b"] + [f"z{i}" for i in range(10)],
                                      [f"z{i}" for i in range(10)], seed=0)
    assert strong == pytest.approx(10 ** 0.5) and weak == 1000.0


def test_bad_arguments(data):
    with pytest.raises(StatsError, match="penalised term 'd'"):
        fit_ridge_logit(data, "y", ["a"], ["d"], 1.0)
    with pytest.raises(StatsError, match="penalty = -1"):
        fit_ridge_logit(data, "y", ["a"], ["a"], -1.0)


def test_no_converging_fold_gives_the_strongest_penalty(data, monkeypatch):
    # where no inner fit converges (unpenalised terms that separate the outcome in every fold) the search returns
    # the strongest penalty, never an exception: whether the model can be estimated is the final fit's to say
    monkeypatch.setattr(penalised, "_newton", lambda X, *rest: (np.zeros(X.shape[1]), None, False))
    penalty, losses = cross_validated_penalty(data, "y", ["a", "b"], ["b"], seed=0)
    assert penalty == PENALTY_GRID[0] and np.isinf(losses).all()


def test_folds_where_nothing_converges_are_left_out(data, monkeypatch):
    # inner fold k (counted by the design matrices the search builds) made to fail for every penalty: the table
    # must be the sum over the other folds only, so "fold 0 left out" + "only fold 0" = "all folds"
    args = (data, "y", ["a", "b", "c"], ["b", "c"])
    everything = cross_validated_penalty(*args, seed=0)[1]
    newton = penalised._newton

    def failing(folds_failing):
        seen = []

        def fake(X, *rest):
            if not any(X is x for x in seen):
                seen.append(X)
            if len(seen) - 1 in folds_failing:
                return np.zeros(X.shape[1]), None, False
            return newton(X, *rest)
        return fake

    monkeypatch.setattr(penalised, "_newton", failing({0}))
    without_first = cross_validated_penalty(*args, seed=0)[1]
    monkeypatch.setattr(penalised, "_newton", failing({1, 2, 3, 4}))
    only_first = cross_validated_penalty(*args, seed=0)[1]
    assert np.isfinite(without_first).all() and np.isfinite(only_first).all()
    np.testing.assert_allclose(without_first + only_first, everything, rtol=1e-12)
