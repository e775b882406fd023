"""The public literature services a librarian searches for new research, behind one interface.

Each service has its own module (`openalex`, `europepmc`, `pubmed`, `crossref`)
holding how to ask it and a parser from its answer to `Candidate`s; the
parsers are plain functions of the bytes, so tests feed them real recorded
answers.  Every request goes through `library.http` (User-Agent with the
contact address, timeouts, retries with back-off honouring Retry-After,
bounded answers), and every failure is a `DiscoveryFailed` naming the service.

`open_source(name, settings)` gives the client for one service;
`Source.fetch(query)` pages through the service (by cursor where it offers one)
until the query's limit is reached.
"""

from __future__ import annotations

import json
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

from ..config import Settings
from ..errors import DiscoveryFailed
from ..http import Answer, HttpClient, Params, Service, usable_email
from .model import SOURCE_LABELS, Candidate, Page, Query

__all__ = ["ADVICE", "PAGE_SIZE", "Source", "open_source", "source_class"]

PAGE_SIZE = 100  # works asked for per request; a larger limit is fetched page by page
MAX_ANSWER_BYTES = 10 * 1024 * 1024
TOOL_NAME = "trauma-informed-evidence-library"  # NCBI asks each tool to name itself
ADVICE = "or try another source."


class Source(ABC):
    """One service's client: one HTTP session, closed with `close()` (or `with`)."""

    name = ""
    url_setting = ""  # the Settings attribute holding its base URL
    min_interval = 0.0  # seconds between requests the service asks for
    accept = "application/json"

    def __init__(self, settings: Settings, *, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic, backoff_base: float = 1.0) -> None:
        self.settings = settings
        self.base_url = str(getattr(settings, self.url_setting)).rstrip("/")
        self.contact_email = usable_email(settings.contact_email)
        self.http = HttpClient(
            Service(self.label, self.base_url, ADVICE, DiscoveryFailed),
            contact_email=settings.contact_email, timeout=settings.http_timeout, sleep=sleep, clock=clock,
            max_response_bytes=MAX_ANSWER_BYTES, backoff_base=backoff_base, min_interval=self.min_interval,
            accept=self.accept)

    @property
    def label(self) -> str:
        return SOURCE_LABELS[self.name]

    def __enter__(self) -> "Source":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    # ------------------------------------------------------------ searching
    @abstractmethod
    def search(self, query: Query, *, cursor: str | None = None, size: int = PAGE_SIZE) -> Page:
        """One page of at most `size` works, starting at `cursor` (None: the first page); each
        service's module says how it asks."""

    def fetch(self, query: Query, *, cursor: str | None = None) -> Page:
        """Up to `query.limit` works, asking page by page; the cursor says where the rest start."""
        collected: list[Candidate] = []
        seen: set[str] = set()
        first: Page | None = None
        next_cursor = cursor
        while len(collected) < query.limit:
            page = self.search(query, cursor=next_cursor, size=min(PAGE_SIZE, query.limit - len(collected)))
            first = first or page
            before = len(collected)
            for candidate in page.candidates:
                if candidate.id not in seen:  # a work can straddle two pages when the index changes
                    seen.add(candidate.id)
                    collected.append(candidate)
            next_cursor = page.next_cursor
            # A page that brings nothing new ends it too: a service repeating itself is not followed for ever.
            if not page.candidates or not next_cursor or len(collected) == before:
                break
        assert first is not None
        return Page(first.total, tuple(collected[: query.limit]), next_cursor, first.notice)

    # ------------------------------------------------------------ helpers for the services
    def get(self, path: str, params: Params) -> Answer:
        return self.http.get(f"{self.base_url}/{path.lstrip('/')}", params)

    def json_of(self, answer: Answer) -> Any:
        """The JSON of a 200 answer, or `DiscoveryFailed` saying what came instead."""
        if answer.status != 200:
            raise DiscoveryFailed(self.refused(answer))
        try:
            return json.loads(answer.body)
        except (ValueError, RecursionError):  # includes JSONDecodeError and UnicodeDecodeError
            raise DiscoveryFailed(self.unreadable(answer)) from None

    def unreadable(self, answer: Answer, what: str = "JSON") -> str:
        looks_like_markup = what == "JSON" and answer.body.lstrip()[:1] == b"<"
        if "html" in answer.content_type.lower() or looks_like_markup:
            return (f"{self.label} sent a web page instead of search results. If your network needs you to "
                    f"sign in through a web page, do that and try again; otherwise try again later, {ADVICE}")
        return (f"{self.label} sent an answer that could not be read (it was not valid {what}). "
                f"Try again later, {ADVICE}")

    def refused(self, answer: Answer) -> str:
        detail = _error_detail(answer.body)
        said = f": “{detail}”" if detail else ""
        if answer.status in (400, 414, 422):
            return (f"{self.label} could not run this search (it answered with error {answer.status}{said}). "
                    f"Check the search words and filters, {ADVICE}")
        return (f"{self.label} could not answer this search (it answered with error {answer.status}{said}). "
                f"Try again later, {ADVICE}")


def _error_detail(body: bytes) -> str:
    """What a service's error body says, in a sentence, if it is JSON we recognise."""
    from .markup import bounded, plain

    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return ""
    if not isinstance(document, dict):
        return ""
    message = document.get("message")
    if isinstance(message, list):  # Crossref: [{"type":..., "message": ...}]
        message = next((m.get("message") for m in message if isinstance(m, dict) and m.get("message")), "")
    if isinstance(message, dict):
        message = message.get("description") or message.get("message") or ""
    text = plain(message or document.get("error") or document.get("errMsg") or "", 2000)
    return bounded(text, 200)


def source_class(name: str) -> type[Source]:
    from .crossref import CrossrefSource
    from .europepmc import EuropePmcSource
    from .openalex import OpenAlexSource
    from .pubmed import PubMedSource

    classes: dict[str, type[Source]] = {"openalex": OpenAlexSource, "europepmc": EuropePmcSource,
                                        "pubmed": PubMedSource, "crossref": CrossrefSource}
    if name not in classes:
        from ..errors import ScreeningError

        raise ScreeningError(f"'{name}' is not a source; choose one of: {', '.join(classes)}.")
    return classes[name]


def open_source(name: str, settings: Settings, **options: Any) -> Source:
    """The client for one service (`openalex`, `europepmc`, `pubmed` or `crossref`)."""
    return source_class(name)(settings, **options)
