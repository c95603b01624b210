"""Gated SPECT short-axis studies: one :class:`GatedSpect` object from npz, NIfTI or DICOM NM.

Array convention (docs/data-format.md): ``counts[gate, slice, row, col]``; slices apex -> base, rows anterior ->
inferior, columns septal -> lateral; gate g covers [g/T, (g+1)/T) of the R-R interval. Patient names and DICOM
identifiers are never read into the object: a study's id is its file or folder stem.
"""

from __future__ import annotations

import datetime
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import SpectError

MIN_GATES = 8
NM_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.20"
TIME_SLOT_VECTOR = 0x00540070
SLICE_VECTOR = 0x00540080


@dataclass
class GatedSpect:
    """A gated short-axis SPECT study.

    Attributes
    ----------
    counts : numpy.ndarray, shape (T, Z, Y, X), float32
    spacing_mm : tuple of float
        (dz, dy, dx) voxel size.
    study_id : str
        Pseudonymous id (file or folder stem).
    """

    counts: np.ndarray
    spacing_mm: tuple[float, float, float]
    study_id: str = "study"

    def __post_init__(self) -> None:
        self.counts = validate_counts(self.counts, self.study_id)
        spacing = tuple(float(s) for s in np.asarray(self.spacing_mm, dtype=float).ravel())
        if len(spacing) != 3 or not all(np.isfinite(spacing)) or min(spacing) <= 0:
            raise SpectError(f"{self.study_id}: spacing_mm must be three positive numbers, got {self.spacing_mm}")
        self.spacing_mm = spacing

    @property
    def gates(self) -> int:
        """Number of gates (time bins of the R-R interval)."""
        return int(self.counts.shape[0])

    def summed(self) -> np.ndarray:
        """Ungated (Z, Y, X) image: the sum over gates."""
        return self.counts.sum(axis=0)


def validate_counts(counts, study_id: str) -> np.ndarray:
    """Check a gated count array: 4-D, at least 8 gates, finite, non-negative, not empty."""
    counts = np.asarray(counts)
    if counts.ndim == 3:
        raise SpectError(f"{study_id}: counts is a 3-D volume without gates; expected (gate, slice, row, col)")
    if counts.ndim != 4:
        raise SpectError(f"{study_id}: counts has {counts.ndim} dimensions; expected 4 (gate, slice, row, col)")
    if counts.shape[0] < MIN_GATES:
        raise SpectError(f"{study_id}: {counts.shape[0]} gates; phase analysis needs at least {MIN_GATES}")
    if min(counts.shape[1:]) < 4:
        raise SpectError(f"{study_id}: volume {counts.shape[1:]} is too small for an LV")
    counts = counts.astype(np.float32, copy=False)
    if not np.all(np.isfinite(counts)):
        raise SpectError(f"{study_id}: counts contain NaN or infinite values")
    if counts.min() < 0:
        raise SpectError(f"{study_id}: counts contain negative values (min {counts.min():g})")
    if counts.max() <= 0:
        raise SpectError(f"{study_id}: empty field of view (all counts are zero)")
    return counts


def read_npz(path: Path) -> GatedSpect:
    """Read ``counts`` (T, Z, Y, X) and ``spacing_mm`` (dz, dy, dx) from an npz file."""
    try:
        with np.load(path, allow_pickle=False) as z:
            if "counts" not in z.files:
                raise SpectError(f"{path}: missing array counts")
            counts = z["counts"]
            spacing = z["spacing_mm"] if "spacing_mm" in z.files else None
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise SpectError(f"{path}: not a readable npz file ({exc})") from None
    if spacing is None:
        raise SpectError(f"{path}: missing array spacing_mm")
    return GatedSpect(counts, tuple(spacing), study_stem(path))


def read_nifti(path: Path) -> GatedSpect:
    """Read a 4-D NIfTI (x = col, y = row, z = slice, t = gate) with spacing from the header."""
    import nibabel as nib

    try:
        img = nib.load(str(path))
        data = np.asarray(img.dataobj)
        zooms = img.header.get_zooms()
    except Exception as exc:  # nibabel raises many types for corrupt files
        raise SpectError(f"{path}: not a readable NIfTI file ({type(exc).__name__}: {exc})") from None
    if data.ndim == 3:
        raise SpectError(f"{path}: counts is a 3-D volume without gates; expected 4-D (x, y, z, t)")
    if data.ndim != 4:
        raise SpectError(f"{path}: NIfTI has {data.ndim} dimensions; expected 4 (x, y, z, t)")
    counts = np.transpose(data, (3, 2, 1, 0))
    return GatedSpect(counts, (float(zooms[2]), float(zooms[1]), float(zooms[0])), study_stem(path))


def _dicom_frames(ds, path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pixel frames with their (time slot, slice) indices, following the Frame Increment Pointer."""
    image_type = [str(v).upper() for v in ds.get("ImageType", [])]
    if not any("GATED" in v for v in image_type):
        shown = "/".join(image_type) or "(missing)"
        raise SpectError(f"{path}: Image Type {shown} is not gated (needs GATED)")
    if "PixelData" not in ds:
        raise SpectError(f"{path}: no Pixel Data")
    try:
        pixels = ds.pixel_array
    except Exception as exc:  # pydicom raises several types for truncated pixel data
        raise SpectError(f"{path}: pixel data cannot be decoded ({type(exc).__name__}: {exc})") from None
    frames = int(ds.get("NumberOfFrames", 1))
    pixels = pixels.reshape(frames, *pixels.shape[-2:])
    pointers = ds.get("FrameIncrementPointer")
    pointers = [] if pointers is None else ([pointers] if not isinstance(pointers, (list, tuple)) and
                                            not hasattr(pointers, "__len__") else list(pointers))
    pointers = [int(p) for p in pointers]
    vectors = {}
    for tag, name in ((TIME_SLOT_VECTOR, "Time Slot Vector (0054,0070)"), (SLICE_VECTOR, "Slice Vector (0054,0080)")):
        if tag in pointers:
            if tag not in ds:
                raise SpectError(f"{path}: Frame Increment Pointer names {name} but the element is missing")
            vec = np.asarray(ds[tag].value, dtype=int).ravel()
            if len(vec) != frames:
                raise SpectError(f"{path}: {name} has {len(vec)} entries for {frames} frames")
            vectors[tag] = vec
    if TIME_SLOT_VECTOR not in vectors:
        raise SpectError(f"{path}: Frame Increment Pointer does not include Time Slot Vector (0054,0070)")
    slices = vectors.get(SLICE_VECTOR, np.ones(frames, dtype=int))
    return pixels, vectors[TIME_SLOT_VECTOR], slices


def read_nm_dataset(path: Path):
    """A DICOM dataset that must be nuclear medicine (Modality NM); one clear error otherwise."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        ds = pydicom.dcmread(path)
    except (InvalidDicomError, OSError, EOFError) as exc:
        raise SpectError(f"{path}: not a readable DICOM file ({exc})") from None
    if str(ds.get("Modality", "")).upper() != "NM":
        raise SpectError(f"{path}: Modality {ds.get('Modality', '(missing)')} is not NM")
    return ds


def read_dicom(path: Path) -> GatedSpect:
    """Read DICOM NM gated tomography (``RECON GATED TOMO``): one multi-frame file or a folder of files.

    Frames are placed by their Time Slot Vector and Slice Vector entries as named by the Frame Increment Pointer.
    Only pixel data and geometry are read; no identifying attribute is kept.
    """
    files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
    if not files:
        raise SpectError(f"{path}: folder holds no DICOM files")
    frames, slots, slices, spacing = [], [], [], None
    for f in files:
        ds = read_nm_dataset(f)
        pixels, t, s = _dicom_frames(ds, f)
        scale = float(ds.get("RescaleSlope", 1) or 1)
        frames.append(pixels.astype(np.float32) * scale)
        slots.append(t)
        slices.append(s)
        if spacing is None:
            ps = ds.get("PixelSpacing")
            if ps is None:
                raise SpectError(f"{f}: missing Pixel Spacing (0028,0030)")
            dz = ds.get("SpacingBetweenSlices", ds.get("SliceThickness"))
            if dz is None:
                raise SpectError(f"{f}: missing Spacing Between Slices (0018,0088) and Slice Thickness (0018,0050)")
            spacing = (abs(float(dz)), float(ps[0]), float(ps[1]))
    pixels = np.concatenate(frames)
    t = np.concatenate(slots)
    s = np.concatenate(slices)
    n_t, n_s = int(t.max()), int(s.max())
    if t.min() < 1 or s.min() < 1:
        raise SpectError(f"{path}: Time Slot / Slice Vector entries must start at 1")
    counts = np.zeros((n_t, n_s, *pixels.shape[1:]), dtype=np.float32)
    filled = np.zeros((n_t, n_s), dtype=bool)
    for frame, ti, si in zip(pixels, t, s):
        counts[ti - 1, si - 1] = frame
        filled[ti - 1, si - 1] = True
    if not filled.all():
        ti, si = np.argwhere(~filled)[0] + 1
        raise SpectError(f"{path}: frame for time slot {ti}, slice {si} is missing (truncated acquisition?)")
    return GatedSpect(counts, spacing, study_stem(path))


def study_stem(path: Path) -> str:
    """Pseudonymous study id: the file name without its extensions, or the folder name."""
    name = Path(path).name
    for suffix in (".nii.gz", ".nii", ".npz", ".dcm", ".dicom"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def read_spect(path: str | Path) -> GatedSpect:
    """Read a gated short-axis study from npz, NIfTI (.nii, .nii.gz) or DICOM (file or folder)."""
    path = Path(path)
    if not path.exists():
        raise SpectError(f"{path}: file not found")
    name = path.name.lower()
    if path.is_dir():
        return read_dicom(path)
    if name.endswith(".npz"):
        return read_npz(path)
    if name.endswith(".nii") or name.endswith(".nii.gz"):
        return read_nifti(path)
    return read_dicom(path)


def write_spect(study: GatedSpect, path: str | Path) -> None:
    """Write a study as npz, NIfTI or DICOM NM multi-frame (chosen by the file extension)."""
    path = Path(path)
    name = path.name.lower()
    if name.endswith(".npz"):
        with open(path, "wb") as fh:
            np.savez_compressed(fh, counts=study.counts.astype(np.float32), spacing_mm=np.asarray(study.spacing_mm))
    elif name.endswith(".nii") or name.endswith(".nii.gz"):
        import nibabel as nib

        dz, dy, dx = study.spacing_mm
        img = nib.Nifti1Image(np.transpose(study.counts, (3, 2, 1, 0)).astype(np.float32), np.diag([dx, dy, dz, 1.0]))
        img.header.set_zooms((dx, dy, dz, 1.0))
        nib.save(img, str(path))
    elif name.endswith(".dcm"):
        _write_dicom(study, path)
    else:
        raise SpectError(f"{path}: unknown study format (use .npz, .nii, .nii.gz or .dcm)")


def _write_dicom(study: GatedSpect, path: Path) -> None:
    """Write an NM ``RECON GATED TOMO`` multi-frame file, frames ordered gate-major (time slot, then slice)."""
    from pydicom.dataset import FileMetaDataset
    from pydicom.dataset import FileDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    T, Z, Y, X = study.counts.shape
    scale = float(study.counts.max()) / 65000.0 if study.counts.max() > 65000 else 1.0
    pixels = np.round(study.counts / scale).astype(np.uint16).reshape(T * Z, Y, X)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = NM_IMAGE_STORAGE
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = NM_IMAGE_STORAGE
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.Modality = "NM"
    ds.PatientName = "Anonymous"
    ds.PatientID = study.study_id
    ds.ContentDate = datetime.date.today().strftime("%Y%m%d")
    ds.ImageType = ["DERIVED", "PRIMARY", "RECON GATED TOMO", "EMISSION"]
    ds.NumberOfFrames = T * Z
    ds.FrameIncrementPointer = [TIME_SLOT_VECTOR, SLICE_VECTOR]
    ds.TimeSlotVector = [int(t) + 1 for t in np.repeat(np.arange(T), Z)]
    ds.SliceVector = [int(s) + 1 for s in np.tile(np.arange(Z), T)]
    ds.NumberOfTimeSlots = T
    ds.NumberOfSlices = Z
    ds.Rows, ds.Columns = Y, X
    ds.PixelSpacing = [f"{study.spacing_mm[1]:.6g}", f"{study.spacing_mm[2]:.6g}"]
    ds.SpacingBetweenSlices = f"{study.spacing_mm[0]:.6g}"
    ds.SliceThickness = f"{study.spacing_mm[0]:.6g}"
    ds.RescaleSlope = f"{scale:.10g}"
    ds.RescaleIntercept = "0"
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    ds.PixelData = pixels.tobytes()
    ds.save_as(str(path), enforce_file_format=True)
