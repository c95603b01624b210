"""Autoencoder fitting speed: lvmd's paper preset against a plain PyTorch loop, timed in the same run.

The plain loop is the obvious implementation: the same four linear layers on all 4096 pixels (NaN outside the disc
set to 0), full batch, torch.optim.Adam with its defaults, the same number of iterations. The script also measures
the GEMM throughput of this process, the fraction of it each loop reaches, and the peak resident memory.

    python benchmarks/autoencoder.py [--iterations 1000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import torch
from torch import nn

from lvmd.datasets import load_demo_cohort
from lvmd.features import AutoencoderFeatures, PCAFeatures


def gemm_flops(n: int = 2048, repeats: int = 5) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * n**3 * repeats / (time.perf_counter() - start)


def plain_loop(maps: np.ndarray, iterations: int) -> float:
    x = torch.tensor(np.nan_to_num(maps.reshape(len(maps), -1) / 360.0), dtype=torch.float32)
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4096, 512), nn.ReLU(), nn.Linear(512, 64), nn.Linear(64, 512), nn.ReLU(),
                        nn.Linear(512, 4096), nn.Sigmoid())
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    start = time.perf_counter()
    for _ in range(iterations):
        opt.zero_grad()
        loss = torch.mean((net(x) - x) ** 2)
        loss.backward()
        opt.step()
    return time.perf_counter() - start


def loop_flops(n: int, d_in: int, iterations: int) -> float:
    """FLOPs of forward + backward of the two large layers (the 512x64 ones are negligible)."""
    per_layer = 2 * n * d_in * 512
    return iterations * (3 * per_layer + 2 * per_layer)  # fwd both, grad-W both, grad-input of the output layer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--iterations", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3, help="interleaved runs of each; medians are reported")
    args = parser.parse_args()
    maps = load_demo_cohort().maps
    n = len(maps)
    flops = gemm_flops()
    plain_times, lvmd_times = [], []
    for _ in range(args.repeats):  # interleaved, so that load from other processes hits both alike
        plain_times.append(plain_loop(maps.phase, args.iterations))
        start = time.perf_counter()
        ae = AutoencoderFeatures(iterations=args.iterations, random_state=0).fit(maps)
        lvmd_times.append(time.perf_counter() - start)
    t_plain, t_lvmd = float(np.median(plain_times)), float(np.median(lvmd_times))
    print("runs (s): plain " + ", ".join(f"{t:.2f}" for t in plain_times) + "; lvmd "
          + ", ".join(f"{t:.2f}" for t in lvmd_times))
    d_disc = ae.pixel_fill_.size
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, {n} maps, {args.iterations} iterations")
    print(f"GEMM throughput of this process: {flops / 1e9:.1f} GFLOP/s")
    print(f"plain PyTorch loop (4096 px): {t_plain:.2f} s  "
          f"({loop_flops(n, 4096, args.iterations) / t_plain / flops:.0%} of GEMM peak)")
    print(f"lvmd AutoencoderFeatures   : {t_lvmd:.2f} s  ({d_disc} disc px, hand-written backward, fused Adam)")
    print(f"ratio lvmd / plain         : {t_lvmd / t_plain:.2f}  (target <= 0.60)")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory        : {peak_mb:.0f} MB  (target <= 1024 MB)")
    pca = PCAFeatures(64).fit(maps)
    print(f"masked reconstruction MSE on the demo cohort (phase/360 scale): AE {ae.reconstruction_error(maps).mean():.5f}"
          f", PCA-64 {pca.reconstruction_error(maps).mean():.5f}")


if __name__ == "__main__":
    main()
