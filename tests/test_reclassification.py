"""NRI and IDI as R's PredictABEL ``reclassification()`` computes them, checked against values derived by hand."""

import math

import numpy as np
import pytest

from lvmd.errors import StatsError
from lvmd.stats import nri_idi


def _p(z: float) -> float:
    return math.erfc(abs(z) / math.sqrt(2))  # two-sided normal p, independently of scipy


@pytest.fixture
def worked_example():
    """10 events and 20 non-events with chosen moves (see the expected values derived in each test)."""
    # events: 6 rise 0.25 -> 0.35, 2 fall 0.62 -> 0.57, 2 stay at 0.5
    ev_old = [0.25] * 6 + [0.62] * 2 + [0.5] * 2
    ev_new = [0.35] * 6 + [0.57] * 2 + [0.5] * 2
    # non-events: 4 rise 0.10 -> 0.12, 5 fall 0.32 -> 0.28, 5 fall 0.50 -> 0.46, 6 stay at 0.2
    ne_old = [0.10] * 4 + [0.32] * 5 + [0.50] * 5 + [0.2] * 6
    ne_new = [0.12] * 4 + [0.28] * 5 + [0.46] * 5 + [0.2] * 6
    return [1] * 10 + [0] * 20, ev_old + ne_old, ev_new + ne_new


def test_continuous_nri_and_idi_by_hand(worked_example):
    y, old, new = worked_example  # plain lists: the old helper returned NaN for them
    s = nri_idi(y, old, new).summary
    # NRI: events (6 - 2) / 10 = 0.4, non-events (10 - 4) / 20 = 0.3; Var = 8/100 - 16/1000 + 14/400 - 36/8000.
    se = math.sqrt(0.064 + 0.0305)
    assert s.loc["nri_continuous", "estimate"] == pytest.approx(0.7, abs=1e-12)
    assert (s.loc["nri_continuous", "ci_low"], s.loc["nri_continuous", "ci_high"]) == pytest.approx(
        (0.7 - 1.96 * se, 0.7 + 1.96 * se), abs=1e-3)
    assert s.loc["nri_continuous", "p"] == pytest.approx(_p(0.7 / se), abs=1e-3)
    assert s.loc["nri_continuous", "p"] == pytest.approx(0.0228, abs=1e-3)
    # IDI: mean change in events (6 x 0.1 - 2 x 0.05) / 10 = 0.05, in non-events (4 x 0.02 - 10 x 0.04) / 20 = -0.016.
    # Sample variances: events 0.04 / 9, non-events 0.01248 / 19.
    se_idi = math.sqrt(0.04 / 9 / 10 + 0.01248 / 19 / 20)
    assert s.loc["idi", "estimate"] == pytest.approx(0.066, abs=1e-12)
    assert s.loc["idi", "ci_low"] == pytest.approx(0.066 - 1.96 * se_idi, abs=1e-3)
    assert s.loc["idi", "p"] == pytest.approx(_p(0.066 / se_idi), abs=1e-4)
    assert list(s.columns) == ["estimate", "ci_low", "ci_high", "p"] and list(s.index) == ["nri_continuous", "idi"]


def test_categorical_nri_by_hand(worked_example):
    y, old, new = worked_example
    res = nri_idi(np.array(y), np.array(old), np.array(new), cutoffs=[0.3, 0.6])
    s = res.summary
    # Categories [0, .3), [.3, .6), [.6, 1]: events 6 up (0.25 -> 0.35), 2 down (0.62 -> 0.57);
    # non-events 5 down (0.32 -> 0.28), nothing else crosses a cutoff.
    se = math.sqrt((8 / 100 - 16 / 1000) + (5 / 400 - 25 / 8000))
    assert s.loc["nri_categorical", "estimate"] == pytest.approx(0.4 + 0.25, abs=1e-12)
    assert s.loc["nri_categorical", "ci_high"] == pytest.approx(0.65 + 1.96 * se, abs=1e-3)
    assert s.loc["nri_categorical", "p"] == pytest.approx(_p(0.65 / se), abs=1e-4)
    d = res.details.loc["nri_categorical"]
    assert (d["up_events"], d["down_events"], d["up_nonevents"], d["down_nonevents"]) == (6, 2, 0, 5)
    # PredictABEL's own form of the cutoffs, c(0, .3, .6, 1), gives the same answer.
    same = nri_idi(y, old, new, cutoffs=[0, 0.3, 0.6, 1]).summary
    assert same.equals(s)
    assert list(s.index) == ["nri_categorical", "nri_continuous", "idi"]


def test_a_risk_on_a_cutoff_belongs_to_the_upper_category():
    # cut(..., right = FALSE, include.lowest = TRUE): 0.3 is in [0.3, 0.6); 1 is in the top category.
    res = nri_idi([1, 1, 0, 0], [0.29, 0.59, 0.31, 0.7], [0.3, 1.0, 0.31, 0.6], cutoffs=[0.3, 0.6])
    d = res.details.loc["nri_categorical"]
    assert (d["up_events"], d["down_events"], d["up_nonevents"], d["down_nonevents"]) == (2, 0, 0, 0)


def test_no_change_and_bad_input():
    y, p = [0, 1, 0, 1, 1], [0.2, 0.7, 0.4, 0.6, 0.9]
    s = nri_idi(y, p, p).summary
    assert (s["estimate"] == 0).all() and s["p"].isna().all()  # 0 / 0, as improveProb gives
    with pytest.raises(StatsError, match="probabilities"):
        nri_idi(y, p, [1.2] * 5)
    with pytest.raises(StatsError, match="cutoffs"):
        nri_idi(y, p, p, cutoffs=[0.6, 0.3])
    with pytest.raises(StatsError, match="mismatched lengths"):
        nri_idi(y, p, p[:4])
