"""AUC + DeLong variance for 10^6 scores against sklearn.metrics.roc_auc_score (AUC only), timed in the same run.

    python benchmarks/roc.py [--n 1000000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.metrics import roc_auc_score

from lvmd.stats import roc_auc


def best_of(fn, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1_000_000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, args.n)
    score = rng.normal(size=args.n) + 0.5 * y
    t_sk = best_of(lambda: roc_auc_score(y, score))
    t_lvmd = best_of(lambda: roc_auc(y, score, direction="<").variance)
    r = roc_auc(y, score, direction="<")
    assert abs(r.auc - roc_auc_score(y, score)) < 1e-12
    print(f"n = {args.n}: AUC {r.auc:.6f}, DeLong SE {r.se:.2e}")
    print(f"sklearn roc_auc_score (AUC only): {t_sk * 1000:.0f} ms")
    print(f"lvmd roc_auc (AUC + DeLong variance + CI + curve): {t_lvmd * 1000:.0f} ms")
    print(f"ratio lvmd / sklearn: {t_lvmd / t_sk:.2f} (target <= 2)")


if __name__ == "__main__":
    main()
