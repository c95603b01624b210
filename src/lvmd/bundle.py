"""A fitted :class:`~lvmd.model.CRTResponseModel` saved as a bundle folder, and loaded back exactly.

Layout: ``model.json`` (the model's state -- family, configuration, every model's variables, coefficients and
covariance, the selection, the training summary -- its apparent and optionally optimism-corrected AUC, versions,
date), ``extractor/`` (the image-feature transformers, one safetensors + JSON sub-folder per kind, when the models
use image features), ``MODEL_CARD.md`` and ``checksums.json`` (SHA-256 of every other file). Loading verifies every
checksum before reading anything, and nothing is ever unpickled. Scoring patients is :mod:`lvmd.predict`; external
validation :mod:`lvmd.evaluate`.
"""

from __future__ import annotations

import datetime
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from . import __version__
from ._paths import confined_path
from .errors import ModelError
from .jsonfile import read_json_object
from .model import CRTResponseModel, ImageFeatures
from .provenance import sha256, versions

FORMAT = "lvmd-bundle"
FORMAT_VERSION = 2
CHECKSUMS = "checksums.json"
EXTRACTOR = "extractor"


def _major(version: str) -> str:
    return version.split(".")[0]


def _strict_json(value):
    """``value`` with every non-finite float as null, so that model.json is strict JSON (readable by any tool)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _strict_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict_json(v) for v in value]
    return value


@dataclass
class ModelBundle:
    """A fitted model with what a reader of the folder needs to trust it.

    Parameters
    ----------
    model : CRTResponseModel
        A fitted model.
    optimism_corrected_auc : float, optional
        From ``lvmd validate`` or ``lvmd fit --optimism N``, recorded beside the apparent AUC.
    """

    model: CRTResponseModel
    optimism_corrected_auc: float | None = None
    meta: dict = field(default_factory=dict)

    def save(self, folder: str | Path) -> None:
        """Write the bundle folder (which must not exist or be empty)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        if self.model.extractor_ is not None:
            self.model.extractor_.save(folder / EXTRACTOR)
        self.meta = {
            "format": FORMAT, "format_version": FORMAT_VERSION, "lvmd_version": __version__,
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "versions": versions(),
            "preprocessing": {"phase_scale_deg": 360.0, "map_shape": [64, 64],
                              "psd_pbw": "taken from the clinical table, else measured on the phase map"},
            "performance": {"apparent_auc": self.model.apparent_auc_,
                            "optimism_corrected_auc": self.optimism_corrected_auc},
            "model": self.model.state(),
        }
        (folder / "model.json").write_text(json.dumps(_strict_json(self.meta), indent=2, allow_nan=False))
        (folder / "MODEL_CARD.md").write_text(model_card(self.meta))
        files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name != CHECKSUMS)
        (folder / CHECKSUMS).write_text(json.dumps({str(p.relative_to(folder)): sha256(p) for p in files}, indent=2))

    @classmethod
    def load(cls, folder: str | Path) -> "ModelBundle":
        """Load a bundle after verifying every file's checksum, its format and its lvmd version.

        Nothing outside the folder is ever read: every ``checksums.json`` entry must name a plain file inside it
        (:func:`lvmd._paths.confined_path`), and a bundle holding a symbolic link is refused. model.json is
        type-checked before the model is rebuilt; every problem is one :class:`ModelError` line.
        """
        folder = Path(folder)
        if not folder.is_dir():
            raise ModelError(f"{folder}: not an lvmd bundle (not a folder)")
        sums = read_json_object(folder / CHECKSUMS, "bundle checksum list", f"not an lvmd bundle (missing {CHECKSUMS})",
                                plain_only=True)
        present = _bundle_files(folder)
        for name in sorted(present - set(sums)):
            raise ModelError(f"{folder / name}: file not listed in {CHECKSUMS} (bundle tampered with?)")
        for name, digest in sums.items():
            path = confined_path(folder, name, ModelError)
            if name not in present:
                raise ModelError(f"{path}: listed in {CHECKSUMS} but missing")
            if not isinstance(digest, str) or sha256(path) != digest:
                raise ModelError(f"{path}: checksum mismatch (bundle modified after it was saved); refusing to load")
        meta = read_json_object(folder / "model.json", "bundle model description",
                                "not an lvmd bundle (missing model.json)", plain_only=True)
        if meta.get("format") != FORMAT:
            raise ModelError(f"{folder}: not an lvmd bundle (format {meta.get('format')!r})")
        if meta.get("format_version") != FORMAT_VERSION or _major(str(meta.get("lvmd_version", ""))) != _major(__version__):
            raise ModelError(f"{folder}: bundle format {meta.get('format_version')} from lvmd "
                             f"{meta.get('lvmd_version')} is incompatible with lvmd {__version__} "
                             f"(format {FORMAT_VERSION}); refit it with `lvmd fit`")
        state, performance = meta.get("model"), meta.get("performance", {})
        if not isinstance(state, dict) or not isinstance(performance, dict):
            raise ModelError(f"{folder / 'model.json'}: model and performance must be JSON objects")
        corrected = performance.get("optimism_corrected_auc")
        if corrected is not None and (isinstance(corrected, bool) or not isinstance(corrected, (int, float))):
            raise ModelError(f"{folder / 'model.json'}: optimism_corrected_auc = {corrected!r} is not a number")
        kinds = state.get("extractor_kinds")
        extractor = ImageFeatures.load(folder / EXTRACTOR) if kinds else None
        try:
            model = CRTResponseModel.from_state(state, extractor)
        except ModelError as exc:
            raise ModelError(f"{folder / 'model.json'}: {exc}") from None
        return cls(model, corrected, meta)


def _bundle_files(folder: Path) -> set[str]:
    """Relative paths of the bundle's files (checksums.json aside); a symbolic link anywhere is refused."""
    files = set()
    for root, dirs, names in os.walk(folder):
        for name in dirs + names:
            path = Path(root) / name
            if path.is_symlink():
                raise ModelError(f"{path}: is a symbolic link; a bundle holds plain files only")
        files |= {(Path(root) / n).relative_to(folder).as_posix() for n in names}
    return files - {CHECKSUMS}


def model_card(meta: dict) -> str:
    """MODEL_CARD.md text: intended use, model, data, performance, limitations."""
    state = meta["model"]
    t = state["training"]
    perf = meta["performance"]
    corrected = perf["optimism_corrected_auc"]
    primary, *alternatives = state["models"]
    coef = "\n".join(f"| {k} | {v:.4g} |" for k, v in primary["coefficients"].items())
    other = "".join(f"\n- Alternative model (another collinearity group, saved, not used for scoring): {m['label']}, "
                    f"apparent AUC {m['apparent_auc']:.3f}." for m in alternatives)
    excluded = ", ".join(pid for pid, _ in t["excluded"]) or "none"
    ridge = ""
    if primary.get("penalised"):
        ridge = (f"\n- Ridge-penalised terms (penalty {primary['penalty']:g} on standardised values, chosen by inner "
                 f"cross-validation): {', '.join(primary['penalised'])}. Their coefficients are shrunk towards 0 and "
                 "have no p-value; the 95 % intervals of predicted probabilities use the Bayesian covariance of the "
                 "penalised fit, which ignores the screening and the choice of the penalty (narrower than an "
                 "honest interval).")
    kinds = ", ".join(state["extractor_kinds"]) or "no extractor"
    return f"""# Model card: lvmd CRT response model ({state['family']})

## Intended use
Research use only: estimating the probability of volumetric response to cardiac resynchronization therapy from
baseline clinical data and gated SPECT phase polar maps, to study patient selection. **This is not a medical device**
and must not be used to make treatment decisions for individual patients.

## Model
- Family: `{state['family']}`; primary model {primary['label']}: logistic regression ({primary['estimation']}) on
  {', '.join(primary['variables'])}.{other}{ridge}
- Image features: {', '.join(primary['image_features']) or 'none'} ({kinds}; features are defined only for this
  fitted extractor).
- Response definition: `{state['config']['cohort']['response']}`; exclusion: baseline LVESV <
  {state['config']['cohort']['min_lvesv_ml']} mL.
- lvmd {meta['lvmd_version']}, created {meta['created']}.

| term | coefficient (log-odds) |
|---|---|
{coef}

## Training data
{t['source']}: {t['patients']} patients, {t['responders']} responders; excluded: {excluded}.

## Performance
- Apparent (in-sample) AUC: {perf['apparent_auc']:.3f}.
- Optimism-corrected AUC: {f'{corrected:.3f}' if corrected is not None else 'not run (use `lvmd fit --optimism N` or `lvmd validate`)'}.
- External validation: `lvmd evaluate BUNDLE COHORT` (discrimination, calibration, recalibration, decision curve).

## Limitations
- The apparent AUC is optimistic: features were selected and the model fitted on the same patients.
- Trained on a single cohort; performance on other cameras, reconstruction settings, phase-analysis software or
  populations is unknown. A synthetic training cohort says nothing about real patients.
- Predictions for patients outside the training range of any variable, or with phase maps unlike the training maps
  (high reconstruction error), carry a warning and deserve extra caution.
"""
