"""Look a DOI up in Crossref's REST API and turn the answer into a BibTeX entry.

The request goes through `library.http`, the library's one door to the network:
a descriptive User-Agent (Crossref serves identified clients from its "polite"
pool), timeouts, a few retries with back-off, and a cap on the size of the
answer.  Every failure becomes a `LookupFailed` whose message tells the user
what to do; no `requests` exception escapes.

A DOI is never guessed from a title: the user gives one, or pastes BibTeX.
"""

from __future__ import annotations

import html
import json
import re
import time
import unicodedata
from collections.abc import Callable, Mapping
from datetime import date
from urllib.parse import quote, unquote

from . import bibtex, latex
from .bibtex import Entry, make_key
from .config import Settings
from .errors import LookupFailed
from .http import BACKOFF_BASE_SECONDS, MAX_ATTEMPTS, MAX_RESPONSE_BYTES, HttpClient, Service
from .http import user_agent  # noqa: F401 (part of this module's interface: tests and callers use it)

MAX_DOI_LENGTH = 300

_EXAMPLE = "A DOI starts with 10. and has a slash, e.g. 10.1016/S0749-3797(98)00017-8."
_PASTE_INSTEAD = "or add the reference by pasting its BibTeX."

# ---------------------------------------------------------------- DOIs

_DOI_PREFIX = re.compile(
    r"^(?:doi:\s*|(?:https?://)?(?:dx\.|www\.)?doi\.org/)", re.IGNORECASE)
# Prefix "10." + registrant code (digits, optionally dot-separated), slash, any suffix.
# ASCII digits only: `\d` would also accept Arabic-Indic and other digits.
_DOI_SHAPE = re.compile(r"^10\.[0-9]{4,9}(?:\.[0-9]+)*/\S+\Z")
# Invisible or layout characters that turn up when a DOI is copied out of a PDF.
_UNUSABLE_CATEGORIES = {"Cc", "Cf", "Cs", "Zs", "Zl", "Zp"}


def parse_doi(text: str) -> str:
    """The bare DOI in `text` (case kept), or `LookupFailed` saying why it is not one.

    Accepts '10.xxxx/...', 'doi:10.xxxx/...', 'https://doi.org/10.xxxx/...' and
    'http://dx.doi.org/10.xxxx/...', with spaces around.
    """
    if not isinstance(text, str):
        raise LookupFailed(f"No DOI was given. {_EXAMPLE}")
    candidate = text.strip()
    if not candidate:
        raise LookupFailed(f"No DOI was given. {_EXAMPLE}")
    if len(candidate) > MAX_DOI_LENGTH:
        raise LookupFailed(f"'{_shown(candidate)}' is not a DOI (it is far too long). {_EXAMPLE}")
    bare = _DOI_PREFIX.sub("", candidate, count=1)
    if bare != candidate and "://" in candidate:
        # In a link the DOI may be percent-encoded (10.1126%2Fscience...).
        bare = unquote(bare)
    if not bare.startswith("10.") or "/" not in bare:
        raise LookupFailed(f"'{_shown(candidate)}' is not a DOI. {_EXAMPLE}")
    if any(unicodedata.category(c) in _UNUSABLE_CATEGORIES or c.isspace() for c in bare):
        raise LookupFailed(f"'{_shown(candidate)}' is not a DOI (it contains spaces or invisible "
                           f"characters). {_EXAMPLE}")
    if not _DOI_SHAPE.match(bare):
        raise LookupFailed(f"'{_shown(candidate)}' is not a DOI. {_EXAMPLE}")
    return bare


def is_doi(text: str) -> bool:
    try:
        parse_doi(text)
    except LookupFailed:
        return False
    return True


def _shown(text: str, limit: int = 60) -> str:
    """The user's text, safe and short enough to quote back in a message."""
    visible = "".join("?" if unicodedata.category(c) in _UNUSABLE_CATEGORIES - {"Zs"} else c
                      for c in text)
    return visible if len(visible) <= limit else visible[: limit - 1] + "…"


# ---------------------------------------------------------------- the client


class CrossrefClient:
    """Looks DOIs up in Crossref; one instance holds one HTTP session (see `library.http`).

    `sleep` and `today` are parameters so tests can record back-off waits
    instead of waiting, and fix the date written into `added`.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        today: Callable[[], date] = date.today,
        max_attempts: int = MAX_ATTEMPTS,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        backoff_base: float = BACKOFF_BASE_SECONDS,
    ) -> None:
        self.base_url = settings.crossref_url.rstrip("/")
        self._today = today
        self.http = HttpClient(
            Service("the DOI service", self.base_url, _PASTE_INSTEAD, LookupFailed),
            contact_email=settings.contact_email, timeout=settings.http_timeout, sleep=sleep,
            max_attempts=max_attempts, max_response_bytes=max_response_bytes, backoff_base=backoff_base)

    def __enter__(self) -> "CrossrefClient":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    def work_url(self, doi: str) -> str:
        # The slash is quoted too (as Crossref's own links do), so that a DOI
        # containing '..' or '?' cannot change which resource is asked for.
        return f"{self.base_url}/works/{quote(doi, safe='')}"

    def lookup(self, doi: str) -> Entry:
        """The work with this DOI as a BibTeX entry, or `LookupFailed` saying why not."""
        bare = parse_doi(doi)
        answer = self.http.get(self.work_url(bare))
        if answer.status == 404:
            raise LookupFailed(
                f"No work with the DOI {bare} is registered with Crossref. Check the DOI for "
                f"typos. DOIs registered elsewhere, such as DataCite's for many theses and "
                f"data sets, cannot be looked up here: add such a reference by pasting its BibTeX instead.")
        if answer.status != 200:
            raise LookupFailed(
                f"The DOI service could not look up {bare} (it answered with error {answer.status}). "
                f"Check the DOI, {_PASTE_INSTEAD}")
        message = _work_message(answer.body, answer.content_type)
        return entry_from_work(message, looked_up=self._today(), requested_doi=bare)


def _work_message(body: bytes, content_type: str) -> Mapping[str, object]:
    """The `message` object of a Crossref answer, or `LookupFailed`."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):  # includes JSONDecodeError and UnicodeDecodeError
        if "html" in content_type.lower():
            raise LookupFailed(
                "The DOI service sent a web page instead of the work's details. If your network "
                "needs you to sign in through a web page, do that and try again; otherwise "
                + _PASTE_INSTEAD) from None
        raise LookupFailed(
            "The DOI service sent an answer that could not be read (it was not valid JSON). "
            f"Try again later, {_PASTE_INSTEAD}") from None
    message = document.get("message") if isinstance(document, dict) else None
    if not isinstance(message, dict):
        raise LookupFailed(
            "The DOI service's answer did not contain the work's details. "
            f"Try again later, {_PASTE_INSTEAD}")
    return message


# ---------------------------------------------------------------- mapping

CROSSREF_TYPES = {
    "journal-article": "article",
    "book": "book",
    "monograph": "book",
    "edited-book": "book",
    "reference-book": "book",
    "book-chapter": "incollection",
    "book-section": "incollection",
    "book-part": "incollection",
    "proceedings-article": "inproceedings",
    "report": "techreport",
    "dissertation": "phdthesis",
    "posted-content": "misc",
}

_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9:_.-]*(?:\s[^<>]*)?/?>")
_SPACES = re.compile(r"\s+")
_DASHES = re.compile(r"\s*[-\u2010\u2011\u2012\u2013\u2014]+\s*")
_DOI_RESOLVER = re.compile(r"^https?://(?:dx\.|www\.)?doi\.org/", re.IGNORECASE)


def entry_from_work(work: Mapping[str, object], *, looked_up: date,
                    requested_doi: str = "") -> Entry:
    """A BibTeX entry for a Crossref `message` (a work), field by field.

    Text values are plain text escaped for BibTeX; Crossref's JATS/HTML markup
    in titles is reduced to its text.  Raises `LookupFailed` only when the DOI
    itself cannot be stored.
    """
    crossref_type = _plain(work.get("type"))
    kind = CROSSREF_TYPES.get(crossref_type, "misc")

    persons: dict[str, tuple[str, ...]] = {}
    authors = _persons(work.get("author"))
    if authors:
        persons["author"] = authors
    # A journal article's "editor" in Crossref is the academic editor who handled
    # the submission (PLOS lists one), not an editor of the work: citing it would be wrong.
    if kind != "article":
        editors = _persons(work.get("editor"))
        if editors:
            persons["editor"] = editors

    fields: dict[str, str] = {}

    def put(name: str, value: str) -> None:
        if value:
            fields[name] = value

    put("title", _text(_full_title(work)))
    container = _first(work.get("container-title"))
    container_field = {"article": "journal", "incollection": "booktitle",
                       "inproceedings": "booktitle", "book": "series"}.get(kind)
    if container_field:
        put(container_field, _text(container))
    put("year", _year(work))
    put("volume", _text(_plain(work.get("volume"))))
    put("number", _text(_plain(work.get("issue"))))
    pages = _plain(work.get("page")) or _plain(work.get("article-number"))
    # Each page encoded as text; the range's dash written as BibTeX's en dash.
    put("pages", "--".join(_text(part) for part in _DASHES.split(pages)) if pages.strip() else "")
    publisher = _plain(work.get("publisher"))
    put("publisher", _text(publisher))
    put("address", _text(_plain(work.get("publisher-location"))))
    if kind == "techreport":
        put("institution", _text(_institution(work) or publisher))
    elif kind == "phdthesis":
        put("school", _text(_institution(work) or publisher))
    if kind != "article":
        put("isbn", _text(", ".join(_unique(work.get("ISBN")))))
    put("issn", _text(", ".join(_unique(work.get("ISSN")))))

    doi = _plain(work.get("DOI")) or requested_doi
    if not latex.braces_balanced(doi):
        raise LookupFailed(f"The DOI {doi} contains an unmatched brace, which a BibTeX file cannot "
                           f"hold. Add the reference by pasting its BibTeX instead.")
    # DOIs and links are kept exactly as given: escaping them would corrupt them
    # (a DOI with '_' is common), and the rest of the library reads them raw.
    put("doi", doi)
    url = _plain(work.get("URL"))
    if url and not _DOI_RESOLVER.match(url):  # a doi.org link only repeats the DOI
        put("url", url.replace("{", "%7B").replace("}", "%7D"))
    if crossref_type == "posted-content" and _plain(work.get("subtype")) == "preprint":
        put("note", "Preprint")
    day = looked_up.isoformat()
    put("provenance", _text(f"Crossref REST API, DOI {doi}, looked up {day}"))
    put("added", day)

    key = make_key(persons, fields)
    return Entry(key, kind, fields, persons, source=f"Crossref, DOI {doi}", line=None)


def _plain(value: object) -> str:
    """Plain text from a Crossref string: tags dropped, entities decoded, spaces normalised."""
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, (int, float)):
        return str(value)
    if not isinstance(value, str):
        return ""
    text = html.unescape(_TAG.sub("", value))
    return _SPACES.sub(" ", text).strip()


def _first(value: object) -> str:
    """The first non-empty item of a Crossref list (titles come as lists)."""
    if isinstance(value, list):
        for item in value:
            text = _plain(item)
            if text:
                return text
        return ""
    return _plain(value)


def _full_title(work: Mapping[str, object]) -> str:
    title = _first(work.get("title"))
    subtitle = _first(work.get("subtitle"))
    # Crossref keeps subtitles apart; a citation without one is incomplete,
    # but some publishers also repeat it inside the title.
    if title and subtitle and subtitle.casefold() not in title.casefold():
        separator = " " if title[-1] in "?!:.;" else ": "
        return title + separator + subtitle
    return title


def _unique(value: object) -> list[str]:
    items = value if isinstance(value, list) else [value]
    seen: list[str] = []
    for item in items:
        text = _plain(item)
        if text and text not in seen:
            seen.append(text)
    return seen


def _institution(work: Mapping[str, object]) -> str:
    institution = work.get("institution")
    items = institution if isinstance(institution, list) else [institution]
    for item in items:
        if isinstance(item, Mapping):
            name = _plain(item.get("name"))
            if name:
                return name
    return ""


def _year(work: Mapping[str, object]) -> str:
    for name in ("published-print", "published-online", "issued"):
        when = work.get(name)
        parts = when.get("date-parts") if isinstance(when, Mapping) else None
        if isinstance(parts, list) and parts and isinstance(parts[0], list) and parts[0]:
            year = parts[0][0]
            if isinstance(year, str) and year.strip().isdigit():
                year = int(year)
            if isinstance(year, int) and not isinstance(year, bool) and 1000 <= year <= 2999:
                return str(year)
    return ""


def _persons(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    names = []
    for item in value:
        name = _person(item)
        if name:
            names.append(name)
    return tuple(names)


def _person(item: object) -> str:
    """'Family, Given' (or 'Family, Suffix, Given'); an organisation in braces."""
    if not isinstance(item, Mapping):
        return ""
    family = _name_part(_plain(item.get("family")))
    given = _name_part(_plain(item.get("given")))
    suffix = _name_part(_plain(item.get("suffix")))
    if family:
        return ", ".join(part for part in (family, suffix, given) if part)
    literal = _text(_plain(item.get("name"))) or given
    return "{" + literal + "}" if literal else ""


def _name_part(text: str) -> str:
    return bibtex.protect_name_part(_text(text))


def _text(plain: str) -> str:
    """Plain text as a BibTeX value (braces are kept as text: `latex.encode` writes them safely)."""
    return latex.encode(_SPACES.sub(" ", plain).strip())
