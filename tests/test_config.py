"""Issue 16, family 2 and 8 (configuration): every value is checked for type, finiteness and range in one place,
and `lvmd config --check` calls exactly what an analysis calls."""

import pandas as pd
import pytest
import torch

from lvmd.config import StudyConfig, load_config
from lvmd.errors import ConfigError

# Each of these was accepted by `lvmd config --check` (or silently changed the analysis) before issue 16.
BAD = [
    ("[features]\nlatent_dim = 2.5\n", "features.latent_dim = 2.5: must be a whole number"),
    ("[features]\nlatent_dim = 2.0\n", "features.latent_dim = 2.0: must be a whole number"),
    ("[features]\nhidden = [-5]\n", r"features.hidden\[0\] = -5: must be in \[1, 16384\]"),
    ("[features]\nhidden = [60000]\n", r"features.hidden\[0\] = 60000"),
    ("[features]\nhidden = [512.0]\n", r"features.hidden\[0\] = 512.0: must be a whole number"),
    ("[features]\nhidden = 512\n", "features.hidden = 512: must be a list"),
    ("[features]\niterations = inf\n", "features.iterations = inf: must be a whole number"),
    ("[features]\nlearning_rate = -1\n", r"features.learning_rate = -1: must be in \(0, 1\]"),
    ("[features]\nlearning_rate = nan\n", "features.learning_rate = nan: must be a finite number"),
    ("[features]\nseed = -1\n", r"features.seed = -1: must be in \[0, 4294967295\]"),
    ("[features]\nseed = 4294967296\n", "features.seed = 4294967296"),
    ("[features]\npca_components = 0\n", "features.pca_components = 0"),
    ("[features]\npca_components = true\n", "features.pca_components = True: must be a whole number"),
    ("[features]\ndevice = \"gpu0\"\n", "features.device = 'gpu0': not a device name"),
    ("[cohort]\nmin_lvesv_ml = nan\n", "cohort.min_lvesv_ml = nan: must be a finite number"),
    ("[cohort]\nmin_lvesv_ml = -1\n", "cohort.min_lvesv_ml = -1"),
    ("[cohort]\nresponse = \"esv10\"\n", "cohort.response = 'esv10': is not one of esv15, ef5, column"),
    ("[stats]\nsignificance = 0\n", "stats.significance = 0"),
    ("[stats]\nclinical = [\"age\", 3]\n", r"stats.clinical\[1\] = 3: must be a non-empty string"),
    ("[stats]\nclinical = [\"age\", \"age\"]\n", "stats.clinical: 'age' is listed twice"),
    ("[stats]\nfirth = 1\n", "stats.firth = 1: must be true or false"),
    ("[stats]\nmax_image_features = 1.5\n", "stats.max_image_features = 1.5"),
    ("[report]\nformats = []\n", "report.formats: must hold at least 1 entry"),
    ("[report]\nformats = [\"gif\"]\n", r"report.formats\[0\] = 'gif': is not one of png, svg, pdf"),
    ("[report]\nexample_maps = -1\n", "report.example_maps = -1"),
]


@pytest.mark.parametrize("text, message", BAD)
def test_bad_values_refused_by_check_and_runtime(text, message, tmp_path, cli):
    path = tmp_path / "study.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(path)
    assert str(path) in str(pytest.raises(ConfigError, load_config, path).value)


def test_config_check_cli_uses_the_same_validator(tmp_path, cli):
    path = tmp_path / "study.toml"
    path.write_text("[features]\nlatent_dim = 2.5\n")
    res = cli("config", "--check", str(path))
    assert res.returncode == 2 and res.stdout == ""
    assert res.stderr == f"error: {path}: features.latent_dim = 2.5: must be a whole number\n"


def test_programmatic_values_checked_too():
    config = StudyConfig()
    config.features.hidden = [512, -1]
    with pytest.raises(ConfigError, match=r"features.hidden\[1\] = -1"):
        config.validate()
    config = StudyConfig()
    config.cohort.min_lvesv_ml = float("nan")
    with pytest.raises(ConfigError, match="cohort.min_lvesv_ml = nan"):
        config.validate()


def test_integers_for_reals_normalised(tmp_path):
    path = tmp_path / "study.toml"
    path.write_text("[features]\nlearning_rate = 1\n[cohort]\nmin_lvesv_ml = 0\n")
    config = load_config(path)
    assert config.features.learning_rate == 1.0 and isinstance(config.features.learning_rate, float)
    assert config.cohort.min_lvesv_ml == 0.0


def test_unreadable_config_files(tmp_path):
    with pytest.raises(ConfigError, match="is a folder"):
        load_config(tmp_path)
    (tmp_path / "bin.toml").write_bytes(b"\xff\xfe[features]\n")
    with pytest.raises(ConfigError, match="bin.toml: cannot be read"):
        load_config(tmp_path / "bin.toml")


def test_cuda_refused_without_cuda(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    path = tmp_path / "study.toml"
    path.write_text("[features]\ndevice = \"cuda\"\n")
    with pytest.raises(ConfigError, match="features.device = 'cuda': this machine has no CUDA device"):
        load_config(path)
    path.write_text("[features]\ndevice = \"cpu\"\n")
    assert load_config(path).features.device == "cpu"


def test_cuda_accepted_where_present(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    path = tmp_path / "study.toml"
    path.write_text("[features]\ndevice = \"cuda\"\n")
    assert load_config(path).features.device == "cuda"
    path.write_text("[features]\ndevice = \"cuda:1\"\n")
    with pytest.raises(ConfigError, match="has 1 CUDA device"):
        load_config(path)


def test_check_against_cohort_columns():
    table = pd.DataFrame({"age": [60.0, 70.0], "qrs_ms": [150.0, 160.0], "site": ["a", "b"]},
                         index=pd.Index(["P1", "P2"], name="patient_id"))
    config = StudyConfig()
    config.stats.clinical = ["age", "qrs_ms"]
    assert config.check_against(table) is config  # psd_deg / pbw_deg are measured on the maps
    with pytest.raises(ConfigError, match="stats.conventional: 'psd_deg' is not a column"):
        config.check_against(table, maps_available=False)
    config.stats.clinical = ["age", "qrs"]
    with pytest.raises(ConfigError, match="stats.clinical: 'qrs' is not a column of the clinical table"):
        config.check_against(table)
    config.stats.clinical = ["site"]
    with pytest.raises(ConfigError, match="column 'site' of the clinical table is not numeric"):
        config.check_against(table)
    config.stats.clinical = ["age"]
    config.stats.conventional = ["psd"]
    with pytest.raises(ConfigError, match="stats.conventional: 'psd' is not a column"):
        config.check_against(table)
