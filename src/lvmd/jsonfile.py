"""Reading a JSON object that lvmd wrote (a model description, a bundle's checksums), defensively: a missing,
linked, oversized, corrupt or non-object file gives one :class:`~lvmd.errors.ModelError` line naming it."""

from __future__ import annotations

import json
from pathlib import Path

from .errors import ModelError

MAX_JSON_BYTES = 64 * 2**20  # a model description is a few kB; a larger file is not one lvmd wrote


def read_json_object(path: Path, what: str, missing: str, plain_only: bool = False) -> dict:
    """The JSON object in ``path``.

    Parameters
    ----------
    path : Path
    what : str
        What the file is, for messages ("model description").
    missing : str
        Said of the folder when the file is absent ("not an lvmd model folder (missing model.json)").
    plain_only : bool
        Refuse a symbolic link (a bundle holds plain files only).
    """
    path = Path(path)
    if plain_only and path.is_symlink():
        raise ModelError(f"{path}: is a symbolic link; a bundle holds plain files only")
    if not path.is_file():
        raise ModelError(f"{path.parent}: {missing}")
    try:
        if path.stat().st_size > MAX_JSON_BYTES:
            raise ModelError(f"{path}: {path.stat().st_size} bytes is too large for a {what}")
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ModelError(f"{path}: corrupt {what} ({exc})") from None
    if not isinstance(payload, dict):
        raise ModelError(f"{path}: corrupt {what} (a JSON {type(payload).__name__}, not an object)")
    return payload
