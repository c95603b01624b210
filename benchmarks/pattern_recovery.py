"""How much of a planted pattern's value do image features recover, honestly? (issue 17, phase-1 harness)

For each mechanism (lvmd's own and those of :mod:`lvmd.mechanisms`), cohort size and seed: simulate a maps-only
cohort, apply the ESV exclusion, and cross-validate (stratified k-fold, repeated) logistic models in plain
scikit-learn. Everything learned from outcomes is learned inside each training fold: the clinical screening
(univariate p < 0.1, at least the best variable, as lvmd's pipeline), the image-feature selection and the fits; PCA
is fitted on the training maps. Pattern features learn nothing (fixed functions of each map), so computing them once
for all patients leaks nothing.

Families (all on top of the fold's clinical selection + PSD, the ``base``):

* ``oracle``       + the true pattern label (truth.csv; what a perfect image feature would add)
* ``pca-screen``   + PCA of the maps, the paper's selection (univariate p < 0.05, at most 3, one collinearity group)
* ``pat-screen``   + pattern features, the same selection
* ``pat-l2``       + all pattern features, ridge-penalised logit (C by inner 5-fold CV on log-loss), base unpenalised
                     (the base's linear predictor enters as an offset)
* ``pat-screen5``  + pattern features with p < 0.05, at most 5, no collinearity split, unpenalised
* ``pat-l1``       as ``pat-l2`` with a lasso penalty
* ``pat-l1-refit`` + the features the lasso keeps, refitted unpenalised (relaxed lasso)
* ``pat-screen-l2`` + pattern features with p < 0.05, ridge-penalised as ``pat-l2``
* ``pat-fixed``    + a fixed small set of pattern features, unpenalised

Printed per mechanism and n: the cross-validated AUC of the base (pooled out-of-fold predictions, averaged over
repeats, then over seeds), each family's gain over it with a DeLong 95 % CI (on the out-of-fold predictions averaged
over repeats, all seeds' patients pooled), and the gain as a fraction of the oracle's gain.

    python benchmarks/pattern_recovery.py                       # n = 250 and 400, seeds 3-8, 5 x 5-fold (~20 min)
    python benchmarks/pattern_recovery.py --n 400 --seeds 3 --mechanisms lvmd --repeats 1
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd
from scipy import special
from sklearn.decomposition import PCA
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold
from threadpoolctl import threadpool_limits

from lvmd.config import StudyConfig
from lvmd.errors import StatsError
from lvmd.features import PatternFeatures
from lvmd.mechanisms import favourable_pattern
from lvmd.polar import disc_mask
from lvmd.simulate import simulate_cohort
from lvmd.stats import collinear_split, delong_test, univariate

FIXED = ["spatial_coherence", "harmonic_fraction", "late_cos", "late_sin", "late_scar_fraction"]
FAMILIES = ["oracle", "pca-screen", "pat-screen", "pat-screen5", "pat-l2", "pat-l1", "pat-l1-refit", "pat-screen-l2",
            "pat-fixed"]
REPORTED_SELECTIONS = ("pat-screen", "pat-screen5", "pat-l1-refit")
CS = np.logspace(-3, 1, 9)


def cohort_data(mechanism: str, n: int, seed: int):
    """Analysed table (with ``response``), phase maps, pattern features and oracle label of one simulated cohort."""
    c = simulate_cohort(n, seed=seed, mechanism=mechanism, maps_only=True)
    keep = (c.clinical["lvesv_ml"] >= StudyConfig().cohort.min_lvesv_ml).to_numpy()
    table = c.clinical[keep].assign(response=c.truth["response"][keep])
    features = PatternFeatures().fit_transform(c.maps).set_index(c.clinical.index)[keep]
    oracle = pd.Series(favourable_pattern(c.truth)[keep], index=table.index, name="oracle")
    return table, c.maps.phase[keep], features, oracle


def screen(data: pd.DataFrame, candidates: list[str], p_max: float, cap: int | None, fallback: bool) -> list[str]:
    """Univariate screening on ``data`` (p < p_max, most significant first, at most ``cap``)."""
    uni = univariate(data, "response", candidates).summary.dropna(subset=["p"]).sort_values("p")
    chosen = list(uni.index[uni["p"] < p_max])[:cap]
    return chosen or (list(uni.index[:1]) if fallback else [])


def paper_selection(data: pd.DataFrame, features: pd.DataFrame) -> list[str]:
    """The paper's image-feature selection: p < 0.05, at most 3, the collinearity group of the best."""
    joined = data[["response"]].join(features)
    chosen = screen(joined, list(features.columns), 0.05, 3, fallback=False)
    if not chosen:
        return []
    return next(g for g in collinear_split(joined, chosen, 0.7) if chosen[0] in g)


def standardise(train: pd.DataFrame, test: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    mean, sd = train.mean(), train.std(ddof=0).replace(0, 1.0)
    return ((train - mean) / sd).to_numpy(float), ((test - mean) / sd).to_numpy(float)


def fit_logit(X: np.ndarray, y: np.ndarray, offset: np.ndarray | None = None, l2: float = 0.0,
              l1: float = 0.0) -> np.ndarray:
    """Logistic regression by damped Newton-Raphson (intercept unpenalised; optional offset and ridge penalty; a
    lasso penalty by local quadratic approximation, Fan & Li 2001). A 1e-6 ridge keeps separated fits finite."""
    Xi = np.column_stack([np.ones(len(X)), X])
    off = np.zeros(len(X)) if offset is None else offset
    beta = np.zeros(Xi.shape[1])
    for _ in range(100):
        p = special.expit(Xi @ beta + off)
        penalty = np.full(Xi.shape[1], l2 + 1e-6) + l1 / np.maximum(np.abs(beta), 1e-4)
        penalty[0] = 1e-9
        grad = Xi.T @ (y - p) - penalty * beta
        hess = (Xi * (p * (1 - p))[:, None]).T @ Xi + np.diag(penalty)
        step = np.linalg.lstsq(hess, grad, rcond=None)[0]
        step *= min(1.0, 5.0 / max(np.max(np.abs(step)), 1e-12))  # no step beyond 5 logits: no overshoot
        beta += step
        if np.max(np.abs(step)) < 1e-8:
            break
    return beta


def predict(beta: np.ndarray, X: np.ndarray, offset: np.ndarray | None = None) -> np.ndarray:
    eta = beta[0] + X @ beta[1:] + (0.0 if offset is None else offset)
    return special.expit(eta)


def penalised(Xb_tr, Xp_tr, y_tr, Xb_te, Xp_te, kind: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Base fitted unpenalised; pattern features added on its offset with a penalty chosen by inner 5-fold CV.
    Returns the test probabilities and the pattern coefficients."""
    if Xp_tr.shape[1] == 0:
        base = fit_logit(Xb_tr, y_tr)
        return predict(base, Xb_te), np.zeros(0)
    base = fit_logit(Xb_tr, y_tr)
    off_tr = base[0] + Xb_tr @ base[1:]
    off_te = base[0] + Xb_te @ base[1:]
    inner = StratifiedKFold(5, shuffle=True, random_state=seed)
    losses = np.zeros(len(CS))
    for tr, va in inner.split(Xp_tr, y_tr):
        for j, c in enumerate(CS):
            lam = 1.0 / c
            beta = fit_logit(Xp_tr[tr], y_tr[tr], off_tr[tr], l2=lam if kind == "l2" else 0.0,
                             l1=lam if kind == "l1" else 0.0)
            p = np.clip(predict(beta, Xp_tr[va], off_tr[va]), 1e-9, 1 - 1e-9)
            losses[j] -= np.sum(y_tr[va] * np.log(p) + (1 - y_tr[va]) * np.log(1 - p))
    lam = 1.0 / CS[int(np.argmin(losses))]
    beta = fit_logit(Xp_tr, y_tr, off_tr, l2=lam if kind == "l2" else 0.0, l1=lam if kind == "l1" else 0.0)
    return predict(beta, Xp_te, off_te), beta[1:]


def fold_predictions(table, phase, features, oracle, train, test, seed) -> tuple[dict, dict]:
    """Test-fold probabilities of every family, all selection done on the training rows; and what was selected."""
    config = StudyConfig()
    tr, te = table.iloc[train], table.iloc[test]
    y_tr = tr["response"].to_numpy(float)
    clinical = screen(tr, [c for c in config.stats.clinical if c in tr], config.stats.enter_p, None, fallback=True)
    base_vars = clinical + ["psd_deg"]
    out, chosen = {}, {}

    def unpenalised(extra_tr: pd.DataFrame | None, extra_te: pd.DataFrame | None) -> np.ndarray:
        a, b = tr[base_vars], te[base_vars]
        if extra_tr is not None and extra_tr.shape[1]:
            a, b = a.join(extra_tr), b.join(extra_te)
        Xa, Xb = standardise(a, b)
        return predict(fit_logit(Xa, y_tr), Xb)

    out["base"] = unpenalised(None, None)
    out["oracle"] = unpenalised(oracle.iloc[train].to_frame(), oracle.iloc[test].to_frame())
    inside = disc_mask().ravel()
    rows_tr = phase[train].reshape(len(train), -1)[:, inside] / 360.0
    rows_te = phase[test].reshape(len(test), -1)[:, inside] / 360.0
    fill = np.nan_to_num(np.nanmean(rows_tr, axis=0), nan=0.5)
    rows_tr = np.where(np.isnan(rows_tr), fill, rows_tr)
    rows_te = np.where(np.isnan(rows_te), fill, rows_te)
    pca = PCA(n_components=min(64, len(train) - 1), svd_solver="full").fit(rows_tr)
    names = [f"PC{i + 1}" for i in range(pca.n_components_)]
    pcs_tr = pd.DataFrame(pca.transform(rows_tr), index=tr.index, columns=names)
    pcs_te = pd.DataFrame(pca.transform(rows_te), index=te.index, columns=names)
    sel = paper_selection(tr, pcs_tr)
    out["pca-screen"] = unpenalised(pcs_tr[sel], pcs_te[sel])
    f_tr, f_te = features.iloc[train], features.iloc[test]
    sel = paper_selection(tr, f_tr)
    chosen["pat-screen"] = sel
    out["pat-screen"] = unpenalised(f_tr[sel], f_te[sel])
    joined = tr[["response"]].join(f_tr)
    sel = screen(joined, list(features.columns), 0.05, 5, fallback=False)
    chosen["pat-screen5"] = sel
    out["pat-screen5"] = unpenalised(f_tr[sel], f_te[sel])
    Xb_tr, Xb_te = standardise(tr[base_vars], te[base_vars])
    Xp_tr, Xp_te = standardise(f_tr, f_te)
    out["pat-l2"], _ = penalised(Xb_tr, Xp_tr, y_tr, Xb_te, Xp_te, "l2", seed)
    out["pat-l1"], beta = penalised(Xb_tr, Xp_tr, y_tr, Xb_te, Xp_te, "l1", seed)
    sel = [name for name, b in zip(features.columns, beta) if abs(b) > 1e-3]
    chosen["pat-l1-refit"] = sel
    out["pat-l1-refit"] = unpenalised(f_tr[sel], f_te[sel])
    sel = screen(joined, list(features.columns), 0.05, None, fallback=False)
    keep = [list(features.columns).index(name) for name in sel]
    out["pat-screen-l2"], _ = penalised(Xb_tr, Xp_tr[:, keep], y_tr, Xb_te, Xp_te[:, keep], "l2", seed)
    fixed = [f for f in FIXED if f in features]
    out["pat-fixed"] = unpenalised(f_tr[fixed], f_te[fixed])
    return out, chosen


def cross_validate(mechanism: str, n: int, seed: int, folds: int, repeats: int) -> dict:
    table, phase, features, oracle = cohort_data(mechanism, n, seed)
    y = table["response"].to_numpy(int)
    names = ["base", *FAMILIES]
    oof = {f: np.zeros((repeats, len(y))) for f in names}
    counts: dict[str, dict[str, int]] = {rule: {} for rule in REPORTED_SELECTIONS}
    for r in range(repeats):
        for k, (train, test) in enumerate(StratifiedKFold(folds, shuffle=True, random_state=seed + r).split(y, y)):
            probs, chosen = fold_predictions(table, phase, features, oracle, train, test, seed + 1000 * r + k)
            for f in names:
                oof[f][r, test] = probs[f]
            for rule in REPORTED_SELECTIONS:
                for name in chosen[rule]:
                    counts[rule][name] = counts[rule].get(name, 0) + 1
    auc = {f: float(np.mean([roc_auc_score(y, oof[f][r]) for r in range(repeats)])) for f in names}
    ci = {}
    for f in FAMILIES:
        try:
            ci[f] = delong_test(y, oof[f].mean(axis=0), oof["base"].mean(axis=0), direction="<").ci
        except StatsError:
            ci[f] = (0.0, 0.0)
    return {"auc": auc, "ci": ci, "y": y, "oof": {f: oof[f].mean(axis=0) for f in names}, "counts": counts,
            "folds_total": folds * repeats}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mechanisms", nargs="+", default=["lvmd", "where", "how", "null"])
    parser.add_argument("--n", nargs="+", type=int, default=[250, 400])
    parser.add_argument("--seeds", nargs="+", type=int, default=[3, 4, 5, 6, 7, 8])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    threadpool_limits(1)  # small matrices: BLAS threads only contend (ten times slower on a shared machine)
    rows = []
    for mechanism in args.mechanisms:
        for n in args.n:
            started = time.perf_counter()
            results = [cross_validate(mechanism, n, s, args.folds, args.repeats) for s in args.seeds]
            base = np.mean([res["auc"]["base"] for res in results])
            oracle_gain = np.mean([res["auc"]["oracle"] - res["auc"]["base"] for res in results])
            # Seeds pooled for one DeLong CI: each seed's out-of-fold predictions on its own patients.
            y_all = np.concatenate([res["y"] for res in results])
            for f in FAMILIES:
                gains = [res["auc"][f] - res["auc"]["base"] for res in results]
                try:
                    low, high = delong_test(y_all, np.concatenate([res["oof"][f] for res in results]),
                                            np.concatenate([res["oof"]["base"] for res in results]), direction="<").ci
                except StatsError:
                    low, high = 0.0, 0.0
                rows.append({"mechanism": mechanism, "n": n, "family": f, "base_auc": base,
                             "auc": np.mean([res["auc"][f] for res in results]), "gain": np.mean(gains),
                             "gain_ci_low": low, "gain_ci_high": high,
                             "gain_per_seed": " ".join(f"{g:+.3f}" for g in gains),
                             "fraction_of_oracle": np.mean(gains) / oracle_gain if mechanism != "null" else np.nan})
            total = sum(res["folds_total"] for res in results)
            print(f"{mechanism} n={n}: {time.perf_counter() - started:.0f} s; chosen (share of folds):")
            for rule in REPORTED_SELECTIONS:
                counts: dict[str, int] = {}
                for res in results:
                    for k, v in res["counts"][rule].items():
                        counts[k] = counts.get(k, 0) + v
                top = ", ".join(f"{k} {v / total:.0%}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1])[:6])
                print(f"  {rule}: {top}")
            block = pd.DataFrame(rows[-len(FAMILIES):]).drop(columns=["mechanism", "n"])
            print(block.round(3).to_string(index=False), flush=True)
    print("\nsummary: gain as a fraction of the oracle's gain (null: the gain)")
    table = pd.DataFrame(rows)
    table["value"] = np.where(table["mechanism"] == "null", table["gain"], table["fraction_of_oracle"])
    print(table.pivot_table(index=["mechanism", "n"], columns="family", values="value", sort=False)[FAMILIES].round(3)
          .to_string())


if __name__ == "__main__":
    main()
