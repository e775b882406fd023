"""The benchmark's report: the machine, then one table per collection size, in Markdown.

A normal run rewrites the report but keeps any labelled sections already in it
(`--label before` writes one), so the figures from before an optimisation stay
beside the figures after it.
"""

from __future__ import annotations

import math
import os
import platform
import re
import sqlite3
import statistics
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Callable

PACKAGES = ("whoosh-reloaded", "pybtex", "streamlit", "fpdf2", "python-docx", "citeproc-py", "filelock")
MIB = 1024 * 1024


@dataclass(frozen=True)
class Target:
    limit: float  # seconds, or bytes for memory
    text: str


@dataclass(frozen=True)
class Measure:
    name: str
    unit: str  # "s", "ms" or "MiB"
    target: Callable[[int], Target | None]
    baseline: bool = False  # FTS5 gives the same figure


def _seconds(limit: float) -> Callable[[int], Target]:
    return lambda size: Target(limit, f"≤ {limit:g} s")


def _search_p95(size: int) -> Target:
    return Target(0.1, "≤ 100 ms") if size <= 10_000 else Target(0.4, "≤ 400 ms")


def _rebuild(size: int) -> Target:
    return Target(40.0, "≤ 40 s") if size <= 10_000 else Target(180.0, "≤ 3 min")


def _app(size: int) -> Target | None:
    # The target is set at 10,000; at other sizes the figure is shown for information.
    return Target(1.0, "≤ 1 s") if size <= 10_000 else None


MEASURES: tuple[Measure, ...] = (
    Measure("full rebuild, 2 processes, with progress", "s", _rebuild, baseline=True),
    Measure("peak memory during full rebuild (process + workers)", "MiB",
            lambda size: Target(1024 * MIB, "≤ 1 GiB")),
    Measure("open with nothing changed (BibTeX files parsed: 0)", "s", _seconds(1.0)),
    Measure("sync after one file added", "s", _seconds(0.5)),
    Measure("sync after one file edited", "s", _seconds(0.5)),
    Measure("sync after one file deleted", "s", _seconds(0.5)),
    Measure("cold start: CLI process to first result", "s", _seconds(2.0)),
    Measure("search p50 (20 hits, facets, snippets)", "ms", lambda size: None, baseline=True),
    Measure("search p95 (20 hits, facets, snippets)", "ms", _search_p95, baseline=True),
    Measure("app: search page rendered after a query", "s", _app),
    Measure("app: pack page after an edit (10 references)", "s", _seconds(0.5)),
    Measure("pack export: PDF (6 references)", "s", _seconds(1.0)),
    Measure("pack export: DOCX (6 references)", "s", _seconds(1.0)),
    Measure("pack edit → preview + fit check (10 references)", "s", _seconds(0.5)),
    Measure("largest pack the limits allow → rendered or refused (slowest format)", "s", _seconds(5.0)),
)
MEASURE_NAMES = tuple(m.name for m in MEASURES)


@dataclass
class SizeResult:
    size: int
    repeat: int
    figures: dict[str, float] = field(default_factory=dict)  # seconds, or bytes for memory
    baseline: dict[str, float] = field(default_factory=dict)
    per_query: list[tuple[str, float, float, int, int]] = field(default_factory=list)  # label, ours, fts, totals
    everyday: list[tuple[str, float, float, int, int]] = field(default_factory=list)  # the same, not in p50/p95
    notes: list[str] = field(default_factory=list)


def _show(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "MiB":
        return f"{value / MIB:,.0f} MiB"
    if unit == "ms":
        return f"{value * 1000:,.1f} ms"
    return f"{value:,.2f} s" if value < 100 else f"{value:,.0f} s"


def size_table(result: SizeResult) -> str:
    lines = [f"### {result.size:,} references",
             "",
             "| measure | ours | SQLite FTS5 | ratio (ours ÷ FTS5) | target | met? |",
             "|---|---:|---:|---:|---|:---:|"]
    for measure in MEASURES:
        ours = result.figures.get(measure.name)
        theirs = result.baseline.get(measure.name) if measure.baseline else None
        ratio = f"{ours / theirs:.2f}×" if ours is not None and theirs else "—"
        target = measure.target(result.size)
        met = "—" if target is None or ours is None else ("yes" if ours <= target.limit else "**no**")
        lines.append(f"| {measure.name} | {_show(ours, measure.unit)} | {_show(theirs, measure.unit)} | "
                     f"{ratio} | {target.text if target else '—'} | {met} |")
    if result.per_query:
        lines += ["", "<details><summary>Search, query by query (median of the runs)</summary>", "",
                  "| query | ours | FTS5 | hits (ours / FTS5) |", "|---|---:|---:|---:|"]
        for label, ours_q, fts_q, total, fts_total in result.per_query:
            lines.append(f"| `{label}` | {ours_q * 1000:,.1f} ms | {fts_q * 1000:,.1f} ms | "
                         f"{total:,} / {fts_total:,} |")
        lines += ["", "</details>"]
    if result.everyday:
        lines += ["", "<details><summary>Everyday phrasing, query by query (not in p50/p95; FTS5 runs its closest "
                  "plain translation)</summary>", "",
                  "| query | ours | FTS5 | hits (ours / FTS5) |", "|---|---:|---:|---:|"]
        for label, ours_q, fts_q, total, fts_total in result.everyday:
            lines.append(f"| `{label}` | {ours_q * 1000:,.1f} ms | {fts_q * 1000:,.1f} ms | "
                         f"{total:,} / {fts_total:,} |")
        lines += ["", "</details>"]
    if result.notes:
        lines += [""] + [f"- {note}" for note in result.notes]
    return "\n".join(lines)


def machine() -> list[tuple[str, str]]:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = "unknown"
    try:
        match = re.search(r"MemTotal:\s+(\d+) kB", Path("/proc/meminfo").read_text())
        if match:
            memory = f"{int(match.group(1)) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    versions = []
    for name in PACKAGES:
        try:
            versions.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    versions.append(f"SQLite {sqlite3.sqlite_version}")
    return [("CPU", cpu), ("cores", str(os.cpu_count())), ("memory", memory),
            ("Python", platform.python_version()), ("OS", platform.platform()),
            ("packages", ", ".join(versions))]


def render(results: list[SizeResult], command: str, title: str = "Results") -> str:
    repeat = results[0].repeat if results else 0
    lines = [f"## {title}", "",
             f"Command: `{command}`. Figures are medians of {repeat} run(s) "
             "(search: p50/p95 over every run of every query; memory: the highest peak).", ""]
    lines += [f"- {name}: {value}" for name, value in machine()]
    for result in results:
        lines += ["", size_table(result)]
    return "\n".join(lines) + "\n"


HEADER = """# Benchmarks

Written by `python -m bench` (see `bench/`): synthetic collections of realistic references, measured
through the library's own code, with the same records and queries in SQLite FTS5 as a baseline.
`python -m bench.compare` adds a same-run comparison of search in two checkouts (this code and the
code before a change) and FTS5, taking turns so that all three see the same load. Targets are for
this machine (2 cores, 24 GiB, shared with other work: the load average is noted beside each run).
Regenerate with the command shown in each section.

"""
_SECTION = re.compile(r"<!-- bench:(?P<label>[\w-]+) -->\n.*?<!-- /bench:(?P=label) -->\n", re.S)


def write(path: Path, body: str, label: str | None, notes: str = "") -> str:
    """Write the report; a labelled run replaces its own section and keeps everything else."""
    path = Path(path)
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    found = list(_SECTION.finditer(old))
    sections = {m.group("label"): m.group(0) for m in found}
    # Text written by hand after the first section (such as the soak's figures) is kept, after the sections.
    kept = "".join(old[m.end():(found[i + 1].start() if i + 1 < len(found) else len(old))]
                   for i, m in enumerate(found)).strip()
    if label:
        sections[label] = f"<!-- bench:{label} -->\n{body}<!-- /bench:{label} -->\n"
    else:
        sections["main"] = f"<!-- bench:main -->\n{body}<!-- /bench:main -->\n"
    # The latest figures first, then the same-run comparison (bench/compare.py), then older labelled runs.
    ordered = [sections.pop(name) for name in ("main", "compare") if name in sections]
    ordered += [sections[name] for name in sorted(sections)]
    text = HEADER + (notes + "\n\n" if notes else "") + "\n".join(ordered) + ("\n" + kept + "\n" if kept else "")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return text


def median(values: list[float]) -> float:
    return statistics.median(values)


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile: the value below which `fraction` of the runs fall."""
    ordered = sorted(values)
    rank = math.ceil(round(fraction * len(ordered), 9))
    return ordered[min(max(rank, 1), len(ordered)) - 1]
