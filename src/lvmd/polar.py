"""Geometry of the 64x64 bullseye polar map and of the AHA 17-segment model.

Conventions (docs/data-format.md): centre = apex, outer edge = base; anterior at 12 o'clock, septum at 9,
inferior at 6, lateral at 3. Angles ``theta`` are in degrees counter-clockwise from lateral (3 o'clock), so
anterior = 90, septal = 180, inferior = 270 -- the same angle as in a short-axis slice displayed anterior up and
septum left. ``rho`` runs 0 (apex) to 1 (base).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

GRID = 64
N_SEGMENTS = 17
# Radial limits of the AHA rings on the bullseye (apex cap, apical, mid, basal), as fractions of the radius.
RING_EDGES = (0.0, 0.15, 0.4, 0.7, 1.0)
SEGMENT_NAMES = (
    "basal anterior", "basal anteroseptal", "basal inferoseptal", "basal inferior", "basal inferolateral",
    "basal anterolateral", "mid anterior", "mid anteroseptal", "mid inferoseptal", "mid inferior",
    "mid inferolateral", "mid anterolateral", "apical anterior", "apical septal", "apical inferior",
    "apical lateral", "apex",
)


@lru_cache(maxsize=1)
def pixel_coordinates() -> tuple[np.ndarray, np.ndarray]:
    """Return ``(rho, theta)`` of every bullseye pixel centre, each of shape (64, 64)."""
    centre = (GRID - 1) / 2.0
    rows, cols = np.mgrid[0:GRID, 0:GRID].astype(float)
    dx = cols - centre
    dy = centre - rows
    rho = np.hypot(dx, dy) / (GRID / 2.0)
    theta = np.degrees(np.arctan2(dy, dx)) % 360.0
    rho.setflags(write=False)
    theta.setflags(write=False)
    return rho, theta


@lru_cache(maxsize=1)
def disc_mask() -> np.ndarray:
    """Boolean (64, 64) mask of the pixels inside the bullseye disc."""
    rho, _ = pixel_coordinates()
    mask = rho <= 1.0
    mask.setflags(write=False)
    return mask


def segment_of(rho: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """AHA segment number (1-17) of bullseye positions; 0 outside the disc.

    Basal and mid rings have six 60-degree sectors starting at anterior (1/7) and running through anteroseptal,
    inferoseptal, inferior, inferolateral to anterolateral; the apical ring has four 90-degree sectors (anterior,
    septal, inferior, lateral) and the apex cap is segment 17.
    """
    rho = np.asarray(rho, dtype=float)
    theta = np.asarray(theta, dtype=float) % 360.0
    seg = np.zeros(np.broadcast(rho, theta).shape, dtype=int)
    six = (((theta - 60.0) % 360.0) // 60.0).astype(int)  # 0 = anterior [60, 120), counter-clockwise
    four = (((theta - 45.0) % 360.0) // 90.0).astype(int)  # 0 = anterior [45, 135)
    r0, r1, r2, r3, r4 = RING_EDGES
    seg = np.where(rho <= r4, 1 + six, seg)
    seg = np.where(rho < r3, 7 + six, seg)
    seg = np.where(rho < r2, 13 + four, seg)
    seg = np.where(rho < r1, 17, seg)
    return seg


@lru_cache(maxsize=1)
def segment_map() -> np.ndarray:
    """(64, 64) integer map of AHA segments (0 outside the disc)."""
    rho, theta = pixel_coordinates()
    seg = segment_of(rho, theta)
    seg.setflags(write=False)
    return seg


def mask_outside(maps: np.ndarray) -> np.ndarray:
    """Return a float copy of ``maps`` (..., 64, 64) with NaN outside the disc."""
    out = np.array(maps, dtype=float, copy=True)
    out[..., ~disc_mask()] = np.nan
    return out
