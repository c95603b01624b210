"""Table 1 conventions of the paper, logistic models, correlation and likelihood-ratio increments."""

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

from lvmd.errors import StatsError
from lvmd.stats import collinear_split, correlation, fit_logit, incremental, multivariate, table1, univariate
from lvmd.stats.logistic import is_separated


def _group_from_summary(mean, sd, n, rng_seed):
    """A sample with exactly the given mean and SD."""
    x = np.random.default_rng(rng_seed).normal(size=n)
    return (x - x.mean()) / x.std(ddof=1) * sd + mean


def test_table1_matches_paper_conventions():
    # Gender 37/45 vs 37/57 with Yates gives the paper's p = 0.085 (0.052 uncorrected); QRS gives p = 0.001.
    df = pd.DataFrame({"response": [1] * 45 + [0] * 57,
                       "male": [1] * 37 + [0] * 8 + [1] * 37 + [0] * 20,
                       "qrs": np.concatenate([_group_from_summary(165.4, 16.2, 45, 1),
                                              _group_from_summary(150.9, 23.7, 57, 2)])})
    t = table1(df, "response", ["qrs"], ["male"])
    p = t.summary.set_index("variable")["p"]
    assert round(p["male"], 3) == 0.085
    assert round(p["qrs"], 3) == 0.001
    assert table1(df, "response", categorical=["male"], yates=False).summary["p"].iloc[0] == pytest.approx(0.052, abs=5e-4)
    row = t.summary.set_index("variable").loc["qrs"]
    assert row.iloc[2] == "165.4 ± 16.2" and row.iloc[3] == "150.9 ± 23.7"
    assert t.formatted().loc["male", "P-value"] == "0.085"
    fisher = table1(df, "response", categorical=["male"], exact=True).summary["p"].iloc[0]
    assert fisher == pytest.approx(stats.fisher_exact([[37, 37], [8, 20]]).pvalue)
    welch = table1(df, "response", ["qrs"], welch=True).summary["p"].iloc[0]
    assert welch == pytest.approx(stats.ttest_ind(df.qrs[:45], df.qrs[45:], equal_var=False).pvalue)


def test_table1_multilevel_one_p():
    df = pd.DataFrame({"g": [1] * 45 + [0] * 57,
                       "nyha": [2] * 16 + [3] * 21 + [4] * 8 + [2] * 15 + [3] * 35 + [4] * 7})
    s = table1(df, "g", categorical=["nyha"]).summary
    assert len(s) == 3 and s["p"].notna().sum() == 1
    expected = stats.chi2_contingency([[16, 15], [21, 35], [8, 7]]).pvalue
    assert s["p"].iloc[0] == pytest.approx(expected)
    assert round(expected, 3) == 0.33  # the paper's NYHA p = 0.330


@pytest.fixture
def logistic_data():
    rng = np.random.default_rng(4)
    n = 300
    d = pd.DataFrame({"a": rng.normal(size=n), "c": rng.normal(size=n)})
    d["b"] = d["a"] + rng.normal(scale=0.2, size=n)
    d["y"] = (rng.random(n) < 1 / (1 + np.exp(-(0.8 * d["a"] - 0.5 * d["c"])))).astype(int)
    return d


def test_univariate_matches_statsmodels(logistic_data):
    d = logistic_data
    res = univariate(d, "y", ["a", "c"]).summary
    fit = sm.Logit(d["y"], sm.add_constant(d[["a"]])).fit(disp=0)
    assert res.loc["a", "odds_ratio"] == pytest.approx(np.exp(fit.params["a"]))
    assert res.loc["a", "p"] == pytest.approx(fit.pvalues["a"])
    lo, hi = np.exp(fit.conf_int().loc["a"])
    assert (res.loc["a", "ci_low"], res.loc["a", "ci_high"]) == pytest.approx((lo, hi))
    per_sd = univariate(d, "y", ["a"], per_sd=True).summary
    assert np.log(per_sd.loc["a", "odds_ratio"]) == pytest.approx(fit.params["a"] * d["a"].std())


def test_collinearity_split_reproduces_paper_layout():
    rng = np.random.default_rng(0)
    ae30 = rng.normal(size=200)
    v = rng.normal(scale=0.8, size=200)
    ae28, ae35 = ae30 + v, ae30 - v  # each correlates with AE30 (r ~ 0.78), barely with each other (r ~ 0.22)
    d = pd.DataFrame({"AE30": ae30, "AE28": ae28, "AE35": ae35, "lvef": rng.normal(size=200)})
    r = d.corr().abs()
    assert r.loc["AE30", "AE28"] > 0.7 and r.loc["AE30", "AE35"] > 0.7 and r.loc["AE28", "AE35"] < 0.7
    groups = collinear_split(d, ["AE30", "AE28", "AE35", "lvef"])
    assert sorted(map(sorted, groups)) == [["AE28", "AE35", "lvef"], ["AE30", "lvef"]]


def test_multivariate_models_and_vif(logistic_data):
    d = logistic_data
    res = multivariate(d, "y", ["a", "b", "c"], enter_p=0.1)
    assert len(res.models) == 2
    s = res.summary
    assert set(s["model"]) == {"Model 1", "Model 2"}
    assert (s["vif"] >= 1).all()
    assert "Univariate OR [95% CI]" in res.formatted().columns


def test_separation_is_reported_not_crashing():
    d = pd.DataFrame({"y": [0] * 20 + [1] * 20, "x": list(range(40)), "k": [1.0] * 40})
    res = univariate(d, "y", ["x", "k"]).summary
    assert np.isnan(res.loc["x", "odds_ratio"]) and "separation" in res.loc["x", "notes"]
    assert "constant" in res.loc["k", "notes"]
    firth = univariate(d, "y", ["x"], firth=True).summary
    assert np.isfinite(firth.loc["x", "odds_ratio"]) and firth.loc["x", "odds_ratio"] > 1
    assert "10" in univariate(d.iloc[15:25], "y", ["x"]).summary.loc["x", "notes"]  # few events per variable


def test_firth_matches_known_solution():
    # Firth estimates for a small 2x2 table: log OR = log((a+.5)(d+.5)/((b+.5)(c+.5))) for a single binary covariate.
    x = np.array([1] * 10 + [0] * 10, float)
    y = np.array([1] * 10 + [1] * 3 + [0] * 7, float)
    d = pd.DataFrame({"x": x, "y": y})
    beta = np.log(univariate(d, "y", ["x"], firth=True).summary.loc["x", "odds_ratio"])
    assert beta == pytest.approx(np.log((10.5 * 7.5) / (0.5 * 3.5)), abs=1e-6)


def test_correlation_fisher_ci():
    rng = np.random.default_rng(1)
    d = pd.DataFrame({"x": rng.normal(size=50)})
    d["y"] = d["x"] + rng.normal(size=50)
    res = correlation(d, ["x"], ["y"]).summary.iloc[0]
    r, p = stats.pearsonr(d["x"], d["y"])
    assert res["r"] == pytest.approx(r) and res["p"] == pytest.approx(p)
    assert res["ci_low"] == pytest.approx(np.tanh(np.arctanh(r) - 1.959963984540054 / np.sqrt(47)))
    assert correlation(d, ["x"], ["y"]).matrix().shape == (1, 1)


def test_incremental_lr_matches_statsmodels(logistic_data):
    d = logistic_data
    res = incremental(d, "y", ["c"], ["a"])
    full = sm.Logit(d["y"], sm.add_constant(d[["c", "a"]])).fit(disp=0)
    base = sm.Logit(d["y"], sm.add_constant(d[["c"]])).fit(disp=0)
    assert res.lr_statistic == pytest.approx(2 * (full.llf - base.llf))
    assert res.df == 1 and res.p_value == pytest.approx(stats.chi2.sf(2 * (full.llf - base.llf), 1))
    seq = incremental(d, "y", ["c"], [["b"], ["a"]])
    assert len(seq.summary) == 3 and seq.summary["df"].tolist() == [0, 1, 1]


def test_bad_input_messages(logistic_data):
    d = logistic_data.copy()
    with pytest.raises(StatsError, match="'zz' is not a column"):
        univariate(d, "y", ["zz"])
    d["y3"] = d["y"] + (d.index == 0)
    d.loc[1, "y3"] = 2
    with pytest.raises(StatsError, match="not binary"):
        univariate(d, "y3", ["a"])
    with pytest.raises(StatsError, match="single class"):
        univariate(d.assign(one=1), "one", ["a"])


def test_renderings(logistic_data):
    res = univariate(logistic_data, "y", ["a"])
    assert "| variable |" in res.to_markdown()
    assert "<table" in res.to_html() and r"\begin{tabular}" in res.to_latex()
    assert res.to_csv().startswith("variable,")


# ------------------------------------------------------------------ defects fixed (issue 15), each reproduced first
def _far_point_data():
    """120 patients, true OR 2.17 per unit, one patient far out (x = 25, fitted logit 19.4): a valid fit."""
    rng = np.random.default_rng(6)
    x = rng.normal(size=120)
    x[0] = 25.0
    y = (rng.random(120) < 1 / (1 + np.exp(-0.775 * x))).astype(int)
    y[0] = 1
    return pd.DataFrame({"x": x, "y": y})


def test_one_far_point_is_not_separation():
    # Defect: any fitted |logit| > 15 was flagged "separation / not estimable" although statsmodels converges.
    d = _far_point_data()
    reference = sm.Logit(d["y"], sm.add_constant(d[["x"]])).fit(disp=0)
    assert np.max(np.abs(reference.fittedvalues)) > 15 and reference.mle_retvals["converged"]
    fit = fit_logit(d, "y", ["x"])
    assert fit.estimable and not fit.separation and fit.note == ""
    assert np.exp(fit.params[1]) == pytest.approx(np.exp(reference.params["x"]), rel=1e-9)
    assert np.exp(fit.params[1]) == pytest.approx(2.17, abs=0.01)
    row = univariate(d, "y", ["x"]).summary.loc["x"]
    assert row["odds_ratio"] == pytest.approx(np.exp(reference.params["x"])) and "separation" not in row["notes"]


def test_quasi_complete_separation_still_detected():
    # Responders at x >= 0, non-responders at x <= 0, both at x = 0: the MLE does not exist (Konis' LP finds it).
    x = np.r_[np.linspace(-2, 0, 20), np.linspace(0, 2, 20)]
    d = pd.DataFrame({"x": x, "y": np.r_[np.zeros(20), np.ones(20)]})
    fit = fit_logit(d, "y", ["x"])
    assert fit.separation and not fit.estimable and np.isnan(fit.llf) and "separation" in fit.note
    assert is_separated(sm.add_constant(x), d["y"].to_numpy())
    assert not is_separated(sm.add_constant(_far_point_data()["x"].to_numpy()), _far_point_data()["y"].to_numpy())


@pytest.mark.parametrize("kind", ["constant", "duplicate", "separation"])
def test_incremental_failed_larger_fit_is_not_estimable(logistic_data, kind):
    # Defect: a failed larger fit had its log-likelihood taken as 0, giving a large "significant" LR test.
    d = logistic_data.copy()
    d["extra"] = {"constant": np.ones(len(d)), "duplicate": 2 * d["a"] + 1,
                  "separation": np.where(d["y"] == 1, 1.0, -1.0) + 0.1 * d["c"].abs()}[kind]
    base = ["a"] if kind == "duplicate" else ["c"]
    res = incremental(d, "y", base, ["extra"])
    assert np.isnan(res.lr_statistic) and np.isnan(res.p_value)
    last = res.summary.iloc[-1]
    assert last["note"].startswith("not estimable") and np.isnan(last["log_likelihood"])
    expected = {"constant": "extra is constant", "duplicate": "linear combination", "separation": "separation"}[kind]
    assert expected in last["note"] and expected in res.formatted().iloc[-1]["LR chi2 (df)"]
    assert res.steps[0].fit.estimable  # the base model itself is fine


def test_table1_category_missing_for_a_whole_group():
    # Defect: scipy's raw ValueError (zero expected frequency) when a variable is missing for every patient of a group.
    df = pd.DataFrame({"g": [1] * 30 + [0] * 30, "smoking": [1.0] * 10 + [0.0] * 20 + [np.nan] * 30,
                       "qrs": np.r_[np.linspace(120, 180, 30), [np.nan] * 30]})
    t = table1(df, "g", ["qrs"], ["smoking"], group_labels={1: "Response", 0: "Non-response"})
    rows = t.summary.set_index("variable")
    for var in ("smoking", "qrs"):
        assert np.isnan(rows.loc[var, "p"]) and rows.loc[var, "test"] == "not testable"
        assert "Non-response" in rows.loc[var, "note"]
    assert rows.loc["smoking"].iloc[2] == "10 (33.3%)" and rows.loc["smoking"].iloc[3] == "-"


def test_table1_small_expected_counts_stated_and_fisher_on_request():
    # Defect: expected counts < 5 ran Yates' chi-square silently.
    df = pd.DataFrame({"g": [1] * 45 + [0] * 57, "ckd": [1] * 3 + [0] * 42 + [1] * 2 + [0] * 55,
                       "nyha": [2] * 16 + [3] * 27 + [4] * 2 + [2] * 15 + [3] * 40 + [4] * 2})
    chi = table1(df, "g", categorical=["ckd", "nyha"]).summary.set_index("variable")
    assert chi.loc["ckd", "note"] == "2 of 4 expected counts < 5; chi-square approximate"
    assert chi.loc["ckd", "p"] == pytest.approx(stats.chi2_contingency([[3, 2], [42, 55]]).pvalue)
    fisher = table1(df, "g", categorical=["ckd", "nyha"], sparse_test="fisher").summary.set_index("variable")
    assert fisher.loc["ckd", "test"] == "Fisher exact"
    assert fisher.loc["ckd", "p"] == pytest.approx(stats.fisher_exact([[3, 2], [42, 55]]).pvalue)
    assert fisher.loc["nyha", "test"].startswith("Fisher-Freeman-Halton")
    again = table1(df, "g", categorical=["nyha"], sparse_test="fisher").summary["p"].iloc[0]
    assert again == fisher.loc["nyha", "p"]  # Monte Carlo with a fixed seed: reproducible
    with pytest.raises(StatsError, match="sparse_test"):
        table1(df, "g", categorical=["ckd"], sparse_test="exact")


def test_results_print_their_summary(logistic_data):
    fit = fit_logit(logistic_data, "y", ["a"])
    text = repr(fit)
    assert text.startswith("LogitFit") and "odds_ratio" in text and "array(" not in text
