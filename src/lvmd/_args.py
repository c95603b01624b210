"""Argument types for the ``lvmd`` parser and the parser itself: every number a command takes is checked when it is
parsed (``--bin-width 0``, ``--centre nan nan``, ``--seed -1``, ``--scheduler local:0``), with the same checks as
the configuration (:mod:`lvmd._values`), and a bad argument is one ``error:`` line with exit code 2.
"""

from __future__ import annotations

import argparse
import sys
from typing import Callable

from .console import print_error
from ._values import SEED_MAX, real, scheduler_address, whole
from .errors import LvmdError


class ArgumentParser(argparse.ArgumentParser):
    """argparse with lvmd's error convention: ``error: <message>`` on stderr (made printable), exit code 2.

    The usage text is not repeated on error; ``lvmd COMMAND --help`` shows it.
    """

    def error(self, message: str):
        print_error(f"{self.prog}: {message} (see {self.prog} --help)")
        sys.exit(2)


def _parse(kind: Callable[[str], object], text: str, what: str):
    try:
        return kind(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None


def _checked(check: Callable, text: str, kind: Callable[[str], object], what: str, **limits):
    value = _parse(kind, text, what)
    try:
        return check(value, "value", **limits)
    except LvmdError as exc:
        raise argparse.ArgumentTypeError(str(exc).replace("value = ", "", 1)) from None


def int_in(low: int | None = None, high: int | None = None) -> Callable[[str], int]:
    """An argparse type: a whole number in [low, high] (either bound may be None)."""
    def parse(text: str) -> int:
        return _checked(whole, text, int, "a whole number", low=low, high=high)

    parse.__name__ = "whole number"
    return parse


def float_in(low: float | None = None, high: float | None = None, low_open: bool = False,
             high_open: bool = False) -> Callable[[str], float]:
    """An argparse type: a finite number in the range (open or closed at each end; either bound may be None)."""
    def parse(text: str) -> float:
        return _checked(real, text, float, "a number", low=low, high=high, low_open=low_open, high_open=high_open)

    parse.__name__ = "number"
    return parse


positive_int = int_in(1)
non_negative_int = int_in(0)
seed = int_in(0, SEED_MAX)
finite_float = float_in()
positive_float = float_in(0, None, low_open=True)
non_negative_float = float_in(0)


def scheduler(text: str) -> str:
    """An argparse type for ``--scheduler``: ``local:N`` with N >= 1 workers, or ``tcp://HOST:PORT``."""
    try:
        return scheduler_address(text)
    except LvmdError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--scheduler ")) from None
