"""Validation scaling: time per fold and parallel efficiency from 1 to 2 workers (same folds, identical results).

    python benchmarks/validate.py [--folds 5] [--repeats 2]
"""

from __future__ import annotations

import argparse
import time

from lvmd.datasets import load_demo_cohort
from lvmd.validation import validate


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    cohort = load_demo_cohort()
    runs = {}
    for workers in (1, 2):
        start = time.perf_counter()
        res = validate(cohort, folds=args.folds, repeats=args.repeats, bootstrap=0, fast=True, workers=workers,
                       stability_seeds=0)
        runs[workers] = (time.perf_counter() - start, res)
    t1, r1 = runs[1]
    t2, r2 = runs[2]
    n = args.folds * args.repeats
    same = r1.summary.equals(r2.summary)
    print(f"{n} folds (--fast, {r1.settings['ae_iterations_in_folds']} AE iterations per fit in the folds), demo cohort")
    print(f"1 worker : {t1:.1f} s total, {r1.timings['cross_validation'] / n:.2f} s per fold")
    print(f"2 workers: {t2:.1f} s total, {r2.timings['cross_validation'] / n:.2f} s per fold (wall)")
    eff = r1.timings["cross_validation"] / (2 * r2.timings["cross_validation"])
    print(f"parallel efficiency of the fold stage 1 -> 2 workers: {eff:.0%} (target >= 80 %); identical results: {same}")


if __name__ == "__main__":
    main()
