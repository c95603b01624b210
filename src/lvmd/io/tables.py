"""Reading and validating ``clinical.csv``: one row per patient, documented columns, units and ranges."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import CohortError


@dataclass(frozen=True)
class Column:
    """One documented clinical column: its kind, allowed range and unit."""

    name: str
    kind: str  # "id", "float", "int", "binary", "sex"
    low: float | None = None
    high: float | None = None
    unit: str = ""
    required: bool = True
    description: str = ""


CLINICAL_COLUMNS: tuple[Column, ...] = (
    Column("patient_id", "id", description="pseudonymous patient identifier, unique"),
    Column("age", "float", 0, 120, "years", description="age at baseline"),
    Column("sex", "sex", description="M or F"),
    Column("qrs_ms", "float", 40, 300, "ms", description="QRS duration"),
    Column("lvef_pct", "float", 1, 95, "%", description="baseline LV ejection fraction"),
    Column("lvedv_ml", "float", 0, 1500, "mL", description="baseline LV end-diastolic volume"),
    Column("lvesv_ml", "float", 0, 1500, "mL", description="baseline LV end-systolic volume"),
    Column("lvesv_followup_ml", "float", 0, 1500, "mL", required=False, description="LVESV at follow-up"),
    Column("lvef_followup_pct", "float", 1, 95, "%", required=False, description="LVEF at follow-up"),
    Column("nyha", "int", 1, 4, "class", description="NYHA functional class"),
    Column("cad", "binary", description="coronary artery disease"),
    Column("ckd", "binary", description="chronic kidney disease"),
    Column("ischemia", "binary", description="ischaemia on MPI"),
    Column("smoking", "binary", description="current or former smoker"),
    Column("acei_arb", "binary", description="on ACE inhibitor or ARB"),
    Column("scar_burden_pct", "float", 0, 100, "% of LV", description="scar burden"),
    Column("psd_deg", "float", 0, 180, "degrees", required=False, description="phase standard deviation"),
    Column("pbw_deg", "float", 0, 360, "degrees", required=False, description="phase histogram bandwidth"),
    Column("response", "binary", required=False, description="explicit CRT response label"),
)
COLUMNS_BY_NAME = {c.name: c for c in CLINICAL_COLUMNS}
BINARY_WORDS = {"0": 0.0, "1": 1.0, "no": 0.0, "yes": 1.0, "n": 0.0, "y": 1.0, "false": 0.0, "true": 1.0}
MISSING_WORDS = {"", "na", "nan", "none", "null", "."}


def _row_label(path: Path, df: pd.DataFrame, i: int) -> str:
    pid = df["patient_id"].iloc[i] if "patient_id" in df.columns else None
    who = f"patient {pid}" if isinstance(pid, str) and pid else f"row {i + 2}"
    return f"{path}: {who} (line {i + 2})"


def _parse_column(path: Path, df: pd.DataFrame, col: Column) -> pd.Series:
    raw = df[col.name]
    out = np.full(len(raw), np.nan)
    for i, value in enumerate(raw):
        text = str(value).strip()
        if text.lower() in MISSING_WORDS:
            continue
        if col.kind == "sex":
            up = text.upper()
            if up in ("M", "MALE"):
                out[i] = 1.0
            elif up in ("F", "FEMALE"):
                out[i] = 0.0
            else:
                raise CohortError(f"{_row_label(path, df, i)}, column sex: {_shown(text)} is not M or F")
            continue
        if col.kind == "binary":
            key = text.lower()
            if key in BINARY_WORDS:
                out[i] = BINARY_WORDS[key]
                continue
            try:
                number = float(text)
            except ValueError:
                raise CohortError(f"{_row_label(path, df, i)}, column {col.name}: {_shown(text)} is not 0/1 or yes/no") from None
            if number not in (0.0, 1.0):
                raise CohortError(f"{_row_label(path, df, i)}, column {col.name}: {_shown(text)} is not 0/1 or yes/no")
            out[i] = number
            continue
        try:
            number = float(text)
        except ValueError:
            raise CohortError(f"{_row_label(path, df, i)}, column {col.name}: cannot parse {_shown(text)} as a number") from None
        if not np.isfinite(number):
            raise CohortError(f"{_row_label(path, df, i)}, column {col.name}: {_shown(text)} is not a finite number")
        if col.kind == "int" and number != round(number):
            raise CohortError(f"{_row_label(path, df, i)}, column {col.name}: {_shown(text)} is not a whole number")
        if (col.low is not None and number < col.low) or (col.high is not None and number > col.high):
            raise CohortError(
                f"{_row_label(path, df, i)}, column {col.name}: {text} is outside the allowed range "
                f"[{col.low:g}, {col.high:g}] {col.unit}".rstrip()
            )
        out[i] = number
    return pd.Series(out, index=df.index, name=col.name)


def _read_table(path: Path) -> pd.DataFrame:
    """The CSV as strings, refusing what pandas would silently repair: a repeated column name (renamed ``age.1``),
    a row with more cells than the header (its first cell silently became the index), an unnamed column holding
    values."""
    if not path.exists():
        raise CohortError(f"{path}: file not found")
    if not path.is_file():
        raise CohortError(f"{path}: not a regular file")
    try:
        cells = pd.read_csv(path, header=None, dtype=str, keep_default_na=False, skipinitialspace=True,
                            encoding="utf-8-sig")
    except pd.errors.EmptyDataError:
        raise CohortError(f"{path}: the table is empty") from None
    except UnicodeDecodeError as exc:
        raise CohortError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); save the table as UTF-8 "
                          "CSV") from None
    except (pd.errors.ParserError, ValueError, OSError) as exc:
        raise CohortError(f"{path}: not a readable CSV table ({str(exc).strip().splitlines()[0]})") from None
    names = [str(c).strip() for c in cells.iloc[0]]
    seen: dict[str, int] = {}
    for j, name in enumerate(names):
        if name in seen and name:
            raise CohortError(f"{path}: column {_shown(name)} appears twice (columns {seen[name] + 1} and {j + 1})")
        seen[name] = j
    table = cells.iloc[1:].reset_index(drop=True)
    table.columns = names
    for j, name in enumerate(names):
        if not name:
            if (table.iloc[:, j].str.strip() != "").any():
                raise CohortError(f"{path}: column {j + 1} holds values but has no name")
    return table.loc[:, [bool(n) for n in names]]


def _shown(text: str, limit: int = 40) -> str:
    """``repr`` of a cell or name, shortened for a one-line message."""
    return repr(text) if len(text) <= limit else repr(text[:limit]) + f"... ({len(text)} characters)"


def read_clinical(path: str | Path, required: "list[str] | None" = None) -> pd.DataFrame:
    """Read and validate a clinical table.

    Parameters
    ----------
    path : str or Path
        CSV file with the columns of :data:`CLINICAL_COLUMNS` (extra columns are kept; numeric ones become
        usable covariates).
    required : list of str, optional
        Columns that must be present (default: every required column of the schema); used when scoring new
        patients, who need only the model's variables.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``patient_id`` (str); ``sex`` coded 1 = male, 0 = female; binaries as 0/1 floats; empty
        cells as NaN.

    Raises
    ------
    CohortError
        One line naming the file, the patient or row, and the column at fault.
    """
    path = Path(path)
    raw = _read_table(path)
    needed = [c.name for c in CLINICAL_COLUMNS if c.required] if required is None else ["patient_id", *required]
    for name in needed:
        if name not in raw.columns:
            raise CohortError(f"{path}: missing column {name}")
    if len(raw) == 0:
        raise CohortError(f"{path}: the table is empty (no patient rows)")
    ids = raw["patient_id"].str.strip()
    for i, pid in enumerate(ids):
        if not pid:
            raise CohortError(f"{path}: row {i + 2} (line {i + 2}), column patient_id: empty identifier")
    duplicated = ids[ids.duplicated()].unique()
    if len(duplicated):
        raise CohortError(f"{path}: duplicate patient_id {', '.join(map(str, duplicated[:5]))}")
    raw["patient_id"] = ids
    table = pd.DataFrame(index=pd.Index(ids.to_numpy(), name="patient_id"))
    for col in CLINICAL_COLUMNS[1:]:
        if col.name in raw.columns:
            table[col.name] = _parse_column(path, raw, col).to_numpy()
    for name in raw.columns:
        if name in COLUMNS_BY_NAME:
            continue
        numeric = pd.to_numeric(raw[name].replace("", np.nan), errors="coerce")
        keep_numeric = numeric.notna().sum() == raw[name].replace("", np.nan).notna().sum()
        if keep_numeric and np.isinf(numeric).any():
            i = int(np.argmax(np.isinf(numeric.to_numpy())))
            raise CohortError(f"{_row_label(path, raw, i)}, column {name}: {_shown(raw[name].iloc[i])} is not a finite "
                              "number")
        table[name] = numeric.to_numpy() if keep_numeric else raw[name].to_numpy()
    return table


def write_clinical(table: pd.DataFrame, path: str | Path) -> None:
    """Write a clinical table in the documented format (sex as M/F, binaries as 0/1)."""
    out = table.copy()
    if "sex" in out.columns:
        out["sex"] = np.where(out["sex"] == 1, "M", np.where(out["sex"] == 0, "F", ""))
    for col in CLINICAL_COLUMNS:
        if col.name in out.columns and col.kind in ("binary", "int"):
            out[col.name] = out[col.name].map(lambda v: "" if pd.isna(v) else str(int(v)))
    out.reset_index().to_csv(path, index=False, float_format="%.6g")
