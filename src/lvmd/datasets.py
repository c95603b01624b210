"""Bundled example data: the synthetic demo cohort (n = 103, seed 0), shipped with the package, no network."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pandas as pd

from .cohort import Cohort, load_cohort

DEMO_N = 103
DEMO_SEED = 0


def demo_cohort_path() -> Path:
    """Folder of the shipped demo cohort (clinical.csv, polarmaps.npz, truth.csv)."""
    return Path(str(resources.files("lvmd") / "data" / "demo"))


def load_demo_cohort() -> Cohort:
    """The default synthetic CRT cohort (``lvmd simulate --n 103 --seed 0``), as a :class:`~lvmd.cohort.Cohort`.

    Examples
    --------
    >>> cohort = load_demo_cohort()
    >>> cohort.summary()["patients"], cohort.summary()["responders"]
    (103, 45)
    """
    cohort = load_cohort(demo_cohort_path())
    cohort.source = "lvmd demo cohort (synthetic, n = 103, seed 0)"
    return cohort


def load_demo_truth() -> pd.DataFrame:
    """The demo cohort's truth table (never read by any analysis)."""
    return pd.read_csv(demo_cohort_path() / "truth.csv", index_col="patient_id")
