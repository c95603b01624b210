"""Small formulas used throughout lvmd, each defined here once: the normal quantile of a two-sided 95 % interval,
the two-sided normal p-value, and the logistic link (logit and its inverse, from scipy)."""

from __future__ import annotations

import numpy as np
from scipy import special, stats

Z975 = float(stats.norm.ppf(0.975))  # 1.959963984540054: the half-width, in SEs, of a two-sided 95 % interval

expit = special.expit  # inverse logit, numerically stable for any real argument
logit = special.logit


def two_sided_p(z):
    """Two-sided p-value of a standard-normal statistic ``z`` (array or scalar)."""
    return 2.0 * stats.norm.sf(np.abs(z))
