"""The shape of the house: import layering, no backend switched at import, no private imports across modules, one
place for the small formulas."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "lvmd"
MODULES = sorted(p for p in SRC.rglob("*.py"))


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    """(absolute module, imported names) of every import in a file, lazy ones included."""
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rsplit(".", 1)[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")
            if node.level:
                base = base[: len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            out.append((module, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            out.extend((a.name, []) for a in node.names)
    return out


def test_importing_lvmd_never_switches_the_matplotlib_backend():
    names = [_module_name(p) for p in MODULES if p.name != "__main__.py"]
    code = ("import matplotlib\nmatplotlib.use('svg')\n"
            "def refuse(*a, **k):\n    raise AssertionError('matplotlib.use called at import')\n"
            "matplotlib.use = refuse\n"
            f"import importlib\nfor name in {names!r}:\n    importlib.import_module(name)\n"
            "import sys\nassert 'matplotlib.pyplot' not in sys.modules, 'pyplot imported'\n"
            "print(matplotlib.get_backend())")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip() == "svg"


# The data flow, lowest first: a module may import only from its own layer or the layers below.
LAYERS = [
    {"errors", "polar", "formulas", "outputs", "console", "provenance", "results"},
    {"io", "stats"},
    {"phase", "cohort", "phantom", "scanner", "config"},
    {"simulate", "datasets", "features"},
    {"model"},
    {"study", "validation", "executor", "bundle", "predict", "evaluate"},
    {"report"},
    {"cli", "__main__"},
]


def _layer(module: str) -> int | None:
    parts = module.split(".")
    if parts[0] != "lvmd" or len(parts) == 1:
        return None
    return next((i for i, layer in enumerate(LAYERS) if parts[1] in layer), None)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SRC)))
def test_no_module_imports_one_above_it(path):
    own = _layer(_module_name(path))
    if own is None:
        return
    for module, _ in _imports(path):
        other = _layer(module)
        assert other is None or other <= own, f"{_module_name(path)} imports {module}, which is above it"


def test_report_never_imports_features_or_the_models():
    for path in (SRC / "report").glob("*.py"):
        for module, _ in _imports(path):
            assert not module.startswith(("lvmd.features", "lvmd.model", "lvmd.study", "lvmd.validation")), path


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SRC)))
def test_no_private_names_imported_across_modules(path):
    own_package = _module_name(path).split(".")[:2]
    for module, names in _imports(path):
        if not module.startswith("lvmd"):
            continue
        parts = module.split(".")
        private_module = any(p.startswith("_") and not p.startswith("__") for p in parts[2:])
        if private_module:
            assert parts[:2] == own_package, f"{path.name} imports the private module {module}"
        for name in names:
            assert not (name.startswith("_") and not name.startswith("__")) or parts[:2] == own_package, \
                f"{path.name} imports the private name {name} from {module}"


@pytest.mark.parametrize("needle, home", [("hashlib", "provenance.py"), ("norm.ppf", "formulas.py"),
                                          ("norm.sf", "formulas.py"), ('"<0.001"', "results.py"),
                                          ("special.expit", "formulas.py"), ("1.0 / (1.0 + np.exp", None),
                                          ("1 / (1 + np.exp", None), ("matplotlib.use(", "scanner/convert.py")])
def test_one_place_for_each_small_formula(needle, home):
    found = {str(p.relative_to(SRC)) for p in MODULES if needle in p.read_text()}
    assert found <= ({home} if home else set()), f"{needle} appears in {sorted(found)}"


def test_cli_is_thin():
    # issue 15: the command layer parses, calls the library and prints: under 350 lines, and it imports no private
    # module or name of the package (what it needs, the library offers publicly)
    import lvmd.cli

    source = Path(lvmd.cli.__file__).read_text()
    assert len(source.splitlines()) < 350
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level:
            modules = (node.module or "").split(".")
            names = [a.name for a in node.names]
            assert not any(part.startswith("_") for part in modules + names), ast.unparse(node)
