"""The fitted image-feature transformers of one model, used as a single extractor."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ..errors import ModelError
from ..io.polarmaps import PolarMaps
from .kinds import image_kind

KINDS_FILE = "kinds.json"


class ImageFeatures:
    """Fitted transformers of several image-feature kinds whose features are joined column-wise.

    Parameters
    ----------
    extractors : dict
        Kind name -> fitted transformer (see :mod:`lvmd.model.kinds` for the contract).
    """

    def __init__(self, extractors: dict):
        self.extractors = dict(extractors)

    @property
    def kinds(self) -> list[str]:
        """Kinds in use, in order."""
        return list(self.extractors)

    def transform(self, maps: PolarMaps) -> pd.DataFrame:
        """Features of every kind for ``maps``, indexed by patient id."""
        frames = [extractor.transform(maps) for extractor in self.extractors.values()]
        return pd.concat(frames, axis=1)

    def reconstruction_error(self, maps: PolarMaps) -> pd.DataFrame:
        """Per-map reconstruction error of each kind that defines one (columns named by kind)."""
        errors = {kind: e.reconstruction_error(maps) for kind, e in self.extractors.items()
                  if hasattr(e, "reconstruction_error")}
        return pd.DataFrame(errors)

    def save(self, folder: str | Path) -> None:
        """One sub-folder per kind (safetensors + JSON) and ``kinds.json`` naming them."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for kind, extractor in self.extractors.items():
            extractor.save(folder / kind)
        (folder / KINDS_FILE).write_text(json.dumps(self.kinds))

    @classmethod
    def load(cls, folder: str | Path) -> "ImageFeatures":
        """Load what :meth:`save` wrote (each kind by its registered loader)."""
        folder = Path(folder)
        try:
            kinds = json.loads((folder / KINDS_FILE).read_text())
        except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ModelError(f"{folder / KINDS_FILE}: not a readable list of image-feature kinds ({exc})") from None
        return cls({kind: image_kind(kind).load(folder / kind) for kind in kinds})

    def __repr__(self) -> str:
        return f"ImageFeatures({', '.join(f'{k}: {type(e).__name__}' for k, e in self.extractors.items())})"
