"""One configuration for every choice of a study, loadable from TOML (``lvmd config --defaults`` prints it)."""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

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
                                                         "clinical+pbw+ae", "clinical+psd+pca", "clinical+pbw+pca"])
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

    def validate(self) -> "StudyConfig":
        """Check option values; raise :class:`ConfigError` naming the first bad one."""
        if self.cohort.response not in RESPONSE_DEFINITIONS:
            raise ConfigError(f"cohort.response = {self.cohort.response!r} is not one of {', '.join(RESPONSE_DEFINITIONS)}")
        for name in ("significance", "enter_p"):
            v = getattr(self.stats, name)
            if not 0 < v < 1:
                raise ConfigError(f"stats.{name} = {v} must lie in (0, 1)")
        if self.stats.max_image_features < 1:
            raise ConfigError(f"stats.max_image_features = {self.stats.max_image_features} must be at least 1")
        if self.stats.table1_exact not in ("chi2", "fisher"):
            raise ConfigError(f"stats.table1_exact = {self.stats.table1_exact!r} is not chi2 or fisher")
        if not self.stats.families or not all(isinstance(f, str) and f for f in self.stats.families):
            raise ConfigError("stats.families must list at least one model family name")
        if not 0 < self.stats.collinearity_r <= 1:
            raise ConfigError(f"stats.collinearity_r = {self.stats.collinearity_r} must lie in (0, 1]")
        if self.features.preset != "paper":
            raise ConfigError(f"features.preset = {self.features.preset!r} is not known (use 'paper')")
        if self.features.iterations < 1 or self.features.latent_dim < 1:
            raise ConfigError("features.iterations and features.latent_dim must be positive")
        bad = [f for f in self.report.formats if f not in ("png", "svg", "pdf")]
        if bad:
            raise ConfigError(f"report.formats: {bad[0]!r} is not png, svg or pdf")
        return self


SECTIONS = {"cohort": CohortConfig, "stats": StatsConfig, "features": FeaturesConfig, "report": ReportConfig}


def load_config(path: str | Path | None) -> StudyConfig:
    """Defaults, overridden by a TOML file when given; unknown keys are refused by name."""
    config = StudyConfig()
    if path is None:
        return config
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    for section, values in data.items():
        if section not in SECTIONS or not isinstance(values, dict):
            raise ConfigError(f"{path}: unknown section [{section}]")
        target = getattr(config, section)
        known = {f.name for f in fields(target)}
        for key, value in values.items():
            if key not in known:
                raise ConfigError(f"{path}: unknown key {key!r} in [{section}]")
            default = getattr(target, key)
            if isinstance(default, bool) != isinstance(value, bool) or (
                    isinstance(default, (int, float)) and not isinstance(value, (int, float))) or (
                    isinstance(default, (str, list)) and not isinstance(value, type(default))):
                raise ConfigError(f"{path}: [{section}] {key} = {value!r} has the wrong type")
            setattr(target, key, float(value) if isinstance(default, float) else value)
    return config.validate()


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
# they are) and image-feature kinds "+ae" / "+pca" (screened; several kinds are screened together).
families = ["clinical", "clinical+psd", "clinical+pbw", "clinical+psd+ae", "clinical+pbw+ae", "clinical+psd+pca", "clinical+pbw+pca"]
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
