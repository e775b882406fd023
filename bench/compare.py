"""Two checkouts of the library and SQLite FTS5, searched in turn on one collection, round after round.

    python -m bench.compare --other /path/to/another/checkout --work-dir /tmp/compare [--size 50000] [--rounds 5]

On a machine shared with other work, two benchmark runs minutes apart can see very
different loads.  Here the same query set (bench/queries.py) runs in three worker
processes, this checkout, the other one and FTS5, one whole pass each in turn, so
that all three see the same load; the first pass warms up and is not counted.  The
collection, the two indexes and the FTS5 database are made in `--work-dir` when
missing (each checkout builds its own index with its own code).  Prints a Markdown
table with p50/p95 and the load averages seen.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Sequence

REPO = Path(__file__).resolve().parent.parent

_WORKER = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
from bench.queries import QUERIES
kind, references, target = sys.argv[2], sys.argv[3], sys.argv[4]
if kind == "fts":
    from bench import fts5
    searcher = fts5.FtsSearcher(target)
    run = lambda query: searcher.search(query.fts).total
else:
    from library import Library, Settings
    library = Library(Settings.from_env(references_dir=references, index_dir=target, data_dir=target + "-data"),
                      sync=False)
    library.search("")
    run = lambda query: library.search(query.request).total
for _ in sys.stdin:
    out = {}
    for query in QUERIES:
        started = time.perf_counter()
        total = run(query)
        out[query.label] = (time.perf_counter() - started, total)
    print(json.dumps(out), flush=True)
"""

_BUILD = r"""
import sys
sys.path.insert(0, sys.argv[1])
from library import Library, Settings
library = Library(Settings.from_env(references_dir=sys.argv[2], index_dir=sys.argv[3], data_dir=sys.argv[3] + "-data"),
                  sync=False)
library.rebuild(procs=2)
"""


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(max(math.ceil(round(fraction * len(ordered), 9)), 1), len(ordered)) - 1]


def _prepare(work: Path, size: int, other: Path) -> dict[str, tuple[str, str, str]]:
    from library.taxonomy import load_vocabulary

    from . import fts5
    from .collection import generate

    references = work / "references"
    if not (references / "themes.toml").exists():
        print(f"generating {size:,} references…", file=sys.stderr, flush=True)
        generate(references, size)
    workers = {"this checkout": (str(REPO), "library", str(work / "index-this")),
               "other checkout": (str(other), "library", str(work / "index-other")),
               "SQLite FTS5": (str(REPO), "fts", str(work / "fts5.sqlite"))}
    for name, (checkout, kind, target) in workers.items():
        if Path(target).exists():
            continue
        print(f"building {name}…", file=sys.stderr, flush=True)
        if kind == "fts":
            fts5.build(references, Path(target), load_vocabulary(references / "themes.toml"), procs=2)
        else:
            subprocess.run([sys.executable, "-c", _BUILD, checkout, str(references), target], check=True)
    return workers


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.compare", description=__doc__.split("\n\n")[0])
    parser.add_argument("--other", type=Path, required=True, help="another checkout of this project (its library/)")
    parser.add_argument("--work-dir", type=Path, required=True, help="where the collection and indexes are kept")
    parser.add_argument("--size", type=int, default=50_000, help="references in the collection (default 50,000)")
    parser.add_argument("--rounds", type=int, default=5, help="counted passes over the query set (default 5)")
    args = parser.parse_args(argv)
    args.work_dir.mkdir(parents=True, exist_ok=True)
    workers = _prepare(args.work_dir, args.size, args.other.resolve())
    references = str(args.work_dir / "references")
    processes = {name: subprocess.Popen([sys.executable, "-c", _WORKER, checkout, kind, references, target],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
                 for name, (checkout, kind, target) in workers.items()}
    times: dict[str, dict[str, list[float]]] = {name: {} for name in processes}
    totals: dict[str, dict[str, int]] = {name: {} for name in processes}
    loads = [os.getloadavg()]
    try:
        for number in range(args.rounds + 1):
            for name, process in processes.items():
                assert process.stdin and process.stdout
                process.stdin.write("go\n")
                process.stdin.flush()
                found = json.loads(process.stdout.readline())
                if number == 0:
                    continue  # warming up
                for label, (seconds, total) in found.items():
                    times[name].setdefault(label, []).append(seconds)
                    totals[name][label] = total
            loads.append(os.getloadavg())
    finally:
        for process in processes.values():
            if process.stdin:
                process.stdin.close()
            process.wait()
    names = list(processes)
    print("| query | " + " | ".join(names) + " | hits (" + " / ".join(names) + ") |")
    print("|---|" + "---:|" * (len(names) + 1))
    for label in times[names[0]]:
        cells = [f"{statistics.median(times[name][label]) * 1000:,.1f} ms" for name in names]
        hits = " / ".join(f"{totals[name][label]:,}" for name in names)
        print(f"| `{label}` | " + " | ".join(cells) + f" | {hits} |")
    print()
    for name in names:
        every = [t for values in times[name].values() for t in values]
        print(f"- {name}: p50 {_percentile(every, 0.5) * 1000:,.1f} ms, p95 {_percentile(every, 0.95) * 1000:,.1f} ms "
              f"over {len(every)} searches")
    print("- load average (1, 5, 15 min) before the first pass and after each: "
          + "; ".join(", ".join(f"{v:.2f}" for v in load) for load in loads))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
