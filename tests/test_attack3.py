"""Issue 16, round 3: regression tests for the failures an independent hostile run found on main.

Each test reproduces one failure with a small file built here and asserts the promised behaviour: one ``error:``
line and exit code 2 (or the documented success), nothing written, nothing changed.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lvmd.errors import SpectError
from lvmd.scanner import check_collimator, collimator_codes
from lvmd.stats.logistic import univariate

DATA = Path(__file__).parent / "data"
PROJECTIONS = DATA / "nm_tomo_projections_30views.dcm"


def _one_error_line(res) -> str:
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert res.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    assert "internal error" not in lines[0] and "Traceback" not in res.stderr
    return lines[0]


# --- family 2: an unknown --collimator reached PyTomography, whose lookup ends in UnboundLocalError -------------
def test_collimator_codes_are_exact():
    codes = collimator_codes()
    assert "GI-LEHR" in codes and len(codes) > 100
    assert check_collimator("GI-LEHR") == "GI-LEHR"
    for bad in ("NOPE", "LEHR", "GI-LEH", "\x1b[31mGI-LEHR", ""):  # unknown, or only a part of a real code
        with pytest.raises(SpectError, match="not a PyTomography collimator code"):
            check_collimator(bad)


def test_unknown_collimator_is_one_line_before_any_work(tmp_path, cli):
    out = tmp_path / "sa.npz"
    res = cli("reconstruct", str(PROJECTIONS), "--out", str(out), "--collimator", "[/x]\x1b[31mNOPE", "--quiet")
    line = _one_error_line(res)
    assert "--collimator" in line and "\x1b" not in line and "\\x1b" in line
    assert list(tmp_path.iterdir()) == []


# --- family 2: an empty candidate list (stats.conventional = []) crashed the univariate table ------------------
def test_univariate_of_no_variables_is_an_empty_table():
    df = pd.DataFrame({"y": [0, 1, 0, 1], "x": [1.0, 2.0, 3.0, 5.0]})
    result = univariate(df, "y", [])
    assert result.summary.empty and result.summary.index.name == "variable"
    assert {"p", "odds_ratio", "n"} <= set(result.summary.columns)
    assert univariate(df, "y", ["x"]).summary.index.tolist() == ["x"]
