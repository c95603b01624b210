"""Cohort polar maps: one npz (``patient_id``, ``phase``, optional ``perfusion``, ``thickening``) or a folder of
8-bit grayscale 64x64 PNG exports (``<id>_systolicPhase.png``, ``<id>_perfusion.png``, ``<id>_wallthk.png``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import CohortError
from ..polar import GRID, disc_mask, mask_outside
from ._npz import NpzArchive

PNG_SUFFIXES = {"phase": "_systolicPhase", "perfusion": "_perfusion", "thickening": "_wallthk"}
# Full scale of each PNG kind: gray level g in 0..255 stands for g / 256 * scale.
PNG_SCALE = {"phase": 360.0, "perfusion": 100.0, "thickening": 100.0}
# Physical range of each kind (NaN marks a missing pixel; infinities are refused). Phase is degrees of the R-R
# interval in [0, 360); perfusion is % of the LV maximum; systolic wall thickening is % of the end-diastolic
# thickness, which cannot fall below -100 % (no wall) but has no upper bound in count-based estimates.
VALUE_RANGES = {"phase": (0.0, 360.0, "degrees in [0, 360)"), "perfusion": (0.0, 100.0, "% of the LV maximum, 0-100"),
                "thickening": (-100.0, np.inf, "% of end-diastolic thickness, at least -100")}
# Size limits checked from the npz headers before anything is decompressed: 1 GiB of maps per kind holds some
# 30 000 patients in float64; patient ids are short strings.
MAX_MAPS_BYTES = 2**30
MAX_IDS_BYTES = 2**28


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
        unknown = [p for p in ids if p not in position]
        if unknown:
            raise CohortError(f"polar maps: no maps for patient_id {', '.join(map(str, unknown[:8]))}")
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
    """Check shape, dtype, NaN coverage and range of one kind of maps; return them as float with NaN outside the disc.

    Raises
    ------
    CohortError
        One line naming ``source``, the kind and, for a value out of range, the patient.
    """
    maps = np.asarray(maps)
    if maps.ndim != 3 or maps.shape[1:] != (GRID, GRID):
        raise CohortError(f"{source}: {kind} has shape {maps.shape}, expected (n, {GRID}, {GRID})")
    if len(maps) != len(ids):
        raise CohortError(f"{source}: {kind} holds {len(maps)} maps for {len(ids)} patient_id values")
    _check_map_dtype(source, kind, maps.dtype)
    maps = mask_outside(maps)
    inside = maps[:, disc_mask()]
    empty = np.all(np.isnan(inside), axis=1)
    if empty.any():
        raise CohortError(f"{source}: {kind} map of patient {ids[np.argmax(empty)]} is all NaN inside the disc")
    low, high, meaning = VALUE_RANGES[kind]
    with np.errstate(invalid="ignore"):
        bad = np.isinf(inside) | (inside < low) | (inside > high) | ((inside == high) & (kind == "phase"))
    if bad.any():
        i = int(np.argmax(bad.any(axis=1)))
        value = inside[i][bad[i]][0]
        raise CohortError(f"{source}: {kind} map of patient {ids[i]} has value {value:g} outside the range of {kind} "
                          f"maps ({meaning})")
    return maps


def _check_map_dtype(source, kind: str, dtype: np.dtype) -> None:
    if dtype.kind == "c":
        raise CohortError(f"{source}: {kind} maps are complex-valued ({dtype}); polar maps hold real numbers")
    if dtype.kind not in "fiu":
        raise CohortError(f"{source}: {kind} is not numeric (dtype {dtype})")


def _patient_ids(path: Path, archive: NpzArchive) -> np.ndarray:
    """``patient_id`` as a 1-D array of stripped, non-empty, unique strings (checked from the header first)."""
    shape, dtype = archive.header("patient_id")
    how = "write it as text: np.asarray(ids, dtype=str)"
    if len(shape) != 1:
        what = "a single value (0-d array)" if not shape else f"{len(shape)}-dimensional {shape}"
        raise CohortError(f"{path}: patient_id is {what}; it must be one-dimensional, one id per patient; {how}")
    if dtype.kind not in "USiu":
        raise CohortError(f"{path}: patient_id has dtype {dtype}; ids are text or whole numbers; {how}")
    if shape[0] == 0:
        raise CohortError(f"{path}: patient_id is empty (no patients)")
    raw = archive.read("patient_id")
    if dtype.kind == "S":
        try:
            raw = np.char.decode(raw, "utf-8")
        except UnicodeDecodeError:
            raise CohortError(f"{path}: patient_id holds bytes that are not UTF-8 text; {how}") from None
    ids = np.array([str(p).strip() for p in raw], dtype=object)
    empty = [i for i, p in enumerate(ids) if not p]
    if empty:
        raise CohortError(f"{path}: patient_id number {empty[0] + 1} is empty")
    _check_unique(path, ids)
    return ids


def _read_npz(path: Path) -> PolarMaps:
    with NpzArchive(path, CohortError, MAX_MAPS_BYTES) as archive:
        if "phase" not in archive:  # checked before patient_id: a map set without phase maps is not one at all
            found = ", ".join(archive.names) or "no arrays"
            raise CohortError(f"{path}: missing array phase (found {found})")
        archive.max_bytes = MAX_IDS_BYTES
        ids = _patient_ids(path, archive)
        archive.max_bytes = MAX_MAPS_BYTES
        maps = {}
        for kind in PNG_SUFFIXES:
            if kind not in archive:
                continue
            shape, dtype = archive.header(kind)
            if shape != (len(ids), GRID, GRID):
                raise CohortError(f"{path}: {kind} has shape {shape}, expected ({len(ids)}, {GRID}, {GRID}): one "
                                  f"{GRID}x{GRID} map per patient_id")
            _check_map_dtype(path, kind, dtype)
            maps[kind] = validate_maps(str(path), ids, kind, archive.read(kind))
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
    """Read one exported 8-bit grayscale 64x64 PNG into physical units (NaN outside the disc).

    The header (format, mode, size) is checked before any pixel is decoded, so a file claiming a huge image costs
    nothing.
    """
    from PIL import Image

    if not path.is_file():
        raise CohortError(f"{path}: not a regular file")
    try:
        with Image.open(path, formats=["PNG"]) as img:
            mode, size = img.mode, img.size
            if mode != "L" or size != (GRID, GRID):
                raise CohortError(f"{path}: expected an 8-bit grayscale {GRID}x{GRID} PNG, found mode {mode} size "
                                  f"{size[0]}x{size[1]}")
            pixels = np.asarray(img)
    except CohortError:
        raise
    except Exception as exc:  # Pillow raises many types (and DecompressionBombError) for hostile files
        raise CohortError(f"{path}: not a readable PNG ({type(exc).__name__}: {exc})") from None
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
        Missing file or array, wrong shape or dtype, all-NaN map, a value outside its kind's range
        (:data:`VALUE_RANGES`), ids that are not 1-D text, an array above the size limits, a PNG that is not 8-bit
        grayscale 64x64 -- one line naming the file, the array and the patient.
    """
    path = Path(path)
    if path.is_dir():
        return _read_png_folder(path)
    if not path.exists():
        raise CohortError(f"{path}: file not found")
    if not path.is_file():
        raise CohortError(f"{path}: not a regular file")
    return _read_npz(path)
