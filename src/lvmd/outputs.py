"""Outputs written whole or not at all, and never at the cost of anything lvmd did not create.

Every command writes through :func:`atomic_dir` (an output folder) or :func:`atomic_file` (one output file):

- the output is built in a hidden temporary sibling and renamed into place only when the run succeeds; on any
  failure, Ctrl-C, SIGTERM or SIGHUP the temporary sibling is removed and the previous output is left as it was;
- an output folder carries a marker file (:data:`MARKER`), and ``force`` replaces only a folder that carries it:
  never a folder lvmd did not write, one that holds an input, the working folder or one of its ancestors, nor a
  symbolic link;
- a lock file beside the output stops two runs writing the same output at once (the second is refused);
- an output that appears while a run works is never replaced without ``force``;
- an output path that cannot be written (a parent that is a file or read-only, a name too long) is refused before
  any work, in one line.

Pass the command's input paths as ``inputs`` so that they are protected.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import fcntl
import functools
import json
import os
import shutil
import signal
import tempfile
import threading
from pathlib import Path
from typing import Callable, Iterable, Iterator

from .errors import LvmdError
from .provenance import sha256_text

MARKER = ".lvmd-output"
MARKER_FORMAT = "lvmd-output"
_TERMINATING_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


class OutputError(LvmdError):
    """An output path cannot be written, or writing it would replace something that must be kept."""


class Terminated(BaseException):
    """Raised in the main thread by SIGTERM or SIGHUP while an output is written, so that cleanup runs.

    A :class:`BaseException` like :class:`KeyboardInterrupt`: ordinary ``except Exception`` blocks do not swallow it.
    """

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum

    def __str__(self) -> str:
        return f"terminated by {signal.Signals(self.signum).name}"


# ----------------------------------------------------------------------------------------------------- checks
def _real(path: str | os.PathLike) -> Path:
    return Path(os.path.realpath(path))


def _protect(out: Path, inputs: Iterable[str | os.PathLike], what: str) -> None:
    """Refuse an output that is (or holds) the working folder or an input."""
    target = _real(out)
    here = _real(os.getcwd())
    if target == here or target in here.parents:
        raise OutputError(f"{out}: is the working folder or one of its parents; choose a new {what}")
    for item in inputs:
        source = _real(item)
        if target == source or target in source.parents:
            raise OutputError(f"{out}: holds the input {item}; choose a new {what}")


def _exists(path: Path) -> bool:
    try:
        os.lstat(path)
    except OSError:  # missing, or a name the file system cannot even look up (too long)
        return False
    return True


def _check_parent(out: Path) -> None:
    """Refuse a path whose parent cannot hold it: a parent that is a file, or a name the file system cannot store."""
    existing = out.parent
    while not _exists(existing) and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise OutputError(f"{out}: {existing} is not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputError(f"{out}: cannot write in {existing} (permission denied or read-only)")
    try:
        name_max = os.pathconf(existing, "PC_NAME_MAX")
        path_max = os.pathconf(existing, "PC_PATH_MAX")
    except (OSError, ValueError):
        name_max, path_max = 255, 4096
    for part in out.relative_to(existing).parts:
        if len(os.fsencode(part)) > name_max:
            raise OutputError(f"{part[:40]}...: name of {len(os.fsencode(part))} bytes is longer than the file "
                              f"system allows ({name_max})")
    if len(os.fsencode(str(out))) >= path_max:
        raise OutputError(f"{str(out)[:60]}...: path is longer than the file system allows ({path_max} bytes)")


def is_lvmd_output(folder: Path) -> bool:
    """Whether ``folder`` carries the marker lvmd writes into every output folder."""
    marker = Path(folder) / MARKER
    if marker.is_symlink() or not marker.is_file():
        return False
    try:
        return json.loads(marker.read_text(encoding="utf-8")).get("format") == MARKER_FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def _os_errors_in_one_line(check):
    """Run ``check(out, ...)`` on the absolute path, turning any OSError into one :class:`OutputError` line."""
    @functools.wraps(check)
    def checked(out, *args, **kwargs):
        out = Path(os.path.abspath(out))
        try:
            return check(out, *args, **kwargs)
        except OSError as exc:
            raise _oserror(out, exc) from None

    return checked


@_os_errors_in_one_line
def check_output_dir(out: str | os.PathLike, force: bool, inputs: Iterable[str | os.PathLike] = ()) -> None:
    """Refuse an output folder that cannot or must not be written; call it before the work, to fail early.

    Refused: a symbolic link; an existing file; an existing non-empty folder unless ``force`` and it carries the
    lvmd marker; the working folder or an ancestor of it; a folder that is or holds one of ``inputs``; a parent that
    is a file; a name longer than the file system allows.
    """
    _protect(out, inputs, "--out")
    _check_parent(out)
    if out.is_symlink():
        raise OutputError(f"{out}: is a symbolic link; give the folder itself")
    if not out.exists():
        return
    if not out.is_dir():
        raise OutputError(f"{out}: output exists and is not a folder")
    try:
        empty = not any(out.iterdir())
    except OSError as exc:
        raise OutputError(f"{out}: cannot be read ({exc.strerror})") from None
    if empty:
        return
    if not force:
        raise OutputError(f"{out}: output folder exists and is not empty (use --force to replace a previous lvmd "
                          "output)")
    if not is_lvmd_output(out):
        raise OutputError(f"{out}: is not a previous lvmd output (no {MARKER} marker); --force replaces only lvmd's "
                          "own output folders: remove it yourself or choose another --out")


@_os_errors_in_one_line
def check_output_file(out: str | os.PathLike, force: bool, inputs: Iterable[str | os.PathLike] = ()) -> None:
    """Refuse an output file that cannot or must not be written: an input, a folder, a symbolic link (what it points
    to is not replaced through it), or an existing file without ``force``."""
    _check_parent(out)
    for item in inputs:
        if _real(out) == _real(item) or out == Path(os.path.abspath(item)):
            raise OutputError(f"{out}: is the input {item}; choose a new --out")
    if out.is_symlink():
        raise OutputError(f"{out}: is a symbolic link; give the file itself")
    if out.is_dir():
        raise OutputError(f"{out}: is a folder, not a file")
    if os.path.lexists(out) and not force:
        raise OutputError(f"{out}: exists (use --force to replace it)")


# ------------------------------------------------------------------------------------------ the run's scaffolding
def _oserror(out: Path, exc: OSError) -> OutputError:
    reason = exc.strerror or str(exc)
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return OutputError(f"{out}: cannot write in {out.parent} ({reason})")
    return OutputError(f"{out}: cannot be written ({reason})")


def _make_parents(out: Path) -> list[Path]:
    """Create the missing parents of ``out``; return those created, outermost first."""
    missing = []
    folder = out.parent
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    created: list[Path] = []
    for folder in reversed(missing):
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        except OSError as exc:
            _remove_created(created)
            raise _oserror(out, exc) from None
        created.append(folder)
    return created


def _remove_created(created: list[Path]) -> None:
    """Remove the parents a failed run created (innermost first; only while empty)."""
    for folder in reversed(created):
        with contextlib.suppress(OSError):
            folder.rmdir()


def _hidden_name(out: Path, kind: str) -> str:
    """A hidden sibling's name prefix: readable, but short enough for any name the file system accepts."""
    stem = out.name if len(os.fsencode(out.name)) <= 80 else sha256_text(out.name, 16)
    return f".{stem}.{kind}"


@contextlib.contextmanager
def _lock(out: Path) -> Iterator[None]:
    """Hold an exclusive lock on a hidden file beside ``out``; a second run on the same output is refused.

    ``flock`` is released by the kernel when a process dies, so a lock left by a killed run never blocks the next.
    """
    path = out.parent / (_hidden_name(out, "lvmd-lock"))
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
        except OSError as exc:
            raise _oserror(out, exc) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise OutputError(f"{out}: another lvmd run is writing this output now; wait for it or choose another "
                              "--out") from None
        try:
            same = os.stat(path, follow_symlinks=False).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # the previous holder removed the file between our open and our lock: lock the new one
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)
        os.close(fd)


@contextlib.contextmanager
def signals_raise() -> Iterator[None]:
    """SIGTERM and SIGHUP raise :class:`Terminated` in this process's main thread while the block runs.

    Worker processes forked meanwhile inherit the handler; in them it falls back to the default action.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    owner = os.getpid()

    def handler(signum, frame):
        if os.getpid() != owner:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        raise Terminated(signum)

    previous = {}
    for signum in _TERMINATING_SIGNALS:
        if signal.getsignal(signum) in (signal.SIG_DFL, None):
            previous[signum] = signal.signal(signum, handler)
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Hold SIGINT, SIGTERM and SIGHUP back while the block runs (the renames that swap an output in)."""
    held = {signal.SIGINT, *_TERMINATING_SIGNALS}
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _write_marker(folder: Path) -> None:
    from . import __version__

    created = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    (folder / MARKER).write_text(json.dumps({"format": MARKER_FORMAT, "lvmd_version": __version__,
                                             "created": created}) + "\n", encoding="utf-8")


def _commit_dir(tmp: Path, out: Path, force: bool, inputs) -> None:
    """Rename ``tmp`` onto ``out`` after checking ``out`` again (it may have appeared or changed meanwhile)."""
    check_output_dir(out, force, inputs)
    if force and out.exists() and any(out.iterdir()):
        old = Path(tempfile.mkdtemp(prefix=_hidden_name(out, "lvmd-old-"), dir=out.parent))
        previous = old / "previous"
        os.rename(out, previous)
        if not is_lvmd_output(previous):  # replaced by something else since the check: put it back untouched
            os.rename(previous, out)
            old.rmdir()
            raise OutputError(f"{out}: changed while this run worked and is no longer an lvmd output; left untouched")
        try:
            os.rename(tmp, out)
        except OSError:
            os.rename(previous, out)
            shutil.rmtree(old, ignore_errors=True)
            raise
        shutil.rmtree(old, ignore_errors=True)
        return
    try:
        os.rename(tmp, out)  # onto a missing or empty folder only: a folder filled meanwhile is never replaced
    except OSError as exc:
        if exc.errno in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR, errno.EISDIR):
            raise OutputError(f"{out}: appeared while this run worked; it was left untouched and nothing was "
                              "written (use --force to replace a previous lvmd output)") from None
        raise


def _commit_file(tmp: Path, out: Path, force: bool) -> None:
    """Rename ``tmp`` onto ``out``; without ``force`` an ``out`` that appeared meanwhile is never replaced."""
    if force:
        os.replace(tmp, out)
        return
    try:
        os.link(tmp, out)  # atomic and fails if ``out`` exists
    except FileExistsError:
        raise OutputError(f"{out}: appeared while this run worked; it was left untouched") from None
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
            raise
        if os.path.lexists(out):  # a file system without hard links: check, then rename (under the lock)
            raise OutputError(f"{out}: appeared while this run worked; it was left untouched") from None
        os.replace(tmp, out)
        return
    tmp.unlink()


@contextlib.contextmanager
def _staged(out: Path, make: Callable[[], Path], commit: Callable[[Path], None],
            discard: Callable[[Path], None]) -> Iterator[Path]:
    """What every output shares: create missing parents, lock, let signals raise, yield a temporary made by
    ``make``, ``commit`` it with signals held back, and on any failure ``discard`` it and the parents created."""
    created = _make_parents(out)
    committed = False
    try:
        with _lock(out), signals_raise():
            try:
                tmp = make()
            except OSError as exc:
                raise _oserror(out, exc) from None
            try:
                yield tmp
                with _signals_deferred():
                    try:
                        commit(tmp)
                    except OSError as exc:
                        raise _oserror(out, exc) from None
                    committed = True
            finally:
                if not committed:
                    discard(tmp)
    finally:
        if not committed:
            _remove_created(created)


@contextlib.contextmanager
def atomic_dir(out: str | os.PathLike, force: bool = False, inputs: Iterable[str | os.PathLike] = ()) -> Iterator[Path]:
    """Yield a temporary folder beside ``out``; on success it replaces ``out``, on any failure it is removed.

    Parameters
    ----------
    out : path
        The output folder.
    force : bool
        Replace an existing non-empty ``out`` if, and only if, it is a previous lvmd output (it carries
        :data:`MARKER`).
    inputs : paths
        The run's inputs: ``out`` must not be, nor hold, any of them.

    Raises
    ------
    OutputError
        ``out`` must not or cannot be written (see :func:`check_output_dir`), another run holds it, or it appeared
        while this run worked.
    Terminated
        SIGTERM or SIGHUP arrived; the temporary folder is gone.
    """
    out = Path(os.path.abspath(out))
    inputs = list(inputs)
    check_output_dir(out, force, inputs)

    def make() -> Path:
        tmp = Path(tempfile.mkdtemp(prefix=_hidden_name(out, ""), suffix=".tmp", dir=out.parent))
        _write_marker(tmp)
        return tmp

    with _staged(out, make, lambda tmp: _commit_dir(tmp, out, force, inputs),
                 lambda tmp: shutil.rmtree(tmp, ignore_errors=True)) as tmp:
        yield tmp


@contextlib.contextmanager
def atomic_file(out: str | os.PathLike, force: bool = True, inputs: Iterable[str | os.PathLike] = ()) -> Iterator[Path]:
    """Yield a temporary path beside ``out`` that is renamed onto ``out`` when the block succeeds.

    The temporary name ends in ``.tmp`` followed by ``out``'s suffixes (writers choose a format by extension).
    With ``force=False`` an ``out`` that exists, or appears during the run, is never replaced. ``force`` defaults to
    True for callers that check existence themselves; new callers pass the user's ``--force``.
    """
    out = Path(os.path.abspath(out))
    inputs = list(inputs)
    check_output_file(out, force, inputs)

    def make() -> Path:
        fd, name = tempfile.mkstemp(prefix=_hidden_name(out, ""), suffix=".tmp" + "".join(out.suffixes),
                                    dir=out.parent)
        os.close(fd)
        return Path(name)

    def commit(tmp: Path) -> None:
        check_output_file(out, True, inputs)  # still writable; an ``out`` that appeared meanwhile: _commit_file
        _commit_file(tmp, out, force)

    with _staged(out, make, commit, lambda tmp: tmp.unlink(missing_ok=True)) as tmp:
        yield tmp
