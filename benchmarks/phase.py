"""Phase-analysis speed and memory: median time per 16-gate 64x64x40 study on one core, peak memory, batch throughput.

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
from lvmd.phase import analyze_study  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--studies", type=int, default=200)
    args = parser.parse_args()
    patterns = ["synchronous", "lbbb", "anterior_late", "two_region"]
    studies = [make_phantom(patterns[i % 4], 90.0, gates=16, shape=(40, 64, 64), peak_counts=40, seed=i).simulate(f"s{i}")
               for i in range(8)]
    analyze_study(studies[0])  # warm-up (imports, FFT plans)
    times = []
    for i in range(args.studies):
        start = time.perf_counter()
        analyze_study(studies[i % len(studies)])
        times.append(time.perf_counter() - start)
    times = np.array(times)
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


if __name__ == "__main__":
    main()
