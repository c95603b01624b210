"""Gated SPECT short-axis studies: one :class:`GatedSpect` object from npz, NIfTI or DICOM NM.

Array convention (docs/data-format.md): ``counts[gate, slice, row, col]``; slices apex -> base, rows anterior ->
inferior, columns septal -> lateral; gate g covers [g/T, (g+1)/T) of the R-R interval. Patient names and DICOM
identifiers are never read into the object: a study's id is its file or folder stem.
"""

from __future__ import annotations

import datetime
import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import SpectError
from ._npz import NpzArchive

MIN_GATES = 8
NM_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.20"
TIME_SLOT_VECTOR = 0x00540070
SLICE_VECTOR = 0x00540080
# One study's counts may take at most this much memory (float32 after reading, or the file itself); a gated study
# is typically 16 gates x 64^3 voxels, 16 MiB. Checked from headers before anything large is allocated.
MAX_STUDY_BYTES = 2**31


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
    lv_axis_hint : (row, col) or None
        Where an earlier stage put the LV's long axis (the scanner path centres its short-axis grid on the LV it
        found): phase analysis falls back to it, with a warning, when its own short-axis search finds no LV.
    source_clipping : (bool, dict) or None
        Clipping evidence (:func:`lvmd.phase.qc.clipping`) measured on the file this study was resampled from (the
        scanner path's transaxial volume): interpolation into the short axis smooths away an integer ceiling.
    image_orientation : tuple of 6 float or None
        A DICOM file's Image Orientation (Patient) (row and column direction cosines), when it gives one.
    """

    counts: np.ndarray
    spacing_mm: tuple[float, float, float]
    study_id: str = "study"
    lv_axis_hint: tuple[float, float] | None = None
    source_clipping: tuple[bool, dict] | None = None
    image_orientation: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        self.counts = validate_counts(self.counts, self.study_id)
        spacing = tuple(float(s) for s in np.asarray(self.spacing_mm, dtype=float).ravel())
        if len(spacing) != 3 or not all(np.isfinite(spacing)) or min(spacing) <= 0:
            shown = ", ".join(f"{v:g}" for v in spacing)
            raise SpectError(f"{self.study_id}: spacing_mm must be three positive finite numbers, got ({shown})")
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
    """Read ``counts`` (T, Z, Y, X) and ``spacing_mm`` (dz, dy, dx) from an npz file (sizes checked before reading)."""
    with NpzArchive(path, SpectError, MAX_STUDY_BYTES) as archive:
        shape, dtype = archive.header("counts")
        if len(shape) == 3:
            raise SpectError(f"{path}: counts is a 3-D volume without gates; expected (gate, slice, row, col)")
        if len(shape) != 4:
            raise SpectError(f"{path}: counts has {len(shape)} dimensions {shape}; expected 4 (gate, slice, row, col)")
        _check_real_dtype(path, "counts", dtype)
        spacing_shape, spacing_dtype = archive.header("spacing_mm")
        if spacing_shape != (3,):
            raise SpectError(f"{path}: spacing_mm has shape {spacing_shape}; expected three numbers (dz, dy, dx)")
        _check_real_dtype(path, "spacing_mm", spacing_dtype)
        counts = archive.read("counts")
        spacing = archive.read("spacing_mm")
    return GatedSpect(counts, tuple(spacing), study_stem(path))


def _check_real_dtype(path: Path, name: str, dtype: np.dtype) -> None:
    if dtype.kind == "c":
        raise SpectError(f"{path}: {name} is complex-valued ({dtype}); expected real numbers")
    if dtype.kind not in "fiu":
        raise SpectError(f"{path}: {name} is not numeric (dtype {dtype})")


TRANSAXIAL_DISPLAY = ("L", "P", "I")  # NIfTI (i, j, k) of the transaxial display: columns right -> left, rows
# anterior -> posterior, slices superior -> inferior


def read_nifti(path: Path, transaxial: bool = False) -> GatedSpect:
    """Read a 4-D NIfTI (x = col, y = row, z = slice, t = gate) with spacing from the header.

    The declared shape is checked against :data:`MAX_STUDY_BYTES` before the voxels are read. With ``transaxial``
    the voxels are turned into the transaxial display (:data:`TRANSAXIAL_DISPLAY`) as the header's orientation says
    when it says anything (sform or qform code above 0; converters such as dcm2niix set it): a mirrored or permuted
    volume would otherwise put the septum where the lateral wall is. A header without orientation is taken as
    already in the display.
    """
    img, shape = _open_nifti(path)
    if len(shape) == 3:
        raise SpectError(f"{path}: counts is a 3-D volume without gates; expected 4-D (x, y, z, t)")
    if len(shape) != 4:
        raise SpectError(f"{path}: NIfTI has {len(shape)} dimensions; expected 4 (x, y, z, t)")
    try:
        zooms = tuple(float(z) for z in img.header.get_zooms())
    except Exception as exc:  # nibabel raises many types for corrupt headers
        raise SpectError(f"{path}: not a readable NIfTI file ({type(exc).__name__}: {exc})") from None
    voxels = _nifti_voxels(path, img, shape)
    if transaxial and (int(img.header["sform_code"]) > 0 or int(img.header["qform_code"]) > 0):
        voxels, zooms = _to_transaxial_display(path, img.affine, voxels, zooms)
    counts = np.transpose(voxels, (3, 2, 1, 0))
    return GatedSpect(counts, (zooms[2], zooms[1], zooms[0]), study_stem(path))


def _to_transaxial_display(path: Path, affine: np.ndarray, voxels: np.ndarray, zooms: tuple) -> tuple:
    """(x, y, z, t) voxels and zooms flipped and permuted from the affine's orientation into the transaxial display."""
    from nibabel import orientations

    source = orientations.io_orientation(affine)
    if np.isnan(source).any():
        raise SpectError(f"{path}: the NIfTI orientation (sform/qform) is degenerate; fix the header or clear its "
                         "sform and qform codes to read the volume as stored")
    transform = orientations.ornt_transform(source, orientations.axcodes2ornt(TRANSAXIAL_DISPLAY))
    spatial = orientations.apply_orientation(voxels, transform)
    order = np.argsort(transform[:, 0].astype(int))  # output axis i takes input axis order[i]
    return spatial, tuple(zooms[int(a)] for a in order) + tuple(zooms[3:])


def _open_nifti(path: Path):
    import nibabel as nib

    try:
        img = nib.load(str(path))
        return img, tuple(int(n) for n in img.shape)
    except Exception as exc:  # nibabel raises many types for corrupt files
        raise SpectError(f"{path}: not a readable NIfTI file ({type(exc).__name__}: {exc})") from None


def _nifti_voxels(path: Path, img, shape) -> np.ndarray:
    """The voxels of an opened NIfTI image, after checking its declared size (they may be scaled to float64)."""
    _check_size(path, "the NIfTI image", shape, 8)
    try:
        data = np.asarray(img.dataobj)
    except Exception as exc:  # truncated or corrupt voxel data
        raise SpectError(f"{path}: NIfTI voxel data cannot be read ({type(exc).__name__}: {exc})") from None
    _check_real_dtype(path, "the NIfTI image", data.dtype)
    return data


def read_volume(path: str | Path, name: str) -> np.ndarray:
    """A real-valued array from an npz file (member ``name``) or a NIfTI image, for auxiliary inputs such as an
    attenuation map: its declared size is checked against :data:`MAX_STUDY_BYTES` before anything is read, and no
    other npz member is decompressed."""
    path = Path(path)
    if path.name.lower().endswith(".npz"):
        with NpzArchive(path, SpectError, MAX_STUDY_BYTES) as archive:
            _check_real_dtype(path, name, archive.header(name)[1])
            return archive.read(name)
    img, shape = _open_nifti(path)
    return _nifti_voxels(path, img, shape)


def _check_size(path: Path, what: str, shape, itemsize: int) -> None:
    size = math.prod(int(n) for n in shape) * itemsize
    if size > MAX_STUDY_BYTES:
        raise SpectError(f"{path}: {what} declares {tuple(shape)} ({size / 2**20:.0f} MiB), above the limit of "
                         f"{MAX_STUDY_BYTES / 2**20:.0f} MiB for one study")


def dicom_numbers(ds, keyword: str, label: str, path: Path, kind=float, count: int | None = None) -> list:
    """The numbers of DICOM attribute ``keyword`` (``label`` names it in messages): parsed, finite, ``count`` of them.

    pydicom keeps a malformed DS or IS value as text (with a warning); this turns it into one clear error.
    """
    raw = ds.get(keyword)
    if raw is None or raw == "":
        raise SpectError(f"{path}: missing {label}")
    items = list(raw) if isinstance(raw, (list, tuple)) or type(raw).__name__ == "MultiValue" else [raw]
    try:
        numbers = [float(str(v).strip()) for v in items]
    except ValueError:
        raise SpectError(f"{path}: {label} = {str(raw)[:40]!r} is not a number") from None
    if not all(math.isfinite(v) for v in numbers):
        raise SpectError(f"{path}: {label} = {str(raw)[:40]!r} is not a finite number")
    if kind is int and any(v != round(v) for v in numbers):
        raise SpectError(f"{path}: {label} = {str(raw)[:40]!r} is not a whole number")
    if count is not None and len(numbers) != count:
        raise SpectError(f"{path}: {label} holds {len(numbers)} values; expected {count}")
    return [kind(v) for v in numbers]


def _image_type(ds) -> list[str]:
    value = ds.get("ImageType", [])
    items = [value] if isinstance(value, str) else list(value)
    return [str(v).upper() for v in items]


def _dicom_frames(ds, path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pixel frames with their (time slot, slice) indices, following the Frame Increment Pointer.

    Number of Frames, Rows and Columns are checked against the size limit before the pixel data are decoded, and
    against the decoded pixel data afterwards.
    """
    image_type = _image_type(ds)
    if not any("GATED" in v for v in image_type):
        shown = "/".join(image_type) or "(missing)"
        raise SpectError(f"{path}: Image Type {shown} is not gated (needs GATED)")
    if "PixelData" not in ds:
        raise SpectError(f"{path}: no Pixel Data")
    frames = dicom_numbers(ds, "NumberOfFrames", "Number of Frames (0028,0008)", path, int, 1)[0] \
        if "NumberOfFrames" in ds else 1
    rows = dicom_numbers(ds, "Rows", "Rows (0028,0010)", path, int, 1)[0]
    cols = dicom_numbers(ds, "Columns", "Columns (0028,0011)", path, int, 1)[0]
    if min(frames, rows, cols) < 1:
        raise SpectError(f"{path}: Number of Frames, Rows and Columns must be positive ({frames}, {rows}, {cols})")
    _check_size(path, "the pixel data", (frames, rows, cols), 8)
    try:
        pixels = ds.pixel_array
    except Exception as exc:  # pydicom raises several types for truncated pixel data
        raise SpectError(f"{path}: pixel data cannot be decoded ({type(exc).__name__}: {exc})") from None
    if pixels.size != frames * rows * cols:
        raise SpectError(f"{path}: Number of Frames (0028,0008) = {frames} of {rows}x{cols} disagrees with the pixel "
                         f"data ({pixels.size} pixels)")
    pixels = pixels.reshape(frames, rows, cols)
    pointers = ds.get("FrameIncrementPointer")
    pointers = [] if pointers is None else (list(pointers) if isinstance(pointers, (list, tuple)) or
                                            type(pointers).__name__ == "MultiValue" else [pointers])
    try:
        pointers = [int(p) for p in pointers]
    except (TypeError, ValueError):
        raise SpectError(f"{path}: Frame Increment Pointer (0028,0009) is not a list of tags") from None
    vectors = {}
    for tag, name in ((TIME_SLOT_VECTOR, "Time Slot Vector (0054,0070)"), (SLICE_VECTOR, "Slice Vector (0054,0080)")):
        if tag in pointers:
            if tag not in ds:
                raise SpectError(f"{path}: Frame Increment Pointer names {name} but the element is missing")
            vec = np.asarray(dicom_numbers(ds, ds[tag].keyword, name, path, int), dtype=np.int64)
            if len(vec) != frames:
                raise SpectError(f"{path}: {name} has {len(vec)} entries for {frames} frames")
            if vec.min() < 1:
                raise SpectError(f"{path}: {name} entries must start at 1 (found {vec.min()})")
            vectors[tag] = vec
    if TIME_SLOT_VECTOR not in vectors:
        raise SpectError(f"{path}: Frame Increment Pointer does not include Time Slot Vector (0054,0070)")
    slices = vectors.get(SLICE_VECTOR, np.ones(frames, dtype=np.int64))
    return pixels, vectors[TIME_SLOT_VECTOR], slices


def read_nm_dataset(path: Path):
    """A DICOM dataset that must be nuclear medicine (Modality NM); one clear error otherwise."""
    import pydicom

    path = Path(path)
    if not path.is_file():
        raise SpectError(f"{path}: not a regular file")
    if path.stat().st_size > MAX_STUDY_BYTES:
        raise SpectError(f"{path}: {path.stat().st_size / 2**20:.0f} MiB is above the limit of "
                         f"{MAX_STUDY_BYTES / 2**20:.0f} MiB for one study")
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=UserWarning, module="pydicom")  # values are checked where used
            ds = pydicom.dcmread(path)
            modality = str(ds.get("Modality", "")).upper()
    except Exception as exc:  # pydicom raises many types (InvalidDicomError, struct.error, ...) on hostile files
        raise SpectError(f"{path}: not a readable DICOM file ({type(exc).__name__}: {exc})") from None
    if modality != "NM":
        raise SpectError(f"{path}: Modality {str(ds.get('Modality', '(missing)'))[:20]} is not NM")
    return ds


def _dicom_scale(ds, path: Path) -> tuple[float, float]:
    """Rescale Slope and Intercept (counts = stored value x slope + intercept); slope must be positive."""
    slope = dicom_numbers(ds, "RescaleSlope", "Rescale Slope (0028,1053)", path, float, 1)[0] if "RescaleSlope" in ds else 1.0
    intercept = (dicom_numbers(ds, "RescaleIntercept", "Rescale Intercept (0028,1052)", path, float, 1)[0]
                 if "RescaleIntercept" in ds else 0.0)
    if slope <= 0:
        raise SpectError(f"{path}: Rescale Slope (0028,1053) = {slope:g} must be positive")
    return slope, intercept


def _dicom_spacing(ds, path: Path) -> tuple[float, float, float]:
    """(dz, dy, dx) in mm from Spacing Between Slices (else Slice Thickness) and Pixel Spacing, all positive."""
    dy, dx = dicom_numbers(ds, "PixelSpacing", "Pixel Spacing (0028,0030)", path, float, 2)
    if "SpacingBetweenSlices" in ds:
        dz = dicom_numbers(ds, "SpacingBetweenSlices", "Spacing Between Slices (0018,0088)", path, float, 1)[0]
    elif "SliceThickness" in ds:
        dz = dicom_numbers(ds, "SliceThickness", "Slice Thickness (0018,0050)", path, float, 1)[0]
    else:
        raise SpectError(f"{path}: missing Spacing Between Slices (0018,0088) and Slice Thickness (0018,0050)")
    if min(abs(dz), dy, dx) <= 0:
        raise SpectError(f"{path}: voxel spacing ({abs(dz):g}, {dy:g}, {dx:g}) mm must be positive")
    return abs(dz), dy, dx


def read_dicom(path: Path) -> GatedSpect:
    """Read DICOM NM gated tomography (``RECON GATED TOMO``): one multi-frame file or a folder of files.

    Frames are placed by their Time Slot Vector and Slice Vector entries as named by the Frame Increment Pointer;
    every (time slot, slice) pair must appear exactly once. Only pixel data and geometry are read; no identifying
    attribute is kept. Hidden files (``.name``) in a folder are skipped.
    """
    files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith(".")) if path.is_dir() \
        else [path]
    if not files:
        raise SpectError(f"{path}: folder holds no DICOM files")
    frames, slots, slices, spacing, size, declared, orientation = [], [], [], None, 0, {}, None
    for f in files:
        ds = read_nm_dataset(f)
        orientation = orientation or _image_orientation(ds)
        if "NumberOfTimeSlots" in ds:
            declared[f] = ds.get("NumberOfTimeSlots")
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=UserWarning, module="pydicom")  # values are checked here
            pixels, t, s = _dicom_frames(ds, f)
            slope, intercept = _dicom_scale(ds, f)
            spacing = spacing or _dicom_spacing(ds, f)
        if frames and pixels.shape[1:] != frames[0].shape[1:]:
            raise SpectError(f"{f}: frames of {pixels.shape[1]}x{pixels.shape[2]} differ from the folder's first file "
                             f"({frames[0].shape[1]}x{frames[0].shape[2]})")
        size += pixels.size * 4
        if size > MAX_STUDY_BYTES:
            raise SpectError(f"{path}: the study's frames exceed the limit of {MAX_STUDY_BYTES / 2**20:.0f} MiB")
        frames.append(pixels.astype(np.float32) * np.float32(slope) + np.float32(intercept))
        slots.append(t)
        slices.append(s)
    pixels = np.concatenate(frames)
    t = np.concatenate(slots)
    s = np.concatenate(slices)
    n_t, n_s = int(t.max()), int(s.max())
    if max(n_t, n_s) > len(pixels):
        raise SpectError(f"{path}: Time Slot / Slice Vector entries reach {max(n_t, n_s)} but the study holds only "
                         f"{len(pixels)} frames")
    _check_frame_grid(path, t, s, n_t, n_s)
    for f, value in declared.items():  # a folder's files may each declare their own share: checked in one file only
        if not isinstance(value, int) or value < 1 or (len(files) == 1 and value != n_t):
            raise SpectError(f"{f}: Number of Time Slots (0054,0071) is {value!r} but the Time Slot Vector holds "
                             f"{n_t} gates")
    counts = np.zeros((n_t, n_s, *pixels.shape[1:]), dtype=np.float32)
    counts[t - 1, s - 1] = pixels
    return GatedSpect(counts, spacing, study_stem(path), image_orientation=orientation)


def _image_orientation(ds) -> tuple[float, ...] | None:
    """Image Orientation (Patient), top level or (NM) in the Detector Information Sequence; None when absent or not
    six finite numbers (it is only reported, never needed)."""
    value = ds.get("ImageOrientationPatient")
    detectors = ds.get("DetectorInformationSequence")
    if value is None and detectors:
        value = detectors[0].get("ImageOrientationPatient")
    try:
        numbers = tuple(float(str(v)) for v in value)
    except (TypeError, ValueError):
        return None
    return numbers if len(numbers) == 6 and all(math.isfinite(v) for v in numbers) else None


def _check_frame_grid(path: Path, t: np.ndarray, s: np.ndarray, n_t: int, n_s: int) -> None:
    """Every (time slot, slice) pair of the n_t x n_s grid must come exactly once (checked without allocating it)."""
    pair = (t - 1) * n_s + (s - 1)
    values, counts = np.unique(pair, return_counts=True)
    if (counts > 1).any():
        twice = int(values[np.argmax(counts > 1)])
        raise SpectError(f"{path}: frame for time slot {twice // n_s + 1}, slice {twice % n_s + 1} appears twice")
    if len(values) < n_t * n_s:
        missing = int(np.argmax(values != np.arange(len(values)))) if (values != np.arange(len(values))).any() \
            else len(values)
        raise SpectError(f"{path}: frame for time slot {missing // n_s + 1}, slice {missing % n_s + 1} is missing "
                         "(truncated acquisition?)")


def study_stem(path: Path) -> str:
    """Pseudonymous study id: the file name without its extensions, or the folder name."""
    name = Path(path).name
    for suffix in (".nii.gz", ".nii", ".npz", ".dcm", ".dicom"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def read_spect(path: str | Path, transaxial: bool = False) -> GatedSpect:
    """Read a gated short-axis study from npz, NIfTI (.nii, .nii.gz) or DICOM (file or folder); with ``transaxial``
    a NIfTI header's orientation is applied (see :func:`read_nifti`)."""
    path = Path(path)
    if not path.exists():
        raise SpectError(f"{path}: file not found")
    name = path.name.lower()
    if path.is_dir():
        return read_dicom(path)
    if not path.is_file():
        raise SpectError(f"{path}: not a regular file")
    if name.endswith(".npz"):
        return read_npz(path)
    if name.endswith(".nii") or name.endswith(".nii.gz"):
        return read_nifti(path, transaxial)
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
        img.set_sform(None, code=0)  # lvmd's arrays carry no patient orientation: say so (see read_nifti)
        img.set_qform(None, code=0)
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
