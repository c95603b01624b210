"""Shared input handling and persistence helpers of the feature transformers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ModelError
from ..polar import GRID, disc_mask

N_PIXELS = GRID * GRID


def as_rows(maps, what: str = "maps") -> tuple[np.ndarray, pd.Index | None]:
    """(n, 64, 64) maps, (n, 4096) rows or a DataFrame of 4096 columns -> (n, 4096) float rows and the index."""
    index = maps.index if isinstance(maps, pd.DataFrame) else None
    arr = np.asarray(maps, dtype=float)
    if arr.ndim == 3 and arr.shape[1:] == (GRID, GRID):
        arr = arr.reshape(len(arr), N_PIXELS)
    if arr.ndim != 2 or arr.shape[1] != N_PIXELS:
        raise ModelError(f"{what}: shape {np.asarray(maps).shape} is not (n, {GRID}, {GRID}) or (n, {N_PIXELS})")
    inside = arr[:, disc_mask().ravel()]
    empty = np.all(np.isnan(inside), axis=1)
    if empty.any():
        raise ModelError(f"{what}: map {int(np.argmax(empty))} is all NaN inside the disc")
    return arr, index


def disc_values(rows: np.ndarray, fill: np.ndarray) -> np.ndarray:
    """The disc pixels of each row, NaN replaced by ``fill`` (per-pixel training means): never fed as NaN."""
    inside = rows[:, disc_mask().ravel()]
    return np.where(np.isnan(inside), fill[None, :], inside)


def to_maps(disc_rows: np.ndarray) -> np.ndarray:
    """Disc-pixel rows back to (n, 64, 64) maps, NaN outside the disc."""
    out = np.full((len(disc_rows), N_PIXELS), np.nan)
    out[:, disc_mask().ravel()] = disc_rows
    return out.reshape(len(disc_rows), GRID, GRID)


def frame(values: np.ndarray, names: list[str], index) -> pd.DataFrame | np.ndarray:
    """Features as a DataFrame (indexed like the input when it had an index, else 0..n-1)."""
    return pd.DataFrame(values, columns=names, index=index if index is not None else pd.RangeIndex(len(values)))


def write_json(path: Path, payload: dict) -> None:
    """Write JSON with stable formatting."""
    path.write_text(json.dumps(payload, indent=2, sort_keys=True))


def read_json(path: Path, what: str) -> dict:
    """Read a JSON file written by lvmd, with a clear error when absent or corrupt."""
    if not path.is_file():
        raise ModelError(f"{path.parent}: not an lvmd model folder (missing {path.name})")
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelError(f"{path}: corrupt {what} ({exc})") from None
