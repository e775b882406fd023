"""Soak test: an organisation's topology under load, then a check that nothing was lost.

    .venv/bin/python scripts/soak.py [--seconds 180] [--sessions 20] [--servers 2] [--librarians 2]

By default (`--servers 2`) it runs what docs/deploy.md describes, without containers, on one machine:
  * a real PostgreSQL server (started as the tests start it, tests/postgres_server.py) in a temporary
    folder on a free port, holding packs, the change log's index and the collection lock;
  * two app servers (`streamlit run app.py`) on two free ports of 127.0.0.1, sharing one copy of the
    collection folder and one data folder, each with its own index;
  * Debian's nginx with the shipped proxy template (deploy/nginx/templates/default.conf.template) in
    front of them, with its cookie-sticky sessions (skipped, with a note, when nginx is missing);
and for the given time
  * `--sessions` browser sessions (headless Chromium through Playwright, each its own browser context,
    so the proxy spreads them over the servers) typing searches, adding results to their pack and
    opening the pack page;
  * `--librarians` librarians signed in with the password, each on a different server (directly, not
    through the proxy), pasting and saving new references through the app's librarian page;
  * one more writer process adding, editing and deleting references through the library API, so the
    collection lock is contended from three places.
Then it checks: `check` passes; every reference a librarian saved is in the collection once, with one
`add` line in changes.jsonl and one in the database's index; the API writer's record matches the
files; every pack a session built is in the database with exactly the references it added, and opens
from each server; each server's own index holds exactly the files.  It prints the figures (pages
answered, page times p50/p95/max by kind, writes, memory, losses) and exits 1 on any loss or error.

`--servers 1` runs the earlier single-server soak (SQLite, no proxy).  All traffic stays on 127.0.0.1;
every loop is bounded in time and in count.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
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
PASSWORD = "a soak test librarian password"
STEP_MS = 90_000  # one answer under load; a page that takes longer counts as an error
MAX_ACTIONS_PER_SESSION = 10_000
MAX_WRITES = 10_000
ADD_KEY = re.compile(r"st-key-add-(\S+)")
NOTE_KEY = re.compile(r"st-key-note-(\S+)")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def environment(root: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIBRARY_")}
    env.update(LIBRARY_REFERENCES_DIR=str(root / "references"), LIBRARY_INDEX_DIR=str(root / "index-writer"),
               LIBRARY_DATA_DIR=str(root / "data"), LIBRARY_USER="soak-writer", PYTHONPATH=str(REPO),
               LIBRARY_LOCK_TIMEOUT="60")
    env.update(extra)
    return env


def percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


# ------------------------------------------------------------------ the API writer process


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
                library.edit(key, {"key-finding": finding}, who="soak")
                present[key] = finding
            else:
                key = rng.choice(sorted(present))
                library.delete(key, who="soak")
                del present[key]
            counts[{"add": "added", "edit": "edited", "delete": "deleted"}[action]] += 1
        except LibraryError as error:
            counts["errors"] += 1
            errors.append(f"{action}: {error}")
        time.sleep(rng.uniform(0.2, 0.6))
    library.close()
    return {"counts": counts, "present": present, "errors": errors[:20]}


# ------------------------------------------------------------------ browser sessions


class Timings:
    def __init__(self) -> None:
        self.by_kind: dict[str, list[float]] = {}
        self.lock = threading.Lock()

    def add(self, kind: str, seconds: float) -> None:
        with self.lock:
            self.by_kind.setdefault(kind, []).append(seconds)

    def all(self) -> list[float]:
        return [t for values in self.by_kind.values() for t in values]


async def idle(page) -> None:  # type: ignore[no-untyped-def]
    """Wait until the app's script has finished its run (a click during a run can be lost)."""
    await page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=STEP_MS)


async def reader_session(browser, url: str, deadline: float, number: int, timings: Timings) -> dict:  # type: ignore[no-untyped-def]
    """Search, add results to the pack now and then, open the pack page now and then."""
    context = await browser.new_context(viewport={"width": 1200, "height": 900})
    page = await context.new_page()
    page.set_default_timeout(STEP_MS)
    rng = random.Random(number)
    counts = {"search": 0, "add": 0, "pack": 0}
    errors: list[str] = []
    added: list[str] = []  # the references this session added to its pack, in order
    token = ""  # its pack's edit link

    async def open_search() -> None:
        await page.goto(url + "/", wait_until="domcontentloaded")
        await page.get_by_role("textbox", name="Search words").wait_for()
        await idle(page)

    try:
        started = time.monotonic()
        await open_search()
        timings.add("first page", time.monotonic() - started)
        actions = 0
        # At least one round whatever the load, so that a short run on a busy machine still searches,
        # adds to a pack and checks it; then rounds until the time is up.
        while (actions == 0 or time.monotonic() < deadline) and actions < MAX_ACTIONS_PER_SESSION:
            actions += 1
            try:
                word = rng.choice(WORDS)
                box = page.get_by_role("textbox", name="Search words")
                await box.fill(word)
                started = time.monotonic()
                await box.press("Enter")
                await page.wait_for_function(
                    "(w) => new URLSearchParams(location.search).get('q') === w", arg=word)
                await page.get_by_text("found", exact=False).or_(
                    page.get_by_text("No references match", exact=False)).first.wait_for()
                await idle(page)
                timings.add("search", time.monotonic() - started)
                counts["search"] += 1
                if await page.locator('[data-testid="stException"]').count():
                    errors.append(f"session {number}: the app showed an exception for {word!r}")
                candidates = page.locator('[class*="st-key-add-"]')
                if (actions == 1 or rng.random() < 0.4) and await candidates.count() and len(added) < 12:
                    classes = await candidates.first.get_attribute("class") or ""
                    found = ADD_KEY.search(classes)
                    key = found.group(1) if found else ""
                    started = time.monotonic()
                    await candidates.first.locator("button").click()
                    total = len(added) + 1
                    await page.get_by_role("link", name=f"Your pack: {total} reference{'s' if total != 1 else ''}"
                                           ).wait_for()
                    await idle(page)
                    timings.add("add to pack", time.monotonic() - started)
                    counts["add"] += 1
                    added.append(key)
                if added and rng.random() < 0.15:
                    started = time.monotonic()
                    await page.get_by_test_id("stSidebarNav").get_by_role("link", name="Evidence pack").click()
                    await page.wait_for_function("() => new URLSearchParams(location.search).get('edit')")
                    await page.locator('[class*="st-key-note-"]').first.wait_for()
                    await idle(page)
                    timings.add("pack page", time.monotonic() - started)
                    counts["pack"] += 1
                    token = await page.evaluate("() => new URLSearchParams(location.search).get('edit')")
                    await page.get_by_test_id("stSidebarNav").get_by_role("link", name="Search").click()
                    await page.get_by_role("textbox", name="Search words").wait_for()
                    await idle(page)
            except Exception as error:  # a timeout or a broken page: counted, and the session goes on
                errors.append(f"session {number}: {type(error).__name__}: {str(error).splitlines()[0][:200]}")
                if len(errors) > 10:
                    break
                await open_search()
        if added and not token:  # the pack's edit link, for the check afterwards
            await page.get_by_test_id("stSidebarNav").get_by_role("link", name="Evidence pack").click()
            await page.wait_for_function("() => new URLSearchParams(location.search).get('edit')")
            token = await page.evaluate("() => new URLSearchParams(location.search).get('edit')")
    except Exception as error:
        errors.append(f"session {number}: {type(error).__name__}: {str(error).splitlines()[0][:200]}")
    finally:
        await context.close()
    return {"counts": counts, "errors": errors, "added": added, "token": token}


def librarian_entry(librarian: int, number: int) -> tuple[str, str]:
    key = f"soakl{librarian}n{number}"
    return key, (f"@article{{{key},\n  author = {{Librarian{librarian}, Soak and Colleague{number}, Test}},\n"
                 f"  title = {{Reference {number} saved by librarian {librarian} during the soak}},\n"
                 f"  journal = {{Journal of Soak Tests}},\n  year = {{{2001 + number % 24}}}\n}}\n")


async def librarian_session(browser, url: str, deadline: float, number: int, timings: Timings) -> dict:  # type: ignore[no-untyped-def]
    """Sign in with the password on one server, then paste and save new references until the time is up."""
    context = await browser.new_context(viewport={"width": 1200, "height": 900})
    page = await context.new_page()
    page.set_default_timeout(STEP_MS)
    rng = random.Random(1000 + number)
    saved: list[str] = []
    errors: list[str] = []
    try:
        await page.goto(url + "/librarian", wait_until="domcontentloaded")
        await page.locator(".st-key-signin_name input").fill(f"Soak librarian {number}")
        await page.locator(".st-key-password input").fill(PASSWORD)
        await page.get_by_test_id("stMain").get_by_role("button", name="Sign in").click()
        await page.get_by_role("tab", name="Add references").wait_for()
        await idle(page)
        written = 0
        while (written == 0 or time.monotonic() < deadline) and written < MAX_WRITES:  # at least one save
            written += 1
            key, text = librarian_entry(number, written)
            try:
                started = time.monotonic()
                await page.locator(".st-key-paste_text textarea").fill(text)
                await page.locator(".st-key-read-input button").click()
                await page.locator(".st-key-save-review button").wait_for()
                await idle(page)
                await page.locator(".st-key-save-review button").click()
                await page.get_by_text("Saved 1 reference").wait_for()
                await idle(page)
                timings.add("librarian save", time.monotonic() - started)
                saved.append(key)
            except Exception as error:
                errors.append(f"librarian {number}: {key}: {type(error).__name__}: {str(error).splitlines()[0][:200]}")
                if len(errors) > 5:
                    break
                await page.goto(url + "/librarian", wait_until="domcontentloaded")
                await idle(page)
            await asyncio.sleep(rng.uniform(0.5, 2.0))
    except Exception as error:
        errors.append(f"librarian {number}: {type(error).__name__}: {str(error).splitlines()[0][:200]}")
    finally:
        await context.close()
    return {"saved": saved, "errors": errors, "server": url}


async def drive(reader_url: str, librarian_urls: list[str], sessions: int, seconds: float, chromium: str,
                timings: Timings) -> tuple[list[dict], list[dict]]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            deadline = time.monotonic() + seconds
            readers = [reader_session(browser, reader_url, deadline, n, timings) for n in range(sessions)]
            librarians = [librarian_session(browser, server, deadline, n + 1, timings)
                          for n, server in enumerate(librarian_urls)]
            results = await asyncio.gather(*readers, *librarians)
            return list(results[:sessions]), list(results[sessions:])
        finally:
            await browser.close()


async def packs_shown(urls: list[str], sessions: list[dict], chromium: str) -> list[str]:
    """Open every session's pack from every server; what each shows must be what was added."""
    from playwright.async_api import async_playwright

    problems: list[str] = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            for server in urls:
                context = await browser.new_context()
                page = await context.new_page()
                page.set_default_timeout(STEP_MS)
                for number, session in enumerate(sessions):
                    if not session["token"]:
                        continue
                    try:
                        await page.goto(f"{server}/pack?edit={session['token']}", wait_until="domcontentloaded")
                        await page.locator('[class*="st-key-note-"]').first.wait_for()
                        await idle(page)
                        shown = set()
                        for classes in await page.locator('[class*="st-key-note-"]').evaluate_all(
                                "els => els.map(e => e.className)"):
                            found = NOTE_KEY.search(classes)
                            if found:
                                shown.add(found.group(1))
                        if shown != set(session["added"]):
                            problems.append(f"{server}: session {number}'s pack shows {sorted(shown)}, "
                                            f"added {sorted(session['added'])}")
                    except Exception as error:
                        problems.append(f"{server}: session {number}'s pack did not open: "
                                        f"{type(error).__name__}: {str(error).splitlines()[0][:160]}")
                await context.close()
        finally:
            await browser.close()
    return problems


# ------------------------------------------------------------------ servers


class AppServers:
    def __init__(self, root: Path, count: int, env: dict[str, str]) -> None:
        self.root = root
        self.ports = [free_port() for _ in range(count)]
        self.env = env
        self.processes: list[subprocess.Popen] = []
        self.logs = [root / f"server-{n + 1}.log" for n in range(count)]
        self.peak_rss_mb = [0.0] * count
        self._stop = threading.Event()

    @property
    def urls(self) -> list[str]:
        return [f"http://127.0.0.1:{port}" for port in self.ports]

    def index_dir(self, number: int) -> Path:
        return self.root / f"index-server-{number + 1}"

    def start(self) -> None:
        for number, port in enumerate(self.ports):
            env = {**self.env, "LIBRARY_INDEX_DIR": str(self.index_dir(number)), "PYTHONUNBUFFERED": "1"}
            with self.logs[number].open("ab") as log:
                self.processes.append(subprocess.Popen(
                    [sys.executable, "-m", "streamlit", "run", str(REPO / "app.py"), "--server.headless", "true",
                     "--server.address", "127.0.0.1", "--server.port", str(port),
                     "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
                    cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT))
        for url, process in zip(self.urls, self.processes):
            wait_until_serving(url, process)
        threading.Thread(target=self._watch_memory, daemon=True).start()

    def _watch_memory(self) -> None:
        while not self._stop.wait(1.0):
            for number, process in enumerate(self.processes):
                try:
                    status = Path(f"/proc/{process.pid}/status").read_text()
                except OSError:
                    continue
                found = re.search(r"VmRSS:\s+(\d+) kB", status)
                if found:
                    self.peak_rss_mb[number] = max(self.peak_rss_mb[number], int(found.group(1)) / 1024)

    def cpu_seconds(self) -> list[float]:
        """CPU time each server has used so far (user + system), in seconds."""
        tick = os.sysconf("SC_CLK_TCK")
        out = []
        for process in self.processes:
            try:
                fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
                out.append((int(fields[11]) + int(fields[12])) / tick)
            except (OSError, IndexError, ValueError):
                out.append(0.0)
        return out

    def stop(self) -> None:
        self._stop.set()
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def tracebacks(self) -> int:
        return sum(log.read_text(errors="replace").count("Traceback") for log in self.logs if log.exists())


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, from /proc/stat."""
    tick = os.sysconf("SC_CLK_TCK")
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return (sum(values) - idle) / tick, sum(values) / tick


def wait_until_serving(url: str, server: subprocess.Popen, limit: float = 120.0) -> None:
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


# ------------------------------------------------------------------ the check


def verify(root: Path, env: dict[str, str], written: dict, librarians: list[dict], sessions: list[dict],
           index_dirs: list[Path]) -> list[str]:
    """Every way the collection, the change log, the packs or an index could have lost something."""
    from library import Library, Settings
    from library.bibtex import parse_bytes

    os.environ.update({k: v for k, v in env.items() if k.startswith("LIBRARY_")})
    losses: list[str] = []
    references = root / "references"
    files = {p.name[:-4]: p.read_bytes() for p in references.glob("*.bib") if not p.name.startswith(".")}
    library = Library(Settings.from_env(index_dir=root / "index-check"), sync=True)
    report = library.check()
    losses += [f"check: {p.describe()}" for p in report.errors]

    seed = {p.stem for p in (REPO / "references").glob("*.bib")}
    by_librarians = [key for librarian in librarians for key in librarian["saved"]]
    expected = seed | set(written["present"]) | set(by_librarians)
    if set(files) != expected:
        losses.append(f"collection: missing {sorted(expected - set(files))[:5]}, "
                      f"unexpected {sorted(set(files) - expected)[:5]}")
    for key, finding in written["present"].items():
        if key in files:
            entries = parse_bytes(files[key], key).entries
            if not entries or entries[0].fields.get("key-finding") != finding:
                losses.append(f"{key}: the last edit is not in the file")
    log = [json.loads(line) for line in library.collection.log_path.read_text().splitlines() if line.strip()]
    indexed = library.changes.recent(100_000)
    for key in by_librarians:
        in_file = sum(1 for line in log if line["key"] == key and line["action"] == "add")
        in_index = sum(1 for change in indexed if change.key == key and change.action == "add")
        if (in_file, in_index) != (1, 1):
            losses.append(f"{key}: {in_file} add line(s) in changes.jsonl, {in_index} in the database's index")
    counts = written["counts"]
    for action, done in (("add", counts["added"]), ("edit", counts["edited"]), ("delete", counts["deleted"])):
        logged = sum(1 for line in log if line["who"] == "soak" and line["action"] == action)
        if logged != done:
            losses.append(f"the API writer made {done} {action}(s); the change log has {logged}")
    if len(indexed) != len({line.get("id") for line in log}):
        losses.append(f"the database's index holds {len(indexed)} changes, changes.jsonl {len(log)}")

    store = library.packs
    for number, session in enumerate(sessions):
        if not session["added"]:
            continue
        if not session["token"]:
            losses.append(f"session {number}: its pack's edit link was never seen")
            continue
        stored = store.open(session["token"], None)
        if list(stored.pack.keys) != session["added"]:
            losses.append(f"session {number}: the saved pack holds {list(stored.pack.keys)}, "
                          f"the session added {session['added']}")

    for number, index_dir in enumerate(index_dirs):  # each server's index, as the server left it
        server = Library(Settings.from_env(index_dir=index_dir), sync=False)
        total = server.search("", per_page=1).total
        keys: list[str] = []
        for page in range(1, -(-total // 100) + 1):
            keys += [h.key for h in server.search("", per_page=100, page=page).hits]
        if set(keys) != set(files) or len(keys) != len(set(keys)):
            losses.append(f"server {number + 1}'s index: {total} references, {len(files)} files; missing "
                          f"{sorted(set(files) - set(keys))[:5]}, extra {sorted(set(keys) - set(files))[:5]}")
        server.close()
    leftovers = [p.name for p in references.iterdir() if p.name.startswith(".tmp-")]
    if leftovers:
        losses.append(f"temporary files left behind: {leftovers[:5]}")
    library.close()
    return losses


# ------------------------------------------------------------------ the run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=180.0, help="how long to run the load (default 180)")
    parser.add_argument("--sessions", type=int, default=20, help="browser sessions searching and building packs")
    parser.add_argument("--servers", type=int, choices=(1, 2), default=2, help="app servers (default 2)")
    parser.add_argument("--librarians", type=int, default=2, help="librarians saving through the app")
    parser.add_argument("--no-proxy", action="store_true", help="readers go straight to the first server")
    parser.add_argument("--chromium", default="/usr/bin/chromium", help="the Chromium to drive")
    parser.add_argument("--writer", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.writer:
        print(json.dumps(writer(args.seconds)))
        return 0

    from library.auth import hash_password
    from tests.postgres_server import PostgresServer, find_bindir
    from tests.proxy_server import ProxyServer, find_nginx

    started = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    root = Path(tempfile.mkdtemp(prefix="library-soak-"))
    shutil.copytree(REPO / "references", root / "references")
    extra = {"LIBRARY_LIBRARIAN_PASSWORD_HASH": hash_password(PASSWORD)}
    postgres = None
    proxy = None
    notes: list[str] = []
    if args.servers == 2:
        bindir = find_bindir()
        if bindir is None:
            raise SystemExit("PostgreSQL is needed for two servers (Debian's postgresql; scripts/run-tests.sh "
                             "installs it)")
        postgres = PostgresServer(Path(tempfile.mkdtemp(prefix="library-soak-postgres-")), bindir)
        postgres.start()
        extra["LIBRARY_DATABASE_URL"] = postgres.url(postgres.new_database())
    env = environment(root, **extra)
    os.environ.update({k: v for k, v in env.items() if k.startswith("LIBRARY_")})
    from library import Library, Settings

    servers = AppServers(root, args.servers, env)
    for number in range(args.servers):  # each index built, and the database migrated, before readers arrive
        Library(Settings.from_env(index_dir=servers.index_dir(number))).close()
    Library(Settings.from_env()).database  # noqa: B018 - opened: migrations applied
    try:
        servers.start()
        reader_url = servers.urls[0]
        nginx = find_nginx()
        if args.servers == 2 and not args.no_proxy:
            if nginx is None:
                notes.append("nginx is not installed: readers went straight to server 1")
            else:
                proxy = ProxyServer(root / "proxy", (servers.urls[0][7:], servers.urls[1][7:]), free_port(), nginx)
                reader_url = proxy.start(root / "proxy-access.log")
        writer_process = subprocess.Popen([sys.executable, __file__, "--writer", "--seconds", str(args.seconds)],
                                          cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        timings = Timings()
        load_before = os.getloadavg()[0]
        cpu_before, machine_before = servers.cpu_seconds(), machine_cpu()
        load_started = time.monotonic()
        # Each librarian on a server of their own (straight to it, not through the proxy).
        librarian_urls = [servers.urls[n % len(servers.urls)] for n in range(args.librarians)]
        sessions, librarians = asyncio.run(drive(reader_url, librarian_urls, args.sessions, args.seconds,
                                                 args.chromium, timings))
        load_seconds = time.monotonic() - load_started
        cpu_used = [after - before for after, before in zip(servers.cpu_seconds(), cpu_before)]
        machine_after = machine_cpu()
        machine_busy = (machine_after[0] - machine_before[0]) / max(1e-9, machine_after[1] - machine_before[1])
        load_after = os.getloadavg()[0]
        out, err = writer_process.communicate(timeout=args.seconds + 180)
        if writer_process.returncode != 0:
            print(err.decode(), file=sys.stderr)
            return 1
        written = json.loads(out)
        pack_problems = asyncio.run(packs_shown(servers.urls, sessions, args.chromium))
    finally:
        if proxy is not None:
            proxy.stop()
        servers.stop()
    losses = verify(root, env, written, librarians, sessions,
                    [servers.index_dir(n) for n in range(args.servers)]) + pack_problems
    if postgres is not None:
        postgres.stop()
        shutil.rmtree(postgres.root, ignore_errors=True)

    errors = [e for s in sessions for e in s["errors"]] + [e for s in librarians for e in s["errors"]]
    tracebacks = servers.tracebacks()
    proxied = 0
    per_upstream: dict[str, int] = {}
    access_log = root / "proxy-access.log"
    if access_log.exists():
        for line in access_log.read_text(errors="replace").splitlines():
            proxied += 1
            upstream = line.rsplit('"', 2)[-2] if line.count('"') >= 4 else ""
            for url in servers.urls:
                if url[7:] in upstream:
                    per_upstream[url] = per_upstream.get(url, 0) + 1
    counts = {kind: sum(s["counts"][kind] for s in sessions) for kind in ("search", "add", "pack")}
    saves = [len(s["saved"]) for s in librarians]
    every = timings.all()
    print(f"Soak run started {started}: {args.servers} app server(s)"
          + (", PostgreSQL" if postgres else ", SQLite") + (", nginx in front" if proxy else "")
          + f"; {args.seconds:.0f} s of load ({load_seconds:.0f} s with start-up of the sessions), "
          f"{args.sessions} browser sessions, {len(librarians)} librarians in the app, one API writer")
    for note in notes:
        print(f"note: {note}")
    print(f"pages answered: {len(every)} ({counts['search']} searches, {counts['add']} added to a pack, "
          f"{counts['pack']} pack pages, {sum(saves)} librarian saves, {len(timings.by_kind.get('first page', []))} "
          f"first loads)")
    if proxied:
        print(f"HTTP requests through the proxy: {proxied} ("
              + ", ".join(f"server {n + 1}: {per_upstream.get(url, 0)}" for n, url in enumerate(servers.urls)) + ")")
    print(f"page time, all answers: p50 {percentile(every, 0.5):.2f} s, p95 {percentile(every, 0.95):.2f} s, "
          f"max {max(every, default=0):.2f} s")
    for kind, values in sorted(timings.by_kind.items()):
        print(f"  {kind}: {len(values)}, p50 {statistics.median(values):.2f} s, p95 {percentile(values, 0.95):.2f} s")
    print(f"errors in the sessions: {len(errors)}")
    for line in errors[:10]:
        print(f"  {line}")
    c = written["counts"]
    where = ", ".join(f"{n} through {s['server']}" for n, s in zip(saves, librarians))
    print(f"writes: {sum(saves)} saved through the app ({where}); "
          f"API writer {c['added']} added, {c['edited']} edited, {c['deleted']} deleted, {c['errors']} refused")
    for line in written["errors"][:10]:
        print(f"  {line}")
    print(f"packs built: {sum(1 for s in sessions if s['added'])}, opened from {args.servers} server(s) each")
    print("peak memory per app server: " + ", ".join(f"{mb:.0f} MB" for mb in servers.peak_rss_mb))
    cores = os.cpu_count() or 1
    print("CPU during the load: app servers " + ", ".join(
        f"{used:.0f} s ({used / load_seconds:.0%} of a core)" for used in cpu_used)
          + f"; the whole machine {machine_busy:.0%} busy on {cores} cores (load average {load_before:.1f} "
          f"before, {load_after:.1f} after; the browsers, the database, the proxy and anything else running "
          "share the same cores)")
    print(f"server tracebacks: {tracebacks}")
    print(f"losses: {len(losses)}")
    for line in losses:
        print(f"  LOSS: {line}")
    failed = bool(losses or errors or c["errors"] or tracebacks or counts["search"] == 0)
    print("result: " + ("FAILED" if failed else "nothing lost"))
    shutil.rmtree(root, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
