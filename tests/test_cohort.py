"""Cohort data layer: a valid round trip and one clear error per kind of bad input (issue: foundation)."""

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from lvmd import load_cohort
from lvmd.cohort import response_labels
from lvmd.errors import CohortError
from lvmd.io.polarmaps import PolarMaps, read_polarmaps, write_png_map
from lvmd.io.tables import read_clinical, write_clinical
from lvmd.polar import disc_mask


def _edit_csv(folder, row, column, value):
    df = pd.read_csv(folder / "clinical.csv", dtype=str, keep_default_na=False)
    df.loc[row, column] = value
    df.to_csv(folder / "clinical.csv", index=False)


def test_round_trip(small_cohort_dir, tmp_path):
    cohort = load_cohort(small_cohort_dir)
    assert len(cohort) == 80 and cohort.maps.phase.shape == (80, 64, 64)
    assert list(cohort.maps.patient_id) == list(cohort.table.index)
    write_clinical(cohort.table, tmp_path / "clinical.csv")
    cohort.maps.save(tmp_path / "polarmaps.npz")
    again = load_cohort(tmp_path)
    pd.testing.assert_frame_equal(again.table, cohort.table)
    np.testing.assert_array_equal(again.maps.phase, cohort.maps.phase)
    assert np.isnan(again.maps.phase[:, ~disc_mask()]).all()


def test_response_definitions():
    t = pd.DataFrame({"lvesv_ml": [100, 100, 100, 100], "lvesv_followup_ml": [85, 85.1, 50, np.nan],
                      "lvef_pct": [30, 30, 30, 30], "lvef_followup_pct": [35, 34.9, 20, 40], "response": [1, 0, 1, 0]})
    np.testing.assert_array_equal(response_labels(t, "esv15").to_numpy(), [1, 0, 1, np.nan])
    np.testing.assert_array_equal(response_labels(t, "ef5").to_numpy(), [1, 0, 0, 1])
    np.testing.assert_array_equal(response_labels(t, "column").to_numpy(), [1, 0, 1, 0])
    with pytest.raises(CohortError, match="not one of"):
        response_labels(t, "nyha1")


def test_exclusions_reported(small_cohort_dir):
    cohort = load_cohort(small_cohort_dir)
    outliers = int((cohort.table["lvesv_ml"] < 20).sum())
    assert outliers == 1  # the simulator plants one implausible ESV per ~100 patients
    cohort.table.loc[cohort.table.index[0], "lvesv_ml"] = 16.0
    cohort.table.loc[cohort.table.index[1], "lvesv_followup_ml"] = np.nan
    kept = cohort.apply_exclusions(20.0)
    reasons = {e.patient_id: e.reason for e in kept.excluded}
    assert len(kept) == 77 and "16 mL < 20 mL" in reasons[cohort.table.index[0]]
    assert "missing" in reasons[cohort.table.index[1]]
    assert len(kept.maps) == 77 and len(kept.excluded) == 3


def test_yes_no_and_sex_coding(cohort_copy):
    _edit_csv(cohort_copy, 0, "cad", "yes")
    _edit_csv(cohort_copy, 1, "cad", "no")
    _edit_csv(cohort_copy, 2, "sex", "F")
    t = read_clinical(cohort_copy / "clinical.csv")
    assert t["cad"].iloc[0] == 1 and t["cad"].iloc[1] == 0 and t["sex"].iloc[2] == 0


def test_extra_columns_kept(cohort_copy):
    df = pd.read_csv(cohort_copy / "clinical.csv")
    df["bnp"] = np.arange(len(df)) * 10.0
    df["site"] = "A"
    df.to_csv(cohort_copy / "clinical.csv", index=False)
    t = read_clinical(cohort_copy / "clinical.csv")
    assert t["bnp"].dtype.kind == "f" and t["site"].iloc[0] == "A"


@pytest.mark.parametrize("column,value,message", [
    ("lvef_pct", "250", "patient P0001 (line 2), column lvef_pct: 250 is outside the allowed range"),
    ("nyha", "7", "column nyha: 7 is outside"),
    ("lvedv_ml", "-5", "column lvedv_ml: -5 is outside"),
    ("qrs_ms", "abc", "column qrs_ms: cannot parse 'abc'"),
    ("sex", "X", "column sex: 'X' is not M or F"),
    ("smoking", "2", "column smoking: '2' is not 0/1 or yes/no"),
])
def test_bad_values(cohort_copy, cli, column, value, message):
    _edit_csv(cohort_copy, 0, column, value)
    with pytest.raises(CohortError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_cohort(cohort_copy)
    res = cli("check", str(cohort_copy))
    assert res.returncode == 2 and res.stderr.startswith("error: ") and "clinical.csv" in res.stderr
    assert "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) == 1


def test_missing_column_and_file(cohort_copy, cli):
    df = pd.read_csv(cohort_copy / "clinical.csv").drop(columns=["qrs_ms"])
    df.to_csv(cohort_copy / "clinical.csv", index=False)
    with pytest.raises(CohortError, match="missing column qrs_ms"):
        load_cohort(cohort_copy)
    (cohort_copy / "clinical.csv").unlink()
    res = cli("check", str(cohort_copy))
    assert res.returncode == 2 and "clinical.csv: file not found" in res.stderr


def test_duplicate_and_empty(cohort_copy):
    _edit_csv(cohort_copy, 1, "patient_id", "P0001")
    with pytest.raises(CohortError, match="duplicate patient_id P0001"):
        load_cohort(cohort_copy)
    df = pd.read_csv(cohort_copy / "clinical.csv").iloc[:0]
    df.to_csv(cohort_copy / "clinical.csv", index=False)
    with pytest.raises(CohortError, match="empty"):
        load_cohort(cohort_copy)


def test_rows_without_maps_and_maps_without_rows(cohort_copy):
    maps = read_polarmaps(cohort_copy / "polarmaps.npz")
    maps.subset(maps.patient_id[1:]).save(cohort_copy / "polarmaps.npz")
    with pytest.raises(CohortError, match="no maps for clinical rows P0001"):
        load_cohort(cohort_copy)
    extra = PolarMaps(np.array(list(maps.patient_id) + ["X9"], dtype=object),
                      np.concatenate([maps.phase, maps.phase[:1]]))
    extra.save(cohort_copy / "polarmaps.npz")
    with pytest.raises(CohortError, match="maps without clinical rows X9"):
        load_cohort(cohort_copy)


@pytest.mark.parametrize("edit,message", [
    (lambda p: p[:, :32, :], r"phase has shape \(80, 32, 64\)"),
    (lambda p: np.where(np.arange(80)[:, None, None] == 2, np.nan, p), "patient P0003 is all NaN"),
    (lambda p: np.where(np.arange(80)[:, None, None] == 4, p + 400, p), "patient P0005 has value .* outside"),
])
def test_bad_maps(cohort_copy, edit, message):
    with np.load(cohort_copy / "polarmaps.npz") as z:
        arrays = dict(z)
    arrays["phase"] = edit(arrays["phase"])
    np.savez(cohort_copy / "polarmaps.npz", **arrays)
    with pytest.raises(CohortError, match=message):
        load_cohort(cohort_copy)


def test_png_folder(cohort_copy):
    maps = read_polarmaps(cohort_copy / "polarmaps.npz")
    (cohort_copy / "polarmaps.npz").unlink()
    folder = cohort_copy / "polarmaps"
    folder.mkdir()
    for pid, phase, perf in zip(maps.patient_id, maps.phase, maps.perfusion):
        write_png_map(phase, folder / f"{pid}_systolicPhase.png", "phase")
        write_png_map(perf, folder / f"{pid}_perfusion.png", "perfusion")
    cohort = load_cohort(cohort_copy)
    assert cohort.maps.kinds() == ["phase", "perfusion"]
    inside = disc_mask()
    assert np.nanmax(np.abs(cohort.maps.phase[:, inside] - maps.phase[:, inside])) <= 360 / 256 + 1e-6
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(folder / "P0002_systolicPhase.png")
    with pytest.raises(CohortError, match="P0002_systolicPhase.png: expected an 8-bit grayscale 64x64 PNG, found mode RGB"):
        load_cohort(cohort_copy)


def test_check_cli_summary(small_cohort_dir, cli):
    res = cli("check", str(small_cohort_dir))
    assert res.returncode == 0, res.stderr
    truth = pd.read_csv(small_cohort_dir / "truth.csv")
    assert f"{int(truth.response.sum())} responders" in res.stdout
    assert "maps: phase, perfusion, thickening" in res.stdout
    assert "P0" in res.stdout and "mL < 20 mL" in res.stdout  # the simulated ESV outlier is excluded
