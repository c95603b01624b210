"""Pattern features of phase polar maps: *how* the ventricle activates and *where* it activates last.

Each transformer measures one physical property of a phase map (degrees of the R-R interval, [0, 360), NaN outside
the disc or where a pixel is missing) and, where it helps, of the perfusion map (% of maximum). None learns anything
from data: ``fit`` only checks the input and records which maps are used, so the features are the same whether
computed on one patient or on a cohort, and no cross-validation fold can leak into another through them.

Geometry follows :mod:`lvmd.polar`: ``theta`` counter-clockwise from lateral (lateral 0, anterior 90, septal 180,
inferior 270 degrees), ``rho`` 0 at the apex and 1 at the base. Orientation features are given relative to the
lateral wall as ``cos``/``sin`` pairs, so that a linear model can weigh any preferred direction
(``cos(theta - phi) = cos(phi) cos(theta) + sin(phi) sin(theta)``) and the 0/360 seam is no discontinuity.

Delays are the phases unwrapped at the largest empty arc of the circle (the ECTb convention used for PSD, see
:func:`lvmd.phase.metrics.unwrap_at_largest_gap`), so every feature is unchanged by a global phase offset and by a
map that straddles 0/360 (entropy, a histogram measure, up to its bin grid). Each pixel counts once (the bullseye
display's samples, as for PSD).

Spatial measures (coherence, the harmonic's explained fraction, the late region) read the map after Gaussian
smoothing of its phase unit vectors with SD ``smoothing_px`` = 1.5 pixels, about 4.5 mm of myocardium (the bullseye
radius of 32 pixels spans the ~9 cm from apex to base): finer than a SPECT camera resolves (FWHM 10-15 mm), so it
removes pixel noise and no anatomy, and keeps the measures independent of the noise level and the PSD.

*How* (rotation-invariant): :class:`PhaseCoherence` (local / global mean resultant length and the share of the
dispersion that is large-scale), the first-harmonic ``harmonic_fraction`` of :class:`CircumferentialHarmonic`, the
compactness and extent of the late region (:class:`LateRegion`), :class:`SynchronousFraction` and the histogram
measures (:class:`PhaseHistogram`: PSD, PBW, entropy). *Where* (orientation-aware): the harmonic's amplitude and
direction, :class:`RegionalDelay` (septal-to-lateral and apex-to-base delays) and the late region's location.
*Viability*: perfusion and scar in the late region (:class:`LateRegion` with perfusion maps).
:class:`PatternFeatures` concatenates the documented default set that model families use.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import ndimage
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .. import __version__
from ..errors import ModelError
from ..io.polarmaps import PolarMaps
from ..phase.metrics import VIABLE_PERFUSION_PCT, phase_metrics, unwrap_at_largest_gap
from ..polar import GRID, disc_mask, pixel_coordinates, segment_map
from ..provenance import content_key
from ._base import as_rows, constructor_params, read_json, write_json

FORMAT = "lvmd-pattern"
FORMAT_VERSION = 1
APEX_CAP_RHO = 0.15  # the apex cap (AHA segment 17): circumferential angle is ill-defined there
SEPTAL_SEGMENTS = (2, 3, 8, 9, 14)  # anteroseptal, inferoseptal (basal, mid), apical septal
LATERAL_SEGMENTS = (5, 6, 11, 12, 16)  # inferolateral, anterolateral (basal, mid), apical lateral
BASAL_RHO, APICAL_RHO = 0.7, 0.4  # AHA ring edges (lvmd.polar.RING_EDGES)
# Half the ECTb normal phase bandwidth (38.7 deg men / 30.6 deg women, Chen et al., J Nucl Cardiol 2005): a wall
# within +-20 deg of the median contracts as synchronously as a normal ventricle does.
SYNCHRONY_WINDOW_DEG = 20.0
SMOOTHING_PX = 1.5  # resolution-matched smoothing of the spatial measures (module docstring)


@dataclass
class _Maps:
    """Validated maps of one transform call: phase, unwrapped delay, validity, perfusion (or None), and the
    resolution-matched smoothed phase and delay (computed once per smoothing width)."""

    phase: np.ndarray  # (n, 64, 64) degrees in [0, 360), NaN where invalid
    delay: np.ndarray  # (n, 64, 64) phase unwrapped at the largest empty arc, 0 at the earliest pixel
    valid: np.ndarray  # (n, 64, 64) bool: inside the disc and finite
    perfusion: np.ndarray | None
    _smoothed: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.phase)

    def smoothed(self, sigma_px: float) -> tuple[np.ndarray, np.ndarray]:
        """(phase, delay) after Gaussian smoothing of the phase unit vectors over valid pixels only (0: unsmoothed)."""
        if sigma_px == 0:
            return self.phase, self.delay
        if sigma_px not in self._smoothed:
            phase = np.full(self.phase.shape, np.nan)
            for i in range(len(self)):
                v = self.valid[i]
                rad = np.radians(np.where(v, self.phase[i], 0.0))
                c = _normalised_smooth(np.cos(rad), v, sigma_px)
                s = _normalised_smooth(np.sin(rad), v, sigma_px)
                phase[i] = np.where(v, np.degrees(np.arctan2(s, c)) % 360.0, np.nan)
            self._smoothed[sigma_px] = (phase, _unwrap(phase, self.valid))
        return self._smoothed[sigma_px]


def _unwrap(phase: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Per-map delays: phases unwrapped at the largest empty arc (NaN where invalid)."""
    delay = np.full(phase.shape, np.nan)
    for i in range(len(phase)):
        delay[i][valid[i]] = unwrap_at_largest_gap(phase[i][valid[i]])[0]
    return delay


def _split_input(X) -> tuple[np.ndarray, np.ndarray | None, pd.Index | None]:
    """Phase maps (n, 64, 64), perfusion maps or None, and the index, from any accepted input form."""
    if isinstance(X, PolarMaps):
        phase = np.asarray(X.phase, dtype=float)
        perfusion = None if X.perfusion is None else np.asarray(X.perfusion, dtype=float)
        as_rows(phase, "phase maps")
        if perfusion is not None:
            as_rows(perfusion, "perfusion maps")
        return phase, perfusion, pd.Index(X.patient_id, name="patient_id")
    arr = X.to_numpy(dtype=float) if isinstance(X, pd.DataFrame) else np.asarray(X, dtype=float)
    if arr.ndim == 4 and arr.shape[1] == 2 and arr.shape[2:] == (GRID, GRID):
        as_rows(arr[:, 0], "phase maps")
        as_rows(arr[:, 1], "perfusion maps")
        return arr[:, 0], arr[:, 1], None
    rows, index = as_rows(X, "phase maps")
    return rows.reshape(len(rows), GRID, GRID), None, index


def _prepare(phase: np.ndarray, perfusion: np.ndarray | None) -> _Maps:
    valid = np.isfinite(phase) & disc_mask()[None]
    wrapped = np.where(valid, np.mod(np.where(valid, phase, 0.0), 360.0), np.nan)
    if perfusion is not None:
        perfusion = np.where(disc_mask()[None] & np.isfinite(perfusion), perfusion, np.nan)
        peak = np.nanmax(perfusion.reshape(len(perfusion), -1), axis=1)
        if np.any(peak <= 1.0):
            raise ModelError(f"perfusion map {int(np.argmax(peak <= 1.0))}: maximum {peak[peak <= 1.0][0]:g} "
                             "looks like a fraction; perfusion polar maps are in % of maximum")
    return _Maps(wrapped, _unwrap(wrapped, valid), valid, perfusion)


def _normalised_smooth(values: np.ndarray, valid: np.ndarray, sigma_px: float) -> np.ndarray:
    """Gaussian smoothing of ``values`` over valid pixels only (normalised convolution: holes and the disc edge do
    not pull the result towards zero); NaN where no valid pixel is near."""
    weight = ndimage.gaussian_filter(valid.astype(float), sigma_px, mode="constant")
    total = ndimage.gaussian_filter(np.where(valid, values, 0.0), sigma_px, mode="constant")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(weight > 1e-6, total / weight, np.nan)


def _disc_footprint(radius_px: float) -> np.ndarray:
    r = int(np.floor(radius_px))
    yy, xx = np.mgrid[-r:r + 1, -r:r + 1]
    return (xx**2 + yy**2 <= radius_px**2).astype(float)


class _PatternTransformer(TransformerMixin, BaseEstimator):
    """Input handling, fitted-state checks and naming shared by the pattern transformers.

    Accepts ``PolarMaps`` (phase, and perfusion when present), arrays of phase maps (n, 64, 64) or rows (n, 4096),
    DataFrames of 4096 columns (their index is kept), or stacked (n, 2, 64, 64) arrays of phase and perfusion.
    """

    needs_perfusion = False  # True for transformers that can use perfusion maps

    def _use_perfusion(self, has_perfusion: bool) -> bool:
        choice = getattr(self, "perfusion", False)
        if choice not in ("auto", True, False):
            raise ModelError(f"perfusion = {choice!r} is not one of 'auto', True, False")
        if choice is True and not has_perfusion:
            raise ModelError("perfusion = True but the input carries no perfusion maps (pass PolarMaps with "
                             "perfusion, or stacked (n, 2, 64, 64) phase and perfusion)")
        return bool(self.needs_perfusion and has_perfusion and choice in ("auto", True))

    def fit(self, X, y=None):
        """Check the input and record whether perfusion maps are used; ``y`` is ignored (nothing is learned)."""
        self._check_params()
        _, perfusion, _ = _split_input(X)
        self.uses_perfusion_ = self._use_perfusion(perfusion is not None)
        self.n_features_in_ = GRID * GRID
        self.feature_names_ = self._names(self.uses_perfusion_)
        return self

    def transform(self, X) -> pd.DataFrame:
        """Features of each map: a DataFrame of named columns indexed like the input (patient ids for PolarMaps)."""
        check_is_fitted(self, "feature_names_")
        phase, perfusion, index = _split_input(X)
        if self.uses_perfusion_ and perfusion is None:
            raise ModelError(f"{type(self).__name__} was fitted with perfusion maps; the input to transform has none")
        perfusion = perfusion if self.uses_perfusion_ else None
        values = _FEATURE_CACHE.features(self, phase, perfusion)
        return pd.DataFrame(values, columns=list(self.feature_names_),
                            index=index if index is not None else pd.RangeIndex(len(phase)), dtype=float)

    def _features(self, phase: np.ndarray, perfusion: np.ndarray | None) -> np.ndarray:
        """(n, features) values of the maps, columns in ``feature_names_`` order (no cache)."""
        values = self._compute(_prepare(phase, perfusion))
        return np.column_stack([values[name] for name in self.feature_names_])

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Names of the output features (scikit-learn API)."""
        check_is_fitted(self, "feature_names_")
        return np.array(self.feature_names_, dtype=object)

    def save(self, folder: str | Path) -> None:
        """Save as ``model.json``: the parameters and whether perfusion maps are used (nothing else is fitted)."""
        check_is_fitted(self, "feature_names_")
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        write_json(folder / "model.json", {
            "format": FORMAT, "format_version": FORMAT_VERSION, "transformer": type(self).__name__,
            "config": self.get_params(), "uses_perfusion": self.uses_perfusion_,
            "feature_names": self.feature_names_, "lvmd_version": __version__})

    @classmethod
    def load(cls, folder: str | Path):
        """Load what :meth:`save` wrote; refuses another transformer, format or an inconsistent feature list."""
        path = Path(folder) / "model.json"
        meta = read_json(path, "pattern-feature description")
        if meta.get("format") != FORMAT or meta.get("format_version") != FORMAT_VERSION:
            raise ModelError(f"{path}: not an lvmd pattern-feature model of format version {FORMAT_VERSION}")
        if meta.get("transformer") != cls.__name__:
            raise ModelError(f"{path}: holds {meta.get('transformer')!r}, not {cls.__name__}")
        model = cls(**constructor_params(cls, meta, path))
        try:
            model._check_params()
        except ModelError as exc:
            raise ModelError(f"{path}: config: {exc}") from None
        uses = meta.get("uses_perfusion")
        if not isinstance(uses, bool) or meta.get("feature_names") != model._names(uses):
            raise ModelError(f"{path}: uses_perfusion and feature_names do not match {cls.__name__}'s features")
        model.uses_perfusion_ = uses
        model.n_features_in_ = GRID * GRID
        model.feature_names_ = model._names(uses)
        return model

    def _check_params(self) -> None:
        """Raise :class:`ModelError` naming the first invalid parameter (subclasses extend)."""

    def _names(self, uses_perfusion: bool) -> list[str]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _compute(self, maps: _Maps) -> dict[str, np.ndarray]:  # pragma: no cover - abstract
        raise NotImplementedError


class _FeatureCache:
    """Pattern features of maps already seen in this process, keyed by the transformer's parameters and the maps'
    bytes (a BLAKE2b content key), least recently used dropped beyond ``size`` maps.

    The features are fixed functions of a map, and validation transforms the same maps in every fold and bootstrap
    resample (training and test parts, once per family): remembering them makes the pattern families nearly free
    there. A map's features never depend on the other maps of the call, so a cached row is the computed row.
    """

    def __init__(self, size: int = 50_000):
        self.size = size
        self._rows: OrderedDict = OrderedDict()

    def features(self, transformer: "_PatternTransformer", phase: np.ndarray, perfusion: np.ndarray | None) -> np.ndarray:
        params = (type(transformer).__name__, tuple(sorted(transformer.get_params().items())),
                  transformer.uses_perfusion_)
        maps = [phase] if perfusion is None else [phase, perfusion]
        keys = [(params, content_key(*(np.ascontiguousarray(m[i], dtype=float).tobytes() for m in maps)))
                for i in range(len(phase))]
        missing = [i for i, key in enumerate(keys) if key not in self._rows]
        if missing:
            computed = transformer._features(phase[missing], None if perfusion is None else perfusion[missing])
            for i, row in zip(missing, computed):
                self._rows[keys[i]] = row
        out = np.empty((len(keys), len(transformer.feature_names_)))
        for i, key in enumerate(keys):
            self._rows.move_to_end(key)
            out[i] = self._rows[key]
        while len(self._rows) > self.size:
            self._rows.popitem(last=False)
        return out


_FEATURE_CACHE = _FeatureCache()


def _positive(name: str, value, zero_ok: bool = False) -> None:
    if not (isinstance(value, (int, float)) and np.isfinite(value) and (value > 0 or (zero_ok and value == 0))):
        raise ModelError(f"{name} = {value!r} must be a {'non-negative' if zero_ok else 'positive'} number")


class PhaseCoherence(_PatternTransformer):
    """Local and global phase coherence: is the delay one smooth wavefront (how), whatever its amount?

    Phases are unit vectors ``exp(i phase)``; the mean resultant length R of a set of them is 1 when they agree and
    falls towards 0 as they spread (circular statistics: Mardia & Jupp, *Directional Statistics*, 2000, sec. 2.3).
    Measured on the resolution-matched smoothed map (module docstring).

    Features
    --------
    local_coherence : R of the phases in a disc of ``radius_px`` pixels around each pixel, averaged over the wall
        (0-1). Near 1 when neighbouring myocardium contracts together -- a propagating wavefront -- and lower for
        patchy, scar-related delays whose neighbours disagree. It also falls as the delay gradient steepens.
    global_coherence : R of all the wall's phases (0-1): ``exp(-SD^2 / 2)`` for a wrapped normal histogram, i.e.
        the amount of dyssynchrony on the circle.
    spatial_coherence : ``1 - (1 - local) / (1 - global)``: the share of the wall's phase dispersion that is
        large-scale rather than between neighbours (a circular analogue of 1 - Geary's ratio). Scale-free: near 1
        for a wavefront whatever the PSD, lower for patchy delays. 0 for a map without any dispersion (nothing to
        organise).

    Parameters
    ----------
    radius_px : float
        Neighbourhood radius (pixels; 3 px is about 8 mm of myocardium).
    smoothing_px : float
        SD of the resolution-matched smoothing (pixels; 0 reads the map as it is).
    """

    def __init__(self, radius_px: float = 3.0, smoothing_px: float = SMOOTHING_PX):
        self.radius_px = radius_px
        self.smoothing_px = smoothing_px

    def _check_params(self) -> None:
        _positive("radius_px", self.radius_px)
        _positive("smoothing_px", self.smoothing_px, zero_ok=True)

    def _names(self, uses_perfusion: bool) -> list[str]:
        return ["local_coherence", "global_coherence", "spatial_coherence"]

    def _compute(self, maps: _Maps) -> dict[str, np.ndarray]:
        footprint = _disc_footprint(self.radius_px)
        phase, _ = maps.smoothed(self.smoothing_px)
        n = len(maps)
        local, glob = np.empty(n), np.empty(n)
        for i in range(n):
            v = maps.valid[i]
            z = np.where(v, np.exp(1j * np.radians(np.where(v, phase[i], 0.0))), 0.0)
            count = ndimage.convolve(v.astype(float), footprint, mode="constant")
            re = ndimage.convolve(z.real, footprint, mode="constant")
            im = ndimage.convolve(z.imag, footprint, mode="constant")
            local[i] = float(np.mean(np.hypot(re, im)[v] / count[v]))
            glob[i] = float(np.abs(z[v].mean()))
        spread = 1.0 - glob
        with np.errstate(invalid="ignore", divide="ignore"):
            spatial = np.where(spread > 1e-9, 1.0 - (1.0 - local) / spread, 0.0)
        return {"local_coherence": local, "global_coherence": glob, "spatial_coherence": np.clip(spatial, 0.0, 1.0)}


class CircumferentialHarmonic(_PatternTransformer):
    """First circumferential harmonic of the delay: the septal-to-lateral (or any) sweep of one wavefront.

    Least-squares fit of ``delay = c + a cos(theta) + b sin(theta)`` over the wall outside the apex cap
    (``rho >= 0.15``), the circumferential analogue of the temporal first-harmonic fit of phase analysis (Chen et
    al., J Nucl Cardiol 2005). LBBB activates the septum first and the lateral / posterolateral wall last, a U-shaped
    sweep around the ventricle (Strik et al., J Cardiovasc Transl Res 2012), which is this harmonic.

    Features
    --------
    harmonic_amplitude_deg : ``hypot(a, b)``, degrees: half the early-to-late difference of the sweep (where-aware
        amount).
    harmonic_cos, harmonic_sin : direction of the latest point of the sweep relative to the lateral wall (cos = 1:
        lateral, sin = 1: anterior, cos = -1: septal, sin = -1: inferior); 0, 0 for a map without a sweep.
    harmonic_fraction : share of the delay variance the sweep explains (R^2, 0-1; rotation-invariant): near 1 for
        one circumferential wavefront, low for patchy or apex-to-base patterns. 0 for a map without dispersion.
        Computed on the resolution-matched smoothed delay, so pixel noise does not lower it.

    Amplitude and direction come from the unsmoothed delays (least squares averages the noise out).
    """

    def __init__(self, smoothing_px: float = SMOOTHING_PX):
        self.smoothing_px = smoothing_px

    def _check_params(self) -> None:
        _positive("smoothing_px", self.smoothing_px, zero_ok=True)

    def _names(self, uses_perfusion: bool) -> list[str]:
        return ["harmonic_amplitude_deg", "harmonic_cos", "harmonic_sin", "harmonic_fraction"]

    def _compute(self, maps: _Maps) -> dict[str, np.ndarray]:
        rho, theta = pixel_coordinates()
        t = np.radians(theta)
        n = len(maps)
        amp, cos_, sin_, frac = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
        _, smooth_delay = maps.smoothed(self.smoothing_px)
        for i in range(n):
            use = maps.valid[i] & (rho >= APEX_CAP_RHO)
            if use.sum() < 4:
                continue
            design = np.column_stack([np.ones(use.sum()), np.cos(t[use]), np.sin(t[use])])
            coef, *_ = np.linalg.lstsq(design, maps.delay[i][use], rcond=None)
            a, b = coef[1], coef[2]
            amp[i] = np.hypot(a, b)
            if amp[i] > 1e-9:
                cos_[i], sin_[i] = a / amp[i], b / amp[i]
            d = smooth_delay[i][use]
            total = np.sum((d - d.mean()) ** 2)
            if total > 1e-9:
                fit, *_ = np.linalg.lstsq(design, d, rcond=None)
                frac[i] = 1.0 - np.sum((d - design @ fit) ** 2) / total
        return {"harmonic_amplitude_deg": amp, "harmonic_cos": cos_, "harmonic_sin": sin_,
                "harmonic_fraction": np.clip(frac, 0.0, 1.0)}


class RegionalDelay(_PatternTransformer):
    """Mean delays between AHA regions, the conventional where-measures of LBBB-type dyssynchrony.

    Features
    --------
    septal_lateral_delay_deg : mean delay of the lateral wall (AHA 5, 6, 11, 12, 16) minus the septum (2, 3, 8, 9,
        14), degrees of the R-R interval: positive when the lateral wall contracts late, as in LBBB (the SPECT
        analogue of the echocardiographic septal-to-lateral delay; Strik et al., J Cardiovasc Transl Res 2012).
    base_apex_delay_deg : mean delay of the basal ring (rho >= 0.7) minus the apical ring and apex (rho < 0.4).

    A region with no valid pixel gives a delay of 0 (nothing measurable).
    """

    def _names(self, uses_perfusion: bool) -> list[str]:
        return ["septal_lateral_delay_deg", "base_apex_delay_deg"]

    def _compute(self, maps: _Maps) -> dict[str, np.ndarray]:
        rho, _ = pixel_coordinates()
        seg = segment_map()
        regions = {"septal": np.isin(seg, SEPTAL_SEGMENTS), "lateral": np.isin(seg, LATERAL_SEGMENTS),
                   "basal": disc_mask() & (rho >= BASAL_RHO), "apical": rho < APICAL_RHO}
        n = len(maps)
        out = {"septal_lateral_delay_deg": np.zeros(n), "base_apex_delay_deg": np.zeros(n)}
        for i in range(n):
            mean = {}
            for name, region in regions.items():
                use = region & maps.valid[i]
                mean[name] = float(maps.delay[i][use].mean()) if use.any() else np.nan
            sl = mean["lateral"] - mean["septal"]
            ba = mean["basal"] - mean["apical"]
            out["septal_lateral_delay_deg"][i] = sl if np.isfinite(sl) else 0.0
            out["base_apex_delay_deg"][i] = ba if np.isfinite(ba) else 0.0
        return out


class LateRegion(_PatternTransformer):
    """The latest-activating region: where it lies, how large and how compact it is, and whether it is viable.

    The late region is the part of the wall whose delay (on the resolution-matched smoothed map) exceeds the
    midpoint of the activation range (between the 5th and 95th percentiles of the delays): a scale-free,
    half-maximum threshold, so one dominant late region keeps its extent whatever the PSD. Its main part is the
    connected component (4-neighbour) holding most of the delay above the threshold.

    Phase analysis locates the latest-activating *viable* segment as the LV lead target (Zhou et al., J Nucl
    Cardiol 2017: segments within 10 deg of the latest, > 50 % scar excluded); CRT response improves when the lead
    is concordant with it (GUIDE-CRT, NCT03125720; Zou et al.), and pacing scar does not resynchronise.

    Features
    --------
    late_extent : fraction of the wall in the late region (0-1; about 0.5 for one circumferential sweep, the patch
        area for a patch field).
    late_compactness : share of the late region's delay in its main component (0-1): 1 for one late region, lower
        for several separate late patches (rotation-invariant how-measure).
    late_cos, late_sin : direction of the main component's delay-weighted centroid relative to the lateral wall.
    late_rho : its radial position (0 apex, 1 base).
    late_perfusion_pct : mean perfusion in the main component, % of maximum (with perfusion maps).
    late_scar_fraction : fraction of the main component with perfusion below ``viable_pct`` (with perfusion maps).

    A map without an activation range (constant) has no late region: extent and compactness 0, direction 0, 0, and
    the location and viability of the whole wall.

    Parameters
    ----------
    smoothing_px : float
        SD of the resolution-matched smoothing (pixels; 0: none), which keeps pixel noise from fragmenting the
        region.
    viable_pct : float
        Perfusion below this (% of maximum) counts as scar (50 %, as lvmd.phase.metrics and Zhou et al.).
    perfusion : 'auto', True or False
        Use perfusion maps when the input carries them ('auto'), require them (True) or ignore them (False).
    """

    needs_perfusion = True

    def __init__(self, smoothing_px: float = SMOOTHING_PX, viable_pct: float = VIABLE_PERFUSION_PCT, perfusion="auto"):
        self.smoothing_px = smoothing_px
        self.viable_pct = viable_pct
        self.perfusion = perfusion

    def _check_params(self) -> None:
        _positive("smoothing_px", self.smoothing_px, zero_ok=True)
        _positive("viable_pct", self.viable_pct)

    def _names(self, uses_perfusion: bool) -> list[str]:
        names = ["late_extent", "late_compactness", "late_cos", "late_sin", "late_rho"]
        return names + (["late_perfusion_pct", "late_scar_fraction"] if uses_perfusion else [])

    def _compute(self, maps: _Maps) -> dict[str, np.ndarray]:
        rho, theta = pixel_coordinates()
        t = np.radians(theta)
        names = self._names(maps.perfusion is not None)
        out = {name: np.zeros(len(maps)) for name in names}
        _, smooth_delay = maps.smoothed(self.smoothing_px)
        for i in range(len(maps)):
            v = maps.valid[i]
            d = smooth_delay[i]
            lo, hi = np.percentile(d[v], [5.0, 95.0])
            region, weight = v, np.ones(v.shape)
            if hi - lo > 1e-6:
                threshold = (lo + hi) / 2.0
                late = v & (d > threshold)
                labels, count = ndimage.label(late)
                above = np.where(late, d - threshold, 0.0)
                mass = ndimage.sum(above, labels, index=np.arange(1, count + 1))
                main = int(np.argmax(mass)) + 1
                region, weight = labels == main, above
                out["late_extent"][i] = late.sum() / v.sum()
                out["late_compactness"][i] = mass[main - 1] / mass.sum()
            w = np.where(region, weight, 0.0)
            x, y = np.sum(w * np.cos(t)), np.sum(w * np.sin(t))
            length = np.hypot(x, y)
            if out["late_extent"][i] > 0 and length > 1e-9 * w.sum():
                out["late_cos"][i], out["late_sin"][i] = x / length, y / length
            out["late_rho"][i] = np.sum(w * rho) / w.sum()
            if maps.perfusion is not None:
                perf = maps.perfusion[i][region & np.isfinite(maps.perfusion[i])]
                perf = perf if perf.size else maps.perfusion[i][np.isfinite(maps.perfusion[i])]
                out["late_perfusion_pct"][i] = perf.mean()
                out["late_scar_fraction"][i] = np.mean(perf < self.viable_pct)
        return out


class SynchronousFraction(_PatternTransformer):
    """Fraction of the wall activated within ``window_deg`` of the median delay (0-1).

    The default window (+-20 deg) is half the ECTb normal phase bandwidth (Chen et al., J Nucl Cardiol 2005), so
    the feature reads "how much of the wall contracts as synchronously as a normal ventricle": high when a bounded
    late region delays a synchronous remainder, low when delays spread over the whole wall.
    """

    def __init__(self, window_deg: float = SYNCHRONY_WINDOW_DEG):
        self.window_deg = window_deg

    def _check_params(self) -> None:
        _positive("window_deg", self.window_deg)

    def _names(self, uses_perfusion: bool) -> list[str]:
        return ["synchronous_fraction"]

    def _compute(self, maps: _Maps) -> dict[str, np.ndarray]:
        frac = np.empty(len(maps))
        for i in range(len(maps)):
            d = maps.delay[i][maps.valid[i]]
            frac[i] = np.mean(np.abs(d - np.median(d)) <= self.window_deg)
        return {"synchronous_fraction": frac}


class PhaseHistogram(_PatternTransformer):
    """The conventional histogram measures, as lvmd's phase analysis computes them (:func:`phase_metrics`).

    Features
    --------
    psd_deg : phase standard deviation, degrees.
    pbw_deg : phase bandwidth (shortest arc holding 95 % of the wall), degrees.
    entropy_pct : phase entropy, ``-sum p log p / log(n_bins)`` in % over ``bin_width``-degree bins (Trimble et al.,
        J Nucl Cardiol 2008; normal values: Nakajima et al., EJNMMI Res 2017). Unlike PSD and PBW it depends on the
        histogram's bin grid, so a global phase shift changes it by a fraction of a bin.
    """

    def __init__(self, bin_width: float = 6.0):
        self.bin_width = bin_width

    def _check_params(self) -> None:
        _positive("bin_width", self.bin_width)

    def _names(self, uses_perfusion: bool) -> list[str]:
        return ["psd_deg", "pbw_deg", "entropy_pct"]

    def _compute(self, maps: _Maps) -> dict[str, np.ndarray]:
        rows = [phase_metrics(maps.phase[i][maps.valid[i]], self.bin_width) for i in range(len(maps))]
        return {name: np.array([r[name] for r in rows]) for name in self._names(False)}


DEFAULT_FEATURES = (
    # how: rotation-invariant, scale-free
    "spatial_coherence", "local_coherence", "harmonic_fraction", "late_compactness", "late_extent",
    "synchronous_fraction", "entropy_pct",
    # where: orientation-aware
    "harmonic_amplitude_deg", "harmonic_cos", "harmonic_sin", "septal_lateral_delay_deg", "base_apex_delay_deg",
    "late_cos", "late_sin", "late_rho",
    # viability of the late region (only with perfusion maps)
    "late_perfusion_pct", "late_scar_fraction",
)


class PatternFeatures(_PatternTransformer):
    """The default set of pattern features that the ``pattern`` model families use (``DEFAULT_FEATURES``).

    Concatenates :class:`PhaseCoherence`, :class:`CircumferentialHarmonic`, :class:`RegionalDelay`,
    :class:`LateRegion`, :class:`SynchronousFraction` and the entropy of :class:`PhaseHistogram`, leaving out the
    measures a ``clinical+psd`` model already holds or that restate PSD (``psd_deg``, ``pbw_deg``,
    ``global_coherence``). The two viability features appear only when perfusion maps are used.

    Parameters
    ----------
    radius_px, smoothing_px, viable_pct, window_deg, bin_width :
        Passed to the component transformers (see each).
    perfusion : 'auto', True or False
        As :class:`LateRegion`.

    Examples
    --------
    >>> from lvmd.datasets import load_demo_cohort
    >>> maps = load_demo_cohort().maps
    >>> features = PatternFeatures().fit_transform(maps)
    >>> features.shape
    (103, 17)
    >>> bool(features["spatial_coherence"].between(0, 1).all())
    True
    """

    needs_perfusion = True

    def __init__(self, radius_px: float = 3.0, smoothing_px: float = SMOOTHING_PX, viable_pct: float = VIABLE_PERFUSION_PCT,
                 window_deg: float = SYNCHRONY_WINDOW_DEG, bin_width: float = 6.0, perfusion="auto"):
        self.radius_px = radius_px
        self.smoothing_px = smoothing_px
        self.viable_pct = viable_pct
        self.window_deg = window_deg
        self.bin_width = bin_width
        self.perfusion = perfusion

    def _components(self) -> list[_PatternTransformer]:
        return [PhaseCoherence(self.radius_px, self.smoothing_px), CircumferentialHarmonic(self.smoothing_px), RegionalDelay(),
                LateRegion(self.smoothing_px, self.viable_pct, self.perfusion), SynchronousFraction(self.window_deg),
                PhaseHistogram(self.bin_width)]

    def _check_params(self) -> None:
        for part in self._components():
            part._check_params()

    def _names(self, uses_perfusion: bool) -> list[str]:
        available = {name for part in self._components() for name in part._names(uses_perfusion)}
        return [name for name in DEFAULT_FEATURES if name in available]

    def _compute(self, maps: _Maps) -> dict[str, np.ndarray]:
        values: dict[str, np.ndarray] = {}
        for part in self._components():
            values.update(part._compute(maps))
        return values
