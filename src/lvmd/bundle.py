"""A fitted CRT-response model saved as a bundle folder that scores new patients.

Bundle layout: ``model.json`` (family, variables, coefficients and covariance, preprocessing, response definition,
training summary, apparent and optionally optimism-corrected AUC, versions, date), ``extractor/`` (the autoencoder
or PCA as safetensors + JSON, when the model uses image features), ``MODEL_CARD.md`` and ``checksums.json`` (SHA-256
of every other file). Loading verifies every checksum before reading anything, and nothing is ever unpickled.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from . import __version__
from .cohort import Cohort
from .config import StudyConfig
from .errors import ModelError
from .features import AutoencoderFeatures, PCAFeatures
from .phase.metrics import fill_psd_pbw
from .pipeline import OUTCOME, FittedPipeline, fit_pipeline
from .stats import roc_auc
from .stats.logistic import LogitFit

FORMAT = "lvmd-bundle"
FORMAT_VERSION = 1
CHECKSUMS = "checksums.json"
RECONSTRUCTION_WARNING_FACTOR = 2.0  # warn when a map's reconstruction error exceeds this x the training 99th pct


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _major(version: str) -> str:
    return version.split(".")[0]


@dataclass
class ModelBundle:
    """A fitted model family with everything needed to score a new patient.

    Use :meth:`fit` on a cohort, :meth:`save` / :meth:`load` for the folder, :meth:`predict` for new patients.
    """

    pipeline: FittedPipeline
    meta: dict

    # ------------------------------------------------------------------------------------------------ fitting
    @classmethod
    def fit(cls, cohort: Cohort, config: StudyConfig | None = None, family: str = "clinical+psd+ae",
            optimism_corrected_auc: float | None = None) -> "ModelBundle":
        """Fit the final model on a whole cohort (AE/PCA, feature selection, multivariate logistic model)."""
        config = (config or StudyConfig()).validate()
        analysed = cohort.apply_exclusions(config.cohort.min_lvesv_ml, config.cohort.response)
        if analysed.maps is None:
            raise ModelError(f"{cohort.source}: the cohort has no phase polar maps")
        data = analysed.table.copy()
        data[OUTCOME] = analysed.response(config.cohort.response).to_numpy()
        data = fill_psd_pbw(data, analysed.maps.phase)
        pipeline = fit_pipeline(data, analysed.maps.phase, family, config)
        design = pipeline.design(data, analysed.maps.phase)
        complete = design.notna().all(axis=1)
        prob = pipeline.logit.predict(design[complete].to_numpy(float))
        auc = roc_auc(data.loc[complete, OUTCOME], prob, direction="<").auc
        summary = {v: {"mean": float(design[v].mean()), "sd": float(design[v].std()), "min": float(design[v].min()),
                       "max": float(design[v].max())} for v in pipeline.variables}
        recon = None
        if pipeline.extractor is not None:
            errors = pipeline.extractor.reconstruction_error(analysed.maps.phase)
            recon = {"p99": float(np.percentile(errors, 99)), "median": float(np.median(errors))}
        meta = {
            "format": FORMAT, "format_version": FORMAT_VERSION, "lvmd_version": __version__,
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "family": family, "variables": pipeline.variables, "image_features": pipeline.image_features,
            "coefficients": dict(zip(pipeline.logit.names, map(float, pipeline.logit.params))),
            "covariance": pipeline.logit.cov.tolist(), "estimation": pipeline.logit.method,
            "preprocessing": {"phase_scale_deg": 360.0, "map_shape": [64, 64],
                              "psd_pbw": "taken from clinical.csv, else measured on the phase map"},
            "response_definition": config.cohort.response, "exclusion_min_lvesv_ml": config.cohort.min_lvesv_ml,
            "training": {"source": cohort.source, "patients": int(complete.sum()),
                         "responders": int(data.loc[complete, OUTCOME].sum()),
                         "excluded": [e.patient_id for e in analysed.excluded], "variables": summary,
                         "reconstruction_mse": recon},
            "performance": {"apparent_auc": float(auc), "optimism_corrected_auc": optimism_corrected_auc},
            "config": config.to_dict(),
        }
        try:
            import torch

            meta["torch_version"] = torch.__version__
        except ImportError:  # pragma: no cover - torch is a dependency
            pass
        return cls(pipeline, meta)

    # ------------------------------------------------------------------------------------------------ storage
    def save(self, folder: str | Path) -> None:
        """Write the bundle folder (the folder must not exist or be empty)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        if self.pipeline.extractor is not None:
            self.pipeline.extractor.save(folder / "extractor")
            self.meta["extractor"] = "ae" if isinstance(self.pipeline.extractor, AutoencoderFeatures) else "pca"
        else:
            self.meta["extractor"] = None
        (folder / "model.json").write_text(json.dumps(self.meta, indent=2))
        (folder / "MODEL_CARD.md").write_text(model_card(self.meta))
        files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name != CHECKSUMS)
        sums = {str(p.relative_to(folder)): _sha256(p) for p in files}
        (folder / CHECKSUMS).write_text(json.dumps(sums, indent=2))

    @classmethod
    def load(cls, folder: str | Path) -> "ModelBundle":
        """Load a bundle after verifying every file's checksum, its format and its lvmd version."""
        folder = Path(folder)
        sums_path = folder / CHECKSUMS
        if not sums_path.is_file():
            raise ModelError(f"{folder}: not an lvmd bundle (missing {CHECKSUMS})")
        try:
            sums = json.loads(sums_path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ModelError(f"{sums_path}: corrupt checksum list") from None
        present = {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and p.name != CHECKSUMS}
        for name in sorted(present - set(sums)):
            raise ModelError(f"{folder / name}: file not listed in {CHECKSUMS} (bundle tampered with?)")
        for name, digest in sums.items():
            path = folder / name
            if not path.is_file():
                raise ModelError(f"{path}: listed in {CHECKSUMS} but missing")
            if _sha256(path) != digest:
                raise ModelError(f"{path}: checksum mismatch (bundle modified after it was saved); refusing to load")
        meta = json.loads((folder / "model.json").read_text())
        if meta.get("format") != FORMAT:
            raise ModelError(f"{folder}: not an lvmd bundle (format {meta.get('format')!r})")
        if meta.get("format_version") != FORMAT_VERSION or _major(str(meta.get("lvmd_version", ""))) != _major(__version__):
            raise ModelError(f"{folder}: bundle format {meta.get('format_version')} from lvmd "
                             f"{meta.get('lvmd_version')} is incompatible with lvmd {__version__} "
                             f"(format {FORMAT_VERSION}); refit it with `lvmd fit`")
        extractor = None
        if meta.get("extractor") == "ae":
            extractor = AutoencoderFeatures.load(folder / "extractor")
        elif meta.get("extractor") == "pca":
            extractor = PCAFeatures.load(folder / "extractor")
        names = ["const", *meta["variables"]]
        params = np.array([meta["coefficients"][n] for n in names])
        cov = np.array(meta["covariance"], dtype=float)
        if cov.shape != (len(names), len(names)):
            raise ModelError(f"{folder / 'model.json'}: covariance shape {cov.shape} does not match {len(names)} terms")
        logit = LogitFit(names, params, cov, float("nan"), meta["training"]["patients"], meta["training"]["responders"],
                         False, meta.get("estimation", "mle"), True)
        pipeline = FittedPipeline(meta["family"], list(meta["variables"]), list(meta["image_features"]), extractor, logit)
        return cls(pipeline, meta)

    # ------------------------------------------------------------------------------------------------ scoring
    def predict(self, clinical: pd.DataFrame, phase_maps: np.ndarray | None = None) -> pd.DataFrame:
        """Probability of response with a 95 % CI (delta method on the logit), feature values, contributions, warnings.

        Parameters
        ----------
        clinical : pandas.DataFrame
            One row per patient, indexed by patient_id, with the model's clinical variables (PSD/PBW measured from
            the maps when absent).
        phase_maps : numpy.ndarray (n, 64, 64), optional
            Phase polar maps in the same patient order (needed by models with image features, and for PSD/PBW).
        """
        data = clinical.copy()
        if phase_maps is not None:
            phase_maps = np.asarray(phase_maps, dtype=float)
            if phase_maps.ndim != 3 or phase_maps.shape[1:] != (64, 64) or len(phase_maps) != len(data):
                raise ModelError(f"maps of shape {phase_maps.shape} do not match {len(data)} patients x 64 x 64")
            data = fill_psd_pbw(data, phase_maps)
        for v in self.pipeline.variables:
            if v in self.pipeline.image_features:
                continue
            if v not in data.columns:
                raise ModelError(f"patients lack variable {v} that the model needs")
            missing = data.index[data[v].isna()]
            if len(missing):
                raise ModelError(f"patient {missing[0]}: variable {v} is missing and the model needs it")
        if self.pipeline.image_features and phase_maps is None:
            raise ModelError("the model uses phase polar maps: give --maps or --spect")
        design = self.pipeline.design(data, phase_maps).astype(float)
        X = np.column_stack([np.ones(len(design)), design.to_numpy()])
        beta, cov = self.pipeline.logit.params, self.pipeline.logit.cov
        eta = X @ beta
        se = np.sqrt(np.einsum("ij,jk,ik->i", X, cov, X))
        z = stats.norm.ppf(0.975)
        expit = lambda v: 1.0 / (1.0 + np.exp(-v))  # noqa: E731
        out = pd.DataFrame({"probability": expit(eta), "ci_low": expit(eta - z * se), "ci_high": expit(eta + z * se),
                            "logit": eta}, index=design.index)
        training = self.meta["training"]["variables"]
        for j, v in enumerate(self.pipeline.variables):
            out[v] = design[v]
            out[f"contribution_{v}"] = beta[j + 1] * (design[v] - training[v]["mean"])
        warnings = [[] for _ in range(len(design))]
        for v in self.pipeline.variables:
            lo, hi = training[v]["min"], training[v]["max"]
            for i, value in enumerate(design[v]):
                if value < lo or value > hi:
                    warnings[i].append(f"{v} = {value:.4g} is outside the training range [{lo:.4g}, {hi:.4g}]")
        recon = self.meta["training"].get("reconstruction_mse")
        if self.pipeline.extractor is not None and recon:
            errors = self.pipeline.extractor.reconstruction_error(phase_maps).to_numpy()
            out["reconstruction_mse"] = errors
            for i, e in enumerate(errors):
                if e > RECONSTRUCTION_WARNING_FACTOR * recon["p99"]:
                    warnings[i].append(f"phase map reconstruction error {e:.3g} is very high (training 99th "
                                       f"percentile {recon['p99']:.3g}): the map is unlike the training maps")
        out["warnings"] = warnings
        out.index.name = "patient_id"
        return out


def model_card(meta: dict) -> str:
    """MODEL_CARD.md text: intended use, data, performance, limitations."""
    t = meta["training"]
    perf = meta["performance"]
    corrected = perf["optimism_corrected_auc"]
    coef = "\n".join(f"| {k} | {v:.4g} |" for k, v in meta["coefficients"].items())
    return f"""# Model card: lvmd CRT response model ({meta['family']})

## Intended use
Research use only: estimating the probability of volumetric response to cardiac resynchronization therapy from
baseline clinical data and gated SPECT phase polar maps, to study patient selection. **This is not a medical device**
and must not be used to make treatment decisions for individual patients.

## Model
- Family: `{meta['family']}`; logistic regression ({meta['estimation']}) on: {', '.join(meta['variables'])}.
- Image features: {', '.join(meta['image_features']) or 'none'} ({meta.get('extractor') or 'no extractor'}; features
  are defined only for this fitted extractor).
- Response definition: `{meta['response_definition']}`; exclusion: baseline LVESV < {meta['exclusion_min_lvesv_ml']} mL.
- lvmd {meta['lvmd_version']}, created {meta['created']}.

| term | coefficient (log-odds) |
|---|---|
{coef}

## Training data
{t['source']}: {t['patients']} patients, {t['responders']} responders; excluded: {', '.join(t['excluded']) or 'none'}.

## Performance
- Apparent (in-sample) AUC: {perf['apparent_auc']:.3f}.
- Optimism-corrected AUC: {f'{corrected:.3f}' if corrected is not None else 'not run (use `lvmd fit --optimism N` or `lvmd validate`)'}.

## Limitations
- The apparent AUC is optimistic: features were selected and the model fitted on the same patients.
- Trained on a single cohort; performance on other cameras, reconstruction settings, phase-analysis software or
  populations is unknown. A synthetic training cohort says nothing about real patients.
- Predictions for patients outside the training range of any variable, or with phase maps unlike the training maps
  (high reconstruction error), carry a warning and deserve extra caution.
"""
