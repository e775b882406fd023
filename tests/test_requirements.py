"""Every third-party module the project imports is pinned in its requirements.

CI installs `requirements-dev.txt` into a fresh environment; a developer's environment may hold more
(a package installed by hand for one experiment).  A module imported by the code or the tests but
not named in the requirements passes on that machine and fails in CI, so this test reads every
import in the repository (including imports inside functions) and asks which installed
distribution provides it: that distribution must be pinned (`name==version`) in `requirements.txt`
(the app and the library) or `requirements-dev.txt` (tests, benchmarks and scripts).
"""
from __future__ import annotations

import ast
import re
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RUNTIME_CODE = ["app.py", "library", "views"]
DEV_CODE = ["tests", "bench", "scripts"]
LOCAL = {"library", "views", "tests", "bench", "scripts", "app"}


def _python_files(parts: list[str]) -> list[Path]:
    files: list[Path] = []
    for part in parts:
        path = ROOT / part
        files.extend([path] if path.is_file() else sorted(path.rglob("*.py")))
    return files


def top_level_imports(path: Path) -> set[str]:
    """The top-level names of every absolute import in `path`, however deeply nested."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def pinned(requirements: Path) -> dict[str, str]:
    """Normalised distribution name -> pinned version, following `-r other.txt` lines."""
    pins: dict[str, str] = {}
    for raw in requirements.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("-r "):
            pins.update(pinned(requirements.parent / line[3:].strip()))
            continue
        match = re.fullmatch(r"([A-Za-z0-9._-]+)(\[[^\]]*\])?==([^\s;]+)", line)
        assert match, f"{requirements.name}: {raw!r} is not pinned as name==version"
        pins[_normalise(match.group(1))] = match.group(3)
    return pins


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def unpinned_imports(code: list[str], requirements: Path) -> dict[str, list[str]]:
    """Third-party module -> the files importing it, for modules no pinned distribution provides."""
    providers = packages_distributions()
    pins = pinned(requirements)
    missing: dict[str, list[str]] = {}
    for path in _python_files(code):
        for name in top_level_imports(path):
            if name in sys.stdlib_module_names or name in LOCAL or name == "__future__":
                continue
            distributions = {_normalise(d) for d in providers.get(name, [])}
            if not distributions & pins.keys():
                missing.setdefault(name, []).append(str(path.relative_to(ROOT)))
    return missing


def test_top_level_imports_reads_nested_imports(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text("import os.path\nfrom . import x\n\ndef f():\n    from axe_playwright_python.sync_playwright import Axe\n")
    assert top_level_imports(source) == {"os", "axe_playwright_python"}


def test_pinned_follows_includes_and_refuses_loose_lines(tmp_path: Path) -> None:
    (tmp_path / "base.txt").write_text("psycopg[binary]==3.3.9  # driver\n")
    (tmp_path / "dev.txt").write_text("-r base.txt\nPyYAML==6.0.4\n")
    assert pinned(tmp_path / "dev.txt") == {"psycopg": "3.3.9", "pyyaml": "6.0.4"}
    (tmp_path / "loose.txt").write_text("requests>=2\n")
    with pytest.raises(AssertionError, match="not pinned"):
        pinned(tmp_path / "loose.txt")


@pytest.mark.parametrize(("code", "requirements"), [
    (RUNTIME_CODE, "requirements.txt"),
    (DEV_CODE, "requirements-dev.txt"),
], ids=["runtime", "dev"])
def test_every_import_is_pinned(code: list[str], requirements: str) -> None:
    missing = unpinned_imports(code, ROOT / requirements)
    assert not missing, (f"imported but not pinned in {requirements} (CI installs only what it names): "
                         + "; ".join(f"{name} in {', '.join(sorted(files))}" for name, files in sorted(missing.items())))
