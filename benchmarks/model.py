"""Fitting every family of the study on one shared TrainingSet versus each family alone (demo cohort): wall time,
ratio, and whether the fitted models are identical.

    python benchmarks/model.py [--iterations 1000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from lvmd.config import StudyConfig
from lvmd.datasets import load_demo_cohort
from lvmd.features import AutoencoderFeatures
from lvmd.model import CRTResponseModel, TrainingSet


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--iterations", type=int, default=1000, help="autoencoder iterations (the paper's 1000)")
    args = parser.parse_args()
    config = StudyConfig()
    config.features.iterations = args.iterations
    cohort = load_demo_cohort()
    families = config.stats.families
    AutoencoderFeatures(iterations=2).fit(cohort.maps)  # warm-up: torch's first-use costs are not the comparison

    start = time.perf_counter()
    training = TrainingSet(cohort, config=config)
    shared = {f: CRTResponseModel(f, config).fit(training) for f in families}
    t_shared = time.perf_counter() - start

    start = time.perf_counter()
    alone = {f: CRTResponseModel(f, config).fit(cohort) for f in families}
    t_alone = time.perf_counter() - start

    same = all(shared[f].variables_ == alone[f].variables_
               and np.array_equal(shared[f].logit_.params, alone[f].logit_.params) for f in families)
    print(f"{len(families)} families on the demo cohort ({len(training.data)} patients, AE {args.iterations} iterations)")
    print(f"shared TrainingSet: {t_shared:.1f} s; each family alone: {t_alone:.1f} s; "
          f"ratio {t_alone / t_shared:.1f}x; identical models: {same}")


if __name__ == "__main__":
    main()
