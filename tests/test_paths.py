"""Issue 16, families 5 and 7: per-patient file names are injective, and member paths named inside a folder (a
bundle's checksums.json) cannot reach outside it.

Before: `predict --out` named pages by a sanitiser that mapped `a/b` and `a_b` to one page, so a patient's page was
silently lost; an entry `../../../../etc/passwd` (or an absolute path) in checksums.json was read and hashed, an
existence and content oracle for any file on the machine.
"""

import urllib.parse

import pytest

from lvmd._paths import MAX_NAME_BYTES, confined_path, safe_filename, unique_filenames
from lvmd.errors import LvmdError, ModelError

HOSTILE_IDS = ["a/b", "a_b", "a:b", "a b", "a%2Fb", "a\\b", ".", "..", "...", ".hidden", "trailing.", "CON", "con.txt",
               "nul", "COM1", "P001", "p001", "Müller", "Mu\u0308ller", "\x1b[31m", "a\nb", "[/x]", "*?<>|\"",
               "x" * 300, "x" * 299 + "y", "ü" * 200, "\udcff"]


def test_hostile_ids_get_distinct_safe_names():
    names = {pid: safe_filename(pid) for pid in HOSTILE_IDS}
    assert len(set(names.values())) == len(HOSTILE_IDS)  # injective, byte-exact
    for pid, name in names.items():
        assert 0 < len(name.encode()) <= MAX_NAME_BYTES and name.isascii() and name.isprintable()
        assert not set(name) & set("/\\:*?\"<>| \n") and not name.startswith(".") and not name.endswith(".")
        assert name.split(".")[0].upper() not in {"CON", "NUL", "COM1"}
        if "~" not in name:  # unshortened names decode back to the id: the encoding is injective by construction
            assert urllib.parse.unquote(name, errors="surrogatepass") == pid


def test_known_collisions_of_the_old_sanitiser():
    assert safe_filename("a/b") == "a%2Fb" and safe_filename("a_b") == "a_b"
    assert safe_filename("a b") != safe_filename("a_b") != safe_filename("a:b")
    assert safe_filename("..") == "%2E%2E" and safe_filename("P-01.v2") == "P-01.v2"


def test_case_insensitive_file_systems():
    files = unique_filenames(HOSTILE_IDS + ["A/B"])
    folded = [f.lower() for f in files.values()]
    assert len(set(folded)) == len(files) == len(HOSTILE_IDS) + 1
    assert files["P001"] != files["p001"] and files["P001"].startswith("P001~")
    assert unique_filenames(["P1", "P2"]) == {"P1": "P1", "P2": "P2"}  # ordinary ids keep readable names


def test_pages_written_for_every_id(tmp_path):
    """Writing one file per id never overwrites: as many files as ids, each holding its own id."""
    ids = HOSTILE_IDS + ["A/B", "a%2fb"]
    for pid, name in unique_filenames(ids).items():
        (tmp_path / f"{name}.html").write_text(pid, errors="surrogatepass")
    written = list(tmp_path.iterdir())
    assert len(written) == len(ids)
    assert sorted(p.read_text(errors="surrogatepass") for p in written) == sorted(ids)


def test_empty_id_refused():
    with pytest.raises(LvmdError, match="ids must be non-empty text"):
        safe_filename("")


@pytest.mark.parametrize("member", ["../../../../etc/passwd", "/etc/passwd", "a/../../x", "..", ".", "", "a//b",
                                    "./a", "C:\\Windows\\win.ini", "C:x", "\\\\server\\share", "a\\..\\..\\x",
                                    "a\0b", "//etc/passwd"])
def test_confined_path_refuses_escapes(tmp_path, member):
    with pytest.raises(ModelError, match="member path"):
        confined_path(tmp_path, member, ModelError)


def test_confined_path_refuses_symlinks_leading_out(tmp_path):
    root = tmp_path / "bundle"
    (root / "extractor").mkdir(parents=True)
    secret = tmp_path / "secret.txt"
    secret.write_text("x")
    (root / "link.txt").symlink_to(secret)
    (root / "out").symlink_to(tmp_path)
    (root / "inner").symlink_to(root / "extractor")
    with pytest.raises(ModelError, match="leads outside the folder"):
        confined_path(root, "link.txt", ModelError)
    with pytest.raises(ModelError, match="leads outside the folder"):
        confined_path(root, "out/secret.txt", ModelError)
    assert confined_path(root, "inner/weights.safetensors") == root / "inner" / "weights.safetensors"
    assert confined_path(root, "extractor/model.json") == root / "extractor" / "model.json"
    assert confined_path(str(root), "model.json") == root / "model.json"


def test_confined_path_through_a_symlinked_root(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    alias = tmp_path / "alias"
    alias.symlink_to(real)
    assert confined_path(alias, "model.json") == alias / "model.json"  # the root itself may be a link
