"""Issue 16, families 2 and 4: one output-folder mechanism that never deletes what lvmd did not create.

Each test reproduces a failure seen when lvmd was attacked: `--out . --force` emptied the working folder, `--force`
on a parent of the input deleted the input, a symlinked `--out` gave a traceback and left the temporary folder, an
`--out` that appeared during the run was replaced without `--force`, two runs to one `--out` both succeeded, SIGTERM
left a hidden temporary folder, and unwritable `--out` paths gave tracebacks.
"""

import errno
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from lvmd.outputs import MARKER, OutputError, atomic_dir, atomic_file, check_output_dir, is_lvmd_output


def _tree(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _write(out, force=False, inputs=(), text="new"):
    with atomic_dir(out, force, inputs) as tmp:
        (tmp / "result.txt").write_text(text)


def _hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_output_is_marked_and_replaced_whole(tmp_path):
    out = tmp_path / "out"
    _write(out, text="first")
    assert is_lvmd_output(out) and (out / "result.txt").read_text() == "first"
    with pytest.raises(OutputError, match="not empty"):
        _write(out, text="second")
    _write(out, force=True, text="second")
    assert sorted(p.name for p in out.iterdir()) == [MARKER, "result.txt"]
    assert (out / "result.txt").read_text() == "second"
    assert _hidden(tmp_path) == []  # no temporary, old or lock file left beside it


def test_failed_run_keeps_previous_output_and_removes_created_parents(tmp_path):
    out = tmp_path / "out"
    _write(out, text="first")
    before = _tree(out)
    with pytest.raises(RuntimeError):
        with atomic_dir(out, force=True) as tmp:
            (tmp / "half.txt").write_text("x")
            raise RuntimeError("boom")
    assert _tree(out) == before and _hidden(tmp_path) == []
    deep = tmp_path / "a" / "b" / "out"
    with pytest.raises(RuntimeError):
        with atomic_dir(deep):
            raise RuntimeError("boom")
    assert not (tmp_path / "a").exists()


def test_force_refuses_folders_lvmd_did_not_write(tmp_path):
    mine = tmp_path / "notes"
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work")
    with pytest.raises(OutputError, match="is not a previous lvmd output .no .lvmd-output marker"):
        _write(mine, force=True)
    assert (mine / "thesis.tex").read_text() == "years of work" and _hidden(tmp_path) == []
    (mine / MARKER).write_text("not json")
    with pytest.raises(OutputError, match="not a previous lvmd output"):
        _write(mine, force=True)


def test_force_never_deletes_the_working_folder(tmp_path, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    (work / "data.csv").write_text("precious")
    (work / MARKER).write_text('{"format": "lvmd-output"}')  # even a marked working folder is kept
    monkeypatch.chdir(work)
    before = _tree(work)
    for out in (".", "", "..", str(work), str(tmp_path)):
        with pytest.raises(OutputError, match="is the working folder or one of its parents"):
            _write(out, force=True)
    assert _tree(work) == before


def test_force_never_deletes_a_folder_holding_an_input(tmp_path):
    project = tmp_path / "project"
    cohort = project / "cohort"
    cohort.mkdir(parents=True)
    (cohort / "clinical.csv").write_text("patient_id\nP1\n")
    (project / MARKER).write_text('{"format": "lvmd-output"}')  # e.g. a `lvmd simulate` output used as input
    before = _tree(project)
    with pytest.raises(OutputError, match="holds the input"):
        _write(project, force=True, inputs=[cohort])
    with pytest.raises(OutputError, match="holds the input"):
        _write(cohort, force=True, inputs=[cohort / "clinical.csv"])
    link = tmp_path / "alias"
    link.symlink_to(cohort)
    with pytest.raises(OutputError, match="holds the input"):
        _write(project, force=True, inputs=[link / "clinical.csv"])  # resolved, not compared as text
    assert _tree(project) == before


def test_symlinked_out_refused_without_traceback_or_temp(tmp_path):
    target = tmp_path / "elsewhere"
    _write(target, text="keep")
    link = tmp_path / "link"
    link.symlink_to(target)
    before = _tree(target)
    with pytest.raises(OutputError, match="is a symbolic link"):
        _write(link, force=True)
    assert _tree(target) == before and link.is_symlink() and _hidden(tmp_path) == []
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    with pytest.raises(OutputError, match="is a symbolic link"):
        _write(tmp_path / "dangling")
    assert not (tmp_path / "nowhere").exists()


def test_out_that_appears_during_the_run_is_kept(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(OutputError, match="not empty"):
        with atomic_dir(out) as tmp:
            (tmp / "result.txt").write_text("mine")
            out.mkdir()
            (out / "theirs.txt").write_text("someone else's")
    assert _tree(out) == {"theirs.txt": b"someone else's"} and _hidden(tmp_path) == []
    other = tmp_path / "other"
    with pytest.raises(OutputError, match="not a previous lvmd output"):
        with atomic_dir(other, force=True) as tmp:
            other.mkdir()
            (other / "theirs.txt").write_text("x")
    assert _tree(other) == {"theirs.txt": b"x"}


def test_commit_refuses_a_filled_folder_even_past_the_check(tmp_path, monkeypatch):
    """The rename itself cannot replace a non-empty folder (a race after the final check)."""
    import lvmd.outputs as atomic

    out = tmp_path / "out"
    real_check = atomic.check_output_dir

    def late(path, force, inputs=()):
        real_check(path, force, inputs)
        if Path(path) == out and not out.exists():
            out.mkdir()
            (out / "theirs.txt").write_text("x")

    tmp = tmp_path / ".out.x.tmp"
    tmp.mkdir()
    (tmp / "result.txt").write_text("mine")
    monkeypatch.setattr(atomic, "check_output_dir", late)
    with pytest.raises(OutputError, match="appeared while this run worked"):
        atomic._commit_dir(tmp, out, False, [])
    assert _tree(out) == {"theirs.txt": b"x"}

    def swapped(path, force, inputs=()):  # a marked output replaced by a foreign folder after the final check
        real_check(path, force, inputs)
        (out / MARKER).unlink()

    (out / MARKER).write_text('{"format": "lvmd-output"}')
    monkeypatch.setattr(atomic, "check_output_dir", swapped)
    with pytest.raises(OutputError, match="no longer an lvmd output; left untouched"):
        atomic._commit_dir(tmp, out, True, [])
    assert _tree(out) == {"theirs.txt": b"x"} and (tmp / "result.txt").exists()


def test_second_run_on_the_same_out_is_refused(tmp_path):
    out = tmp_path / "out"
    with atomic_dir(out) as tmp:
        (tmp / "result.txt").write_text("first")
        with pytest.raises(OutputError, match="another lvmd run is writing this output"):
            _write(out, force=True)
        with pytest.raises(OutputError, match="another lvmd run"):
            _write(tmp_path / "." / "out")  # another spelling of the same path
    assert (out / "result.txt").read_text() == "first" and _hidden(tmp_path) == []


HOLDER = textwrap.dedent("""
    import signal, sys, time
    from pathlib import Path
    from lvmd.outputs import atomic_dir, Terminated
    # Ctrl-C and hang-up as an interactive shell delivers them: a background job starts with SIGINT ignored, and
    # nohup ignores SIGHUP (lvmd then leaves it ignored, as the user asked).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)
    try:
        with atomic_dir(sys.argv[1]) as tmp:
            (tmp / "part.txt").write_text("x")
            Path(sys.argv[2]).write_text("ready")
            time.sleep(60)
    except Terminated:
        sys.exit(143)
    except KeyboardInterrupt:
        sys.exit(130)
""")


def _start_holder(tmp_path, out):
    ready = tmp_path / "ready"
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(out), str(ready)])
    deadline = time.time() + 60
    while not ready.exists():
        assert proc.poll() is None and time.time() < deadline, "holder did not start"
        time.sleep(0.05)
    return proc


def test_concurrent_process_refused(tmp_path):
    out = tmp_path / "out"
    holder = _start_holder(tmp_path, out)
    try:
        with pytest.raises(OutputError, match="another lvmd run is writing this output"):
            _write(out)
    finally:
        holder.send_signal(signal.SIGTERM)
        holder.wait(30)
    _write(out)  # the lock is released with its holder
    assert (out / "result.txt").read_text() == "new"


@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130), (signal.SIGHUP, 143)])
def test_signals_leave_no_temporary_folder(tmp_path, signum, code):
    work = tmp_path / "w"
    work.mkdir()
    holder = _start_holder(work, work / "out")
    assert any(p.name.endswith(".tmp") for p in work.iterdir())
    holder.send_signal(signum)
    assert holder.wait(30) == code
    assert sorted(p.name for p in work.iterdir()) == ["ready"]


def test_lock_of_a_killed_run_does_not_block(tmp_path):
    work = tmp_path / "w"
    work.mkdir()
    holder = _start_holder(work, work / "out")
    holder.kill()
    holder.wait(30)
    _write(work / "out")  # SIGKILL cannot be caught: its temp folder stays, but its lock does not block
    assert (work / "out" / "result.txt").read_text() == "new"
    assert not any(p.name.endswith("lvmd-lock") for p in work.iterdir())


def test_unwritable_out_paths_are_one_line_errors(tmp_path, monkeypatch):
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(OutputError, match="file.txt is not a folder"):
        _write(tmp_path / "file.txt" / "out")
    with pytest.raises(OutputError, match="file.txt is not a folder"):
        check_output_dir(tmp_path / "file.txt" / "a" / "b", False)
    with pytest.raises(OutputError, match="output exists and is not a folder"):
        _write(tmp_path / "file.txt")
    with pytest.raises(OutputError, match="name of 260 bytes is longer than the file system allows"):
        _write(tmp_path / ("x" * 260))
    with pytest.raises(OutputError, match="longer than the file system allows"):
        _write(tmp_path / ("y" * 300) / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt"]

    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(tempfile, "mkdtemp", denied)
    with pytest.raises(OutputError, match=r"cannot write in .* \(Permission denied\)"):
        _write(tmp_path / "ro" / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt"]  # the parent it created is gone again


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_parent(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        with pytest.raises(OutputError, match="cannot write in"):
            _write(ro / "out")
    finally:
        ro.chmod(0o755)


def test_long_names_within_the_limit_work(tmp_path):
    out = tmp_path / ("z" * 250)
    _write(out)
    assert (out / "result.txt").read_text() == "new" and _hidden(tmp_path) == []


def test_atomic_file(tmp_path):
    out = tmp_path / "study.npz"
    with atomic_file(out, force=False) as tmp:
        assert tmp.name.endswith(".tmp.npz")
        tmp.write_text("one")
    with pytest.raises(OutputError, match="exists .use --force"):
        with atomic_file(out, force=False) as tmp:
            tmp.write_text("two")
    with pytest.raises(OutputError, match="appeared while this run worked"):
        with atomic_file(tmp_path / "b.npz", force=False) as tmp:
            tmp.write_text("mine")
            (tmp_path / "b.npz").write_text("theirs")
    assert (tmp_path / "b.npz").read_text() == "theirs"
    with pytest.raises(OutputError, match="is the input"):
        with atomic_file(out, force=True, inputs=[out]) as tmp:
            tmp.write_text("two")
    with atomic_file(out, force=True) as tmp:
        tmp.write_text("two")
    assert out.read_text() == "two"
    with pytest.raises(OutputError, match="is a folder, not a file"):
        with atomic_file(tmp_path, force=True):
            pass
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.npz", "study.npz"]
