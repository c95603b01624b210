"""Issue 16, families 2 and 3: terminal and markup injection, and the argument types.

User text (patient ids, folder names, messages) used to reach the terminal raw: `[/x]` in a folder name crashed the
rich console, `[bold red]` in an id was rendered, ANSI escapes in an id reached the terminal from `check`. Bad
numbers on the command line (`--bin-width 0`, `--centre nan nan`, `--seed -1`, `--scheduler local:0`) gave
tracebacks or hangs.
"""

import argparse
import io

import pandas as pd
import pytest

from lvmd import _args
from lvmd.console import SafeConsole, error_line, printable, write_line
from lvmd.cli import main

EVIL = "P\x1b[2J\x1b]0;pwned\x07[bold red]x[/][/x]\u202egnp.exe\r\nerror: forged\udcff"


def test_printable_escapes_every_control_and_invisible_character():
    shown = printable(EVIL)
    assert shown == ("P\\x1b[2J\\x1b]0;pwned\\x07[bold red]x[/][/x]\\u202egnp.exe\\x0d\\x0aerror: forged\\udcff")
    assert shown.isprintable()
    assert printable("Müller-ß 01") == "Müller-ß 01"  # ordinary non-ASCII ids are left alone


def test_safe_console_prints_markup_literally():
    buffer = io.StringIO()
    console = SafeConsole(file=buffer, width=20)
    console.print(f"patient {EVIL}: excluded because of a very long reason that must not be wrapped")
    out = buffer.getvalue()
    assert "[bold red]x[/][/x]" in out and "\x1b" not in out and "\u202e" not in out
    assert out.count("\n") == 1  # one line: nothing forged, nothing wrapped


def test_write_line_survives_narrow_encodings():
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="ascii")
    write_line("patient Müller \x1b[31m", stream)
    assert raw.getvalue() == b"patient M\\xfcller \\x1b[31m\n"


def test_error_line():
    assert error_line("x\ny") == "error: x\\x0ay"


def test_cli_error_line_is_escaped(tmp_path, capsys):
    path = tmp_path / "a\x1b[31m[/x]\nb.toml"
    assert main(["config", "--check", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.err == f"error: {printable(str(path))}: file not found\n"
    assert "\x1b" not in captured.err and captured.err.count("\n") == 1


def test_check_prints_hostile_ids_and_folders_literally(small_cohort_dir, tmp_path, cli):
    folder = tmp_path / "cohort [/x] [bold red]"  # "/" makes it two folders: "cohort [" and "x] [bold red]"
    folder.mkdir(parents=True)
    table = pd.read_csv(small_cohort_dir / "clinical.csv", dtype=str, keep_default_na=False)
    evil = "P\x1b[31m[bold red]EVIL[/bold red][/x]"
    old = table.loc[0, "patient_id"]
    table.loc[0, "patient_id"] = evil
    table.loc[0, "lvesv_ml"] = "10"  # excluded: its id is printed in the exclusion list
    table.to_csv(folder / "clinical.csv", index=False)
    import numpy as np

    with np.load(small_cohort_dir / "polarmaps.npz") as z:
        arrays = {k: z[k] for k in z.files}
    arrays["patient_id"] = np.where(arrays["patient_id"] == old, evil, arrays["patient_id"])
    np.savez_compressed(folder / "polarmaps.npz", **arrays)
    res = cli("check", str(folder))
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr and "\x1b" not in res.stdout
    assert "cohort [/x] [bold red]" in res.stdout
    assert "P\\x1b[31m[bold red]EVIL[/bold red][/x]: baseline LVESV 10 mL" in res.stdout


# ------------------------------------------------------------------------------------------------ argument types
@pytest.mark.parametrize("kind, text, message", [
    (_args.positive_int, "0", "0: must be at least 1"),
    (_args.positive_int, "2.5", "'2.5' is not a whole number"),
    (_args.positive_int, "", "'' is not a whole number"),
    (_args.non_negative_int, "-1", "-1: must be at least 0"),
    (_args.seed, "-1", r"-1: must be in \[0, 4294967295\]"),
    (_args.seed, "4294967296", r"4294967296: must be in \[0, 4294967295\]"),
    (_args.finite_float, "nan", "nan: must be a finite number"),
    (_args.finite_float, "1e400", "inf: must be a finite number"),
    (_args.finite_float, "-inf", "-inf: must be a finite number"),
    (_args.positive_float, "0", "0: must be above 0"),
    (_args.positive_float, "-5", "-5: must be above 0"),
    (_args.non_negative_float, "-0.5", "-0.5: must be at least 0"),
    (_args.float_in(0, 360, low_open=True), "0", r"0: must be in \(0, 360\]"),
    (_args.int_in(8, 64), "100", r"100: must be in \[8, 64\]"),
    (_args.scheduler, "local:0", "local:0: expected local:N with N a whole number of workers, at least 1"),
    (_args.scheduler, "local:-2", "expected local:N"),
    (_args.scheduler, "tcp://host", "expected tcp://HOST:PORT"),
    (_args.scheduler, "tcp://host:99999", "expected tcp://HOST:PORT"),
    (_args.scheduler, "mpi", "use local:N or tcp://HOST:PORT"),
])
def test_argument_types_refuse(kind, text, message):
    with pytest.raises(argparse.ArgumentTypeError, match=message):
        kind(text)


def test_argument_types_accept():
    assert _args.positive_int(" 3 ") == 3 and _args.seed("4294967295") == 4294967295
    assert _args.finite_float("-1.5") == -1.5 and _args.positive_float("1e-3") == 0.001
    assert _args.non_negative_int("0") == 0 and _args.float_in(0, 360, low_open=True)("360") == 360.0
    assert _args.scheduler("local:4") == "local:4" and _args.scheduler("tcp://10.0.0.1:8786") == "tcp://10.0.0.1:8786"


def test_parser_error_is_one_line(capsys, monkeypatch):
    parser = _args.ArgumentParser(prog="lvmd demo")
    sub = parser.add_subparsers(dest="command")
    p = sub.add_parser("validate")
    p.add_argument("--repeats", type=_args.positive_int)
    with pytest.raises(SystemExit) as stop:
        parser.parse_args(["validate", "--repeats", "0"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err == "error: lvmd demo validate: argument --repeats: 0: must be at least 1 (see lvmd demo validate --help)\n"
    with pytest.raises(SystemExit):
        parser.parse_args(["validate", "--repeats", "\x1b[31m"])
    assert "\x1b" not in capsys.readouterr().err


def test_main_reports_unexpected_exceptions_on_one_line(monkeypatch, capsys):
    import lvmd.cli as cli_module

    def broken(args):
        raise ValueError("line one\nline two")

    monkeypatch.setattr(cli_module, "cmd_config", broken)
    monkeypatch.delenv("LVMD_DEBUG", raising=False)
    assert cli_module.main(["config", "--defaults"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: internal error (ValueError: line one\\x0aline two)") and err.count("\n") == 1
    monkeypatch.setenv("LVMD_DEBUG", "1")
    with pytest.raises(ValueError):
        cli_module.main(["config", "--defaults"])

