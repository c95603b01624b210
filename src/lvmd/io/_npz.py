"""Reading named arrays from an ``.npz`` archive lazily and within limits.

``numpy.load`` on an npz decompresses a member only when it is indexed, but it trusts each member's header: a
member declaring a huge shape is allocated in full before its data are found missing, and an object array is
refused with a message about pickles that does not say what to do. :class:`NpzArchive` reads only the members a
reader asks for, checks each one's declared shape, dtype and size from its header before anything is decompressed
or allocated, and turns every failure of zipfile, zlib or numpy into one :class:`~lvmd.errors.LvmdError` line
naming the file and the array.
"""

from __future__ import annotations

import math
import zipfile
from pathlib import Path

import numpy as np

from ..errors import LvmdError

NPY_MAGIC = b"\x93NUMPY"
ZIP_MAGIC = b"PK\x03\x04"
MAX_HEADER_BYTES = 10_000  # numpy's own default limit for an .npy header


class NpzArchive:
    """A read-only view of an npz file's members (use as a context manager).

    Parameters
    ----------
    path : Path
        The ``.npz`` file.
    error : type of LvmdError
        Raised, with one line naming the file (and the array), for every problem.
    max_bytes : int
        Upper limit of any one member's decompressed size, checked from its header before reading it.
    """

    def __init__(self, path: str | Path, error: type[LvmdError], max_bytes: int):
        self.path = Path(path)
        self.error = error
        self.max_bytes = int(max_bytes)
        self._zip: zipfile.ZipFile | None = None

    def __enter__(self) -> "NpzArchive":
        try:
            with open(self.path, "rb") as fh:
                magic = fh.read(len(NPY_MAGIC))
        except OSError as exc:
            raise self.error(f"{self.path}: cannot be read ({exc.strerror})") from None
        if magic.startswith(NPY_MAGIC):
            raise self.error(f"{self.path}: is a single .npy array, not an .npz archive of named arrays; save with "
                             "np.savez(path, patient_id=..., phase=...)")
        if not magic.startswith(ZIP_MAGIC[:2]):
            raise self.error(f"{self.path}: not an npz file (no zip archive inside)")
        try:
            self._zip = zipfile.ZipFile(self.path)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
            raise self.error(f"{self.path}: not a readable npz file ({exc})") from None
        names = [n for n in self._zip.namelist() if n.endswith(".npy")]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            self.close()
            raise self.error(f"{self.path}: holds array {repeated[0][:-4]} twice (an ambiguous archive)")
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        """Close the archive."""
        if self._zip is not None:
            self._zip.close()
            self._zip = None

    @property
    def names(self) -> list[str]:
        """Names of the arrays in the archive (member names without ``.npy``)."""
        return [n[:-4] for n in self._zip.namelist() if n.endswith(".npy")]

    def __contains__(self, name: str) -> bool:
        return name in self.names

    def header(self, name: str) -> tuple[tuple[int, ...], np.dtype]:
        """Declared shape and dtype of array ``name``, read from its header alone.

        Object arrays are refused here, and so is a declared size above ``max_bytes`` or beyond what the archive
        member can hold.
        """
        info = self._info(name)
        try:
            with self._zip.open(info) as fh:
                version = np.lib.format.read_magic(fh)
                if version == (1, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh, max_header_size=MAX_HEADER_BYTES)
                elif version == (2, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh, max_header_size=MAX_HEADER_BYTES)
                else:
                    raise ValueError(f"unsupported .npy format version {version}")
        except Exception as exc:  # zipfile, zlib and numpy raise many types on corrupt members
            raise self.error(f"{self.path}: array {name} is not readable ({type(exc).__name__}: {exc})") from None
        if dtype.hasobject:
            raise self.error(f"{self.path}: array {name} is stored as Python objects (np.savez pickles object arrays, "
                             "e.g. a pandas column's .values), which lvmd never loads; write it with a plain dtype: "
                             "np.asarray(values, dtype=str) for text, dtype=float for numbers")
        size = math.prod(shape) * dtype.itemsize
        if size > self.max_bytes:
            raise self.error(f"{self.path}: array {name} declares shape {tuple(shape)} ({size / 2**20:.0f} MiB), "
                             f"above the limit of {self.max_bytes / 2**20:.0f} MiB")
        if size > info.file_size:
            raise self.error(f"{self.path}: array {name} declares shape {tuple(shape)} but its member holds only "
                             f"{info.file_size} bytes (truncated or forged)")
        return tuple(shape), dtype

    def read(self, name: str) -> np.ndarray:
        """Array ``name``, after :meth:`header` has checked its declared size (nothing else is decompressed)."""
        self.header(name)
        try:
            with self._zip.open(self._info(name)) as fh:
                return np.lib.format.read_array(fh, allow_pickle=False, max_header_size=MAX_HEADER_BYTES)
        except Exception as exc:  # zipfile, zlib and numpy raise many types on corrupt members
            raise self.error(f"{self.path}: array {name} is not readable ({type(exc).__name__}: {exc})") from None

    def _info(self, name: str) -> zipfile.ZipInfo:
        if self._zip is None:
            raise self.error(f"{self.path}: archive is closed")
        try:
            return self._zip.getinfo(name + ".npy")
        except KeyError:
            raise self.error(f"{self.path}: missing array {name}") from None
