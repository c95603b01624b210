"""Issue 16, family 10: everything lvmd reads at run time ships in the wheel.

`[tool.setuptools.package-data]` once listed `data/*`, which does not match `data/demo/*`: the built wheel (and so
`pip install lvmd`) had no demo cohort and `lvmd demo` failed. CI builds the wheel and runs `lvmd demo` from it
(.ci/run); this test catches the same mistake in a second, without building anything.
"""

import fnmatch
import tomllib
from pathlib import Path, PurePosixPath

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "lvmd"


def _shipped(relative: PurePosixPath, patterns: list[str]) -> bool:
    """setuptools' package-data globs: ``*`` stays within one folder level."""
    for pattern in patterns:
        parts = PurePosixPath(pattern).parts
        if len(parts) == len(relative.parts) and all(fnmatch.fnmatchcase(a, b) for a, b in zip(relative.parts, parts)):
            return True
    return False


@pytest.mark.skipif(not (ROOT / "pyproject.toml").is_file(), reason="runs from the source tree only")
def test_every_data_file_is_package_data():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["lvmd"]
    data = [PurePosixPath(p.relative_to(PACKAGE).as_posix()) for p in PACKAGE.rglob("*")
            if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts]
    assert {"data/demo/clinical.csv", "data/demo/polarmaps.npz", "data/demo/truth.csv"} <= {str(p) for p in data}
    missing = [str(p) for p in data if not _shipped(p, patterns)]
    assert missing == [], f"not in the wheel: {missing}"
    assert not _shipped(PurePosixPath("data/demo/clinical.csv"), ["data/*"])  # the original mistake


def test_demo_cohort_is_read_through_the_package():
    from lvmd.datasets import demo_cohort_path, load_demo_cohort

    assert demo_cohort_path().is_relative_to(PACKAGE) or "site-packages" in demo_cohort_path().parts
    assert len(load_demo_cohort()) == 103


def test_python_m_lvmd_runs_the_same_command_line(tmp_path):
    """``python -m lvmd`` is the ``lvmd`` script where scripts are not on PATH (benchmarks run lvmd this way)."""
    import subprocess
    import sys

    import lvmd

    done = subprocess.run([sys.executable, "-m", "lvmd", "--version"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == f"lvmd {lvmd.__version__}"
    done = subprocess.run([sys.executable, "-m", "lvmd", "phase", "no-such-file.dcm", "--out", "out"],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 2 and "no-such-file.dcm" in done.stderr and not (tmp_path / "out").exists()
