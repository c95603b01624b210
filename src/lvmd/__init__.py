"""lvmd: open phase analysis of gated SPECT and autoencoder dyssynchrony features for CRT patient selection."""

from importlib.metadata import PackageNotFoundError, version

from .cohort import Cohort, load_cohort
from .errors import LvmdError

try:
    __version__ = version("lvmd")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0"

__all__ = ["Cohort", "LvmdError", "__version__", "load_cohort"]
