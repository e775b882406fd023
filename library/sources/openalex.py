"""OpenAlex works search (https://docs.openalex.org): free, no key, cursor paging.

Asks `GET /works?search=...&filter=...&per-page=N&cursor=*&select=...&mailto=...`;
OpenAlex keeps abstracts as an inverted index ({word: [positions]}), rebuilt
here into the text in order.
"""

from __future__ import annotations

import json
from typing import Any

from ..errors import DiscoveryFailed
from . import PAGE_SIZE, Source, markup
from .model import Author, Candidate, Page, Query

SELECT = ("id,doi,title,display_name,publication_year,type,authorships,primary_location,open_access,"
          "cited_by_count,abstract_inverted_index,ids,biblio")
TYPE_FILTERS = {"review": "type:review", "article": "type:article"}
KINDS = {"article": "article", "review": "article", "letter": "article", "editorial": "article",
         "erratum": "article", "book-chapter": "incollection", "book": "book", "monograph": "book",
         "dissertation": "phdthesis", "report": "techreport", "preprint": "misc"}


class OpenAlexSource(Source):
    name = "openalex"
    url_setting = "openalex_url"

    def params(self, query: Query, *, cursor: str | None, size: int) -> dict[str, str | int]:
        filters = []
        if query.since:
            filters.append(f"from_publication_date:{query.since}-01-01")
        if query.type in TYPE_FILTERS:
            filters.append(TYPE_FILTERS[query.type])
        params: dict[str, str | int] = {"search": query.text, "per-page": min(size, 200),
                                        "cursor": cursor or "*", "select": SELECT}
        if filters:
            params["filter"] = ",".join(filters)
        if query.sort == "newest":
            params["sort"] = "publication_date:desc"
        if self.contact_email:
            params["mailto"] = self.contact_email  # OpenAlex's "polite pool"
        return params

    def search(self, query: Query, *, cursor: str | None = None, size: int = PAGE_SIZE) -> Page:
        answer = self.get("works", self.params(query, cursor=cursor, size=size))
        return parse_works(self.json_of(answer), label=self.label)


def parse_works(document: Any, *, label: str = "OpenAlex") -> Page:
    """A page of an OpenAlex `/works` list answer (`meta` and `results`)."""
    if not isinstance(document, dict) or not isinstance(document.get("results"), list):
        raise DiscoveryFailed(f"{label}'s answer did not contain search results. Try again later, "
                              "or try another source.")
    meta = document.get("meta") if isinstance(document.get("meta"), dict) else {}
    candidates = [work_candidate(work) for work in document["results"] if isinstance(work, dict)]
    cursor = meta.get("next_cursor")
    return Page(total=markup.count(meta.get("count")) or 0,
                candidates=tuple(c for c in candidates if c is not None),
                next_cursor=cursor if isinstance(cursor, str) and cursor and len(cursor) < 2000 else None)


def parse_answer(body: bytes) -> Page:
    """A page from the bytes of an answer (for tests and tools)."""
    return parse_works(json.loads(body))


def work_candidate(work: dict[str, Any]) -> Candidate | None:
    """One OpenAlex work as a candidate (None when it has no title at all)."""
    title = markup.plain(work.get("title")) or markup.plain(work.get("display_name"))
    if not title:
        return None
    location = work.get("primary_location") if isinstance(work.get("primary_location"), dict) else {}
    source = location.get("source") if isinstance(location.get("source"), dict) else {}
    venue = markup.plain(source.get("display_name"), markup.MAX_VENUE)
    work_type = markup.short(work.get("type"))
    kind = KINDS.get(work_type, "misc")
    if kind == "article" and source.get("type") == "conference" and venue:
        kind = "inproceedings"
    elif kind == "article" and (not venue or source.get("type") != "journal"):
        kind = "misc"  # a repository copy is not a journal article to cite as one
    ids = work.get("ids") if isinstance(work.get("ids"), dict) else {}
    pmid = markup.digits(str(ids.get("pmid") or "").rsplit("/", 1)[-1])
    open_access = work.get("open_access") if isinstance(work.get("open_access"), dict) else {}
    biblio = work.get("biblio") if isinstance(work.get("biblio"), dict) else {}
    first, last = markup.short(biblio.get("first_page")), markup.short(biblio.get("last_page"))
    pages = first if not last or last == first else markup.page_range(f"{first}-{last}")
    authors, more = _authors(work.get("authorships"))
    openalex_id = markup.short(str(work.get("id") or "").rsplit("/", 1)[-1])
    return Candidate(
        source="openalex", source_id=openalex_id, title=title, authors=authors, more_authors=more,
        year=markup.year(work.get("publication_year")), venue=venue, doi=markup.doi(work.get("doi")),
        pmid=pmid, abstract=markup.rebuild_inverted_index(work.get("abstract_inverted_index")),
        oa_url=markup.link(open_access.get("oa_url")), cited_by=markup.count(work.get("cited_by_count")),
        kind=kind, publication_type=work_type, volume=markup.short(biblio.get("volume")),
        issue=markup.short(biblio.get("issue")), pages=pages,
        url=f"https://openalex.org/{openalex_id}" if openalex_id.startswith("W") else "")


def _authors(authorships: object) -> tuple[tuple[Author, ...], bool]:
    if not isinstance(authorships, list):
        return (), False
    authors: list[Author] = []
    for item in authorships:
        if not isinstance(item, dict) or not isinstance(item.get("author"), dict):
            continue
        name = markup.plain(item["author"].get("display_name"), markup.MAX_NAME)
        # OpenAlex sometimes files an affiliation as an author (",LAGEP, Université de Lyon, ...").
        if not name or not name[0].isalpha() or any(c.isdigit() for c in name):
            continue
        authors.append(Author(name=name))
    return tuple(authors[: markup.MAX_AUTHORS]), len(authors) > markup.MAX_AUTHORS
