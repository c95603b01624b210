"""lvmd against raw gated projection files from a projector and a DICOM writer that lvmd did not write.

The generator below was written by a separate reviewer (a session-10 helper that had not read lvmd's phantoms, phase
engine or reorientation; it imports nothing from lvmd). Its projector is numpy: rotation of the patient volume to
each view, attenuation through a water ellipse, depth-dependent Gaussian collimator blur and Poisson noise. The LV is
a half-ellipsoidal shell with synchronous, LBBB (smooth) or step (lateral half late) timing, beside an RV, a liver
and gut loops or a stomach 2-10x the myocardium, 0-60 mm from the wall. Its DICOM NM file is built literally from
PS3.3 C.8.4.12: two heads in L-mode, each covering 90 deg of a 180 deg RAO -> LPO orbit, CW or CC, heads optionally
swapped; 64x64 at 6.8 mm with 8 gates x 60 views, and 128x128 at 3.3-4.4 mm with 16 gates x 64 views. Each file
is then analysed the way a user would, ``lvmd phase FILE --out DIR`` (here ``python -m lvmd``), and its JSON is
scored against the generator's truth: the centroid of the end-diastolic myocardium, the planted long axis, and the
planted mean phase (contraction peak plus the mean delay).

What it found (docs/torso-bench.md, "A third review"): all 33 studies run exited 0 and were localised, synchronous
LVs read PSD 6-11 (15 at low counts), and LBBB and step LVs read lateral later than septal. A hot loop (5x or more)
within 6 mm of the apical inferior wall lit wall samples: perfusion read 7-13 % in every segment and a synchronous LV
(a09) read PSD 31 with only a generic warning. That led to the spill-lit sample rule and the apical cap amplitude
warning; in session 11 the cap that a loop over the apex hides (a09, a12) is left out too (PSD 10.6 and 56.2, the
latter a 120 deg step whose true PSD is 60), while a16 (three loops) stays corrupted beyond the lit samples. Run:

    python benchmarks/independent_projections.py [--cases a09 c03 ...] [--large] [--seed 0] [--out DIR]

The default runs the 22 64x64 cases (2 s to generate and 16-22 s in lvmd each, about 8 min on two shared cores);
``--large`` adds the 15 128x128 ones (20 s to generate, 5-9 min in lvmd each). The files go to a temporary folder
unless ``--out`` keeps them (with each case's truth and lvmd's output). It prints per case the exit code, the centre
and axis errors, PSD, PBW, mean phase against the planted one, the lateral-minus-septal delay, the lowest segment
perfusion, whether the LV was localised (centre within 15 mm and axis within 15 deg) and the number of warnings; then
a summary.
"""

from __future__ import annotations

import argparse
import collections
import datetime
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
from scipy import ndimage

# The generator. Coordinates: DICOM patient LPS in mm (x -> patient left, y -> posterior, z -> superior), origin on
# the axis of rotation, z = 0 at the detector's central row. Detector angle (PS3.3 C.8.4.12, Start Angle): 0 deg =
# detector at the patient's back, increasing counter-clockwise viewed from the feet (posterior towards patient left).
# Detector position p(th) = (sin th, cos th, 0); image columns run along u(th) = (-cos th, sin th, 0) (+x at the
# anterior view, so an anterior view shows patient right on the viewer's left); image rows run towards -z (Image
# Orientation (Patient) 1\0\0\0\0\-1 at the anterior view).

NM_STORAGE = "1.2.840.10008.5.1.4.1.1.20"
ORBIT_RADIUS_MM = 220.0
BODY_SEMI_AXES_MM = (170.0, 115.0)
BACKGROUND = 0.06
WATER_MU_PER_MM = 0.015


def unit(v) -> np.ndarray:
    v = np.asarray(v, float)
    return v / np.linalg.norm(v)


def lv_frame(az_deg: float, el_deg: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Base -> apex axis (left for az > 0, anterior, inferior for el > 0), 12 o'clock (anterior) and lateral."""
    a, e = math.radians(az_deg), math.radians(el_deg)
    ax = np.array([math.cos(e) * math.cos(a), -math.cos(e) * math.sin(a), -math.sin(e)])
    sup = np.array([0, 0, 1.0])
    e_ant = unit(sup - sup.dot(ax) * ax)  # superior, perpendicular to the axis
    e_lat = unit(np.cross(ax, e_ant))
    if e_lat.dot(unit([1, 1, 0])) < 0:  # lateral faces patient left-posterior
        e_lat = -e_lat
    return ax, e_ant, e_lat


def contraction(tcyc, tp, width: float = 1.6):
    """Contraction state, 0 (diastole) to 1 (end systole), peaked at ``tp`` (cycles); its first-harmonic phase is tp."""
    return ((1 + np.cos(2 * np.pi * (tcyc - tp))) / 2) ** width


def peak_time(psi, heart: dict):
    """Time of peak thickening (cycles) at circumferential angle ``psi`` (rad; 0 lateral, pi/2 anterior, pi septal)."""
    tp0, pattern, delay = heart["tp"], heart["pattern"], heart["delay_deg"] / 360.0
    if pattern == "synchronous":
        return tp0 + 0 * psi
    if pattern == "lbbb":  # septum earliest, lateral latest, smooth
        return tp0 + delay * (1 + np.cos(psi)) / 2
    if pattern == "step":  # lateral half (|psi| < 90 deg) late by the delay, sharp
        return tp0 + delay * (np.cos(psi) > 0)
    raise ValueError(pattern)


def heart_gate(P: np.ndarray, t0: float, t1: float, heart: dict, nsub: int = 4) -> np.ndarray:
    """LV and RV activity at points ``P`` (..., 3) in mm, averaged over [t0, t1) of the cycle.

    Concentration is fixed, so a thicker wall is brighter (what SPECT sees through partial volume); the apical
    endocardium stays put while the base descends towards it.
    """
    ax, e_ant, e_lat = heart["axis"], heart["anterior"], heart["lateral"]
    B = heart["base"]  # ED base-plane centre
    d = P - B
    s = d @ ax  # along the axis from the ED base plane towards the apex
    ra = d @ e_ant
    rl = d @ e_lat
    r = np.hypot(ra, rl)
    psi = np.arctan2(ra, rl)
    tpk = peak_time(psi, heart)
    R, L, t_ed = heart["R_endo"], heart["L_endo"], heart["wall"]
    out = np.zeros(P.shape[:-1])
    for k in range(nsub):
        tc = t0 + (k + 0.5) * (t1 - t0) / nsub
        c = contraction(tc, tpk)  # regional
        cg = contraction(tc, heart["tp_mean"])  # global: base descent
        sc = heart["descent"] * cg
        Le = L - sc
        Re = R * (1 - heart["k_radial"] * c)
        th = t_ed * (1 + heart["thickening"] * c)
        ss = s - sc
        inside_endo = (ss / Le) ** 2 + (r / Re) ** 2 < 1
        inside_epi = (ss / (Le + th)) ** 2 + (r / (Re + th)) ** 2 < 1
        out += (inside_epi & ~inside_endo & (ss >= 0)) * 1.0
        # RV free wall: a thin synchronous shell on the septal side, mild motion
        rvc = B + ax * (0.45 * L) - e_lat * (0.9 * R + 12.0) + 8.0 * e_ant
        q = P - rvc
        qa, qb, qc = q @ ax, q @ (-e_lat), q @ e_ant
        crv = contraction(tc, heart["tp"])
        a1, b1, c1 = 0.55 * L, 0.75 * R * (1 - 0.15 * crv) + 10, 1.3 * R
        ins = (qa / a1) ** 2 + (qb / b1) ** 2 + (qc / c1) ** 2
        ins2 = (qa / (a1 + 5)) ** 2 + (qb / (b1 + 5)) ** 2 + (qc / (c1 + 5)) ** 2
        rv = (ins2 < 1) & (ins >= 1) & ~((ss / (Le + th)) ** 2 + (r / (Re + th)) ** 2 < 1.15) & (qb > 0)
        out += rv * heart["rv_level"]
    return out / nsub


def build_volumes(heart: dict, body: dict, N: int, dx: float, T: int):
    """Static activity and attenuation (N^3, LPS index order), and the heart's gates on a 2x finer grid.

    Returns ``(static, mu, gates, (box_centre_mm, fine_step_mm, fine_size))``; the heart box is 160 mm wide around
    ``heart["box_centre"]``.
    """
    c0 = (N - 1) / 2
    g = (np.arange(N) - c0) * dx
    X, Y, Z = np.meshgrid(g, g, g, indexing="ij")
    inside = (X / BODY_SEMI_AXES_MM[0]) ** 2 + (Y / BODY_SEMI_AXES_MM[1]) ** 2 < 1
    mu = inside * WATER_MU_PER_MM
    static = inside * BACKGROUND
    lc = np.array(body["liver_c"])  # liver: right upper quadrant, under the diaphragm
    liver = ((X - lc[0]) / 95) ** 2 + ((Y - lc[1]) / 80) ** 2 + ((Z - lc[2]) / 75) ** 2 < 1
    static = np.where(liver & inside, body["liver_level"], static)
    for gut in body["guts"]:
        gc, ga = np.array(gut["c"]), np.array(gut["semi"])
        m = ((X - gc[0]) / ga[0]) ** 2 + ((Y - gc[1]) / ga[1]) ** 2 + ((Z - gc[2]) / ga[2]) ** 2 < 1
        static = np.where(m, gut["level"], static)
    H = np.array(heart["box_centre"])
    half = 80.0
    fd = dx / 2
    nf = int(math.ceil(2 * half / fd)) + 1
    fg = (np.arange(nf) - (nf - 1) / 2) * fd
    FX, FY, FZ = np.meshgrid(fg + H[0], fg + H[1], fg + H[2], indexing="ij")
    P = np.stack([FX, FY, FZ], -1)
    gates = [ndimage.gaussian_filter(heart_gate(P, t / T, (t + 1) / T, heart), 0.5).astype(np.float32)  # anti-alias
             for t in range(T)]
    return static.astype(np.float32), mu.astype(np.float32), gates, (H, fd, nf)


def depth_blurred_sum(volume: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Sum over depth (axis 1) of each plane blurred by its own collimator sigma (voxels)."""
    out = np.zeros((volume.shape[0], volume.shape[2]), np.float32)
    for j in range(volume.shape[1]):
        plane = volume[:, j, :]
        if plane.max() > 0:
            out += ndimage.gaussian_filter(plane, sigma[j], mode="constant")
    return out


def project(heart: dict, body: dict, N: int, dx: float, T: int, views: list[float], fwhm0: float = 7.0,
            fslope: float = 0.05) -> np.ndarray:
    """Noiseless projections ``[view, gate, u, z index]``: attenuated, blurred by 7 mm + 0.05 x distance FWHM."""
    static, mu, hgates, (H, fd, nf) = build_volumes(heart, body, N, dx, T)
    c0 = (N - 1) / 2
    idx = np.arange(N)
    proj = np.zeros((len(views), T, N, N), np.float32)
    Bh = int(math.ceil(200.0 / dx)) + 2  # heart box size in projection voxels
    for vi, th_deg in enumerate(views):
        th = math.radians(th_deg)
        p = np.array([math.sin(th), math.cos(th), 0.0])
        u = np.array([-math.cos(th), math.sin(th), 0.0])
        # rotated grid (iu, id, iz): patient X = (iu - c0) dx u + (id - c0) dx p + (iz - c0) dx z
        IU, ID = np.meshgrid(idx - c0, idx - c0, indexing="ij")
        coords = np.empty((3, N, N, N), np.float32)
        coords[0] = ((IU * u[0] + ID * p[0]) + c0)[:, :, None]
        coords[1] = ((IU * u[1] + ID * p[1]) + c0)[:, :, None]
        coords[2] = idx[None, None, :]
        rmu = ndimage.map_coordinates(mu, coords, order=1, mode="constant")
        ract = ndimage.map_coordinates(static, coords, order=1, mode="constant")
        cum = np.cumsum(rmu[:, ::-1, :], axis=1)[:, ::-1, :]  # towards the detector (+p, increasing id)
        att = np.exp(-(cum - 0.5 * rmu) * dx)
        dist = ORBIT_RADIUS_MM - (idx - c0) * dx  # each depth plane to the detector face
        sig = (fwhm0 + fslope * np.clip(dist, 0, None)) / 2.355 / dx
        proj[vi] += depth_blurred_sum(ract * att, sig)[None]
        # the heart's box in rotated coordinates, sampled from the fine grid
        hu, hd, hz = H.dot(u) / dx + c0, H.dot(p) / dx + c0, H[2] / dx + c0
        u0, d0, z0 = int(round(hu)) - Bh // 2, int(round(hd)) - Bh // 2, int(round(hz)) - Bh // 2
        bu, bd, bz = np.arange(u0, u0 + Bh), np.arange(d0, d0 + Bh), np.arange(z0, z0 + Bh)
        if min(bu.min(), bd.min(), bz.min()) < 0 or max(bu.max(), bd.max(), bz.max()) >= N:
            raise ValueError("the heart's box leaves the volume")
        BU, BD, BZ = np.meshgrid(bu - c0, bd - c0, bz - c0, indexing="ij")
        PX = (BU * u[0] + BD * p[0]) * dx
        PY = (BU * u[1] + BD * p[1]) * dx
        PZ = BZ * dx
        fc = np.stack([(PX - H[0]) / fd + (nf - 1) / 2, (PY - H[1]) / fd + (nf - 1) / 2,
                       (PZ - H[2]) / fd + (nf - 1) / 2]).astype(np.float32)
        attb = att[u0:u0 + Bh, d0:d0 + Bh, z0:z0 + Bh]
        for t in range(T):
            hv = ndimage.map_coordinates(hgates[t], fc, order=1, mode="constant") * attb
            proj[vi, t, u0:u0 + Bh, z0:z0 + Bh] += depth_blurred_sum(hv, sig[d0:d0 + Bh])
    return proj


def write_dicom(path: Path, counts: np.ndarray, starts: list[float], step: float, direction: str, dx: float,
                case_id: str) -> None:
    """Write ``counts[detector, gate, view]`` (rows towards -z, columns along u) as one gated NM TOMO file.

    Frames run energy window > detector > rotation > R-R interval > time slot > angular view (PS3.3 C.8.4.12).
    """
    ndet, T, V, N = counts.shape[0], counts.shape[1], counts.shape[2], counts.shape[-1]
    frames = counts.reshape(ndet * T * V, N, N)
    if frames.max() >= 65535:
        raise ValueError("counts overflow 16 bits")
    dv, ts, av = (np.indices((ndet, T, V)).reshape(3, -1) + 1).tolist()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = NM_STORAGE
    sop = generate_uid()
    meta.MediaStorageSOPInstanceUID = sop
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = generate_uid()
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = NM_STORAGE
    ds.SOPInstanceUID = sop
    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = generate_uid(), generate_uid(), generate_uid()
    ds.Modality = "NM"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "GATED TOMO", "EMISSION"]
    ds.PatientName, ds.PatientID, ds.PatientPosition = "Reviewer^Phantom", case_id, "HFS"
    ds.StudyDate = ds.SeriesDate = datetime.date.today().strftime("%Y%m%d")
    ds.Manufacturer = "ReviewerSim"
    ds.SeriesDescription = "GATED SPECT " + case_id
    ds.SeriesNumber, ds.InstanceNumber = 1, 1
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.Rows = ds.Columns = N
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    ds.PixelSpacing = [f"{dx:.4f}", f"{dx:.4f}"]
    ds.SliceThickness = f"{dx:.4f}"
    ds.NumberOfFrames = len(frames)
    ds.FrameIncrementPointer = [pydicom.tag.Tag(0x0054, element) for element in (0x10, 0x20, 0x50, 0x60, 0x70, 0x90)]
    ds.EnergyWindowVector, ds.NumberOfEnergyWindows = [1] * len(frames), 1
    window = Dataset()
    window.EnergyWindowLowerLimit, window.EnergyWindowUpperLimit = "126.45", "154.55"
    energy = Dataset()
    energy.EnergyWindowRangeSequence = Sequence([window])
    energy.EnergyWindowName = "Tc99m"
    ds.EnergyWindowInformationSequence = Sequence([energy])
    ds.DetectorVector, ds.NumberOfDetectors = dv, ndet
    ds.RotationVector, ds.NumberOfRotations = [1] * len(frames), 1
    ds.RRIntervalVector, ds.NumberOfRRIntervals = [1] * len(frames), 1
    ds.TimeSlotVector, ds.NumberOfTimeSlots = ts, T
    ds.AngularViewVector = av
    detectors = []
    for d in range(ndet):
        item = Dataset()
        item.StartAngle = f"{starts[d] % 360:.2f}"
        item.ImageOrientationPatient = ["1", "0", "0", "0", "0", "-1"]
        item.ImagePositionPatient = [f"{-(N - 1) / 2 * dx:.3f}", "0", f"{(N - 1) / 2 * dx:.3f}"]
        item.RadialPosition = [f"{ORBIT_RADIUS_MM:.1f}"] * V
        item.FocalDistance, item.CollimatorGridName, item.CollimatorType = "0", "LEHR", "PARA"
        item.ViewCodeSequence = Sequence([])
        detectors.append(item)
    ds.DetectorInformationSequence = Sequence(detectors)
    rotation = Dataset()
    rotation.StartAngle = f"{starts[0] % 360:.2f}"
    rotation.AngularStep = f"{step:.4f}"
    rotation.RotationDirection = direction
    rotation.ScanArc = f"{step * V:.2f}"
    rotation.NumberOfFramesInRotation = V
    rotation.ActualFrameDuration = 25000
    rotation.RadialPosition = [f"{ORBIT_RADIUS_MM:.1f}"] * V
    rotation.TableTraverse, rotation.TableHeight = "0", "150"
    ds.RotationInformationSequence = Sequence([rotation])
    data = Dataset()
    data.FrameTime, data.NominalInterval, data.IntervalsAcquired, data.IntervalsRejected = "100", 900, 1000, 0
    data.LowRRValue, data.HighRRValue = 700, 1100
    data.TimeSlotInformationSequence = Sequence([Dataset() for _ in range(T)])
    for slot in data.TimeSlotInformationSequence:
        slot.TimeSlotTime = f"{900.0 / T:.2f}"
    gated = Dataset()
    gated.TriggerTime = "0"
    gated.DataInformationSequence = Sequence([data])
    ds.GatedInformationSequence = Sequence([gated])
    ds.TypeOfDetectorMotion = "STEP AND SHOOT"
    ds.PixelData = frames.astype(np.uint16).tobytes()
    ds.save_as(str(path), enforce_file_format=True)


def make_case(cfg: dict, folder: Path) -> tuple[Path, dict]:
    """Write ``<id>.dcm`` and ``<id>.truth.json`` for one case into ``folder``; return the file and the truth."""
    rng = np.random.default_rng(cfg["seed"])
    N, dx, T, nviews = cfg["N"], cfg["dx"], cfg["T"], cfg["views"]
    heart = dict(cfg["heart"], wall=10.0, rv_level=0.35)
    ax, e_ant, e_lat = lv_frame(heart["az"], heart["el"])
    heart.update(axis=ax, anterior=e_ant, lateral=e_lat)
    Rn = (heart["edv"] * 1000 / ((2 / 3) * math.pi * 3.2)) ** (1 / 3)  # mm, L = 3.2 R
    heart["R_endo"], heart["L_endo"] = Rn, 3.2 * Rn
    heart["tp_mean"] = heart["tp"] + (heart["delay_deg"] / 360.0) * (0.5 if heart["pattern"] != "synchronous" else 0)
    # the centroid of a half-ellipsoidal shell sits ~0.4 L from the base: place the ED base plane accordingly
    C = np.array(heart["centre"], float)
    heart["base"] = C - ax * (0.40 * (heart["L_endo"] + heart["wall"]))
    heart["box_centre"] = C + (-e_lat) * 15.0  # between LV and RV
    # the lowest epicardial point of the ED LV anchors the guts and the liver
    tt = np.linspace(0, 1, 40)[:, None]
    ph = np.linspace(-np.pi, np.pi, 72)[None, :]
    Le, Re = heart["L_endo"] + heart["wall"], Rn + heart["wall"]
    pts = (heart["base"][None, None] + ax[None, None] * (Le * tt)[..., None]
           + (Re * np.sqrt(1 - tt ** 2))[..., None] * (np.cos(ph)[..., None] * e_lat + np.sin(ph)[..., None] * e_ant))
    low = pts.reshape(-1, 3)[np.argmin(pts.reshape(-1, 3)[:, 2])]
    guts = []
    for gut in cfg["guts"]:
        semi = np.array(gut["semi"], float)
        toward = unit(gut["dir"])
        extent = 1 / math.sqrt(((toward / semi) ** 2).sum())  # the ellipsoid's reach along that direction
        anchor = low
        if "anchor_s" in gut:  # a point on the inferior epicardium at this fraction base -> apex
            fs = gut["anchor_s"]
            anchor = heart["base"] + ax * (Le * fs) - e_ant * (Re * math.sqrt(1 - fs ** 2))
        guts.append(dict(c=(anchor + toward * (gut["gap"] + extent)).tolist(), semi=semi.tolist(), level=gut["ratio"]))
    body = dict(guts=guts, liver_c=[-55.0, 10.0, low[2] - 85.0], liver_level=cfg["liver"])
    # orbit: RAO (225 deg) -> LPO (45 deg), two heads 90 deg apart, each covering 90 deg
    V = nviews // 2
    step = 180.0 / nviews
    starts, sign = ([225.0, 135.0], -1) if cfg["rot"] == "CW" else ([45.0, 135.0], +1)
    if cfg["swap_heads"]:
        starts = starts[::-1]
    views = [s + sign * step * j for s in starts for j in range(V)]
    proj = project(heart, body, N, dx, T, views)
    counts = rng.poisson(proj * (cfg["total_counts"] / proj.sum())).astype(np.int64)  # [view, gate, u, z index]
    images = counts.transpose(0, 1, 3, 2)[:, :, ::-1, :]  # [view, gate, row (-z), column (u)]
    per_head = np.stack([images[:V], images[V:]]).transpose(0, 2, 1, 3, 4)  # [head, gate, view, row, column]
    path = folder / f"{cfg['id']}.dcm"
    write_dicom(path, per_head, starts, step, cfg["rot"], dx, cfg["id"])
    # truth: the centroid of the myocardium in the first gate (ED), on a 2 mm grid
    P = np.stack(np.meshgrid(*(np.arange(-90, 91, 2.0),) * 3, indexing="ij"), -1) + C
    myo = heart_gate(P, 0.0, 1.0 / T, dict(heart, rv_level=0.0), nsub=1)
    centre = (P * myo[..., None]).reshape(-1, 3).sum(0) / myo.sum()
    truth = dict(id=cfg["id"], pattern=heart["pattern"], delay_deg=heart["delay_deg"], dx=dx,
                 lv_centre_mm=centre.tolist(), lv_centre_vox=(centre / dx + (N - 1) / 2).tolist(),
                 axis_lps=ax.tolist(), axis_angles_lvmd=[-heart["az"], -heart["el"]],
                 expected_mean_phase_deg=(heart["tp_mean"] * 360) % 360, guts=guts, liver_c=body["liver_c"],
                 starts=starts, angles=views)
    (folder / f"{cfg['id']}.truth.json").write_text(json.dumps(truth, indent=1))
    return path, truth


# The reviewer's cases. Gut shapes (semi-axes mm, direction from the anchor); a case names each gut as
# (shape, activity over the myocardium, surface gap mm[, anchor fraction base -> apex on the inferior wall, direction]);
# without an anchor a gut sits below the LV's lowest epicardial point.
STOMACH = dict(semi=[45, 35, 30], dir=[0.6, 0.5, -0.6])
LOOP = dict(semi=[20, 15, 15], dir=[0.0, -0.3, -1.0])
LOOP2 = dict(semi=[18, 18, 14], dir=[0.4, 0.0, -1.0])
SMALL = (64, 6.8, 8, 60)  # matrix, pixel mm, gates, views


def large(dx: float) -> tuple:
    return (128, dx, 16, 64)


def case(id_, size, rot, pattern, delay=0, guts=(), az=45, el=30, edv=120, thick=0.4, descent=10, tp=0.36,
         counts=8e6, swap=False, liver=0.6, centre=(45, -25, 0)) -> dict:
    """One case's configuration (az, el > 0: the apex points left and inferior; LPS mm; EDV ml)."""
    shapes = {"stomach": STOMACH, "loop": LOOP, "loop2": LOOP2}
    gut_cfgs = []
    for shape, ratio, gap, *anchor in guts:
        gut = dict(shapes[shape], ratio=ratio, gap=gap)
        if anchor:
            gut["anchor_s"], gut["dir"] = anchor
        gut_cfgs.append(gut)
    N, dx, T, views = size
    return dict(id=id_, N=N, dx=dx, T=T, views=views, rot=rot, total_counts=counts, swap_heads=swap, liver=liver,
                guts=gut_cfgs, heart=dict(az=az, el=el, edv=edv, tp=tp, pattern=pattern, delay_deg=delay,
                                          descent=descent, k_radial=0.22, thickening=thick, centre=list(centre)))


CASES = [dict(cfg, seed=100 + i) for i, cfg in enumerate([  # the reviewer's seeds: 100 + position (keep the order)
    case("a01_64cw_sync", SMALL, "CW", "synchronous"),
    case("a02_64cc_sync", SMALL, "CC", "synchronous", az=35, el=25, edv=90),
    case("a03_64cw_lbbb90", SMALL, "CW", "lbbb", 90),
    case("a04_64cc_lbbb120", SMALL, "CC", "lbbb", 120, az=55, el=35, edv=170, thick=0.3),
    case("a05_64cw_step100", SMALL, "CW", "step", 100, descent=14),
    case("a06_64cc_step90", SMALL, "CC", "step", 90, az=30, el=20),
    case("a07_64cw_sync_stom3_gap30", SMALL, "CW", "synchronous", guts=[("stomach", 3, 30)]),
    case("a08_64cw_sync_loop6_gap10", SMALL, "CW", "synchronous", guts=[("loop", 6, 10)]),
    case("a09_64cw_sync_loop10_gap0", SMALL, "CW", "synchronous", guts=[("loop", 10, 0)]),
    case("a10_64cc_lbbb90_stom5_gap0", SMALL, "CC", "lbbb", 90, guts=[("stomach", 5, 0)]),
    case("a11_64cw_lbbb60_loop8_gap20", SMALL, "CW", "lbbb", 60, guts=[("loop", 8, 20), ("loop2", 4, 45)]),
    case("a12_64cc_step120_loop10_gap5", SMALL, "CC", "step", 120, guts=[("loop", 10, 5)], az=60, el=40),
    case("a13_64cw_sync_stom2_gap60_az60el20", SMALL, "CW", "synchronous", guts=[("stomach", 2, 60)], az=60, el=20, edv=180),
    case("a14_64cw_swap_lbbb100", SMALL, "CW", "lbbb", 100, swap=True),
    case("a15_64cc_sync_lowcounts_loop5_gap15", SMALL, "CC", "synchronous", guts=[("loop", 5, 15)], counts=3e6, edv=80),
    case("a16_64cw_lbbb90_multi10", SMALL, "CW", "lbbb", 90, guts=[("stomach", 4, 10), ("loop", 10, 0), ("loop2", 7, 25)],
         liver=1.0),
    case("a17_64cc_sync_liver1.2", SMALL, "CC", "synchronous", liver=1.2, edv=100),
    case("a18_64cw_step90_stom8_gap0", SMALL, "CW", "step", 90, guts=[("stomach", 8, 0)], thick=0.3, descent=8),
    case("b01_128cw_sync_3.9", large(3.9), "CW", "synchronous", counts=10e6),
    case("b02_128cc_sync_3.3", large(3.3), "CC", "synchronous", counts=10e6, az=40, el=35),
    case("b03_128cw_lbbb90_4.4", large(4.4), "CW", "lbbb", 90, counts=10e6),
    case("b04_128cc_lbbb120_3.9", large(3.9), "CC", "lbbb", 120, counts=10e6, edv=160, thick=0.35),
    case("b05_128cw_step100_3.3", large(3.3), "CW", "step", 100, counts=10e6),
    case("b06_128cc_step90_4.4", large(4.4), "CC", "step", 90, counts=10e6, az=35, el=20),
    case("b07_128cw_sync_loop8_gap5_3.9", large(3.9), "CW", "synchronous", guts=[("loop", 8, 5)], counts=10e6),
    case("b08_128cc_sync_stom4_gap20_4.4", large(4.4), "CC", "synchronous", guts=[("stomach", 4, 20)], counts=10e6),
    case("b09_128cw_lbbb80_loop10_gap0_3.3", large(3.3), "CW", "lbbb", 80, guts=[("loop", 10, 0)], counts=10e6),
    case("b10_128cc_lbbb100_stom6_gap10_3.9", large(3.9), "CC", "lbbb", 100, guts=[("stomach", 6, 10)], counts=10e6, az=55, el=38),
    case("b11_128cw_step110_loop7_gap40_4.4", large(4.4), "CW", "step", 110, guts=[("loop", 7, 40), ("loop2", 3, 60)], counts=10e6),
    case("b12_128cc_sync_multi_4.4_edv80", large(4.4), "CC", "synchronous", guts=[("stomach", 3, 5), ("loop", 9, 15)], counts=10e6,
         edv=80),
    case("b13_128cw_swap_step90_3.9", large(3.9), "CW", "step", 90, swap=True, counts=10e6),
    case("b14_128cw_lbbb90_lowcounts_3.9", large(3.9), "CW", "lbbb", 90, counts=4e6, guts=[("loop", 5, 10)]),
    case("c01_64cw_sync_loop10_gap0_midinf", SMALL, "CW", "synchronous", guts=[("loop", 10, 0, 0.4, [0, 0.2, -1])]),
    case("c02_64cc_lbbb90_stom10_gap0_basinf", SMALL, "CC", "lbbb", 90, guts=[("stomach", 10, 0, 0.15, [0.3, 0.3, -1])]),
    case("c03_64cw_sync_loop3_gap0", SMALL, "CW", "synchronous", guts=[("loop", 3, 0)]),
    case("c04_128cw_step100_loop10_gap10_midinf_3.3", large(3.3), "CW", "step", 100, guts=[("loop", 10, 10, 0.5, [0, 0, -1])],
         counts=10e6),
    case("c05_64cc_sync_el40az30_loop6_gap0_mid", SMALL, "CC", "synchronous", az=30, el=40, guts=[("loop", 6, 0, 0.5, [0.2, 0.2, -1])]),
])]


# Scoring lvmd's output (not part of the generator).
SEPTAL, LATERAL = [2, 3, 8, 9, 14], [5, 6, 11, 12, 16]


def run_lvmd(path: Path, out: Path) -> tuple[int, float, dict | None, str]:
    """``lvmd phase FILE --out DIR`` in a fresh interpreter: exit code, seconds, the study's JSON, last stderr line."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "lvmd", "phase", str(path), "--out", str(out), "--jobs", "1",
                           "--quiet", "--force"], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    record = out / f"{path.stem}.json"
    result = json.loads(record.read_text()) if done.returncode == 0 and record.exists() else None
    errors = [line for line in done.stderr.splitlines() if line.strip()]
    return done.returncode, seconds, result, errors[-1] if errors else ""


def axis_vector(az_deg: float, el_deg: float) -> np.ndarray:
    az, el = math.radians(az_deg), math.radians(el_deg)
    return np.array([math.cos(el) * math.cos(az), math.cos(el) * math.sin(az), math.sin(el)])


def circular_mean(degrees: list[float]) -> float:
    return float(np.degrees(np.angle(np.mean(np.exp(1j * np.radians(degrees)))))) % 360


def score(truth: dict, result: dict) -> dict:
    """Centre and axis errors, phase metrics and the lateral-minus-septal delay of one lvmd result."""
    qc = result["qc"]
    centre = np.array(qc["lv_centre_xyz"], float)  # voxel indices along patient L, P, S, as the truth's
    centre_mm = float(np.linalg.norm((centre - np.array(truth["lv_centre_vox"])) * truth["dx"]))
    cosine = axis_vector(*qc["axis_angles_deg"]) @ axis_vector(*truth["axis_angles_lvmd"])
    axis_deg = float(np.degrees(np.arccos(np.clip(cosine, -1, 1))))
    phases = {s["segment"]: s["phase_deg"] for s in result["segments"] if s["phase_deg"] is not None}
    lateral, septal = (circular_mean([phases[s] for s in group if s in phases]) for group in (LATERAL, SEPTAL))
    return dict(centre_mm=centre_mm, axis_deg=axis_deg, psd=result["psd_deg"], pbw=result["pbw_deg"],
                mean=result["mean_phase_deg"], lat_minus_sept=(lateral - septal + 180) % 360 - 180,
                perf_min=min(s["perfusion_pct"] for s in result["segments"] if s["perfusion_pct"] is not None),
                warnings=len(qc["warnings"]), localised=centre_mm <= 15.0 and axis_deg <= 15.0)


def run_case(cfg: dict, folder: Path) -> dict:
    """Generate one case into ``folder``, run lvmd on it and score it."""
    start = time.perf_counter()
    path, truth = make_case(cfg, folder)
    generated = time.perf_counter() - start
    rc, seconds, result, error = run_lvmd(path, folder / cfg["id"])
    row = dict(id=cfg["id"], rc=rc, gen_s=generated, lvmd_s=seconds, pattern=truth["pattern"],
               expected_mean=truth["expected_mean_phase_deg"], error=error if result is None else "")
    if result is not None:
        row.update(score(truth, result))
    return row


def print_row(r: dict) -> None:
    head = f"{r['id']:42s} rc={r['rc']} gen {r['gen_s']:4.1f}s lvmd {r['lvmd_s']:5.1f}s"
    if r["error"] or "psd" not in r:
        print(f"{head}  ERROR {r['error'] or 'no result JSON'}", flush=True)
        return
    print(f"{head}  centre {r['centre_mm']:5.1f} mm  axis {r['axis_deg']:4.1f} deg  PSD {r['psd']:5.1f}  PBW {r['pbw']:5.1f}  "
          f"mean {r['mean']:5.1f} (exp {r['expected_mean']:5.1f})  L-S {r['lat_minus_sept']:+6.1f}  perf min {r['perf_min']:4.0f} %  "
          f"localised {'yes' if r['localised'] else 'NO '}  warnings {r['warnings']}", flush=True)


def summarise(rows: list[dict]) -> None:
    ok = [r for r in rows if "psd" in r]
    codes = collections.Counter(r["rc"] for r in rows)
    print(f"localised (centre <= 15 mm, axis <= 15 deg): {sum(r['localised'] for r in ok)}/{len(rows)}; exit codes: "
          + ", ".join(f"{rc}: {n}" for rc, n in sorted(codes.items())))
    sync = [r["psd"] for r in ok if r["pattern"] == "synchronous"]
    if sync:
        print(f"PSD of synchronous LVs: median {np.median(sync):.1f}, max {max(sync):.1f} deg (n={len(sync)})")
    late = [r for r in ok if r["pattern"] in ("lbbb", "step")]
    if late:
        print(f"lateral later than septal on LBBB and step LVs: {sum(r['lat_minus_sept'] > 0 for r in late)}/{len(late)}; "
              f"L-S median {np.median([r['lat_minus_sept'] for r in late]):+.1f} deg")


def select(patterns: list[str] | None, with_large: bool) -> list[dict]:
    """The cases to run: the 64x64 ones (all with ``with_large``), narrowed to ids holding one of ``patterns``."""
    pool = [c for c in CASES if with_large or c["N"] == 64]
    if not patterns:
        return pool
    for pattern in patterns:
        if not any(pattern in c["id"] for c in pool):
            hint = " (128x128 cases need --large)" if any(pattern in c["id"] for c in CASES) else ""
            raise SystemExit(f"--cases {pattern!r} matches no case{hint}")
    return [c for c in pool if any(pattern in c["id"] for pattern in patterns)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", metavar="ID", help="run the cases whose id contains one of these")
    parser.add_argument("--large", action="store_true", help="also the 128x128, 16-gate cases (5-9 min each)")
    parser.add_argument("--seed", type=int, default=0, help="added to each case's seed (0: the reviewer's files)")
    parser.add_argument("--out", type=Path, help="keep the files, truths and lvmd outputs here (default: a temporary folder)")
    args = parser.parse_args()
    cases = [dict(c, seed=c["seed"] + args.seed) for c in select(args.cases, args.large)]
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="lvmd-projections-") as tmp:
        folder = args.out or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        rows = []
        for cfg in cases:
            rows.append(run_case(cfg, folder))
            print_row(rows[-1])
    summarise(rows)
    print(f"{len(rows)} cases in {(time.perf_counter() - start) / 60:.1f} min")


if __name__ == "__main__":
    main()
