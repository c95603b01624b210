"""Provenance of outputs: file checksums, content keys and the versions of the software whose numbers lvmd reports."""

from __future__ import annotations

import hashlib
import platform
from pathlib import Path


def sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_text(text: str, length: int = 64) -> str:
    """Hex SHA-256 of a string (UTF-8, lone surrogates kept), cut to ``length`` characters (short, stable names)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:length]


def content_key(*chunks: bytes) -> bytes:
    """A 16-byte BLAKE2b digest of in-memory data (a cache key: equal for equal bytes, fast to compute)."""
    digest = hashlib.blake2b(digest_size=16)
    for chunk in chunks:
        digest.update(chunk)
    return digest.digest()


def versions() -> dict:
    """Versions of lvmd, Python and the libraries whose numbers it reports."""
    import numpy
    import pandas
    import scipy
    import sklearn
    import statsmodels
    import torch

    from . import __version__

    return {"lvmd": __version__, "python": platform.python_version(), "numpy": numpy.__version__,
            "scipy": scipy.__version__, "pandas": pandas.__version__, "statsmodels": statsmodels.__version__,
            "scikit-learn": sklearn.__version__, "torch": torch.__version__, "platform": platform.platform()}
