"""The analysed patients of a cohort, prepared once and in one way: exclusions, response labels, PSD/PBW measured
on the maps where the table lacks them, and complete cases of the candidate variables."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

from ..cohort import Cohort, Exclusion
from ..config import StudyConfig
from ..errors import ModelError
from ..io.polarmaps import PolarMaps
from ..phase.metrics import fill_psd_pbw

OUTCOME = "response"
CONVENTIONAL_COLUMNS = ("psd_deg", "pbw_deg")


@dataclass(repr=False)
class AnalysisSet:
    """Patients analysed: ``data`` (indexed by patient_id, with a 0/1 ``response`` column) and their ``maps``."""

    data: pd.DataFrame
    maps: PolarMaps | None
    excluded: list[Exclusion] = field(default_factory=list)
    source: str = ""

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        return (f"AnalysisSet({self.source}: {len(self.data)} patients, {int(self.data[OUTCOME].sum())} responders, "
                f"{len(self.excluded)} excluded, maps: {'yes' if self.maps is not None else 'no'})")


def as_polarmaps(maps, ids) -> PolarMaps | None:
    """PolarMaps for the patients ``ids`` (in that order) from PolarMaps (any superset) or an (n, 64, 64) phase array."""
    if maps is None:
        return None
    ids = list(ids)
    if isinstance(maps, PolarMaps):
        known = set(maps.patient_id)
        missing = [p for p in ids if p not in known]
        if missing:
            raise ModelError(f"no polar maps for patients {', '.join(map(str, missing[:8]))}")
        return maps.subset(ids)
    phase = np.asarray(maps, dtype=float)
    if phase.ndim != 3 or phase.shape[1:] != (64, 64) or len(phase) != len(ids):
        raise ModelError(f"maps of shape {phase.shape} do not match {len(ids)} patients x 64 x 64")
    return PolarMaps(np.asarray(ids, dtype=object), phase)


def as_cohort(X, maps=None) -> Cohort:
    """A :class:`Cohort` from a Cohort, or from a clinical table (indexed by patient_id) and its maps."""
    if isinstance(X, Cohort):
        if maps is not None:
            raise ModelError("give the maps inside the Cohort or with a table, not both")
        return X
    if not isinstance(X, pd.DataFrame):
        raise ModelError(f"expected a Cohort or a clinical DataFrame, got {type(X).__name__}")
    return Cohort(X, as_polarmaps(maps, X.index), "table")


def candidate_columns(table: pd.DataFrame, config: StudyConfig) -> list[str]:
    """Clinical candidates of the configuration that the table has, then the conventional parameters."""
    clinical = [c for c in config.stats.clinical if c in table.columns]
    return clinical + [c for c in CONVENTIONAL_COLUMNS if c in table.columns]


def analysis_set(X, maps=None, config: StudyConfig | None = None,
                 complete: Sequence[str] | None = None) -> AnalysisSet:
    """Prepare a cohort for fitting or evaluating a model.

    Parameters
    ----------
    X : Cohort or pandas.DataFrame
        A cohort, or a clinical table indexed by patient_id (then ``maps`` are its polar maps).
    config : StudyConfig
        Response definition and exclusion rule (``cohort`` section), clinical candidates (``stats.clinical``).
    complete : sequence of str, optional
        Columns a patient must have; by default every candidate (so that screening, fitting and validation all see
        the same patients). Patients lacking one are excluded with the reason.
    """
    config = config or StudyConfig()
    cohort = as_cohort(X, maps)
    analysed = cohort.apply_exclusions(config.cohort.min_lvesv_ml, config.cohort.response)
    data = analysed.table.copy()
    data[OUTCOME] = analysed.response(config.cohort.response).to_numpy()
    if analysed.maps is not None:
        data = fill_psd_pbw(data, analysed.maps.phase)
    needed = candidate_columns(data, config) if complete is None else list(complete)
    absent = [c for c in needed if c not in data.columns]
    if absent:
        raise ModelError(f"{cohort.source}: the table has no column {absent[0]}"
                         + (" and there are no phase maps to measure it on" if absent[0] in CONVENTIONAL_COLUMNS else ""))
    excluded = list(analysed.excluded)
    incomplete = data[needed].isna()
    for pid in data.index[incomplete.any(axis=1)]:
        missing = list(incomplete.columns[incomplete.loc[pid]])
        excluded.append(Exclusion(pid, f"missing {', '.join(missing)} (complete cases of the candidate variables)"))
    keep = ~incomplete.any(axis=1).to_numpy()
    data = data[keep]
    labels = data[OUTCOME].to_numpy()
    if len(np.unique(labels)) < 2:
        raise ModelError(f"{cohort.source}: after exclusions {len(data)} patients remain and all have the same response;"
                         " nothing to compare")
    kept_maps = None if analysed.maps is None else analysed.maps.subset(data.index)
    return AnalysisSet(data, kept_maps, excluded, cohort.source)
