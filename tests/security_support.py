"""Helpers for the security, fault and concurrency tests: small real collections in tmp_path,
the command line as a real subprocess, and one check that a collection and its index agree."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from library import Library, Settings
from library.bibtex import parse_bytes

REPO = Path(__file__).resolve().parent.parent
SEED = REPO / "references"


def seed_collection(root: Path, count: int | None = None) -> Path:
    """`root/references` holding the shipped vocabulary and the first `count` shipped references."""
    references = root / "references"
    references.mkdir(parents=True, exist_ok=True)
    shutil.copy2(SEED / "themes.toml", references / "themes.toml")
    for path in sorted(SEED.glob("*.bib"))[:count]:
        shutil.copy2(path, references / path.name)
    return references


def settings_for(root: Path, **overrides: object) -> Settings:
    return Settings.from_env(references_dir=root / "references", index_dir=root / "index",
                             data_dir=root / "data", **overrides)


def entry_text(key: str, number: int, *, extra: str = "") -> str:
    """A valid @article whose author, title and key are its own (so it is never a likely duplicate)."""
    return (f"@article{{{key},\n  author = {{Author{number}, Given}},\n"
            f"  title = {{Synthetic study {number} of {key.replace('-', ' ')}}},\n"
            f"  journal = {{Journal of Tests}},\n  year = {{{2000 + number % 25}}}{extra}\n}}\n")


def synthetic_bib(count: int, prefix: str = "bulk") -> str:
    return "\n".join(entry_text(f"{prefix}{n}", n) for n in range(count))


def bib_files(references: Path) -> dict[str, bytes]:
    """What the collection holds: every reference file's bytes, by name (as `scan` counts them)."""
    return {p.name: p.read_bytes() for p in references.iterdir()
            if p.name.endswith(".bib") and not p.name.startswith(".")}


def tree(root: Path) -> set[str]:
    """Every file under `root`, relative, to show that nothing was written anywhere unexpected."""
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def library_env(root: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIBRARY_")}
    env.update(LIBRARY_REFERENCES_DIR=str(root / "references"), LIBRARY_INDEX_DIR=str(root / "index"),
               LIBRARY_DATA_DIR=str(root / "data"), LIBRARY_USER="tester", PYTHONPATH=str(REPO))
    env.update(extra)
    return env


def cli(root: Path, *args: str, input: bytes | None = None, **extra_env: str) -> subprocess.CompletedProcess:
    """`python -m library ARGS` as a real process on the collection under `root`."""
    return subprocess.run([sys.executable, "-m", "library", *args], cwd=REPO, env=library_env(root, **extra_env),
                          input=input, capture_output=True, timeout=120)


def assert_sound(root: Path) -> set[str]:
    """The collection is valid, one whole entry per file named by its key, and a freshly opened
    library's index holds exactly those keys.  Returns the keys.

    The library is opened first, as the next user would: opening finishes a change that a killed
    process left in the journal."""
    references = root / "references"
    library = Library(settings_for(root))
    files = bib_files(references)
    keys = set()
    for name, data in files.items():
        parsed = parse_bytes(data, name)
        assert not parsed.errors, (name, parsed.errors)
        assert [e.key for e in parsed.entries] == [name[:-4]], name
        keys.add(name[:-4])
    assert len({k.casefold() for k in keys}) == len(keys), "two files differ only in case"
    try:
        report = library.check()
        assert report.ok, [p.describe() for p in report.errors]
        assert report.count == len(files)
        everything = library.search("", per_page=1)
        assert everything.total == len(files)
        indexed: list[str] = []
        for page in range(1, -(-everything.total // 100) + 1):
            indexed.extend(h.key for h in library.search("", per_page=100, page=page).hits)
        assert len(indexed) == len(set(indexed)), "a reference is in the index twice"
        assert set(indexed) == keys
    finally:
        library.close()
    return keys
