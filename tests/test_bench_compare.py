"""bench.compare runs one query set in two checkouts and FTS5, and says what a checkout could not run.

No timed assertions: only that every figure the comparison reports is produced, from the
same queries in every system, by the checkout it names.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bench import compare
from bench.queries import EVERYDAY, QUERIES
from bench.run import NOTES

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_compare_runs_the_same_queries_in_each_system_and_writes_its_section(tmp_path: Path) -> None:
    out = tmp_path / "benchmarks.md"
    out.write_text("<!-- bench:main -->\n## Results\n\nmain figures\n<!-- /bench:main -->\n", encoding="utf-8")
    assert compare.main(["--other", str(REPO), "--work-dir", str(tmp_path / "work"), "--size", "60",
                         "--rounds", "1", "--upkeep-rounds", "1", "--out", str(out)]) == 0
    raw = json.loads((tmp_path / "work" / "compare-results.json").read_text(encoding="utf-8"))
    labels = [q.label for q in QUERIES + EVERYDAY]
    assert [q["label"] for q in raw["spec"]] == labels
    for name in (compare.THIS, compare.OTHER, compare.FTS):
        assert sorted(raw["totals"][name]) == sorted(labels), name
        assert all(len(raw["times"][name][label]) == 1 for label in labels)
    # The same code on the same files finds the same references.
    assert raw["totals"][compare.THIS] == raw["totals"][compare.OTHER]
    assert Path(raw["headers"][compare.OTHER]["library"]).is_relative_to(REPO)
    assert raw["headers"][compare.THIS]["fast_path_problem"] is None
    assert len(raw["loads"]) == 3  # before the warm-up pass, after it, after the counted one

    text = out.read_text(encoding="utf-8")
    assert NOTES in text and "main figures" in text
    section = text[text.index("<!-- bench:compare -->"):text.index("<!-- /bench:compare -->")]
    assert text.index("main figures") < text.index("<!-- bench:compare -->")
    assert "## Search at 60 references: before and after, same run" in section
    for label in labels:
        row = next(line for line in section.splitlines() if line.startswith(f"| `{label}` |"))
        assert len(re.findall(r"[\d,.]+ ms", row)) == 3, row
    for system in ("new", "baseline", "FTS5"):
        assert re.search(rf"^\| {system} \| [\d,.]+ ms \| [\d,.]+ ms \| {len(QUERIES)} \|$", section, re.M), system
    assert "Load average (1, 5, 15 min)" in section
    for measure in ("open with nothing changed (new process)", "cold start: CLI process to first result",
                    "sync after one file deleted",
                    "sync after one file added", "sync after one file edited"):
        assert all(len(raw["upkeep"]["times"][name][measure]) == 1 for name in (compare.THIS, compare.OTHER))
        assert re.search(rf"^\| {re.escape(measure)} \| [\d,.]+ s \| [\d,.]+ s \| [\d.]+× \|$", section, re.M)
    # Every file is back as it was: both indexes open again finding nothing changed.
    work = tmp_path / "work"
    for index in ("index-this", "index-other"):
        done = subprocess.run([sys.executable, "-c", compare._OPEN, str(REPO), str(work / "references"),
                               str(work / index)], check=True, capture_output=True, text=True)
        opened = json.loads(done.stdout.strip().splitlines()[-1])
        assert (opened["parsed_files"], opened["touched"], opened["rebuilt"]) == (0, 0, False), index
    p95 = compare.summary(raw, compare.THIS)[1]
    fts_p95 = compare.summary(raw, compare.FTS)[1]
    assert f"- at or below FTS5's p95 in the same run (goal): {p95 * 1000:,.1f} ms against {fts_p95 * 1000:,.1f} ms" \
        in section
    assert ("met" if p95 <= 0.150 else "**not met**") in section.split("- at or below 150 ms (goal)")[1].split("\n")[0]


@pytest.mark.slow
def test_a_request_field_a_checkout_lacks_is_reported_as_not_run(tmp_path: Path) -> None:
    spec = compare.query_spec()[:2]
    spec.append(dict(spec[0], label="with a field no SearchRequest has", group="main",
                     request=dict(spec[0]["request"], invented_filter=["x"])))
    raw = compare.run(tmp_path, 40, REPO, 1, spec)
    assert "with a field no SearchRequest has" not in raw["totals"][compare.OTHER]
    assert raw["headers"][compare.OTHER]["not_run"] == {
        "with a field no SearchRequest has": "no invented_filter in its SearchRequest"}
    assert "with a field no SearchRequest has" in raw["totals"][compare.FTS]  # FTS5 runs its own translation
    section = compare.render(raw, "python -m bench.compare …", "Comparison")
    row = next(line for line in section.splitlines() if line.startswith("| `with a field no SearchRequest has` |"))
    assert row.count("not run") == 2
    assert "baseline did not run `with a field no SearchRequest has`: no invented_filter in its SearchRequest." \
        in section
