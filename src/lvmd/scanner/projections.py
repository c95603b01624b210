"""Raw SPECT projections (DICOM NM ``TOMO`` / ``GATED TOMO``), read with PyTomography's DICOM reader.

PyTomography parses the multi-frame layout (energy windows x time slots x views, via the vectors the Frame Increment
Pointer names; GE and Siemens variants) and the acquisition geometry (start angle, arc, direction, radius, pixel
size). lvmd checks first what PyTomography assumes, so that a wrong file gets one clear line instead of a traceback.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import SpectError
from ..io.spect import dicom_numbers, read_nm_dataset, study_stem


def import_pytomography():
    """Import PyTomography quietly (it prints a GPU notice and silences warnings globally on import)."""
    import warnings

    filters = warnings.filters[:]
    with contextlib.redirect_stdout(io.StringIO()):
        import pytomography
        from pytomography.io.SPECT import dicom  # noqa: F401
    warnings.filters[:] = filters
    return pytomography


@dataclass
class Projections:
    """Raw projections of one acquisition.

    Attributes
    ----------
    counts : numpy.ndarray, shape (T, views, Lr, Lz)
        T = 1 for a non-gated acquisition.
    object_meta, proj_meta : PyTomography metadata (geometry of the object grid and of the projections).
    gated : bool
    study_id : str
    patient_axes : tuple of float
        Sign of the reconstruction's x, y, z axes in patient (left, posterior, superior) terms (see
        :func:`patient_axes`).
    """

    counts: np.ndarray
    object_meta: object
    proj_meta: object
    gated: bool
    study_id: str
    patient_axes: tuple[float, float, float] = (1.0, 1.0, 1.0)

    @property
    def voxel_mm(self) -> float:
        """Reconstructed voxel size (mm); PyTomography works in cm."""
        return float(self.object_meta.dr[0]) * 10.0


def patient_axes(ds) -> tuple[float, float, float]:
    """Sign of PyTomography's object axes (x, y, z) in patient (left, posterior, superior) terms, from the file.

    PyTomography puts the projection rows' first pixel at the superior end, as the usual detector Image
    Orientation (Patient) (column direction 0\\0\\-1) says; a file whose detector column direction points to the
    head instead gives an object whose z runs superior -> inferior. The in-plane axes follow the gantry angles, which
    DICOM defines relative to the patient. Files without the attribute are taken as the usual orientation.
    """
    detector = ds.get("DetectorInformationSequence")
    orientation = detector[0].get("ImageOrientationPatient") if detector else None
    if orientation is None or len(orientation) != 6:
        return (1.0, 1.0, 1.0)
    column_z = float(orientation[5])
    return (1.0, 1.0, -1.0 if column_z > 0.5 else 1.0)


def check_projection_file(path: Path):
    """Read the header and refuse what is not raw NM tomography with geometry; returns the dataset."""
    ds = read_nm_dataset(path)
    image_type = [str(v).upper() for v in ds.get("ImageType", [])]
    if not any("TOMO" in v for v in image_type) or any("RECON" in v for v in image_type):
        raise SpectError(f"{path}: Image Type {'/'.join(image_type) or '(missing)'} is not raw tomographic projections "
                         "(TOMO or GATED TOMO)")
    rotation = ds.get("RotationInformationSequence")
    if not rotation or any(k not in rotation[0] for k in ("StartAngle", "AngularStep", "NumberOfFramesInRotation")):
        raise SpectError(f"{path}: no acquisition geometry (Rotation Information Sequence with Start Angle, "
                         "Angular Step and Number of Frames in Rotation)")
    if "PixelSpacing" not in ds:
        raise SpectError(f"{path}: missing Pixel Spacing (0028,0030)")
    if "DetectorVector" not in ds or "EnergyWindowVector" not in ds:
        raise SpectError(f"{path}: missing Detector Vector or Energy Window Vector (frame layout unknown)")
    if min(dicom_numbers(ds, "PixelSpacing", "Pixel Spacing (0028,0030)", path, count=2)) <= 0:
        raise SpectError(f"{path}: Pixel Spacing (0028,0030) = {ds.PixelSpacing} is not positive")
    dicom_numbers(rotation[0], "StartAngle", "Start Angle (0054,0200)", path, count=1)
    dicom_numbers(rotation[0], "AngularStep", "Angular Step (0018,1144)", path, count=1)
    if dicom_numbers(rotation[0], "NumberOfFramesInRotation", "Number of Frames in Rotation (0054,0053)", path, int,
                     count=1)[0] < 1:
        raise SpectError(f"{path}: Number of Frames in Rotation (0054,0053) must be at least 1")
    if rotation[0].get("RadialPosition") is not None:
        dicom_numbers(rotation[0], "RadialPosition", "Radial Position (0018,1142)", path)
    frames = dicom_numbers(ds, "NumberOfFrames", "Number of Frames (0028,0008)", path, int, 1)[0] if "NumberOfFrames" in ds else 1
    _check_frame_order(ds, path, frames, int(rotation[0].NumberOfFramesInRotation))
    rows, columns, bits = (dicom_numbers(ds, k, k, path, int, 1)[0] for k in ("Rows", "Columns", "BitsAllocated"))
    expected = frames * rows * columns * bits // 8
    if "PixelData" not in ds or len(ds.PixelData) < expected:
        raise SpectError(f"{path}: pixel data truncated ({len(ds.get('PixelData', b''))} of {expected} bytes for "
                         f"{frames} frames)")
    return ds


FRAME_VECTORS = {"EnergyWindowVector": "Energy Window Vector (0054,0010)", "DetectorVector": "Detector Vector (0054,0020)",
                 "TimeSlotVector": "Time Slot Vector (0054,0070)", "AngularViewVector": "Angular View Vector (0054,0090)"}


def _check_frame_order(ds, path: Path, frames: int, views_per_rotation: int) -> None:
    """Refuse a frame layout that PyTomography would misread.

    PyTomography takes each time slot's frames in file order as detector 1's views, then detector 2's, each
    ``Number of Frames in Rotation`` long, and gives them angles from the start angle on; it does not read the
    Angular View Vector. Frames stored in another order (the DICOM order puts the view last, varying fastest) would
    be reconstructed from scrambled angles without an error, so the vectors are checked here.
    """
    vectors = {}
    for key, name in FRAME_VECTORS.items():
        if key in ds:
            values = np.atleast_1d(dicom_numbers(ds, key, name, path, int))
            if len(values) != frames:
                raise SpectError(f"{path}: {name} has {len(values)} entries for {frames} frames")
            vectors[key] = values
    ones = np.ones(frames, int)
    windows, detectors = vectors["EnergyWindowVector"], vectors["DetectorVector"]
    slots, views = vectors.get("TimeSlotVector", ones), vectors.get("AngularViewVector")
    for window in np.unique(windows):
        for slot in np.unique(slots):
            chosen = (windows == window) & (slots == slot)
            d = detectors[chosen]
            per_detector = np.unique(d, return_counts=True)[1]
            ordered = bool(np.all(np.diff(d) >= 0))
            if views is not None:
                v = views[chosen]
                ordered &= bool(np.all((np.diff(v) > 0) | (np.diff(d) > 0)))
            if not ordered or np.any(per_detector != views_per_rotation):
                raise SpectError(f"{path}: frame layout not supported: in energy window {window}, time slot {slot} "
                                 f"the frames are not detector by detector with {views_per_rotation} views each in "
                                 "order (Detector Vector (0054,0020), Angular View Vector (0054,0090), Number of Frames "
                                 "in Rotation (0054,0053))")


def read_projections(path: str | Path, energy_window: int = 0) -> Projections:
    """Read raw NM tomographic projections (gated or not) with their acquisition geometry."""
    path = Path(path)
    if not path.is_file():
        raise SpectError(f"{path}: file not found")
    ds = check_projection_file(path)
    import_pytomography()
    from pytomography.io.SPECT import dicom

    try:
        object_meta, proj_meta = dicom.get_metadata(str(path), energy_window)
        counts = dicom.get_projections(str(path), index_peak=energy_window).cpu().numpy()
    except (AttributeError, KeyError, IndexError, ValueError) as exc:
        raise SpectError(f"{path}: PyTomography cannot parse the projections ({type(exc).__name__}: {exc})") from None
    gated = any("GATED" in str(v).upper() for v in ds.get("ImageType", []))
    if counts.ndim == 3:
        counts = counts[None]
    return Projections(counts.astype(np.float32), object_meta, proj_meta, gated, study_stem(path), patient_axes(ds))


def write_projections(path: str | Path, counts: np.ndarray, angles_deg: np.ndarray, pixel_mm: float,
                      radius_mm: float = 250.0) -> None:
    """Write (T, views, Lr, Lz) projections as a DICOM NM ``GATED TOMO`` file that :func:`read_projections` reads back.

    ``angles_deg`` are PyTomography detector angles; frames are ordered time slot by time slot (Time Slot Vector),
    one detector, one energy window. Used to make test acquisitions from forward-projected phantoms.
    """
    from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
    from pydicom.sequence import Sequence
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    counts = np.asarray(counts)
    T, V, Lr, Lz = counts.shape
    step = float(np.mean(np.diff(angles_deg))) if V > 1 else 0.0
    start = (float(angles_deg[0]) - 180.0) % 360.0
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.20"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.Modality = "NM"
    ds.Manufacturer = "lvmd"
    ds.PatientName = "Phantom"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "GATED TOMO", "EMISSION"]
    ds.NumberOfFrames = T * V
    ds.FrameIncrementPointer = [0x00540010, 0x00540020, 0x00540050, 0x00540070, 0x00540090]
    ds.EnergyWindowVector = [1] * (T * V)
    ds.DetectorVector = [1] * (T * V)
    ds.RotationVector = [1] * (T * V)
    ds.TimeSlotVector = [int(t) + 1 for t in np.repeat(np.arange(T), V)]
    ds.AngularViewVector = [int(v) + 1 for v in np.tile(np.arange(V), T)]
    ds.NumberOfTimeSlots = T
    rotation = Dataset()
    rotation.StartAngle = f"{start:.4f}"
    rotation.AngularStep = f"{abs(step):.4f}"
    rotation.RotationDirection = "CC" if step >= 0 else "CW"
    rotation.NumberOfFramesInRotation = V
    rotation.ScanArc = f"{abs(step) * V:.4f}"
    rotation.RadialPosition = f"{radius_mm:.2f}"
    rotation.TableHeight = "0"
    ds.RotationInformationSequence = Sequence([rotation])
    detector = Dataset()
    detector.RadialPosition = [f"{radius_mm:.2f}"] * V
    detector.ImagePositionPatient = [f"{-(Lr - 1) / 2 * pixel_mm:.3f}", "0", f"{(Lz - 1) / 2 * pixel_mm:.3f}"]
    detector.ImageOrientationPatient = ["1", "0", "0", "0", "0", "-1"]
    ds.DetectorInformationSequence = Sequence([detector])
    ds.Rows, ds.Columns = Lz, Lr
    ds.PixelSpacing = [f"{pixel_mm:.6g}", f"{pixel_mm:.6g}"]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    frames = np.transpose(counts, (0, 1, 3, 2))[:, :, ::-1, :]  # (T, V, rows = z reversed, cols = r)
    ds.PixelData = np.clip(np.round(frames), 0, 65535).astype(np.uint16).tobytes()
    ds.save_as(str(path), enforce_file_format=True)
