"""Soak test: a real app server under several readers and one librarian, then check nothing was lost.

    .venv/bin/python scripts/soak.py [--seconds 120] [--sessions 4] [--chromium /usr/bin/chromium]

It copies the shipped collection to a temporary folder, starts `streamlit run app.py` on a free
port of 127.0.0.1, and for the given time runs
  * several search sessions: headless Chromium pages (Playwright) that type searches into the app
    and wait for each answer, and
  * one writer process adding, editing and deleting references through the library API.
Then it checks the collection (`check`), that the index holds exactly the files on disk, and that
every change the writer made is there.  It prints what it saw and exits 1 on any loss or error.
All traffic stays on 127.0.0.1; every loop is bounded in time and in count.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

WORDS = ("trauma", "burnout", "restraint", "seclusion", "peer support", "leadership", '"medical model"',
         "adverse childhood", "training", "psychosis", "nurses", "soak", "title:trauma", "year:>2015",
         "traning~", "trainin*", "staff wellbeing", "policy", "outcomes", "zzzznothing")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
MAX_SEARCHES_PER_SESSION = 100_000
MAX_WRITES = 10_000


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def environment(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIBRARY_")}
    env.update(LIBRARY_REFERENCES_DIR=str(root / "references"), LIBRARY_INDEX_DIR=str(root / "index"),
               LIBRARY_DATA_DIR=str(root / "data"), LIBRARY_USER="soak-writer", PYTHONPATH=str(REPO))
    return env


# ------------------------------------------------------------------ the writer process


def writer(seconds: float) -> dict:
    """Add, edit and delete references until the time is up; report what the collection must hold."""
    from library import Library, Settings
    from library.errors import LibraryError

    library = Library(Settings.from_env())
    rng = random.Random(7)
    deadline = time.monotonic() + seconds
    present: dict[str, str] = {}  # key -> the key finding it must have
    counts = {"added": 0, "edited": 0, "deleted": 0, "errors": 0}
    errors: list[str] = []
    number = 0
    while time.monotonic() < deadline and sum(counts.values()) < MAX_WRITES:
        action = "add" if len(present) < 5 else rng.choice(("add", "add", "edit", "delete"))
        try:
            if action == "add":
                number += 1
                key = f"soak{number}"
                finding = f"Soak finding {number}."
                library.add_text(
                    f"@article{{{key},\n  author = {{Writer{number}, Soak}},\n"
                    f"  title = {{Soak test reference number {number} about trauma and staff}},\n"
                    f"  journal = {{Soak Journal}},\n  year = {{{2000 + number % 25}}},\n"
                    f"  key-finding = {{{finding}}}\n}}\n", who="soak")
                present[key] = finding
            elif action == "edit":
                key = rng.choice(sorted(present))
                finding = f"Soak finding {key}, edited at {time.time():.3f}."
                entry = library.collection.read(key)
                library.update(entry.with_fields(key_finding=finding), who="soak")
                present[key] = finding
            else:
                key = rng.choice(sorted(present))
                library.delete(key, who="soak")
                del present[key]
            counts[{"add": "added", "edit": "edited", "delete": "deleted"}[action]] += 1
        except LibraryError as error:
            counts["errors"] += 1
            errors.append(f"{action}: {error}")
        time.sleep(rng.uniform(0.05, 0.3))
    library.close()
    return {"counts": counts, "present": present, "errors": errors[:20]}


# ------------------------------------------------------------------ the readers


async def search_session(browser, url: str, deadline: float, number: int) -> dict:  # type: ignore[no-untyped-def]
    """One browser session typing searches and waiting for each answer."""
    context = await browser.new_context()
    page = await context.new_page()
    rng = random.Random(number)
    served, errors = 0, []
    try:
        await page.goto(url, wait_until="domcontentloaded", timeout=60_000)
        box = page.get_by_role("textbox", name="Search words")
        await box.wait_for(timeout=60_000)
        while time.monotonic() < deadline and served < MAX_SEARCHES_PER_SESSION:
            word = rng.choice(WORDS)
            try:
                await box.fill(word)
                await box.press("Enter")
                # The app writes the search into the URL once it has run it.
                await page.wait_for_function(
                    "(w) => new URLSearchParams(location.search).get('q') === w", arg=word, timeout=30_000)
                await page.get_by_text("found", exact=False).or_(
                    page.get_by_text("No references match", exact=False)).first.wait_for(timeout=30_000)
                if await page.locator('[data-testid="stException"]').count():
                    errors.append(f"session {number}: the app showed an exception for {word!r}")
                served += 1
                await box.fill("")  # so the next word is always a change
                await box.press("Enter")
                await page.wait_for_function("() => !new URLSearchParams(location.search).get('q')",
                                             timeout=30_000)
            except Exception as error:  # a timeout or a broken page: counted, and the session goes on
                errors.append(f"session {number}: {type(error).__name__}: {str(error).splitlines()[0][:200]}")
                if len(errors) > 20:
                    break
                await page.goto(url, wait_until="domcontentloaded", timeout=60_000)
                box = page.get_by_role("textbox", name="Search words")
                await box.wait_for(timeout=60_000)
    finally:
        await context.close()
    return {"served": served, "errors": errors}


async def readers(url: str, sessions: int, seconds: float, chromium: str) -> list[dict]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            deadline = time.monotonic() + seconds
            return list(await asyncio.gather(*(search_session(browser, url, deadline, n)
                                               for n in range(sessions))))
        finally:
            await browser.close()


# ------------------------------------------------------------------ the run


def wait_until_serving(url: str, server: subprocess.Popen, limit: float = 90.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the app server stopped (exit {server.returncode}) before it was ready")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as answer:
                if answer.read().strip() == b"ok":
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"the app server did not answer at {url} within {limit:.0f} s")


def verify(root: Path, written: dict) -> list[str]:
    """Every way the collection or the index could have lost something, in words (empty: none)."""
    from library import Library, Settings
    from library.bibtex import parse_bytes

    losses: list[str] = []
    references = root / "references"
    files = {p.name[:-4]: p.read_bytes() for p in references.glob("*.bib") if not p.name.startswith(".")}
    library = Library(Settings.from_env(), sync=True)
    report = library.check()
    losses += [f"check: {p.describe()}" for p in report.errors]
    total = library.search("", per_page=1).total
    indexed: list[str] = []
    for page in range(1, -(-total // 100) + 1):
        indexed += [h.key for h in library.search("", per_page=100, page=page).hits]
    if total != len(files) or set(indexed) != set(files) or len(indexed) != len(set(indexed)):
        losses.append(f"index: {total} references indexed, {len(files)} files; "
                      f"missing {sorted(set(files) - set(indexed))[:5]}, extra {sorted(set(indexed) - set(files))[:5]}")
    seed = {p.stem for p in (REPO / "references").glob("*.bib")}
    expected = seed | set(written["present"])
    if set(files) != expected:
        losses.append(f"collection: missing {sorted(expected - set(files))[:5]}, "
                      f"unexpected {sorted(set(files) - expected)[:5]}")
    for key, finding in written["present"].items():
        if key in files:
            entries = parse_bytes(files[key], key).entries
            if not entries or entries[0].fields.get("key-finding") != finding:
                losses.append(f"{key}: the last edit is not in the file")
    leftovers = [p.name for p in references.iterdir() if p.name.startswith(".tmp-")]
    if leftovers:
        losses.append(f"temporary files left behind: {leftovers[:5]}")
    library.close()
    return losses


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120.0, help="how long to run the load (default 120)")
    parser.add_argument("--sessions", type=int, default=4, help="concurrent browser search sessions (default 4)")
    parser.add_argument("--chromium", default="/usr/bin/chromium", help="the Chromium to drive")
    parser.add_argument("--writer", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.writer:
        print(json.dumps(writer(args.seconds)))
        return 0

    started = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    root = Path(tempfile.mkdtemp(prefix="library-soak-"))
    shutil.copytree(REPO / "references", root / "references")
    env = environment(root)
    os.environ.update({k: v for k, v in env.items() if k.startswith("LIBRARY_")})
    from library import Library, Settings

    Library(Settings.from_env()).close()  # the index, built before the first reader arrives
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(REPO / "app.py"), "--server.headless", "true",
         "--server.address", "127.0.0.1", "--server.port", str(port), "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none"],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_until_serving(url, server)
        writer_process = subprocess.Popen([sys.executable, __file__, "--writer", "--seconds", str(args.seconds)],
                                          cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        sessions = asyncio.run(readers(url, args.sessions, args.seconds, args.chromium))
        out, err = writer_process.communicate(timeout=args.seconds + 120)
        if writer_process.returncode != 0:
            print(err.decode(), file=sys.stderr)
            return 1
        written = json.loads(out)
    finally:
        server.terminate()
        try:
            _, server_err = server.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            _, server_err = server.communicate()
    losses = verify(root, written)
    served = sum(s["served"] for s in sessions)
    search_errors = [e for s in sessions for e in s["errors"]]
    tracebacks = server_err.decode(errors="replace").count("Traceback")
    final = len([p for p in (root / "references").glob("*.bib")])
    expected = len({p.stem for p in (REPO / "references").glob("*.bib")} | set(written["present"]))
    print(f"Soak run started {started}, {args.seconds:.0f} s, {args.sessions} browser sessions, one writer")
    print(f"searches served: {served} ({', '.join(str(s['served']) for s in sessions)} per session)")
    print(f"search errors: {len(search_errors)}")
    for line in search_errors[:10]:
        print(f"  {line}")
    counts = written["counts"]
    print(f"writes: {counts['added']} added, {counts['edited']} edited, {counts['deleted']} deleted, "
          f"{counts['errors']} refused")
    for line in written["errors"][:10]:
        print(f"  {line}")
    print(f"server tracebacks: {tracebacks}")
    print(f"final: {final} reference files, {expected} expected from the writer's record: "
          f"{'match' if not losses else 'MISMATCH'}; check and index: {'ok' if not losses else 'FAILED'}")
    for line in losses:
        print(f"  LOSS: {line}")
    shutil.rmtree(root, ignore_errors=True)
    failed = bool(losses or search_errors or counts["errors"] or tracebacks or served == 0)
    print("result: " + ("FAILED" if failed else "nothing lost"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
