"""Crossref works query (https://api.crossref.org/swagger-ui/): free, no key, cursor paging.

Asks `GET /works?query=...&rows=N&cursor=*&filter=...&select=...&mailto=...` at
`LIBRARY_CROSSREF_URL` (the DOI look-up's service).  Crossref's abstracts are
JATS XML (`<jats:p>`, `<jats:sec><jats:title>`); it does not say which works
are reviews, and says a work is open access only through its licence.
"""

from __future__ import annotations

import json
from typing import Any

from ..crossref import CROSSREF_TYPES
from ..errors import DiscoveryFailed, ScreeningError
from . import PAGE_SIZE, Source, markup
from .model import Author, Candidate, Page, Query

SELECT = ("DOI,title,subtitle,author,container-title,issued,published,published-print,published-online,"
          "abstract,is-referenced-by-count,type,license,volume,issue,page,article-number,URL")


class CrossrefSource(Source):
    name = "crossref"
    url_setting = "crossref_url"

    def params(self, query: Query, *, cursor: str | None, size: int) -> dict[str, str | int]:
        if query.type == "review":
            raise ScreeningError("Crossref does not say which works are reviews, so it cannot search for "
                                 "reviews only. Search OpenAlex, Europe PMC or PubMed for reviews, or choose "
                                 "'any' kind of work with Crossref.")
        filters = []
        if query.since:
            filters.append(f"from-pub-date:{query.since}")
        if query.type == "article":
            filters.append("type:journal-article")
        params: dict[str, str | int] = {"query": query.text, "rows": min(size, 1000), "cursor": cursor or "*",
                                        "select": SELECT}
        if filters:
            params["filter"] = ",".join(filters)
        if query.sort == "newest":
            params.update({"sort": "published", "order": "desc"})
        if self.contact_email:
            params["mailto"] = self.contact_email
        return params

    def search(self, query: Query, *, cursor: str | None = None, size: int = PAGE_SIZE) -> Page:
        params = self.params(query, cursor=cursor, size=size)
        page = parse_works(self.json_of(self.get("works", params)), label=self.label)
        if query.type == "article":
            return Page(page.total, page.candidates, page.next_cursor,
                        "Crossref cannot leave reviews out: these are all journal articles, reviews included.")
        return page


def parse_works(document: Any, *, label: str = "Crossref") -> Page:
    """A page of a Crossref `/works` list answer (`message.items`, `total-results`, `next-cursor`)."""
    message = document.get("message") if isinstance(document, dict) else None
    items = message.get("items") if isinstance(message, dict) else None
    if not isinstance(items, list):
        raise DiscoveryFailed(f"{label}'s answer did not contain search results. Try again later, "
                              "or try another source.")
    assert isinstance(message, dict)
    candidates = [work_candidate(item) for item in items if isinstance(item, dict)]
    cursor = message.get("next-cursor")
    return Page(total=markup.count(message.get("total-results")) or 0,
                candidates=tuple(c for c in candidates if c is not None),
                next_cursor=cursor if isinstance(cursor, str) and cursor and items and len(cursor) < 4000
                else None)


def parse_answer(body: bytes) -> Page:
    return parse_works(json.loads(body))


def work_candidate(work: dict[str, Any]) -> Candidate | None:
    title = _first(work.get("title"))
    subtitle = _first(work.get("subtitle"))
    if title and subtitle and subtitle.casefold() not in title.casefold():
        title = f"{title}{' ' if title[-1] in '?!:.;' else ': '}{subtitle}"
    title = markup.bounded(title, markup.MAX_TITLE)
    doi = markup.doi(work.get("DOI"))
    if not title or not doi:
        return None
    crossref_type = markup.short(work.get("type"))
    kind = CROSSREF_TYPES.get(crossref_type, "misc")
    venue = markup.bounded(_first(work.get("container-title")), markup.MAX_VENUE)
    if kind == "article" and not venue:
        kind = "misc"
    licences = work.get("license") if isinstance(work.get("license"), list) else []
    open_licence = any(isinstance(item, dict) and "creativecommons.org" in markup.link(item.get("URL"))
                       for item in licences)
    authors, more = _authors(work.get("author"))
    return Candidate(
        source="crossref", source_id=doi, title=title, authors=authors, more_authors=more, year=_year(work),
        venue=venue, doi=doi, abstract=markup.abstract(work.get("abstract")),
        oa_url=f"https://doi.org/{doi}" if open_licence else "",
        cited_by=markup.count(work.get("is-referenced-by-count")), kind=kind, publication_type=crossref_type,
        volume=markup.short(work.get("volume")), issue=markup.short(work.get("issue")),
        pages=markup.page_range(work.get("page") or work.get("article-number")),
        url=f"https://doi.org/{doi}")


def _first(value: object) -> str:
    for item in value if isinstance(value, list) else [value]:
        text = markup.plain(item)
        if text:
            return text
    return ""


def _year(work: dict[str, Any]) -> int | None:
    for name in ("published-print", "published-online", "published", "issued"):
        when = work.get(name)
        parts = when.get("date-parts") if isinstance(when, dict) else None
        if isinstance(parts, list) and parts and isinstance(parts[0], list) and parts[0]:
            year = markup.year(parts[0][0]) or markup.year(str(parts[0][0]))
            if year:
                return year
    return None


def _authors(value: object) -> tuple[tuple[Author, ...], bool]:
    authors: list[Author] = []
    for item in value if isinstance(value, list) else []:
        if not isinstance(item, dict):
            continue
        family = markup.plain(item.get("family"), markup.MAX_NAME)
        given = markup.plain(item.get("given"), markup.MAX_NAME)
        suffix = markup.plain(item.get("suffix"), 20)
        if family:
            authors.append(Author(name=" ".join(p for p in (given, family, suffix) if p), family=family,
                                  given=given, suffix=suffix))
            continue
        name = markup.plain(item.get("name"), markup.MAX_NAME)
        if name:
            authors.append(Author(name=name, organisation=True))
    return tuple(authors[: markup.MAX_AUTHORS]), len(authors) > markup.MAX_AUTHORS
