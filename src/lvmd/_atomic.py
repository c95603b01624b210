"""Atomic output: write into a temporary sibling, rename into place on success.

A failed run leaves nothing behind and never touches an existing output unless ``force`` is given.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

from .errors import LvmdError


def check_output_dir(out: Path, force: bool) -> None:
    """Refuse an existing non-empty output folder unless ``force``."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise LvmdError(f"{out}: output exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise LvmdError(f"{out}: output folder exists and is not empty (use --force to replace it)")


@contextlib.contextmanager
def atomic_dir(out: str | os.PathLike, force: bool = False) -> Iterator[Path]:
    """Yield a temporary folder beside ``out``; on success it replaces ``out``, on error it is removed."""
    out = Path(out)
    check_output_dir(out, force)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if out.exists():
        shutil.rmtree(out)
    os.replace(tmp, out)


@contextlib.contextmanager
def atomic_file(out: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``out`` that is renamed onto ``out`` when the block succeeds."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp" + "".join(out.suffixes), dir=out.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, out)
