"""Draw realistic, deliberately unkind torso cases: the population a phase engine meets in a CRT clinic.

Ranges (docs/torso-bench.md gives the sources): LV long axis about 45 degrees from the left towards anterior in the
transaxial plane and about 45 degrees below horizontal in the frontal plane (CT: 49 +/- 8 degrees), rolled by a few
degrees; EDV 80-250 mL with dilated, more spherical ventricles in most cases; wall 9-12 mm thickening 20-50 %;
mitral-plane descent 8-15 mm; Tc-99m sestamibi / tetrofosmin biodistribution at rest (liver 0.5-3x the
myocardium, gut loops up to 10x the LV's apparent peak at 0-6 cm from the inferior wall, sometimes touching it);
clinical counts (0.6-2e5 counts per view, as in a real 25 s view); 8 or 16 gates; 60 or 30 views over 180 degrees;
GE, Siemens and Philips low-energy collimators; bad-beat count loss in the last gate in a third of the studies.
"""

from __future__ import annotations

import numpy as np

from .case import PATTERNS, Defect, TorsoCase

GUT_BANDS = ((0.0, 0.0), (0.5, 2.0), (2.0, 4.0), (4.0, 6.0), (6.0, 10.0))
GUT_BAND_P = (0.1, 0.2, 0.2, 0.2, 0.3)
PATTERN_P = (0.25, 0.3, 0.1, 0.15, 0.2)
COLLIMATORS = ("GI-LEHR", "SE-LEHR", "PB-LEHR", "SI-LEAP")
COLLIMATOR_P = (0.45, 0.25, 0.15, 0.15)


def gut_band(ratio: float) -> str:
    """Label of the gut-activity band a ratio falls in (for breakdowns)."""
    if ratio <= 0:
        return "none"
    for lo, hi in GUT_BANDS[1:]:
        if ratio <= hi:
            return f"{lo:g}-{hi:g}x"
    return f">{GUT_BANDS[-1][1]:g}x"


def random_case(seed: int, **overrides) -> TorsoCase:
    """A random realistic case; any :class:`TorsoCase` field can be fixed by keyword.

    The same seed always gives the same case (and, through its noise seed, the same counts).
    """
    rng = np.random.default_rng([20240, seed])
    u = rng.uniform
    body_w = u(150.0, 200.0)
    body_d = body_w * u(0.58, 0.75)
    body_centre = (u(-15.0, 15.0), u(0.0, 20.0))
    dilated = rng.random() < 0.6
    azimuth = float(np.clip(rng.normal(45.0, 10.0), 20.0, 75.0))
    frontal = float(np.clip(rng.normal(45.0, 10.0), 20.0, 70.0))
    elevation = float(np.degrees(np.arctan(np.tan(np.radians(frontal)) * np.cos(np.radians(azimuth)))))
    pattern = str(rng.choice(PATTERNS, p=PATTERN_P))
    delay_range = {"synchronous": (0.0, 0.0), "lbbb": (60.0, 150.0), "anterior_late": (40.0, 120.0),
                   "two_region": (40.0, 120.0), "random": (40.0, 140.0)}[pattern]
    band = GUT_BANDS[rng.choice(len(GUT_BANDS), p=GUT_BAND_P)]
    touching = rng.random() < 0.25
    defects = ()
    if rng.random() < 0.3:
        defects = tuple(Defect(u(0.3, 0.9), u(0.0, 360.0), u(0.2, 0.45), u(0.3, 0.7))
                        for _ in range(rng.integers(1, 3)))
    breast = u(20.0, 70.0) if rng.random() < 0.4 else 0.0
    reach = max(body_w + abs(body_centre[0]), body_d + abs(body_centre[1]) + breast)
    lv_x = body_centre[0] + u(30.0, 65.0)
    lv_y = body_centre[1] - u(15.0, 45.0)
    params = dict(
        gates=int(rng.choice([8, 16], p=[0.6, 0.4])),
        views=int(rng.choice([60, 30], p=[0.8, 0.2])),
        start_angle_deg=225.44 + u(-5.0, 5.0),
        radius_mm=reach + u(25.0, 100.0),
        counts_per_view=float(np.exp(u(np.log(6e4), np.log(2e5)))),
        collimator=str(rng.choice(COLLIMATORS, p=COLLIMATOR_P)),
        intrinsic_fwhm_mm=u(3.5, 4.0),
        scatter_fraction=u(0.2, 0.35),
        last_gate_fraction=1.0 if rng.random() < 0.7 else u(0.75, 0.98),
        recon_fwhm_mm=u(11.0, 15.0),
        noise_seed=int(rng.integers(2**31)),
        body_half_width_mm=body_w,
        body_half_depth_mm=body_d,
        body_centre_mm=body_centre,
        breast_mm=breast,
        lv_position_mm=(lv_x, lv_y, u(-30.0, 30.0)),
        azimuth_deg=azimuth,
        elevation_deg=elevation,
        roll_deg=float(rng.normal(0.0, 10.0)),
        edv_ml=u(140.0, 250.0) if dilated else u(80.0, 140.0),
        sphericity=u(0.6, 0.8) if dilated else u(0.5, 0.62),
        base_beyond_equator=u(0.0, 0.2),
        wall_mm=u(9.0, 12.0),
        thickening=u(0.2, 0.5),
        descent_mm=u(8.0, 15.0),
        base_tilt_mm=u(0.0, 8.0),
        apical_thinning=u(0.0, 0.3),
        pattern=pattern,
        delay_deg=u(*delay_range),
        onset_deg=u(10.0, 45.0),
        systole_fraction=u(0.5, 0.7),
        step_centre_deg=u(0.0, 360.0),
        step_width_deg=u(90.0, 200.0),
        step_rho_min=u(0.0, 0.4),
        dispersion_deg=u(0.0, 8.0),
        pattern_seed=int(rng.integers(2**31)),
        defects=defects,
        rv_activity=u(0.3, 1.0),
        rv_wall_mm=u(3.0, 5.0),
        la_activity=u(0.2, 0.6),
        la_volume_ml=u(45.0, 120.0),
        blood_activity=u(0.05, 0.15),
        background_activity=u(0.04, 0.10),
        lung_activity=u(0.02, 0.08),
        liver_activity=float(np.exp(u(np.log(0.25), np.log(1.5)))),
        liver_gap_mm=u(3.0, 25.0),
        gut_ratio=u(*band),
        gut_gap_mm=u(0.0, 2.0) if touching else u(10.0, 60.0),
        gut_loops=int(rng.integers(2, 7)),
        stomach_activity=u(0.3, 2.0) if rng.random() < 0.4 else 0.0,
        gallbladder_activity=u(1.0, 6.0) if rng.random() < 0.25 else 0.0,
        spleen_activity=u(0.1, 0.5),
        kidney_activity=u(0.5, 2.0),
        anatomy_seed=int(rng.integers(2**31)),
    )
    return TorsoCase(**params).with_(**overrides)
