"""The LV centre found in a transaxial volume (lvmd.scanner.reorient.myocardial_centroid) against geometric truth.

The volume is drawn here from a tube with a domed apex (not with lvmd's phantom): a bright RV crescent against the
septum and a dim inferior wall (no attenuation correction) must not pull the centre off the LV's axis.
"""

import numpy as np
import pytest
from scipy import ndimage

from lvmd.scanner.reorient import myocardial_centroid

VOXEL_MM = 6.8
AXIS = np.array([1.0, -1.0, -1.0]) / np.sqrt(3.0)  # base -> apex, object voxel axes
CENTRE = np.array([20.0, 21.0, 19.5])  # the LV's axis passes here (voxels), half-way from the base to the apex


def _frame():
    e1 = np.cross(AXIS, [0.0, 0.0, 1.0])
    e1 /= np.linalg.norm(e1)
    return e1, np.cross(AXIS, e1)  # e1 points to the septum, e2 completes the frame


def lv_with_rv(rv_activity: float, inferior_dimming: float) -> np.ndarray:
    """Summed counts (LV level about 1 before blurring): LV wall 10 mm thick at a mid-wall radius of 27 mm, 40 mm of
    tube on each side of the centre and a domed apex; an RV crescent 8 mm thick centred 18 mm beyond the septum's
    mid-wall, over 140 degrees (once blurred it merges with the septum, as a bright RV does in a clinical study)."""
    g = (np.indices((40, 40, 40)).reshape(3, -1).T - CENTRE) * VOXEL_MM
    along = g @ AXIS
    e1, e2 = _frame()
    x, y = g @ e1, g @ e2
    radial = np.hypot(x, y)
    tip = 40.0
    dome = np.sqrt(radial**2 + np.clip(along - tip, 0, None) ** 2)
    lv = (np.abs(dome - 27.0) <= 5.0) & (along >= -40.0) & (along <= tip + 32.0)
    angle = np.degrees(np.arctan2(y, x))
    rv = (np.abs(radial - 45.0) <= 4.0) & (np.abs(angle) <= 70.0) & (along >= -35.0) & (along <= 25.0)
    inferior = np.clip(-y / 32.0, 0, 1)  # the wall away from e2 reads dimmer
    image = lv * (1.0 - inferior_dimming * inferior) + rv_activity * rv
    return ndimage.gaussian_filter(image.reshape(40, 40, 40).astype(float), 15.0 / 2.355 / VOXEL_MM)


@pytest.mark.parametrize("rv_activity", [0.0, 0.95, 1.3])
def test_lv_centre_stays_on_the_axis(rv_activity):
    image = lv_with_rv(rv_activity, inferior_dimming=0.35)
    image /= np.percentile(image[image > 0.3 * image.max()], 90)  # about 1 at the LV's wall
    centre = myocardial_centroid(image, CENTRE + np.array([1.5, 1.0, -1.0]), AXIS, VOXEL_MM)
    offset = (centre - CENTRE) * VOXEL_MM
    radial = np.linalg.norm(offset - (offset @ AXIS) * AXIS)
    assert radial <= 3.0, (rv_activity, offset)  # 4.4-4.8 mm towards the RV when the whole bright region counted
