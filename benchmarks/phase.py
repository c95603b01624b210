"""Phase-analysis speed and memory: median time per 16-gate 64x64x40 study on one core, peak memory, batch throughput;
then the same for studies with static abdominal activity 8x the LV against the inferior wall (the harder path).

    python benchmarks/phase.py [--studies 200]
"""

from __future__ import annotations

import argparse
import os
import time
import tracemalloc

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from lvmd.phantom import make_phantom  # noqa: E402
from scipy import ndimage  # noqa: E402

from lvmd.io.spect import GatedSpect  # noqa: E402
from lvmd.phase import analyze_study  # noqa: E402


def with_hot_gut(study: GatedSpect, factor: float = 8.0, seed: int = 0) -> GatedSpect:
    """The study plus a static ellipsoid ``factor`` x its peak just below the inferior wall, with Poisson noise."""
    T, Z, Y, X = study.counts.shape
    zz, yy, xx = np.ogrid[0:Z, 0:Y, 0:X]
    blob = ((yy - 44) / 4.0) ** 2 + ((xx - 32) / 6.0) ** 2 + ((zz - 22) / 5.0) ** 2 <= 1.0
    spread = ndimage.gaussian_filter(blob.astype(np.float64), 1.3)
    peak = float(study.counts.max())
    gut = np.random.default_rng(seed).poisson(factor * peak * spread / spread.max(), size=study.counts.shape)
    return GatedSpect(study.counts + gut.astype(np.float32), study.spacing_mm, study.study_id)


def median_ms(studies: list, repeats: int) -> tuple[np.ndarray, float]:
    analyze_study(studies[0])  # warm-up (imports, FFT plans)
    times = []
    for i in range(repeats):
        start = time.perf_counter()
        analyze_study(studies[i % len(studies)])
        times.append(time.perf_counter() - start)
    return np.array(times), float(np.median(times) * 1000)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--studies", type=int, default=200)
    args = parser.parse_args()
    patterns = ["synchronous", "lbbb", "anterior_late", "two_region"]
    studies = [make_phantom(patterns[i % 4], 90.0, gates=16, shape=(40, 64, 64), peak_counts=40, seed=i).simulate(f"s{i}")
               for i in range(8)]
    times, _ = median_ms(studies, args.studies)
    tracemalloc.start()
    analyze_study(studies[1])
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    array_bytes = studies[1].counts.nbytes
    print(f"study: 16 gates x 40 x 64 x 64 float32 ({array_bytes / 2**20:.1f} MiB); one core (OMP_NUM_THREADS=1)")
    print(f"median time per study: {np.median(times) * 1000:.1f} ms  (p10 {np.percentile(times, 10) * 1000:.1f}, "
          f"p90 {np.percentile(times, 90) * 1000:.1f}; target <= 50 ms, reading excluded)")
    print(f"peak traced memory during one analysis: {peak / 2**20:.1f} MiB = {peak / array_bytes:.2f} x the study "
          "array (target <= 4x)")
    print(f"batch of {args.studies} studies, one process: {times.sum():.1f} s, "
          f"{args.studies / times.sum():.1f} studies/s")
    gut_times, gut_median = median_ms([with_hot_gut(s, seed=i) for i, s in enumerate(studies)], max(args.studies // 4, 8))
    print(f"with abdominal activity 8x the LV against the inferior wall: median {gut_median:.1f} ms "
          f"(p90 {np.percentile(gut_times, 90) * 1000:.1f}; target <= 50 ms)")


if __name__ == "__main__":
    main()
