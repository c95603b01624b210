"""Synthetic-cohort speed: `lvmd simulate --n 103` (phantom mode) and `--maps-only --n 10000`, as a user runs them.

    python benchmarks/simulate.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path


def timed(args: list[str]) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "lvmd.cli", "simulate", *args, "--out", str(Path(tmp) / "c")], check=True,
                       capture_output=True)
        return time.perf_counter() - start


def main() -> None:
    t_default = timed(["--n", "103", "--seed", "0"])
    print(f"lvmd simulate --n 103 (gated phantoms measured by lvmd): {t_default:.1f} s (target <= 30 s)")
    t_large = timed(["--n", "10000", "--seed", "0", "--maps-only"])
    print(f"lvmd simulate --maps-only --n 10000: {t_large:.1f} s (target <= 60 s)")


if __name__ == "__main__":
    main()
