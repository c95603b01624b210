"""Issue 16, families 1, 2, 6, 8 and 9: hostile and malformed inputs to the readers in lvmd.io.

Each case once ended in a traceback, a silent misreading or a memory blow-up. Now every reader ends in one
LvmdError line naming the file and the field, having decompressed and allocated only what its headers allow.
The hostile files are written byte by byte here, not by the readers' own writers.
"""

import io
import struct
import subprocess
import sys
import warnings
import zipfile
import zlib

import nibabel as nib
import numpy as np
import pandas as pd
import pydicom
import pytest

from lvmd.cohort import Cohort
from lvmd.errors import CohortError, SpectError
from lvmd.io.polarmaps import read_polarmaps
from lvmd.io.spect import GatedSpect, read_spect, write_spect
from lvmd.io.tables import read_clinical
from lvmd.polar import disc_mask

from .conftest import PEAK_MB

PHASE = np.where(disc_mask(), 120.0, np.nan)[None].repeat(2, axis=0)


def _npy(array) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.asarray(array), allow_pickle=True)
    return buffer.getvalue()


def _header_only(shape, descr="<f8", payload=b"") -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": descr, "fortran_order": False, "shape": shape})
    return buffer.getvalue() + payload


def _zip(path, members: dict) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)


def _maps(path, **arrays):
    np.savez(path, **{"patient_id": np.array(["P1", "P2"]), "phase": PHASE, **arrays})
    return path


# ----------------------------------------------------------------------------------------------- polar-map npz
@pytest.mark.parametrize("make, message", [
    (lambda p: np.savez(p), "missing array phase .found no arrays"),
    (lambda p: np.savez(p, phase=PHASE), "missing array patient_id"),
    (lambda p: np.savez(p, patient_id=np.array("P1"), phase=PHASE[:1]),
     r"patient_id is a single value \(0-d array\); it must be one-dimensional.*np.asarray\(ids, dtype=str\)"),
    (lambda p: np.savez(p, patient_id=np.array([["P1", "P2"]]), phase=PHASE), "patient_id is 2-dimensional"),
    (lambda p: np.savez(p, patient_id=np.array([], dtype=str), phase=PHASE[:0]), "patient_id is empty"),
    (lambda p: np.savez(p, patient_id=np.array([1.0, 2.0]), phase=PHASE),
     r"patient_id has dtype float64; ids are text or whole numbers.*np.asarray\(ids, dtype=str\)"),
    (lambda p: np.savez(p, patient_id=np.array(["P1", " "]), phase=PHASE), "patient_id number 2 is empty"),
    (lambda p: _maps(p, patient_id=np.array(["P1", "P2"], dtype=object)),
     r"array patient_id is stored as Python objects .*pandas column's .values.*np.asarray\(values, dtype=str\)"),
    (lambda p: _maps(p, phase=PHASE.astype(complex)), "phase maps are complex-valued"),
    (lambda p: _maps(p, phase=PHASE > 0), "phase is not numeric .dtype bool"),
    (lambda p: _maps(p, phase=PHASE[:, :32]), r"phase has shape \(2, 32, 64\), expected \(2, 64, 64\)"),
    (lambda p: _maps(p, phase=np.where(disc_mask(), np.inf, np.nan)[None].repeat(2, 0)),
     "phase map of patient P1 has value inf outside the range"),
    (lambda p: _maps(p, perfusion=PHASE * 10), r"perfusion map of patient P1 has value 1200 outside .*0-100"),
    (lambda p: _maps(p, perfusion=-PHASE), "perfusion map of patient P1 has value -120"),
    (lambda p: _maps(p, thickening=-PHASE * 100), "thickening map of patient P1 has value -12000 .*at least -100"),
    (lambda p: _maps(p, thickening=PHASE.astype(np.complex64)), "thickening maps are complex-valued"),
])
def test_malformed_polarmap_npz(tmp_path, make, message):
    path = tmp_path / "polarmaps.npz"
    make(path)
    with pytest.raises(CohortError, match=message) as caught:
        read_polarmaps(path)
    assert str(caught.value).startswith(str(path)) and "\n" not in str(caught.value)


def test_not_an_npz(tmp_path):
    np.save(tmp_path / "maps.npy", PHASE)
    with pytest.raises(CohortError, match=r"maps.npy: is a single .npy array, not an .npz archive.*np.savez"):
        read_polarmaps(tmp_path / "maps.npy")
    (tmp_path / "junk.npz").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(CohortError, match="junk.npz: not a readable npz file"):
        read_polarmaps(tmp_path / "junk.npz")
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(CohortError, match="text.npz: not an npz file"):
        read_polarmaps(tmp_path / "text.npz")
    with pytest.raises(CohortError, match="not a regular file"):
        read_polarmaps("/dev/null")


def test_ids_of_other_plain_dtypes(tmp_path):
    _maps(tmp_path / "b.npz", patient_id=np.array([b"P1", b"P2"]))
    assert list(read_polarmaps(tmp_path / "b.npz").patient_id) == ["P1", "P2"]  # not "b'P1'"
    _maps(tmp_path / "i.npz", patient_id=np.array([101, 102]))
    assert list(read_polarmaps(tmp_path / "i.npz").patient_id) == ["101", "102"]
    _maps(tmp_path / "u.npz", patient_id=np.array([b"\xff", b"P2"]))
    with pytest.raises(CohortError, match="patient_id holds bytes that are not UTF-8"):
        read_polarmaps(tmp_path / "u.npz")


def test_huge_declared_shapes_refused_from_the_header(tmp_path):
    path = tmp_path / "huge.npz"
    _zip(path, {"patient_id.npy": _npy(np.array(["P1", "P2"])),
                "phase.npy": _header_only((2_000_000, 64, 64), payload=b"\0" * 1000)})
    with pytest.raises(CohortError, match=r"array phase declares shape \(2000000, 64, 64\) .* above the limit"):
        read_polarmaps(path)
    _zip(path, {"patient_id.npy": _npy(np.array(["P1", "P2"])), "phase.npy": _header_only((2, 64, 64))})
    with pytest.raises(CohortError, match="array phase declares shape .2, 64, 64. but its member holds only"):
        read_polarmaps(path)
    _zip(path, {"patient_id.npy": _header_only((10**9,), "<U8"), "phase.npy": _npy(PHASE)})
    with pytest.raises(CohortError, match="array patient_id declares shape"):
        read_polarmaps(path)
    _zip(path, {"patient_id.npy": _npy(np.array(["P1", "P2"])), "phase.npy": _npy(np.full((3, 64, 64), 100.0))})
    with pytest.raises(CohortError, match=r"phase has shape \(3, 64, 64\), expected \(2, 64, 64\)"):
        read_polarmaps(path)


def test_repeated_member_refused(tmp_path):
    path = tmp_path / "twice.npz"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate name it is asked to write
        _zip(path, {"patient_id.npy": _npy(np.array(["P1", "P2"])), "phase.npy": _npy(PHASE)})
        with zipfile.ZipFile(path, "a") as z:
            z.writestr("phase.npy", _npy(PHASE + 1))
    with pytest.raises(CohortError, match="holds array phase twice"):
        read_polarmaps(path)


def test_unused_member_is_never_decompressed(tmp_path):
    """A 0.4 MB file whose unused member inflates to 400 MB used to cost 400 MB of memory in `lvmd check`."""
    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("patient_id.npy", _npy(np.array(["P1", "P2"])))
        z.writestr("phase.npy", _npy(PHASE))
        with z.open("junk.npy", "w", force_zip64=True) as member:
            member.write(_header_only((50, 1000, 1000)))
            block = bytes(8 * 1000 * 1000)
            for _ in range(50):
                member.write(block)
    assert path.stat().st_size < 2_000_000
    code = f"import sys\nfrom lvmd.io.polarmaps import read_polarmaps\nm = read_polarmaps(sys.argv[1])\nprint(len(m), {PEAK_MB})"
    res = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    n, peak_mb = map(int, res.stdout.split())
    assert n == 2 and peak_mb < 250, f"peak memory {peak_mb} MB: the unused member was decompressed"


# ------------------------------------------------------------------------------------------------------ PNG exports
def _png(width: int, height: int, mode_byte: int = 0) -> bytes:
    """A PNG whose IHDR claims width x height (8-bit, colour type ``mode_byte``) with a tiny IDAT."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, mode_byte, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 100)) + \
        chunk(b"IEND", b"")


@pytest.mark.parametrize("size", [(100_000, 100_000), (20_000, 20_000), (65, 64)])
def test_png_header_claiming_a_huge_image(tmp_path, size):
    folder = tmp_path / "polarmaps"
    folder.mkdir()
    (folder / "P1_systolicPhase.png").write_bytes(_png(*size))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # not even Pillow's DecompressionBombWarning
        with pytest.raises(CohortError, match="P1_systolicPhase.png: (not a readable PNG|expected an 8-bit)"):
            read_polarmaps(folder)


def test_png_that_is_not_a_png(tmp_path):
    folder = tmp_path / "polarmaps"
    folder.mkdir()
    (folder / "P1_systolicPhase.png").write_bytes(b"GIF89a" + b"\0" * 100)
    with pytest.raises(CohortError, match="P1_systolicPhase.png: not a readable PNG"):
        read_polarmaps(folder)


# ---------------------------------------------------------------------------------------------------- clinical CSV
@pytest.mark.parametrize("text, message", [
    (b"patient_id,age,age\nP1,50,60\n", "column 'age' appears twice .columns 2 and 3"),
    (b"patient_id,age , age\nP1,50,60\n", "column 'age' appears twice"),
    (b"patient_id,site,site\nP1,a,b\n", "column 'site' appears twice"),
    (b"patient_id,age\nP1,50,7\n", "not a readable CSV table"),
    (b"patient_id,age,\nP1,50,9\n", "column 3 holds values but has no name"),
    (b"patient_id,age,score\nP1,50,inf\n", "patient P1 .line 2., column score: 'inf' is not a finite number"),
    (b"patient_id,age\nP1," + b"9" * 500 + b"\n", r"'9999.*'\.\.\. \(500 characters\) is not a finite number"),
    (b"patient_id,age\nM\xfcller,50\n", r"not UTF-8 text .* save the table as UTF-8"),
])
def test_malformed_clinical_csv(tmp_path, text, message):
    path = tmp_path / "clinical.csv"
    path.write_bytes(text)
    with pytest.raises(CohortError, match=message) as caught:
        read_clinical(path, required=["age"])
    assert len(str(caught.value)) < 300


def test_clinical_csv_accepted_variants(tmp_path):
    path = tmp_path / "clinical.csv"
    path.write_bytes("\ufeffpatient_id,age,age.1,\nP1,50,60,\n".encode())  # Excel's BOM and trailing comma
    table = read_clinical(path, required=["age"])
    assert list(table.columns) == ["age", "age.1"] and table.loc["P1", "age.1"] == 60.0
    with pytest.raises(CohortError, match="not a regular file"):
        read_clinical(tmp_path, required=[])


# -------------------------------------------------------------------------------------------------- gated SPECT
def _dicom_study(tmp_path):
    counts = np.random.default_rng(0).poisson(50, (8, 6, 16, 16)).astype(np.float32)
    path = tmp_path / "study.dcm"
    write_spect(GatedSpect(counts, (6.0, 6.0, 6.0), "study"), path)
    return path


def _patch(source, target, group: int, element: int, vr: str, value: bytes) -> None:
    """Replace one explicit-VR little-endian element's value in the file's bytes (no DICOM library validates it)."""
    data = bytearray(source.read_bytes())
    head = struct.pack("<HH", group, element) + vr.encode()
    i = data.find(head)
    assert i >= 0
    old = struct.unpack("<H", data[i + 6:i + 8])[0]
    value = value + b" " * (len(value) % 2)
    data[i + 6:i + 8 + old] = struct.pack("<H", len(value)) + value
    target.write_bytes(bytes(data))


@pytest.mark.parametrize("group, element, vr, value, message", [
    (0x0028, 0x1053, "DS", b"abc", r"Rescale Slope \(0028,1053\) = 'abc' is not a number"),
    (0x0028, 0x1053, "DS", b"nan", r"Rescale Slope \(0028,1053\) = 'nan' is not a finite number"),
    (0x0028, 0x1053, "DS", b"-2", r"Rescale Slope \(0028,1053\) = -2 must be positive"),
    (0x0028, 0x0030, "DS", b"abc\\1", r"Pixel Spacing \(0028,0030\) = .* is not a number"),
    (0x0028, 0x0030, "DS", b"2", r"Pixel Spacing \(0028,0030\) holds 1 values; expected 2"),
    (0x0018, 0x0088, "DS", b"0", r"voxel spacing \(0, 6, 6\) mm must be positive"),
    (0x0028, 0x0008, "IS", b"x", r"Number of Frames \(0028,0008\) = 'x' is not a number"),
    (0x0028, 0x0008, "IS", b"10", r"Number of Frames \(0028,0008\) = 10 of 16x16 disagrees with the pixel data"),
    (0x0028, 0x0008, "IS", b"100", "pixel data cannot be decoded"),
    (0x0028, 0x0008, "IS", b"900000000", r"the pixel data declares \(900000000, 16, 16\) .* above the limit"),
])
def test_malformed_dicom_attributes(tmp_path, group, element, vr, value, message):
    good = _dicom_study(tmp_path)
    bad = tmp_path / "bad.dcm"
    _patch(good, bad, group, element, vr, value)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # pydicom's warnings about the value are not printed either
        with pytest.raises(SpectError, match=message) as caught:
            read_spect(bad)
    assert str(caught.value).startswith(str(bad))


def test_dicom_frame_vectors(tmp_path):
    good = _dicom_study(tmp_path)
    ds = pydicom.dcmread(good)
    ds.TimeSlotVector = [65535] + list(ds.TimeSlotVector)[1:]
    ds.SliceVector = [65535] + list(ds.SliceVector)[1:]
    ds.save_as(tmp_path / "huge.dcm")
    with pytest.raises(SpectError, match="entries reach 65535 but the study holds only 48 frames"):
        read_spect(tmp_path / "huge.dcm")
    for declared in (0, 7):
        ds = pydicom.dcmread(good)
        ds.NumberOfTimeSlots = declared
        ds.save_as(tmp_path / "slots.dcm")
        with pytest.raises(SpectError, match=rf"slots.dcm: Number of Time Slots \(0054,0071\) is {declared} but the "
                                             "Time Slot Vector holds 8 gates"):
            read_spect(tmp_path / "slots.dcm")
    ds = pydicom.dcmread(good)
    ds.TimeSlotVector = [2] + list(ds.TimeSlotVector)[1:]
    ds.save_as(tmp_path / "twice.dcm")
    with pytest.raises(SpectError, match="frame for time slot 2, slice 1 appears twice"):
        read_spect(tmp_path / "twice.dcm")
    (tmp_path / "trunc.dcm").write_bytes(good.read_bytes()[:3000])
    with pytest.raises(SpectError, match="trunc.dcm"):
        read_spect(tmp_path / "trunc.dcm")
    (tmp_path / "junk.dcm").write_bytes(b"\0" * 128 + b"DICM" + b"\xff" * 200)
    with pytest.raises(SpectError, match="junk.dcm"):
        read_spect(tmp_path / "junk.dcm")


def test_rescale_intercept_applied(tmp_path):
    good = _dicom_study(tmp_path)
    ds = pydicom.dcmread(good)
    ds.RescaleIntercept = "5"
    ds.save_as(tmp_path / "shifted.dcm")
    np.testing.assert_array_equal(read_spect(tmp_path / "shifted.dcm").counts, read_spect(good).counts + 5)


@pytest.mark.parametrize("make, message", [
    (lambda p: np.savez(p), "missing array counts"),
    (lambda p: np.savez(p, counts=np.ones((8, 8, 8, 8), complex), spacing_mm=[4.0, 4, 4]), "counts is complex-valued"),
    (lambda p: np.savez(p, counts=np.ones((8, 8, 8, 8))), "missing array spacing_mm"),
    (lambda p: np.savez(p, counts=np.ones((8, 8, 8, 8)), spacing_mm=[4.0, 4]), r"spacing_mm has shape \(2,\)"),
    (lambda p: _zip(p, {"counts.npy": _header_only((64, 512, 512, 512), "<f4"), "spacing_mm.npy": _npy([4.0, 4, 4])}),
     r"array counts declares shape \(64, 512, 512, 512\)"),
    (lambda p: _zip(p, {"counts.npy": _npy(np.array([object()], dtype=object))}), "counts is stored as Python objects"),
])
def test_malformed_study_npz(tmp_path, make, message):
    path = tmp_path / "study.npz"
    make(path)
    with pytest.raises(SpectError, match=message):
        read_spect(path)


def test_nifti_declaring_a_huge_volume(tmp_path):
    header = nib.Nifti1Header()
    header.set_data_shape((512, 512, 512, 64))
    header.set_data_dtype(np.float32)
    path = tmp_path / "huge.nii"
    with open(path, "wb") as fh:
        header.write_to(fh)
        fh.write(b"\0" * 4096)
    with pytest.raises(SpectError, match=r"huge.nii: the NIfTI image declares \(512, 512, 512, 64\)"):
        read_spect(path)


# ------------------------------------------------------------------------------------------------------- cohort
@pytest.mark.parametrize("value", [float("nan"), float("inf"), -1.0])
def test_exclusion_threshold_must_be_finite(value):
    table = pd.DataFrame({"lvesv_ml": [10.0, 80.0], "lvesv_followup_ml": [5.0, 60.0]},
                         index=pd.Index(["P1", "P2"], name="patient_id"))
    with pytest.raises(CohortError, match="min_lvesv_ml = .*: must be a finite number"):
        Cohort(table).apply_exclusions(value)
    assert [e.patient_id for e in Cohort(table).apply_exclusions(20.0).excluded] == ["P1"]



def test_subset_names_unknown_ids(tmp_path):
    maps = read_polarmaps(_maps(tmp_path / "m.npz"))
    assert list(maps.subset(["P2"]).patient_id) == ["P2"]
    with pytest.raises(CohortError, match="no maps for patient_id X9"):
        maps.subset(["P1", "X9"])
