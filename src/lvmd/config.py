"""One configuration for every choice of a study, loadable from TOML (``lvmd config --defaults`` prints it)."""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from pandas.api.types import is_numeric_dtype

from ._device import check_device
from ._values import flag, real, seed, text, text_list, whole, whole_list
from .cohort import RESPONSE_DEFINITIONS
from .errors import ConfigError


@dataclass
class CohortConfig:
    response: str = "esv15"
    min_lvesv_ml: float = 20.0


@dataclass
class StatsConfig:
    significance: float = 0.05
    enter_p: float = 0.1
    collinearity_r: float = 0.7
    clinical: list[str] = field(default_factory=lambda: ["age", "sex", "qrs_ms", "lvef_pct", "lvedv_ml", "lvesv_ml",
                                                         "nyha", "cad", "ckd", "ischemia", "smoking", "acei_arb",
                                                         "scar_burden_pct"])
    conventional: list[str] = field(default_factory=lambda: ["psd_deg", "pbw_deg"])
    firth: bool = False
    max_image_features: int = 3
    families: list[str] = field(default_factory=lambda: ["clinical", "clinical+psd", "clinical+pbw", "clinical+psd+ae",
                                                         "clinical+pbw+ae", "clinical+psd+pca", "clinical+pbw+pca",
                                                         "clinical+psd+pattern", "clinical+psd+ae+pattern"])
    table1_exact: str = "chi2"


@dataclass
class FeaturesConfig:
    preset: str = "paper"
    latent_dim: int = 64
    hidden: list[int] = field(default_factory=lambda: [512])
    iterations: int = 1000
    learning_rate: float = 1e-3
    seed: int = 0
    pca_components: int = 64
    device: str = "auto"


@dataclass
class ReportConfig:
    formats: list[str] = field(default_factory=lambda: ["png", "svg"])
    example_maps: int = 3
    max_traversals: int = 4


@dataclass
class StudyConfig:
    """Every choice of :func:`lvmd.study.run_study`."""

    cohort: CohortConfig = field(default_factory=CohortConfig)
    stats: StatsConfig = field(default_factory=StatsConfig)
    features: FeaturesConfig = field(default_factory=FeaturesConfig)
    report: ReportConfig = field(default_factory=ReportConfig)

    def to_dict(self) -> dict:
        """Plain nested dict (for JSON manifests and reports)."""
        return asdict(self)

    def validate(self, source: str | None = None) -> "StudyConfig":
        """Check every option's type, finiteness and range; raise :class:`ConfigError` naming the first bad one.

        Values are normalised in place (an integer given for a real option becomes a float). ``source`` (the TOML
        file) prefixes the message. This is what both ``lvmd config --check`` and every analysis call.
        """
        where = f"{source}: " if source else ""
        for section, checks in CHECKS.items():
            target = getattr(self, section)
            for key, check in checks.items():
                try:
                    setattr(target, key, check(getattr(target, key), f"{section}.{key}"))
                except ConfigError as exc:
                    raise ConfigError(f"{where}{exc}") from None
        return self

    def check_against(self, table, maps_available: bool = True) -> "StudyConfig":
        """Refuse covariate names a cohort's clinical table does not have (or has but not as numbers).

        ``stats.clinical`` names must be numeric columns of ``table``; ``stats.conventional`` names must be numeric
        columns too, except ``psd_deg`` and ``pbw_deg``, which are measured on the phase maps when the table lacks
        them (``maps_available``). Called by every analysis once the cohort is loaded; unknown names were
        silently dropped before.
        """
        measurable = set(MEASURED_FROM_MAPS) if maps_available else set()
        for key in ("clinical", "conventional"):
            for name in getattr(self.stats, key):
                if name in table.columns:
                    if not is_numeric_dtype(table[name]):
                        raise ConfigError(f"stats.{key}: column {name!r} of the clinical table is not numeric")
                elif key == "clinical" or name not in measurable:
                    known = ", ".join(sorted(map(str, table.columns)))
                    raise ConfigError(f"stats.{key}: {name!r} is not a column of the clinical table (columns: {known})")
        return self


# The autoencoder's size limits: far above the paper (64 features, one hidden layer of 512) and low enough that a
# configuration or a saved model cannot make lvmd allocate gigabytes before anything is checked.
MAX_LATENT_DIM = 4096
MAX_LAYER_WIDTH = 16384
MAX_HIDDEN_LAYERS = 8
MAX_ITERATIONS = 1_000_000
MEASURED_FROM_MAPS = ("psd_deg", "pbw_deg")
FIGURE_FORMATS = ("png", "svg", "pdf")


def _device(value, name):
    text(value, name)
    check_device(value, name)
    return value


CHECKS = {
    "cohort": {
        "response": lambda v, n: text(v, n, RESPONSE_DEFINITIONS),
        "min_lvesv_ml": lambda v, n: real(v, n, 0, 1500),
    },
    "stats": {
        "significance": lambda v, n: real(v, n, 0, 1, low_open=True, high_open=True),
        "enter_p": lambda v, n: real(v, n, 0, 1, low_open=True, high_open=True),
        "collinearity_r": lambda v, n: real(v, n, 0, 1, low_open=True),
        "clinical": lambda v, n: text_list(v, n),
        "conventional": lambda v, n: text_list(v, n),
        "firth": flag,
        "max_image_features": lambda v, n: whole(v, n, 1, MAX_LATENT_DIM),
        "families": lambda v, n: text_list(v, n, min_len=1),
        "table1_exact": lambda v, n: text(v, n, ("chi2", "fisher")),
    },
    "features": {
        "preset": lambda v, n: text(v, n, ("paper",)),
        "latent_dim": lambda v, n: whole(v, n, 1, MAX_LATENT_DIM),
        "hidden": lambda v, n: whole_list(v, n, 1, MAX_LAYER_WIDTH, MAX_HIDDEN_LAYERS),
        "iterations": lambda v, n: whole(v, n, 1, MAX_ITERATIONS),
        "learning_rate": lambda v, n: real(v, n, 0, 1, low_open=True),
        "seed": seed,
        "pca_components": lambda v, n: whole(v, n, 1, MAX_LATENT_DIM),
        "device": _device,
    },
    "report": {
        "formats": lambda v, n: text_list(v, n, FIGURE_FORMATS, min_len=1),
        "example_maps": lambda v, n: whole(v, n, 0, 100),
        "max_traversals": lambda v, n: whole(v, n, 0, MAX_LATENT_DIM),
    },
}
SECTIONS = {"cohort": CohortConfig, "stats": StatsConfig, "features": FeaturesConfig, "report": ReportConfig}


def load_config(path: str | Path | None) -> StudyConfig:
    """Defaults, overridden by a TOML file when given; unknown keys are refused by name, every value is checked."""
    config = StudyConfig()
    if path is None:
        return config
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder, not a TOML file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    except RecursionError:  # arrays nested thousands deep
        raise ConfigError(f"{path}: not a study configuration (values nested too deeply)") from None
    for section, values in data.items():
        if section not in SECTIONS or not isinstance(values, dict):
            raise ConfigError(f"{path}: unknown section [{section}]")
        target = getattr(config, section)
        known = {f.name for f in fields(target)}
        for key, value in values.items():
            if key not in known:
                raise ConfigError(f"{path}: unknown key {key!r} in [{section}]")
            setattr(target, key, value)
    return config.validate(str(path))


DEFAULTS_TOML = """\
# lvmd study configuration. Every key is optional; these are the defaults.

[cohort]
# Response definition: "esv15" (follow-up LVESV >= 15 % below baseline, the paper's),
# "ef5" (LVEF up >= 5 points) or "column" (the explicit 0/1 `response` column).
response = "esv15"
# Patients with baseline LVESV below this (mL) are excluded as implausible (the paper's 16 mL outlier); 0 = off.
min_lvesv_ml = 20.0

[stats]
# Two-sided significance level for "significant" features and models.
significance = 0.05
# Univariate p below which a candidate enters the multivariate models (the paper's 0.1).
enter_p = 0.1
# Candidates correlated beyond this |Pearson r| go into separate multivariate models.
collinearity_r = 0.7
# Clinical candidates screened univariately (columns of clinical.csv).
clinical = ["age", "sex", "qrs_ms", "lvef_pct", "lvedv_ml", "lvesv_ml", "nyha", "cad", "ckd", "ischemia", "smoking", "acei_arb", "scar_burden_pct"]
# Conventional dyssynchrony parameters.
conventional = ["psd_deg", "pbw_deg"]
# Firth's penalised logistic regression instead of maximum likelihood (finite ORs under separation).
firth = false
# At most this many significant image features (AE or PCA, most significant first) enter the multivariate,
# ROC and likelihood-ratio models, split into collinearity groups (the paper had three: AE #28, #30, #35).
max_image_features = 3
# Model families fitted by analyze, validate (and offered by fit): "clinical", then "+psd" / "+pbw" (entered as
# they are) and image-feature kinds "+ae" / "+pca" (the paper's screening; several kinds are screened together)
# and "+pattern" (features with p < significance shrunk together by a ridge penalty; docs/model.md).
families = ["clinical", "clinical+psd", "clinical+pbw", "clinical+psd+ae", "clinical+pbw+ae", "clinical+psd+pca",
            "clinical+pbw+pca", "clinical+psd+pattern", "clinical+psd+ae+pattern"]
# Table 1 test of a categorical variable with an expected count below 5: "chi2" (the paper's; stated in the
# table) or "fisher" (Fisher's exact test; Freeman-Halton on tables larger than 2 x 2).
table1_exact = "chi2"

[features]
# Autoencoder preset ("paper": 4096->512->64->512->4096, Sigmoid output, Adam, full batch).
preset = "paper"
latent_dim = 64
hidden = [512]
# Full-batch Adam iterations (the paper's 1000).
iterations = 1000
learning_rate = 0.001
# Seed of the autoencoder's initialisation (same seed, same machine -> identical features).
seed = 0
# Components of the PCA baseline.
pca_components = 64
# "auto" uses a GPU when present.
device = "auto"

[report]
# Figure formats written beside report.html.
formats = ["png", "svg"]
# Example bullseyes per response group.
example_maps = 3
# Latent traversal figures (of the significant AE features, most significant first).
max_traversals = 4
"""
