"""Path safety: file names made from user text, and paths read from inside a folder lvmd did not write itself.

- :func:`safe_filename` turns an id into a file name injectively (two ids never share a file) and safely on every
  common file system; :func:`unique_filenames` also keeps a batch apart on case-insensitive file systems.
- :func:`confined_path` resolves a member path named by a file inside a folder (a bundle's ``checksums.json``) and
  refuses anything that would read outside that folder.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath, PureWindowsPath

from .errors import LvmdError
from .provenance import sha256_text

# Bytes kept as they are; every other byte of the UTF-8 text becomes %XX (upper-case hex). "%" is never kept, so
# the encoding can be undone, and "~" is never kept, so a shortened name (which ends in "~" + hash) cannot equal
# an unshortened one.
_KEPT = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")
_WINDOWS_DEVICES = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}
MAX_NAME_BYTES = 120  # leaves room for suffixes such as "_polarmaps.npz" within any file system's 255


def _digest(text: str) -> str:
    return sha256_text(text, 16)


def safe_filename(name: str, max_bytes: int = MAX_NAME_BYTES) -> str:
    """A file name (without extension) for ``name``: injective, portable, at most ``max_bytes`` long.

    Letters, digits, ``-``, ``_`` and inner ``.`` are kept; every other byte (``/``, ``\\``, ``:``, spaces,
    controls, non-ASCII letters, a leading or trailing dot, ``%`` itself) becomes ``%XX``, so ``a/b`` and ``a_b``
    get different names. Windows device names (``CON``, ``NUL``, ...) are escaped. A longer result is cut and ends
    in ``~`` and 16 hex digits of the name's SHA-256.

    Examples
    --------
    >>> safe_filename("a/b"), safe_filename("a_b"), safe_filename("..")
    ('a%2Fb', 'a_b', '%2E%2E')
    """
    if not isinstance(name, str) or name == "":
        raise LvmdError(f"file name for id {name!r}: ids must be non-empty text")
    raw = name.encode("utf-8", "surrogatepass")
    parts = []
    for i, byte in enumerate(raw):
        edge = i == 0 or i == len(raw) - 1
        parts.append(chr(byte) if byte in _KEPT and not (byte == ord(".") and edge) else f"%{byte:02X}")
    if name.split(".")[0].upper() in _WINDOWS_DEVICES:
        parts[0] = f"%{raw[0]:02X}"
    encoded = "".join(parts)
    if len(encoded) <= max_bytes:
        return encoded
    keep = max_bytes - 17
    cut = encoded[:keep]
    if "%" in cut[-2:]:  # never split a %XX escape
        cut = cut[: cut.rindex("%")]
    return f"{cut}~{_digest(name)}"


def unique_filenames(names) -> dict[str, str]:
    """:func:`safe_filename` of each name, made unique also where the file system ignores case.

    Names whose safe forms differ only in case (``P01`` and ``p01``) each get ``~`` and a hash of the exact name
    appended. Raises :class:`LvmdError` rather than ever letting two names share a file.
    """
    names = list(dict.fromkeys(names))
    files = {n: safe_filename(n) for n in names}
    by_fold: dict[str, list[str]] = {}
    for n, f in files.items():
        by_fold.setdefault(f.lower(), []).append(n)
    for group in by_fold.values():
        if len(group) > 1:
            for n in group:
                files[n] = safe_filename(n, MAX_NAME_BYTES - 17) + f"~{_digest(n)}"
    folded = [f.lower() for f in files.values()]
    if len(set(folded)) != len(folded):
        raise LvmdError("patient ids: two ids map to the same file name even after disambiguation")
    return files


def confined_path(root: str | os.PathLike, member: str, error: type[LvmdError] = LvmdError) -> Path:
    """``root / member`` for a ``member`` path read from a file inside ``root``, refusing any escape from ``root``.

    Refused: anything but a non-empty relative path of ``/``-separated parts; an absolute path or a drive (POSIX
    or Windows form); ``..`` or ``.`` parts; backslashes; NUL bytes; and a path that leaves ``root`` through a
    symbolic link. The member need not exist.

    Raises
    ------
    error
        One line naming ``root`` and the member.
    """
    root = Path(root)
    shown = repr(member)[:80]
    if not isinstance(member, str) or not member or "\0" in member or "\\" in member:
        raise error(f"{root}: member path {shown} is not a plain relative path")
    posix, windows = PurePosixPath(member), PureWindowsPath(member)
    if posix.is_absolute() or windows.is_absolute() or windows.drive or windows.root:
        raise error(f"{root}: member path {shown} is absolute; only paths inside the folder are allowed")
    parts = member.split("/")
    if any(p in ("", ".", "..") for p in parts):
        raise error(f"{root}: member path {shown} has an empty, '.' or '..' part; only paths inside the folder "
                    "are allowed")
    inside = Path(os.path.realpath(root))
    target = Path(os.path.realpath(root / member))
    if target != inside and inside not in target.parents:
        raise error(f"{root}: member path {shown} leads outside the folder (through a symbolic link)")
    return root / member
