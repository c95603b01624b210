"""Checks of single option values (type, finiteness, range), shared by the configuration and the command line.

Every check returns the value converted to its Python type or raises ``error`` (a :class:`~lvmd.errors.LvmdError`
subclass) with one line naming the option: ``latent_dim = 2.5: must be a whole number``. The configuration
(:mod:`lvmd.config`), the argument types (:mod:`lvmd._args`) and the model loaders call these, so an option is judged
the same way wherever it comes from.
"""

from __future__ import annotations

import math
import numbers

from .errors import ConfigError, LvmdError

SEED_MAX = 2**32 - 1  # numpy's legacy seeding and torch.manual_seed both accept 0 .. 2**32 - 1


def _number(value) -> str:
    return str(value) if isinstance(value, int) else f"{value:g}"


def _describe(low, high, low_open: bool, high_open: bool) -> str:
    if low is not None and high is not None:
        return f"in {'(' if low_open else '['}{_number(low)}, {_number(high)}{')' if high_open else ']'}"
    if low is not None:
        return f"{'above' if low_open else 'at least'} {_number(low)}"
    if high is not None:
        return f"{'below' if high_open else 'at most'} {_number(high)}"
    return ""


def _in_range(value, low, high, low_open: bool, high_open: bool) -> bool:
    if low is not None and (value < low or (low_open and value == low)):
        return False
    if high is not None and (value > high or (high_open and value == high)):
        return False
    return True


def whole(value, name: str, low: int | None = None, high: int | None = None,
          error: type[LvmdError] = ConfigError) -> int:
    """An integer option: refuses booleans, fractions (``2.5``) and floats (``2.0``), and values outside [low, high]."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise error(f"{name} = {value!r}: must be a whole number")
    value = int(value)
    if not _in_range(value, low, high, False, False):
        raise error(f"{name} = {value}: must be {_describe(low, high, False, False)}")
    return value


def real(value, name: str, low: float | None = None, high: float | None = None, low_open: bool = False,
         high_open: bool = False, error: type[LvmdError] = ConfigError) -> float:
    """A finite real option (integers accepted): refuses booleans, NaN, infinities and values outside the range."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise error(f"{name} = {value!r}: must be a number")
    value = float(value)
    if not math.isfinite(value):
        raise error(f"{name} = {value}: must be a finite number")
    if not _in_range(value, low, high, low_open, high_open):
        raise error(f"{name} = {value:g}: must be {_describe(low, high, low_open, high_open)}")
    return value


def flag(value, name: str, error: type[LvmdError] = ConfigError) -> bool:
    """A boolean option (``true`` / ``false``); numbers and strings are refused."""
    if not isinstance(value, bool):
        raise error(f"{name} = {value!r}: must be true or false")
    return value


def text(value, name: str, choices=None, error: type[LvmdError] = ConfigError) -> str:
    """A non-empty string option, one of ``choices`` when given."""
    if not isinstance(value, str) or not value.strip():
        raise error(f"{name} = {value!r}: must be a non-empty string")
    if choices is not None and value not in choices:
        raise error(f"{name} = {value!r}: is not one of {', '.join(map(str, choices))}")
    return value


def text_list(value, name: str, choices=None, min_len: int = 0, error: type[LvmdError] = ConfigError) -> list[str]:
    """A list of distinct non-empty strings (each one of ``choices`` when given)."""
    if not isinstance(value, (list, tuple)):
        raise error(f"{name} = {value!r}: must be a list of strings")
    items = [text(v, f"{name}[{i}]", choices, error) for i, v in enumerate(value)]
    if len(items) < min_len:
        raise error(f"{name}: must hold at least {min_len} entr{'y' if min_len == 1 else 'ies'}")
    repeated = sorted({v for v in items if items.count(v) > 1})
    if repeated:
        raise error(f"{name}: {repeated[0]!r} is listed twice")
    return items


def whole_list(value, name: str, low: int | None = None, high: int | None = None, max_len: int | None = None,
               error: type[LvmdError] = ConfigError) -> list[int]:
    """A list of whole numbers, each in [low, high], with at most ``max_len`` entries."""
    if not isinstance(value, (list, tuple)):
        raise error(f"{name} = {value!r}: must be a list of whole numbers")
    if max_len is not None and len(value) > max_len:
        raise error(f"{name}: {len(value)} entries; at most {max_len} allowed")
    return [whole(v, f"{name}[{i}]", low, high, error) for i, v in enumerate(value)]


def seed(value, name: str, error: type[LvmdError] = ConfigError) -> int:
    """A random seed: a whole number in 0 .. 2**32 - 1 (what numpy and PyTorch accept)."""
    return whole(value, name, 0, SEED_MAX, error)
