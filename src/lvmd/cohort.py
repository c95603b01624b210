"""A CRT cohort: the clinical table joined to the polar maps, response labels and exclusions.

``load_cohort(path)`` is the entry point; a cohort folder holds ``clinical.csv`` and, optionally,
``polarmaps.npz`` or a ``polarmaps/`` folder of PNG exports (docs/data-format.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import CohortError
from .io.polarmaps import PolarMaps, read_polarmaps
from .io.tables import read_clinical

RESPONSE_DEFINITIONS = {
    "esv15": "follow-up LVESV at least 15 % below baseline (the reference paper's definition)",
    "ef5": "follow-up LVEF at least 5 percentage points above baseline",
    "column": "the explicit 0/1 `response` column of clinical.csv",
}


def response_labels(table: pd.DataFrame, definition: str = "esv15") -> pd.Series:
    """CRT response (1/0, NaN where the inputs are missing) under one of :data:`RESPONSE_DEFINITIONS`."""
    if definition == "esv15":
        _need(table, "lvesv_followup_ml", definition)
        change = (table["lvesv_ml"] - table["lvesv_followup_ml"]) / table["lvesv_ml"]
        label = (change >= 0.15 - 1e-12).astype(float).where(change.notna())
    elif definition == "ef5":
        _need(table, "lvef_followup_pct", definition)
        gain = table["lvef_followup_pct"] - table["lvef_pct"]
        label = (gain >= 5 - 1e-12).astype(float).where(gain.notna())
    elif definition == "column":
        _need(table, "response", definition)
        label = table["response"].astype(float)
    else:
        raise CohortError(f"response definition {definition!r} is not one of {', '.join(RESPONSE_DEFINITIONS)}")
    return label.rename("response")


def _need(table: pd.DataFrame, column: str, definition: str) -> None:
    if column not in table.columns:
        raise CohortError(f"clinical table: response definition {definition} needs column {column}")


@dataclass
class Exclusion:
    """One excluded patient and why."""

    patient_id: str
    reason: str


@dataclass
class Cohort:
    """Clinical table (indexed by patient_id) and, when present, polar maps in the same patient order.

    Attributes
    ----------
    table : pandas.DataFrame
        Validated clinical table, indexed by ``patient_id``.
    maps : PolarMaps or None
        Polar maps aligned with ``table`` (same ids, same order).
    source : str
        Where the cohort came from (a folder name, or ``"demo"``).
    """

    table: pd.DataFrame
    maps: PolarMaps | None = None
    source: str = ""
    excluded: list[Exclusion] = field(default_factory=list)

    @property
    def patient_ids(self) -> np.ndarray:
        """Patient identifiers in table order."""
        return self.table.index.to_numpy()

    def __len__(self) -> int:
        return len(self.table)

    def response(self, definition: str = "esv15") -> pd.Series:
        """Response labels under ``definition`` (see :data:`RESPONSE_DEFINITIONS`)."""
        return response_labels(self.table, definition)

    def apply_exclusions(self, min_lvesv_ml: float = 20.0, definition: str = "esv15") -> "Cohort":
        """Drop patients with an implausibly small baseline LVESV or no response label, recording each reason.

        ``min_lvesv_ml`` of 0 or None switches the LVESV rule off; NaN, infinities and negative values are refused
        (a NaN once switched it off without a word).
        """
        reasons: dict[str, str] = {}
        if min_lvesv_ml is not None and not (isinstance(min_lvesv_ml, (int, float, np.number)) and
                                             np.isfinite(min_lvesv_ml) and min_lvesv_ml >= 0):
            raise CohortError(f"min_lvesv_ml = {min_lvesv_ml!r}: must be a finite number of mL, at least 0 (0 = off)")
        if min_lvesv_ml is not None and min_lvesv_ml > 0:
            small = self.table["lvesv_ml"] < min_lvesv_ml
            for pid, value in self.table.loc[small, "lvesv_ml"].items():
                reasons[pid] = f"baseline LVESV {value:g} mL < {min_lvesv_ml:g} mL (implausible, exclusion rule)"
        label = self.response(definition)
        for pid in label.index[label.isna()]:
            reasons.setdefault(pid, f"response ({definition}) not computable: missing input")
        keep = [pid for pid in self.patient_ids if pid not in reasons]
        excluded = self.excluded + [Exclusion(pid, reasons[pid]) for pid in self.patient_ids if pid in reasons]
        return self.subset(keep, excluded)

    def subset(self, ids, excluded: list[Exclusion] | None = None) -> "Cohort":
        """Cohort restricted to ``ids`` (in that order)."""
        ids = list(ids)
        maps = None if self.maps is None else self.maps.subset(ids)
        return Cohort(self.table.loc[ids].copy(), maps, self.source, list(self.excluded if excluded is None else excluded))

    def summary(self, definition: str = "esv15") -> dict:
        """Counts a user checks first: patients, responders, non-responders, unknown, maps present."""
        label = self.response(definition)
        return {
            "patients": int(len(self)),
            "responders": int((label == 1).sum()),
            "non_responders": int((label == 0).sum()),
            "response_unknown": int(label.isna().sum()),
            "response_definition": definition,
            "maps": self.maps.kinds() if self.maps is not None else [],
            "columns_with_missing": [str(c) for c in self.table.columns[self.table.isna().any()]],
        }


def join(table: pd.DataFrame, maps: PolarMaps | None, source: str, maps_source: str = "polar maps") -> Cohort:
    """Join a clinical table and polar maps by patient_id, naming rows without maps and maps without rows."""
    if maps is None:
        return Cohort(table, None, source)
    table_ids = set(table.index)
    map_ids = set(maps.patient_id)
    no_maps = [p for p in table.index if p not in map_ids]
    no_rows = [p for p in maps.patient_id if p not in table_ids]
    if no_maps:
        raise CohortError(f"{maps_source}: no maps for clinical rows {', '.join(map(str, no_maps[:8]))}"
                          + (f" (and {len(no_maps) - 8} more)" if len(no_maps) > 8 else ""))
    if no_rows:
        raise CohortError(f"{source}: maps without clinical rows {', '.join(map(str, no_rows[:8]))}"
                          + (f" (and {len(no_rows) - 8} more)" if len(no_rows) > 8 else ""))
    return Cohort(table, maps.subset(table.index), source)


def cohort_files(path: str | Path) -> list[Path]:
    """The files a cohort folder's analysis reads (clinical.csv, polarmaps.npz or the PNG exports), for manifests."""
    folder = Path(path)
    folder = folder.parent if folder.is_file() else folder
    files = [folder / "clinical.csv", folder / "polarmaps.npz"]
    if (folder / "polarmaps").is_dir():
        files += sorted((folder / "polarmaps").glob("*.png"))
    return [f for f in files if f.is_file()]


def load_cohort(path: str | Path) -> Cohort:
    """Load a cohort folder (``clinical.csv`` plus ``polarmaps.npz`` or ``polarmaps/``).

    Examples
    --------
    >>> from lvmd.datasets import demo_cohort_path
    >>> cohort = load_cohort(demo_cohort_path())
    >>> len(cohort), cohort.maps.phase.shape[1:]
    (103, (64, 64))
    """
    path = Path(path)
    if path.is_file() and path.suffix == ".csv":
        folder, clinical = path.parent, path
    elif path.is_dir():
        folder, clinical = path, path / "clinical.csv"
    elif path.exists():
        raise CohortError(f"{path}: not a cohort folder (give the folder that holds clinical.csv, or clinical.csv)")
    else:
        raise CohortError(f"{path}: cohort folder not found")
    table = read_clinical(clinical)
    maps_path = None
    for candidate in (folder / "polarmaps.npz", folder / "polarmaps"):
        if candidate.exists():
            maps_path = candidate
            break
    maps = read_polarmaps(maps_path) if maps_path is not None else None
    return join(table, maps, str(clinical), str(maps_path))
