"""The app in headless Chromium as a busy nurse meets it.

- Deep links opened first on a freshly started server (no one has opened "/" yet): each shows the
  app's own navigation, its page and a tab title naming it; an unknown address opens search.
- Every page at 1280×800, 1400×1000 and 390×844, signed in and not: a screenshot of each in
  `test-artifacts/`, no button, link or tab label cut short (each one's scroll width against its
  client width), no sideways scrolling, and axe-core's WCAG 2.2 A and AA rules with no violation
  but the few that come from Streamlit's own markup, each listed below with its reason.
- On a phone: search, add to the pack, open the pack from the page and download the PDF.
- With the keyboard only: the same journey by Tab and Enter.
- "Next page" leaves the reader at the top of the new page of results.

The server is the README's command on a free port (see test_e2e.py); the browser is Debian's Chromium.
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from library import Library, Settings
from library.auth import hash_password

from .test_e2e import ARTIFACTS, CHROMIUM_ARGS, STEP_TIMEOUT_MS, chromium, running_app  # noqa: F401 (fixture)

pytestmark = pytest.mark.e2e

APP_TITLE = "Trauma-informed evidence library"
NAV_LABELS = ["Search", "Themes and evidence map", "Answer a concern", "Evidence pack", "Add and edit references"]
PASSWORD = "a long test password"
LIBRARIAN = "Jo Librarian"
REFERENCE = "felitti1998relationship"
SIZES = [(1280, 800), (1400, 1000), (390, 844)]
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]


@dataclass(frozen=True)
class Known:
    """A violation that comes from Streamlit's own markup: the axe rule, the element (a CSS selector
    the offending node lies within), and why it is Streamlit's and not ours."""

    rule: str
    within: str
    reason: str


STREAMLIT_OWN = (
    Known("list", '[data-testid="stSidebarNavItems"]',
          "Streamlit's sidebar navigation puts each section's header and its links in a <div> directly "
          "inside the <ul>, so the list holds elements other than <li>."),
    Known("listitem", '[data-testid="stSidebarNav"]',
          "The same navigation's <li> links sit inside that <div>, not directly inside the <ul>."),
)



# ------------------------------------------------------------------ helpers


def settle(page, timeout_ms: int = STEP_TIMEOUT_MS) -> None:  # type: ignore[no-untyped-def]
    """Wait until Streamlit has finished running the script and nothing on screen is stale."""
    page.wait_for_function(
        """() => !document.querySelector('[data-testid="stStatusWidget"] [data-testid="stStatusWidgetRunningIcon"]')
                 && !document.querySelector('[data-stale="true"]')""", timeout=timeout_ms)
    page.wait_for_timeout(600)


CLIPPED_JS = """() => {
  const onScreen = el => { const r = el.getBoundingClientRect();
    return r.width > 2 && r.height > 2 && r.right > 0 && r.left < window.innerWidth
           && getComputedStyle(el).visibility !== 'hidden'; };
  const out = [];
  for (const control of document.querySelectorAll('button, a, [role=button], [role=tab], [role=link]')) {
    if (!onScreen(control)) continue;
    const walk = el => {
      if (el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1) {
        out.push({label: (control.innerText || control.getAttribute('aria-label') || '').trim().slice(0, 80),
                  element: el.tagName.toLowerCase(), scrollWidth: el.scrollWidth, clientWidth: el.clientWidth});
      }
      for (const child of el.children) walk(child);
    };
    walk(control);
  }
  return out;
}"""

SIDEWAYS_JS = """() => {
  const main = document.querySelector('[data-testid="stMain"]') || document.documentElement;
  return {page: document.documentElement.scrollWidth - document.documentElement.clientWidth,
          main: main.scrollWidth - main.clientWidth};
}"""


def axe_violations(page) -> list[dict]:  # type: ignore[no-untyped-def]
    """axe-core's WCAG 2.2 A and AA violations, less the ones `STREAMLIT_OWN` explains (node by node)."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_TAGS},
                                       "resultTypes": ["violations"]}).response
    left = []
    for violation in results["violations"]:
        for node in violation["nodes"]:
            target = node["target"][0] if node["target"] else ""
            explained = [k for k in STREAMLIT_OWN if k.rule == violation["id"] and page.evaluate(
                "([target, within]) => { const el = document.querySelector(target); "
                "return !!(el && el.closest(within)); }", [target, k.within])]
            if not explained:
                left.append({"rule": violation["id"], "impact": violation["impact"], "target": target,
                             "html": node["html"][:200], "why": node["failureSummary"][:300]})
    return left


class Checker:
    """Screenshots each page and collects what is clipped, scrolls sideways or fails axe."""

    def __init__(self, page, name: str) -> None:  # type: ignore[no-untyped-def]
        self.page = page
        self.name = name
        self.problems: list[str] = []
        self.shots: list[Path] = []

    def check(self, label: str) -> None:
        settle(self.page)
        width = self.page.viewport_size["width"]
        path = ARTIFACTS / f"pages-{self.name}-{label}-{width}.png"
        self.page.screenshot(path=str(path))
        self.shots.append(path)
        for item in self.page.evaluate(CLIPPED_JS):
            self.problems.append(f"{label} at {width}px: '{item['label']}' is cut short "
                                 f"({item['element']} {item['scrollWidth']} > {item['clientWidth']} px)")
        sideways = self.page.evaluate(SIDEWAYS_JS)
        if sideways["page"] > 0 or sideways["main"] > 0:
            self.problems.append(f"{label} at {width}px scrolls sideways by {max(sideways.values())} px")
        for violation in axe_violations(self.page):
            self.problems.append(f"{label} at {width}px: axe {violation['rule']} ({violation['impact']}) on "
                                 f"{violation['target']}: {violation['html']} — {violation['why']}")


def nav_to(page, label: str) -> None:  # type: ignore[no-untyped-def]
    """Follow the app's navigation to `label`, opening the sidebar first where a phone hides it."""
    nav = page.get_by_test_id("stSidebarNav")
    if not nav.is_visible():
        page.get_by_test_id("stExpandSidebarButton").click()
    nav.get_by_role("link", name=label).click()
    if page.viewport_size["width"] < 640 and page.get_by_test_id("stSidebarCollapseButton").is_visible():
        page.get_by_test_id("stSidebarCollapseButton").click()


def search_for(page, words: str) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    box = page.get_by_role("textbox", name="Search words", exact=True)
    box.fill(words)
    box.press("Enter")
    expect(page.get_by_text(re.compile(r"references? found"))).to_be_visible()
    settle(page)


def sign_in(page) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    page.get_by_role("textbox", name="Your name").fill(LIBRARIAN)
    page.get_by_role("textbox", name="Librarian password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text(f"Signed in as {LIBRARIAN}.")).to_be_visible()


@contextlib.contextmanager
def browser_page(playwright, chromium_path: Path, width: int, height: int, profile: Path) -> Iterator:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    context = playwright.chromium.launch_persistent_context(
        str(profile), executable_path=str(chromium_path), args=CHROMIUM_ARGS, headless=True,
        viewport={"width": width, "height": height}, accept_downloads=True)
    try:
        page = context.new_page()
        page.set_default_timeout(STEP_TIMEOUT_MS)
        expect.set_options(timeout=STEP_TIMEOUT_MS)
        yield page
    finally:
        context.close()


def server_env(folder: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIBRARY_")}
    env.update(LIBRARY_REFERENCES_DIR=str(folder / "references"), LIBRARY_INDEX_DIR=str(folder / "index"),
               LIBRARY_DATA_DIR=str(folder / "data"),
               LIBRARY_LIBRARIAN_PASSWORD_HASH=hash_password(PASSWORD, salt=b"e2e-pages-salt!!"))
    return env


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One server for the checks that do not need a fresh start (each uses its own browser session)."""
    folder = tmp_path_factory.mktemp("e2e-pages")
    with running_app(folder, server_env(folder)) as url:
        yield url


# ------------------------------------------------------------------ deep links on a fresh server


def reference_title() -> str:
    library = Library(Settings.from_env(references_dir=Path(__file__).resolve().parent.parent / "references",
                                        index_dir=Path(os.environ["LIBRARY_INDEX_DIR"]) / "expected",
                                        data_dir=Path(os.environ["LIBRARY_DATA_DIR"])))
    try:
        return library.get(REFERENCE).title
    finally:
        library.close()


DEEP_LINKS = [
    pytest.param("/pack", "/pack", "Evidence pack", "Evidence pack", id="pack"),
    pytest.param("/themes", "/themes", "Themes and evidence map", "Themes and evidence map", id="themes"),
    pytest.param("/concerns", "/concerns", "Answer a concern", "Answer a concern", id="concerns"),
    pytest.param("/search?q=burnout", "/search?q=burnout", "Search", "Search the evidence", id="search"),
    pytest.param(f"/reference?key={REFERENCE}", f"/reference?key={REFERENCE}", None, None, id="reference"),
    pytest.param("/librarian", "/librarian", "Add and edit references", "Add and edit references", id="librarian"),
    pytest.param("/", "/search", "Search", "Search the evidence", id="root"),
    pytest.param("/no-such-page?q=burnout&type=systematic-review", "/search?q=burnout&type=systematic-review",
                 "Search", "Search the evidence", id="unknown-address"),
]


@pytest.mark.parametrize(("link", "lands_on", "tab_title", "heading"), DEEP_LINKS)
def test_a_deep_link_opened_first_after_a_restart_shows_the_app(
        link: str, lands_on: str, tab_title: str | None, heading: str | None, chromium: Path, tmp_path: Path,
        record_property: pytest.RecordProperty) -> None:
    from playwright.sync_api import expect, sync_playwright

    if tab_title is None:  # the reference page names the work
        title = reference_title()
        tab_title, heading = title[:80], title
    ARTIFACTS.mkdir(exist_ok=True)
    with running_app(tmp_path / "server", server_env(tmp_path / "server")) as url, sync_playwright() as playwright, \
            browser_page(playwright, chromium, 1400, 1000, tmp_path / "profile") as page:
        page.goto(url + link)
        expect(page.get_by_role("heading", name=heading, exact=True).first).to_be_visible()
        settle(page)
        shot = ARTIFACTS / f"deep-link-{link.strip('/').split('?')[0] or 'root'}.png"
        page.screenshot(path=str(shot))
        record_property("screenshot", str(shot))
        assert page.url == url + lands_on
        expect(page).to_have_title(f"{tab_title} · {APP_TITLE}")
        links = page.get_by_test_id("stSidebarNav").get_by_role("link").all_inner_texts()
        assert [text.strip().splitlines()[-1] for text in links] == NAV_LABELS
        assert page.get_by_role("dialog").count() == 0, page.get_by_role("dialog").all_inner_texts()
        if "q=burnout" in lands_on:
            expect(page.get_by_role("textbox", name="Search words", exact=True)).to_have_value("burnout")


# ------------------------------------------------------------------ every page, every size


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
@pytest.mark.parametrize("signed_in", [False, True], ids=["reader", "librarian"])
def test_every_page_fits_and_passes_axe(size: tuple[int, int], signed_in: bool, app_url: str, chromium: Path,
                                        tmp_path: Path, record_property: pytest.RecordProperty) -> None:
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    width, height = size
    with sync_playwright() as playwright, browser_page(playwright, chromium, width, height, tmp_path / "p") as page:
        checker = Checker(page, "librarian" if signed_in else "reader")
        try:
            if signed_in:
                page.goto(app_url + "/librarian")
                sign_in(page)
                checker.check("librarian-add")
                page.get_by_test_id("stRadio").get_by_text("Upload a .bib or .ris file").click()
                uploader = page.get_by_test_id("stFileUploaderDropzoneInstructions")
                expect(uploader).to_contain_text("5MB")  # Streamlit's own hint agrees with LIBRARY_MAX_UPLOAD_MB
                assert "20MB" not in uploader.inner_text() and "200MB" not in uploader.inner_text()
                nav_to(page, "Search")
            else:
                page.goto(app_url + "/search")
            search_for(page, "burnout")
            checker.check("search")
            page.get_by_role("button", name="Add to pack").first.click()
            expect(page.get_by_role("link", name="Your pack: 1 reference")).to_be_visible()
            settle(page)
            page.get_by_role("link", name="Details and citation").first.click()
            expect(page.get_by_role("heading", name="Cite it")).to_be_visible()
            checker.check("reference")
            if signed_in:
                page.get_by_role("link", name="Edit", exact=True).click()
                expect(page.get_by_role("heading", name="Bibliographic details")).to_be_visible()
                checker.check("edit-form")
            for label, name in (("Themes and evidence map", "themes"), ("Answer a concern", "concerns"),
                                ("Evidence pack", "pack")):
                nav_to(page, label)
                expect(page.get_by_role("heading", name=label if name != "themes" else label, exact=True)
                       ).to_be_visible()
                checker.check(name)
            if not signed_in:
                nav_to(page, "Add and edit references")
                expect(page.get_by_role("button", name="Sign in")).to_be_visible()
                checker.check("librarian-sign-in")
        finally:
            record_property("screenshots", "\n".join(str(p) for p in checker.shots))
    assert not checker.problems, "\n".join(checker.problems)


HIDDEN_CHOICES_JS = """() => {
  const out = [];
  for (const box of document.querySelectorAll('[data-testid="stMultiSelect"]')) {
    const tags = box.querySelector('[data-testid="stMultiSelectTagsContainer"]');
    if (!tags) continue;
    const field = tags.parentElement.getBoundingClientRect();  // the box around the choices
    const label = box.querySelector('[data-testid="stWidgetLabel"]').innerText.trim();
    for (const chip of box.querySelectorAll('[data-testid="stMultiSelectTagsContainer"] [data-tag]')) {
      const r = chip.getBoundingClientRect();
      const text = chip.firstElementChild;
      if (r.left < field.left - 1 || r.right > field.right + 1 || r.top < field.top - 1 || r.bottom > field.bottom + 1
          || r.right > window.innerWidth || text.scrollWidth > text.clientWidth + 1)
        out.push(label + ': ' + chip.getAttribute('aria-label'));
    }
  }
  return out;
}"""


@pytest.mark.parametrize("size", [(1280, 800), (390, 844)], ids=["1280x800", "390x844"])
def test_a_key_message_shows_every_reference_it_cites(size: tuple[int, int], app_url: str, chromium: Path,
                                                      tmp_path: Path) -> None:
    """A pack started from a concern cites six references in its first message: all six chips are
    inside the box, on a desktop and on a phone (Streamlit showed two and hid the rest)."""
    from playwright.sync_api import expect, sync_playwright

    width, height = size
    with sync_playwright() as playwright, browser_page(playwright, chromium, width, height, tmp_path / "p") as page:
        page.goto(app_url + "/concerns")
        page.get_by_test_id("stExpander").first.locator("summary").click()
        start = page.get_by_role("button", name=re.compile(r"Start a pack from these \d+$")).first
        cited = int(start.inner_text().rsplit(" ", 1)[1])
        start.click()
        box = page.get_by_test_id("stMultiSelect").filter(has_text="References behind message 1")
        expect(box).to_be_visible()
        settle(page)
        chips = box.locator('[data-testid="stMultiSelectTagsContainer"] [data-tag]')
        assert chips.count() == cited >= 4
        hidden = page.evaluate(HIDDEN_CHOICES_JS)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"pack-cites-{width}.png"))
        assert not hidden, "choices hidden or cut off: " + "; ".join(hidden)


# ------------------------------------------------------------------ journeys


def test_on_a_phone_search_add_to_the_pack_and_download_the_pdf(app_url: str, chromium: Path,
                                                                 tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright, browser_page(playwright, chromium, 390, 844, tmp_path / "p") as page:
        page.goto(app_url + "/search")
        # The filters are on the page itself, not behind the folded sidebar.
        filters = page.get_by_text("Filter and sort", exact=True)
        expect(filters).to_be_in_viewport()
        search_for(page, "burnout")
        page.get_by_role("button", name="Add to pack").first.click()
        expect(page.get_by_role("button", name="Remove from pack").first).to_be_visible()
        assert page.get_by_test_id("stToast").count() == 0  # nothing covers the navigation
        pack = page.get_by_role("link", name="Your pack: 1 reference")
        pack.scroll_into_view_if_needed()
        expect(pack).to_be_in_viewport()
        box = pack.bounding_box()
        assert box is not None
        on_top = page.evaluate("([x, y]) => document.elementFromPoint(x, y).closest('a')?.innerText || ''",
                               [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2])
        assert "Your pack" in on_top, f"something covers the pack link: {on_top!r}"
        pack.click()
        expect(page.get_by_role("heading", name="Evidence pack", exact=True)).to_be_visible()
        assert not page.get_by_test_id("stSidebar").is_visible() or \
            page.get_by_test_id("stSidebar").bounding_box()["x"] + 10 < 0  # type: ignore[index]
        pdf = page.get_by_role("button", name=re.compile("PDF"))
        pdf.first.scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / "phone-pack.png"))
        with page.expect_download() as download:
            pdf.first.click()
        saved = tmp_path / "brief.pdf"
        download.value.save_as(saved)
        assert download.value.suggested_filename.endswith(".pdf")
        assert saved.read_bytes().startswith(b"%PDF-")


def focus_by_tab(page, matches, *, backwards: bool = False, limit: int = 200) -> str:  # type: ignore[no-untyped-def]
    """Press Tab (or Shift+Tab) until the focused element's text satisfies `matches`; returns it."""
    seen = []
    for _ in range(limit):
        page.keyboard.press("Shift+Tab" if backwards else "Tab")
        text = page.evaluate("() => { const el = document.activeElement; return (el.innerText || "
                             "el.getAttribute('aria-label') || el.value || el.tagName).trim(); }")
        seen.append(text)
        if matches(text):
            return text
    raise AssertionError(f"never reached by the keyboard; focus went through: {seen[-40:]}")


def test_with_the_keyboard_only_search_add_to_the_pack_and_download(app_url: str, chromium: Path,
                                                                      tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright, browser_page(playwright, chromium, 1400, 1000, tmp_path / "p") as page:
        page.goto(app_url + "/search")
        settle(page)
        page.locator("body").focus()
        focus_by_tab(page, lambda _text: page.evaluate(
            "() => document.activeElement.getAttribute('aria-label') === 'Search words'"))
        page.keyboard.type("burnout")
        page.keyboard.press("Enter")
        expect(page.get_by_text(re.compile(r"references? found"))).to_be_visible()
        settle(page)
        # No "Link to heading" tab stop beside each result's title.
        assert page.locator('a[aria-label="Link to heading"]:visible').count() == 0
        focus_by_tab(page, lambda text: text.endswith("Add to pack"))
        page.keyboard.press("Enter")
        expect(page.get_by_role("link", name="Your pack: 1 reference")).to_be_visible()
        settle(page)
        # The focus stays where the reader was: on the button that took the pressed one's place.
        expect(page.locator(":focus")).to_have_text(re.compile(r"Remove from pack$"))
        page.keyboard.press("Enter")
        expect(page.get_by_role("link", name=re.compile("Your pack"))).to_have_count(0)
        settle(page)
        expect(page.locator(":focus")).to_have_text(re.compile(r"Add to pack$"))
        page.keyboard.press("Enter")
        expect(page.get_by_role("link", name="Your pack: 1 reference")).to_be_visible()
        settle(page)
        focus_by_tab(page, lambda text: text.endswith("Your pack: 1 reference"), backwards=True)
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", name="Evidence pack", exact=True)).to_be_visible()
        settle(page)
        focus_by_tab(page, lambda text: "PDF" in text)
        with page.expect_download() as download:
            page.keyboard.press("Enter")
        assert download.value.suggested_filename.endswith(".pdf")


def test_next_page_leaves_the_reader_at_the_top_of_the_new_page(app_url: str, chromium: Path,
                                                                 tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright, browser_page(playwright, chromium, 1400, 1000, tmp_path / "p") as page:
        page.goto(app_url + "/search")
        expect(page.get_by_text(re.compile(r"showing 1–20"))).to_be_visible()
        settle(page)
        next_page = page.get_by_role("button", name="Next page")
        next_page.scroll_into_view_if_needed()
        assert page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollTop") > 500
        next_page.click()
        expect(page.get_by_text(re.compile(r"showing 21–40"))).to_be_visible()
        settle(page)
        page.screenshot(path=str(ARTIFACTS / "next-page.png"))
        assert page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollTop") == 0
        expect(page.get_by_role("heading", name="Search the evidence")).to_be_in_viewport()
        focused = page.evaluate("() => document.activeElement.innerText || ''")
        assert "references found" in focused  # a screen reader hears where it is
