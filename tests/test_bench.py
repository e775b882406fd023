"""The benchmark runs end to end, and the index behaviour its figures rely on holds.

No timed assertions: the benchmark prints figures; these tests check that it
can produce every one of them, and that opening and syncing do only the work
the figures claim.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bench.collection import generate
from bench.report import MEASURE_NAMES, MEASURES
from bench.run import main as run_bench
from library.api import Library
from library.bibtex import format_entry, parse_file
from library.config import Settings
from library.search import SearchRequest


@pytest.mark.slow
def test_benchmark_reports_every_measure_at_its_smallest_size(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "benchmarks.md"
    assert run_bench(["--fast", "--out", str(out), "--work-dir", str(tmp_path)]) == 0
    report = out.read_text(encoding="utf-8")
    assert "### 200 references" in report and "### 200 references" in capsys.readouterr().out
    rows = {row.split("|")[1].strip(): row for row in report.splitlines() if row.startswith("| ")}
    for measure in MEASURES:
        assert measure.name in rows, f"no row for {measure.name}"
        cells = [c.strip() for c in rows[measure.name].split("|")[1:-1]]
        assert re.match(r"[\d,.]+ (s|ms|MiB)$", cells[1]), cells
        if measure.baseline:
            assert re.match(r"[\d,.]+ (s|ms)$", cells[2]) and cells[3].endswith("×"), cells
    assert "BibTeX files parsed: 0" in report
    for detail in ("- CPU:", "- cores:", "- memory:", "- Python:", "- OS:", "whoosh-reloaded"):
        assert detail in report


def test_a_labelled_run_keeps_the_other_sections(tmp_path: Path) -> None:
    from bench.report import write

    out = tmp_path / "benchmarks.md"
    write(out, "## Before optimisation\n\nold figures\n", "before")
    write(out, "## Results\n\nnew figures\n", None)
    write(out, "## Results\n\nnewer figures\n", None)
    text = out.read_text(encoding="utf-8")
    assert "old figures" in text and "newer figures" in text and "new figures\n" not in text
    assert text.index("newer figures") < text.index("old figures")
    assert len(MEASURE_NAMES) == len(set(MEASURE_NAMES))


def test_a_run_keeps_the_sections_written_by_hand(tmp_path: Path) -> None:
    """docs/benchmarks.md also holds figures no benchmark writes (the soak's): a run keeps them."""
    from bench.report import write

    out = tmp_path / "benchmarks.md"
    write(out, "## Results\n\nfirst figures\n", None)
    out.write_text(out.read_text(encoding="utf-8") + "\n## Two app servers\n\nsoak figures by hand\n",
                   encoding="utf-8")
    write(out, "## Before optimisation\n\nold figures\n", "before")
    write(out, "## Results\n\nsecond figures\n", None)
    text = out.read_text(encoding="utf-8")
    assert "soak figures by hand" in text and text.count("soak figures by hand") == 1
    assert text.index("second figures") < text.index("old figures") < text.index("## Two app servers")
    assert "first figures" not in text


# ------------------------------------------------------------------ what the figures rely on


@pytest.fixture
def opened(tmp_path: Path) -> tuple[Settings, Library]:
    references = tmp_path / "references"
    generate(references, 40)
    settings = Settings.from_env(references_dir=references, index_dir=tmp_path / "index",
                                 data_dir=tmp_path / "data")
    library = Library(settings)
    assert library.last_sync.rebuilt and library.last_sync.parsed_files == 40
    return settings, library


def test_opening_an_unchanged_library_parses_no_bibtex(opened: tuple[Settings, Library]) -> None:
    settings, first = opened
    first.close()
    again = Library(settings)
    assert (again.last_sync.parsed_files, again.last_sync.touched, again.last_sync.rebuilt) == (0, 0, False)
    assert again.refresh().parsed_files == 0
    assert again.search("").total == 40


def _one_file(references: Path) -> Path:
    return sorted(references.glob("*.bib"))[7]


@pytest.mark.parametrize("change, counted, parsed, total", [
    ("added", "added", 1, 41),
    ("edited", "changed", 1, 40),
    ("deleted", "deleted", 0, 39),
])
def test_one_changed_file_reindexes_exactly_one_document(
        opened: tuple[Settings, Library], change: str, counted: str, parsed: int, total: int) -> None:
    settings, library = opened
    path = _one_file(settings.references_dir)
    entry = parse_file(path).entries[0]
    if change == "added":
        new = entry.with_key("zzadded2026").with_fields(title="Quokka welfare in coastal wards")
        (settings.references_dir / "zzadded2026.bib").write_text(format_entry(new), encoding="utf-8")
    elif change == "edited":
        path.write_text(format_entry(entry.with_fields(title="Quokka welfare in coastal wards")), encoding="utf-8")
    else:
        path.unlink()
    report = library.refresh()
    assert (getattr(report, counted), report.touched, report.parsed_files, report.rebuilt) == (1, 1, parsed, False)
    assert library.index.doc_count() == total
    found = library.search(SearchRequest("quokka"))
    assert found.total == (0 if change == "deleted" else 1)
    if change != "deleted":
        assert [h.key for h in found.hits] == ["zzadded2026" if change == "added" else entry.key]
