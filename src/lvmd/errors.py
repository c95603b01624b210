"""Exception types raised by lvmd.

Every message is one line that names the file, row, column or parameter at fault, so that the CLI can print it
as ``error: <message>`` and exit 2 without a traceback.
"""


class LvmdError(Exception):
    """Base class of every error lvmd raises on purpose."""


class CohortError(LvmdError):
    """A clinical table or polar-map set is missing, malformed or inconsistent."""


class SpectError(LvmdError):
    """A gated SPECT study cannot be read or analysed."""


class ModelError(LvmdError):
    """A fitted model or bundle cannot be built, saved, loaded or applied."""


class StatsError(LvmdError):
    """A statistical routine received data it cannot analyse."""


class ConfigError(LvmdError):
    """A configuration file or option value is invalid."""
