"""From the scanner: reorientation of rotated phantoms, PyTomography projections -> OSEM -> phase, the real file."""

import numpy as np
import pydicom
import pytest

from lvmd.errors import SpectError
from lvmd.io.spect import GatedSpect, read_spect
from lvmd.phantom import make_phantom
from lvmd.phase import analyze_study, phase_metrics
from lvmd.scanner import (Projections, embed_short_axis, forward_project, from_projections, make_geometry,
                          read_projections, reorient_to_short_axis, write_projections)
from lvmd.scanner.reorient import axis_from_angles

from .conftest import DATA

REAL = DATA / "nm_tomo_projections_30views.dcm"


def _angle(u, v):
    return float(np.degrees(np.arccos(np.clip(np.dot(u, v) / np.linalg.norm(u) / np.linalg.norm(v), -1, 1))))


@pytest.fixture(scope="module")
def lbbb_phantom():
    phantom = make_phantom("lbbb", 90.0, gates=8, shape=(32, 64, 64), spacing_mm=4.0)
    return phantom, phantom.simulate().counts


@pytest.mark.parametrize("azimuth,elevation", [(-45, -25), (-30, -45), (-65, -10)])
def test_reorientation_recovers_axis_and_psd(lbbb_phantom, azimuth, elevation):
    phantom, sa = lbbb_phantom
    truth_axis = axis_from_angles(azimuth, elevation)
    transaxial = embed_short_axis(sa, truth_axis, (72, 72, 72), np.array([40.0, 30.0, 34.0]))
    out, info = reorient_to_short_axis(transaxial, 4.0)
    assert _angle(info.apex_direction, truth_axis) <= 10.0
    ref = analyze_study(GatedSpect(sa, (4, 4, 4), "ref")).metrics["psd_deg"]
    result = analyze_study(GatedSpect(out, (4, 4, 4), "re"))
    assert abs(result.metrics["psd_deg"] - ref) <= max(4.0, 0.12 * ref)
    assert result.latest_segment in {5, 6, 11, 12, 16}  # the late lateral wall stays lateral: septum left


def test_reorientation_ignores_hotter_liver(lbbb_phantom):
    _, sa = lbbb_phantom
    axis = axis_from_angles(-45, -25)
    transaxial = embed_short_axis(sa, axis, (72, 72, 72), np.array([44.0, 30.0, 40.0]))
    g = np.indices((72, 72, 72))
    liver = ((g[0] - 22) / 9.0) ** 2 + ((g[1] - 40) / 10.0) ** 2 + ((g[2] - 22) / 8.0) ** 2 <= 1
    transaxial = transaxial + 2.5 * transaxial.max() * liver[None]
    _, info = reorient_to_short_axis(transaxial, 4.0)
    assert np.linalg.norm(info.centre - np.array([44.0, 30.0, 40.0])) < 12
    assert _angle(info.apex_direction, axis) <= 10.0


def test_manual_overrides(lbbb_phantom):
    _, sa = lbbb_phantom
    transaxial = embed_short_axis(sa, axis_from_angles(-45, -25), (72, 72, 72), np.array([40.0, 30.0, 34.0]))
    _, info = reorient_to_short_axis(transaxial, 4.0, centre=(40, 30, 34), axis_angles=(-40, -20))
    assert info.angles_deg == pytest.approx((-40, -20))
    assert info.centre.tolist() == [40, 30, 34]


@pytest.fixture(scope="module")
def simulated_acquisition(tmp_path_factory):
    """An 8-gate LBBB phantom in a transaxial pose, 60 views over 180 deg by PyTomography, Poisson noise."""
    h = 6.8
    phantom = make_phantom("lbbb", 90.0, gates=8, shape=(20, 40, 40), spacing_mm=h, fwhm_mm=8.0)
    axis = axis_from_angles(-45, -25)
    transaxial = embed_short_axis(phantom.simulate().counts, axis, (64, 64, 64), np.array([38.0, 28.0, 32.0]))
    angles = 45.0 + 3.0 * np.arange(60)
    object_meta, proj_meta = make_geometry((64, 64, 64), h, angles)
    template = Projections(np.zeros((8, 60, 64, 64), np.float32), object_meta, proj_meta, True, "sim")
    clean = forward_project(transaxial, template)
    noisy = np.random.default_rng(0).poisson(clean * (150.0 / clean.max())).astype(np.float32)
    path = tmp_path_factory.mktemp("acq") / "sim.dcm"
    write_projections(path, noisy, angles, h)
    return phantom, axis, path, noisy


def test_projection_file_round_trip(simulated_acquisition):
    _, _, path, noisy = simulated_acquisition
    projections = read_projections(path)
    assert projections.gated and projections.counts.shape == (8, 60, 64, 64)
    np.testing.assert_array_equal(projections.counts, noisy)
    assert projections.voxel_mm == pytest.approx(6.8)


def test_end_to_end_recovers_psd(simulated_acquisition):
    phantom, axis, path, _ = simulated_acquisition
    study = from_projections(path)
    assert _angle(study.reorientation.apex_direction, axis) <= 10.0
    result = analyze_study(study.gated())
    truth = phase_metrics(phantom.true_phase(result.samples["rho"].to_numpy(), result.samples["theta_deg"].to_numpy()))
    assert abs(result.metrics["psd_deg"] - truth["psd_deg"]) <= max(6.0, 0.2 * truth["psd_deg"])


def test_real_projections_lv_found(tmp_path, cli):
    res = cli("reconstruct", str(REAL), "--out", str(tmp_path / "real.npz"), "--qc", str(tmp_path / "qc.png"),
              "--subsets", "5", "--quiet")
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "qc.png").stat().st_size > 20000
    assert "warning: ungated data: the LV was located by shape and anatomy only" in res.stderr
    study = from_projections(REAL, subsets=5)
    # The LV lies left of centre and slightly anterior, in the middle slices of this 64^3 reconstruction.
    assert np.allclose(study.reorientation.centre, (41, 31, 31), atol=4)
    assert study.qc["reorientation_method"] == "shape" and any("ungated" in w for w in study.qc["warnings"])
    with pytest.raises(SpectError, match="not gated"):
        study.gated()
    az, _ = study.reorientation.angles_deg
    assert -90 < az < 0  # apex towards patient left and anterior
    with np.load(tmp_path / "real.npz") as z:
        assert z["counts"].shape == (1, 32, 64, 64)


def _edited(tmp_path, name, edit):
    ds = pydicom.dcmread(REAL)
    edit(ds)
    path = tmp_path / name
    ds.save_as(path)
    return path


def test_bad_projection_files(tmp_path, cli):
    hla = DATA / "nm_recon_tomo_hla_13slices.dcm"
    with pytest.raises(SpectError, match="is not raw tomographic projections"):
        read_projections(hla)
    with pytest.raises(SpectError, match="Modality CT is not NM"):
        read_projections(_edited(tmp_path, "ct.dcm", lambda ds: setattr(ds, "Modality", "CT")))
    with pytest.raises(SpectError, match="no acquisition geometry"):
        read_projections(_edited(tmp_path, "nogeo.dcm", lambda ds: delattr(ds, "RotationInformationSequence")))
    with pytest.raises(SpectError, match="pixel data truncated"):
        read_projections(_edited(tmp_path, "cut.dcm", lambda ds: setattr(ds, "PixelData", ds.PixelData[:1000])))
    res = cli("reconstruct", str(tmp_path / "nogeo.dcm"), "--out", str(tmp_path / "x.npz"))
    assert res.returncode == 2 and "no acquisition geometry" in res.stderr and not (tmp_path / "x.npz").exists()
    with pytest.raises(SpectError, match="not gated"):
        read_spect(hla)


def _two_detectors(ds, gates: int) -> None:
    """Rewrite a one-detector file of V views as two detectors of V/2 views each (a dual-head camera, each head
    covering half the arc), frames in the DICOM order: detector, then time slot, then view."""
    rotation = ds.RotationInformationSequence[0]
    views, step = int(rotation.NumberOfFramesInRotation), float(rotation.AngularStep)
    half = views // 2
    sign = 1.0 if rotation.RotationDirection == "CC" else -1.0
    frames = np.frombuffer(ds.PixelData, np.uint16).reshape(gates, views, ds.Rows, ds.Columns)
    ds.PixelData = np.stack([frames[:, :half], frames[:, half:]]).tobytes()
    ds.DetectorVector = [int(d) + 1 for d in np.repeat(np.arange(2), gates * half)]
    ds.TimeSlotVector = [int(t) + 1 for t in np.tile(np.repeat(np.arange(gates), half), 2)]
    ds.AngularViewVector = [int(v) + 1 for v in np.tile(np.arange(half), 2 * gates)]
    ds.EnergyWindowVector = ds.RotationVector = [1] * (2 * gates * half)
    rotation.NumberOfFramesInRotation = half
    first = ds.DetectorInformationSequence[0]
    second = pydicom.Dataset()
    for key in ("ImagePositionPatient", "ImageOrientationPatient"):
        setattr(second, key, getattr(first, key))
    first.RadialPosition = second.RadialPosition = list(first.RadialPosition)[:half]
    first.StartAngle = rotation.StartAngle
    second.StartAngle = f"{(float(rotation.StartAngle) + sign * half * step) % 360:.4f}"
    ds.DetectorInformationSequence.append(second)


def test_two_detector_layout_reads_as_one_and_a_scrambled_one_is_refused(tmp_path, cli):
    """A dual-head file gives the same projections and angles as the single-head file it was made from; a file whose
    Angular View Vector says the frames are out of order (PyTomography would give them the wrong angles) is refused."""
    rng = np.random.default_rng(3)
    gates, views = 2, 8
    counts = rng.integers(0, 500, size=(gates, views, 16, 12)).astype(float)
    angles = 180.0 + np.arange(views) * 22.5
    single = tmp_path / "single.dcm"
    write_projections(single, counts, angles, 6.8)
    ds = pydicom.dcmread(single)
    _two_detectors(ds, gates)
    dual = tmp_path / "dual.dcm"
    ds.save_as(dual)
    one, two = read_projections(single), read_projections(dual)
    assert np.array_equal(one.counts, two.counts)
    assert np.allclose(np.asarray(one.proj_meta.angles), np.asarray(two.proj_meta.angles))
    ds.AngularViewVector = [int(v) + 1 for v in np.tile(np.arange(views // 2)[::-1], 2 * gates)]
    ds.save_as(tmp_path / "scrambled.dcm")
    with pytest.raises(SpectError, match="frame layout not supported: in energy window 1, time slot 1"):
        read_projections(tmp_path / "scrambled.dcm")
    edited = _edited(tmp_path, "short.dcm", lambda d: setattr(d, "AngularViewVector", list(d.AngularViewVector)[:-1]))
    res = cli("reconstruct", str(edited), "--out", str(tmp_path / "x.npz"))
    assert res.returncode == 2 and "Angular View Vector (0054,0090) has 29 entries for 30 frames" in res.stderr
    assert not (tmp_path / "x.npz").exists()


def test_phase_accepts_raw_and_transaxial(simulated_acquisition, tmp_path, cli):
    from lvmd.io.spect import write_spect
    from lvmd.scanner import reconstruct

    _, _, path, _ = simulated_acquisition
    res = cli("phase", str(path), "--out", str(tmp_path / "raw"), "--quiet")
    assert res.returncode == 0, res.stderr
    volume = reconstruct(read_projections(path))
    counts = np.transpose(volume, (0, 3, 2, 1))[:, ::-1]  # to DICOM display: slices superior -> inferior
    write_spect(GatedSpect(counts, (6.8, 6.8, 6.8), "trans"), tmp_path / "trans.dcm")
    res = cli("phase", str(tmp_path / "trans.dcm"), "--transaxial", "--out", str(tmp_path / "tr"), "--quiet")
    assert res.returncode == 0, res.stderr
    import json

    a = json.loads((tmp_path / "raw" / "sim.json").read_text())
    b = json.loads((tmp_path / "tr" / "trans.json").read_text())
    assert abs(a["psd_deg"] - b["psd_deg"]) < 3.0 and a["psd_deg"] > 20
    assert not any("Image Orientation" in w for w in b["qc"]["warnings"])
    # A file whose orientation says its rows run posterior -> anterior is read as stored, and said so.
    ds = pydicom.dcmread(tmp_path / "trans.dcm")
    ds.ImageOrientationPatient = ["1", "0", "0", "0", "-1", "0"]
    ds.save_as(tmp_path / "mirrored.dcm")
    res = cli("phase", str(tmp_path / "mirrored.dcm"), "--transaxial", "--out", str(tmp_path / "mi"), "--quiet")
    assert res.returncode == 0, res.stderr
    warnings = json.loads((tmp_path / "mi" / "mirrored.json").read_text())["qc"]["warnings"]
    assert any("Image Orientation (Patient) 1\\0\\0\\0\\-1\\0 is not the standard transaxial display" in w
               for w in warnings), warnings


def test_no_lv_in_transaxial_volume():
    g = np.indices((48, 48, 48))
    blob = (((g - 24) ** 2).sum(axis=0) <= 64).astype(np.float32)[None]  # a solid ball, no cavity
    with pytest.raises(SpectError, match="no LV found.*--lv-centre"):
        reorient_to_short_axis(blob, 4.0)


def test_resolution_and_attenuation_options():
    """Collimator-response modelling recovers a blurred point; attenuation correction restores central counts."""
    from lvmd.scanner import reconstruct

    n, h = 32, 6.8
    angles = np.arange(0, 360, 10.0)
    object_meta, proj_meta = make_geometry((n, n, n), h, angles, radius_mm=200.0)
    g = np.indices((n, n, n))
    cylinder = (((g[0] - 15.5) ** 2 + (g[1] - 15.5) ** 2) <= 100).astype(np.float32)
    mu = 0.15 * cylinder  # water, 1/cm
    from lvmd.scanner.projections import import_pytomography

    import_pytomography()
    import torch
    from pytomography.projectors.SPECT import SPECTSystemMatrix
    from pytomography.transforms.SPECT import SPECTAttenuationTransform

    attenuated = SPECTSystemMatrix([SPECTAttenuationTransform(attenuation_map=torch.tensor(mu))], [], object_meta,
                                   proj_meta).forward(torch.tensor(cylinder)).numpy()[None]
    measured = Projections(attenuated.astype(np.float32), object_meta, proj_meta, False, "small")
    plain = reconstruct(measured, iterations=4, subsets=4, butterworth_cutoff=None)[0]
    corrected = reconstruct(measured, iterations=4, subsets=4, butterworth_cutoff=None, attenuation_map=mu)[0]
    centre, edge = (slice(13, 19), slice(13, 19), slice(10, 22)), (slice(6, 8), slice(14, 18), slice(10, 22))
    assert plain[centre].mean() / plain[edge].mean() < 0.85  # attenuation depresses the centre
    assert abs(corrected[centre].mean() / corrected[edge].mean() - 1) < 0.15
    from pytomography.io.SPECT.dicom import get_psfmeta_from_scanner_params
    from pytomography.transforms.SPECT import SPECTPSFTransform

    point = np.zeros((n, n, n), np.float32)
    point[16, 16, 16] = 100.0
    psf_system = SPECTSystemMatrix([SPECTPSFTransform(get_psfmeta_from_scanner_params("GI-LEHR", 140.5))], [],
                                   object_meta, proj_meta)
    blurred = Projections(psf_system.forward(torch.tensor(point)).numpy()[None].astype(np.float32), object_meta,
                          proj_meta, False, "p")
    no_model = reconstruct(blurred, iterations=4, subsets=4, butterworth_cutoff=None)[0]
    modelled = reconstruct(blurred, iterations=4, subsets=4, butterworth_cutoff=None, collimator="GI-LEHR")[0]
    assert modelled.max() / modelled.sum() > 1.2 * no_model.max() / no_model.sum()  # more of the point in its voxel
    with pytest.raises(SpectError, match="does not match the object grid"):
        reconstruct(measured, attenuation_map=np.zeros((4, 4, 4)))


@pytest.fixture(scope="module")
def gut_acquisition(tmp_path_factory):
    """Imitation of the GE Discovery 670 study of issue 14: a synchronous LV with abdominal activity 4x its peak a few
    centimetres below the inferior wall, in a faint body, 8 gates x 60 views of 64 x 64 at 6.8 mm (PyTomography),
    Poisson noise at about 1e5 counts per view."""
    h = 6.8
    phantom = make_phantom("synchronous", gates=8, shape=(20, 40, 40), spacing_mm=h, fwhm_mm=8.0)
    axis = axis_from_angles(-45, -25)
    centre = np.array([38.0, 28.0, 34.0])
    lv = embed_short_axis(phantom.simulate().counts, axis, (64, 64, 64), centre)
    g = np.indices((64, 64, 64)).astype(float)
    gut_centre = centre + np.array([-2.0, 2.0, -8.0])  # 54 mm inferior, a little right and posterior
    gut = (((g[0] - gut_centre[0]) / 6.0) ** 2 + ((g[1] - gut_centre[1]) / 4.5) ** 2
           + ((g[2] - gut_centre[2]) / 3.5) ** 2 <= 1.0).astype(np.float32)
    from scipy import ndimage

    gut = ndimage.gaussian_filter(gut, 1.2)
    body = ((((g[0] - 31.5) / 26.0) ** 2 + ((g[1] - 33.0) / 18.0) ** 2) <= 1.0).astype(np.float32)
    peak = float(lv.max())
    activity = lv + 4.0 * peak * gut[None] / gut.max() + 0.05 * peak * body[None]
    angles = 45.0 + 3.0 * np.arange(60)
    object_meta, proj_meta = make_geometry((64, 64, 64), h, angles)
    clean = forward_project(activity, Projections(np.zeros((8, 60, 64, 64), np.float32), object_meta, proj_meta,
                                                  True, "ge"))
    scale = 1.0e5 / clean.sum(axis=(0, 2, 3)).mean()  # counts per view, all gates together
    noisy = np.random.default_rng(7).poisson(clean * scale).astype(np.float32)
    path = tmp_path_factory.mktemp("ge") / "ge.dcm"
    write_projections(path, noisy, angles, h)
    weights = lv.sum(axis=0)
    truth = (g.reshape(3, -1) @ weights.ravel()) / weights.sum()  # the LV's count-weighted centroid
    return path, axis, truth


def test_hot_abdomen_projections_analysed_without_help(gut_acquisition, tmp_path, cli):
    """Raw gated projections with abdominal activity 4x the LV: found, reoriented and analysed automatically, with
    physiological figures and the extracardiac activity reported."""
    path, axis, truth = gut_acquisition
    study = from_projections(path)
    info = study.reorientation
    assert np.linalg.norm((info.centre - truth) * 6.8) <= 10.0
    assert _angle(info.apex_direction, axis) <= 10.0
    assert info.localisation.method == "beating" and study.qc["reorientation_extracardiac_ratio"] > 2.0
    result = analyze_study(study.gated())
    assert result.metrics["psd_deg"] < 20.0
    assert abs((result.metrics["mean_phase_deg"] - 126.0 + 180) % 360 - 180) < 20.0
    res = cli("phase", str(path), "--out", str(tmp_path / "out"), "--quiet", "--jobs", "1")
    assert res.returncode == 0, res.stderr
    import json

    record = json.loads((tmp_path / "out" / "ge.json").read_text())
    assert record["qc"]["reorientation_method"] == "beating" and record["psd_deg"] < 20.0
    # the long axis agrees with the wall rings' centres: the first search stands, and nothing is said about it
    assert record["qc"]["reorientation_axis_search"] == "difference"
    assert record["qc"]["reorientation_axis_disagreement_deg"] < 8.0
    assert not any("long axis" in w for w in record["qc"]["warnings"])


def test_reconstruct_overrides_always_win(gut_acquisition, tmp_path, cli):
    """--lv-centre, --axis-angles and --mask-radius are used as given (a deliberately odd centre only warns)."""
    path, _, truth = gut_acquisition
    res = cli("reconstruct", str(path), "--out", str(tmp_path / "sa.npz"), "--lv-centre", "20", "20", "50",
              "--axis-angles", "-40", "-20", "--mask-radius", "60", "--qc", str(tmp_path / "qc.png"), "--quiet")
    assert res.returncode == 0, res.stderr
    assert "LV centre (x, y, z) (20.0, 20.0, 50.0)" in res.stdout and "azimuth -40.0" in res.stdout
    assert "manual localisation" in res.stdout and (tmp_path / "qc.png").stat().st_size > 20000
    res = cli("reconstruct", str(path), "--out", str(tmp_path / "b.npz"), "--mask-radius", "-3", "--quiet")
    assert res.returncode == 2 and "argument --mask-radius: -3: must be above 0" in res.stderr
    assert not (tmp_path / "b.npz").exists()


@pytest.mark.parametrize("codes", [("L", "P", "S"), ("P", "L", "I"), ("R", "A", "S")])
def test_transaxial_nifti_is_turned_into_the_display_by_its_header(tmp_path, codes):
    """A transaxial NIfTI stored mirrored or permuted, with a header that says so, reads exactly as the display-order
    volume (columns right -> left, rows anterior -> posterior, slices superior -> inferior): otherwise septum and
    lateral wall change places. A header without orientation (lvmd's own files) is read as stored."""
    import nibabel as nib
    from nibabel import orientations

    rng = np.random.default_rng(5)
    display = rng.random((8, 5, 6, 7)).astype(np.float32)  # (gate, slice, row, col)
    spacing = {"L": 1.5, "P": 2.0, "I": 3.0}  # col, row, slice
    xyzt = np.transpose(display, (3, 2, 1, 0))  # NIfTI (i, j, k) = (col, row, slice) in ("L", "P", "I")
    transform = orientations.ornt_transform(orientations.axcodes2ornt(("L", "P", "I")), orientations.axcodes2ornt(codes))
    stored = orientations.apply_orientation(xyzt, transform)
    affine = orientations.inv_ornt_aff(orientations.ornt_transform(orientations.axcodes2ornt(codes),
                                                                   orientations.axcodes2ornt(("R", "A", "S"))),
                                       stored.shape[:3])
    axis_spacing = {"L": 1.5, "R": 1.5, "P": 2.0, "A": 2.0, "I": 3.0, "S": 3.0}
    affine = affine @ np.diag([axis_spacing[c] for c in codes] + [1.0])
    assert nib.aff2axcodes(affine) == codes
    path = tmp_path / "t.nii.gz"
    nib.save(nib.Nifti1Image(np.ascontiguousarray(stored), affine), path)
    study = read_spect(path, transaxial=True)
    assert np.array_equal(study.counts, display)
    assert study.spacing_mm == (spacing["I"], spacing["P"], spacing["L"])
    unknown = tmp_path / "u.nii.gz"
    image = nib.Nifti1Image(np.ascontiguousarray(stored), affine)
    image.set_sform(None, code=0)
    image.set_qform(None, code=0)
    nib.save(image, unknown)
    assert np.array_equal(read_spect(unknown, transaxial=True).counts, np.transpose(stored, (3, 2, 1, 0)))


def test_transaxial_nifti_with_a_degenerate_orientation_is_refused_in_one_line(tmp_path):
    import nibabel as nib

    affine = np.diag([6.4, 6.4, 6.4, 1.0])
    affine[:3, 1] = affine[:3, 0]  # two voxel axes along the same patient direction
    path = tmp_path / "bad.nii.gz"
    nib.save(nib.Nifti1Image(np.ones((8, 8, 8, 8), np.float32), affine), path)
    with pytest.raises(SpectError, match=r"bad\.nii\.gz: the NIfTI orientation \(sform/qform\) is degenerate"):
        read_spect(path, transaxial=True)
    assert read_spect(path).counts.shape == (8, 8, 8, 8)  # a short-axis read ignores the orientation
