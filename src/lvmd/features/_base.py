"""Shared input handling and persistence helpers of the feature transformers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ModelError
from ..jsonfile import read_json_object
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


FLOAT_DTYPES = ("F16", "BF16", "F32", "F64")


def read_json(path: Path, what: str) -> dict:
    """Read a JSON object written by lvmd, with a clear error when absent, oversized, corrupt or not an object."""
    return read_json_object(path, what, f"not an lvmd model folder (missing {path.name})")


def read_safetensors(path: Path, expected: dict[str, tuple[int, ...]], framework: str) -> dict:
    """Tensors of a safetensors file whose names, shapes and float dtypes are checked from the header first.

    Nothing is allocated for a tensor before its declared shape is compared with ``expected``, so a file claiming
    huge layers is refused at the cost of reading its header; every tensor must then be finite.
    """
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework=framework) as handle:
            names = set(handle.keys())
            for name, shape in expected.items():
                if name not in names:
                    raise ModelError(f"{path}: tensor {name} is missing")
                found = tuple(handle.get_slice(name).get_shape())
                if found != tuple(shape):
                    raise ModelError(f"{path}: tensor {name} has shape {found}, expected {tuple(shape)}")
                if handle.get_slice(name).get_dtype() not in FLOAT_DTYPES:
                    raise ModelError(f"{path}: tensor {name} has dtype {handle.get_slice(name).get_dtype()}, not float")
            unexpected = sorted(names - set(expected))
            if unexpected:
                raise ModelError(f"{path}: unexpected tensor {unexpected[0]}")
            tensors = {name: handle.get_tensor(name) for name in expected}
    except (SafetensorError, OSError, RuntimeError, ValueError) as exc:
        raise ModelError(f"{path}: not a readable safetensors file ({exc})") from None
    for name, value in tensors.items():
        finite = bool(value.isfinite().all()) if framework == "pt" else bool(np.isfinite(value).all())
        if not finite:
            raise ModelError(f"{path}: tensor {name} holds NaN or infinite values")
    return tensors


def constructor_params(cls, meta: dict, path: Path) -> dict:
    """The saved constructor parameters of ``cls``: refuses a missing config, a non-object or unknown names."""
    config = meta.get("config")
    if not isinstance(config, dict):
        raise ModelError(f"{path}: config is missing or not an object")
    unknown = sorted(set(config) - set(cls().get_params()))
    if unknown:
        raise ModelError(f"{path}: config has unknown parameter {unknown[0]!r}")
    return config
