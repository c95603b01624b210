"""Cohort polar maps: one npz (``patient_id``, ``phase``, optional ``perfusion``, ``thickening``) or a folder of
8-bit grayscale 64x64 PNG exports (``<id>_systolicPhase.png``, ``<id>_perfusion.png``, ``<id>_wallthk.png``)."""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import CohortError
from ..polar import GRID, disc_mask, mask_outside

PNG_SUFFIXES = {"phase": "_systolicPhase", "perfusion": "_perfusion", "thickening": "_wallthk"}
# Full scale of each PNG kind: gray level g in 0..255 stands for g / 256 * scale.
PNG_SCALE = {"phase": 360.0, "perfusion": 100.0, "thickening": 100.0}


@dataclass
class PolarMaps:
    """Per-patient 64x64 bullseye maps; NaN outside the disc.

    Attributes
    ----------
    patient_id : numpy.ndarray of str, shape (n,)
    phase : numpy.ndarray, shape (n, 64, 64), degrees in [0, 360)
    perfusion, thickening : numpy.ndarray or None, shape (n, 64, 64), percent
    """

    patient_id: np.ndarray
    phase: np.ndarray
    perfusion: np.ndarray | None = None
    thickening: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.patient_id)

    def kinds(self) -> list[str]:
        """Names of the map kinds present."""
        return [k for k in ("phase", "perfusion", "thickening") if getattr(self, k) is not None]

    def subset(self, ids) -> "PolarMaps":
        """Maps of the given patients, in that order."""
        position = {pid: i for i, pid in enumerate(self.patient_id)}
        idx = np.array([position[p] for p in ids], dtype=int)
        pick = lambda a: None if a is None else a[idx]  # noqa: E731
        return PolarMaps(self.patient_id[idx], self.phase[idx], pick(self.perfusion), pick(self.thickening))

    def save(self, path: str | Path) -> None:
        """Write the maps as an npz in the documented format."""
        arrays = {"patient_id": np.asarray(self.patient_id, dtype=str), "phase": self.phase.astype(np.float32)}
        for kind in ("perfusion", "thickening"):
            if getattr(self, kind) is not None:
                arrays[kind] = getattr(self, kind).astype(np.float32)
        with open(path, "wb") as fh:
            np.savez_compressed(fh, **arrays)


def validate_maps(source: str, ids: np.ndarray, kind: str, maps: np.ndarray) -> np.ndarray:
    """Check shape, NaN coverage and range of one kind of maps; return them as float with NaN outside the disc."""
    maps = np.asarray(maps)
    if maps.ndim != 3 or maps.shape[1:] != (GRID, GRID):
        raise CohortError(f"{source}: {kind} has shape {maps.shape}, expected (n, {GRID}, {GRID})")
    if len(maps) != len(ids):
        raise CohortError(f"{source}: {kind} holds {len(maps)} maps for {len(ids)} patient_id values")
    if not np.issubdtype(maps.dtype, np.number):
        raise CohortError(f"{source}: {kind} is not numeric (dtype {maps.dtype})")
    maps = mask_outside(maps)
    inside = maps[:, disc_mask()]
    empty = np.all(np.isnan(inside), axis=1)
    if empty.any():
        raise CohortError(f"{source}: {kind} map of patient {ids[np.argmax(empty)]} is all NaN inside the disc")
    if kind == "phase":
        bad = np.any((inside < 0) | (inside >= 360), axis=1)
        if bad.any():
            i = int(np.argmax(bad))
            value = inside[i][(inside[i] < 0) | (inside[i] >= 360)][0]
            raise CohortError(f"{source}: phase map of patient {ids[i]} has value {value:g} outside [0, 360) degrees")
    return maps


def _read_npz(path: Path) -> PolarMaps:
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise CohortError(f"{path}: not a readable npz file ({exc})") from None
    for key in ("patient_id", "phase"):
        if key not in data:
            raise CohortError(f"{path}: missing array {key}")
    ids = np.array([str(p).strip() for p in data["patient_id"]], dtype=object)
    if ids.ndim != 1:
        raise CohortError(f"{path}: patient_id must be one-dimensional")
    _check_unique(path, ids)
    maps = {kind: validate_maps(str(path), ids, kind, data[kind]) for kind in PNG_SUFFIXES if kind in data}
    return PolarMaps(ids, maps["phase"], maps.get("perfusion"), maps.get("thickening"))


def _check_unique(source, ids: np.ndarray) -> None:
    seen, dup = set(), []
    for p in ids:
        if p in seen:
            dup.append(p)
        seen.add(p)
    if dup:
        raise CohortError(f"{source}: duplicate patient_id {', '.join(dup[:5])}")


def read_png_map(path: Path, kind: str) -> np.ndarray:
    """Read one exported 8-bit grayscale 64x64 PNG into physical units (NaN outside the disc)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            mode, size = img.mode, img.size
            pixels = np.asarray(img)
    except (OSError, UnidentifiedImageError) as exc:
        raise CohortError(f"{path}: not a readable PNG ({exc})") from None
    if mode != "L" or size != (GRID, GRID):
        raise CohortError(f"{path}: expected an 8-bit grayscale {GRID}x{GRID} PNG, found mode {mode} size {size[0]}x{size[1]}")
    values = pixels.astype(float) * (PNG_SCALE[kind] / 256.0)
    return mask_outside(values)


def write_png_map(values: np.ndarray, path: Path, kind: str) -> None:
    """Write one map as an 8-bit grayscale PNG in the export convention (0 outside the disc)."""
    from PIL import Image

    gray = np.nan_to_num(np.asarray(values, dtype=float) / PNG_SCALE[kind] * 256.0, nan=0.0)
    Image.fromarray(np.clip(np.floor(gray), 0, 255).astype(np.uint8), mode="L").save(path)


def _read_png_folder(folder: Path) -> PolarMaps:
    suffix = PNG_SUFFIXES["phase"] + ".png"
    files = sorted(folder.glob(f"*{suffix}"))
    if not files:
        raise CohortError(f"{folder}: no <id>{suffix} files")
    ids = np.array([f.name[: -len(suffix)] for f in files], dtype=object)
    maps = {"phase": np.stack([read_png_map(f, "phase") for f in files])}
    for kind in ("perfusion", "thickening"):
        paths = [folder / f"{pid}{PNG_SUFFIXES[kind]}.png" for pid in ids]
        present = [p.exists() for p in paths]
        if any(present) and not all(present):
            raise CohortError(f"{paths[present.index(False)]}: missing ({kind} maps exist for other patients)")
        if all(present):
            maps[kind] = np.stack([read_png_map(p, kind) for p in paths])
    for kind, arr in maps.items():
        validate_maps(str(folder), ids, kind, arr)
    return PolarMaps(ids, maps["phase"], maps.get("perfusion"), maps.get("thickening"))


def read_polarmaps(path: str | Path) -> PolarMaps:
    """Read cohort polar maps from an npz file or a folder of PNG exports.

    Raises
    ------
    CohortError
        Missing file or array, wrong shape, all-NaN map, phase outside [0, 360), a PNG that is not 8-bit grayscale
        64x64 -- one line naming the file and the patient.
    """
    path = Path(path)
    if path.is_dir():
        return _read_png_folder(path)
    if not path.is_file():
        raise CohortError(f"{path}: file not found")
    return _read_npz(path)
