"""`lvmd demo` wall time with its per-stage breakdown (read from the manifest it writes).

    python benchmarks/demo.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "demo"
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "lvmd.cli", "demo", "--out", str(out), "--quiet"], check=True,
                       capture_output=True)
        wall = time.perf_counter() - start
        timings = json.loads((out / "manifest.json").read_text())["timings_s"]
    print(f"lvmd demo wall time: {wall:.1f} s (target <= 90 s)")
    for stage, seconds in timings.items():
        print(f"  {stage:<30} {seconds:7.2f} s")
    print(f"  {'start-up, loading, writing':<30} {wall - sum(timings.values()):7.2f} s")


if __name__ == "__main__":
    main()
