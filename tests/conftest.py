"""Shared fixtures: small cohorts written in the documented format, and a CLI runner."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from lvmd.simulate import simulate_cohort

DATA = Path(__file__).resolve().parent / "data"  # test data kept in the repository (see data/README.md)
# Python expression for a subprocess's own peak memory in MB. (getrusage's ru_maxrss is no use there: Linux carries
# the forked pytest process's peak across exec.)
PEAK_MB = "int(next(l for l in open('/proc/self/status') if l.startswith('VmHWM')).split()[1]) // 1024"


@pytest.fixture(scope="session")
def small_cohort_dir(tmp_path_factory) -> Path:
    """An 80-patient maps-only synthetic cohort folder (clinical.csv, polarmaps.npz, truth.csv)."""
    folder = tmp_path_factory.mktemp("cohort")
    simulate_cohort(80, seed=3, maps_only=True).write(folder)
    return folder


@pytest.fixture
def cohort_copy(small_cohort_dir, tmp_path) -> Path:
    """A writable copy of the small cohort, for tests that corrupt it."""
    target = tmp_path / "cohort"
    target.mkdir()
    for f in small_cohort_dir.iterdir():
        (target / f.name).write_bytes(f.read_bytes())
    return target


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run ``lvmd`` in a subprocess and capture its output."""
    return subprocess.run([sys.executable, "-m", "lvmd.cli", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=600)


@pytest.fixture
def cli():
    return run_cli
