"""Europe PMC REST search (https://europepmc.org/RestfulWebService): free, no key, cursor paging.

Asks `GET /search?query=...&resultType=core&format=json&pageSize=N&cursorMark=*`;
the core result type carries the abstract (`abstractText`, HTML with
`<h4>` section headings), the author list, journal details and full-text links.
"""

from __future__ import annotations

import json
from typing import Any

from ..errors import DiscoveryFailed
from . import PAGE_SIZE, Source, markup
from .model import Author, Candidate, Page, Query

TYPE_CLAUSES = {"review": 'PUB_TYPE:"review"', "article": 'NOT PUB_TYPE:"review"'}
# Europe PMC's record sources: MED (PubMed), PMC, PPR (preprints), ETH (theses), AGR, CBA, CTX, HIR, PAT.
KINDS = {"MED": "article", "PMC": "article", "PPR": "misc", "ETH": "phdthesis"}


class EuropePmcSource(Source):
    name = "europepmc"
    url_setting = "europepmc_url"

    def params(self, query: Query, *, cursor: str | None, size: int) -> dict[str, str | int]:
        clauses = [f"({query.text})"]
        if query.since:
            clauses.append(f"PUB_YEAR:[{query.since} TO 3000]")
        if query.type in TYPE_CLAUSES:
            clauses.append(TYPE_CLAUSES[query.type])
        text = query.text if len(clauses) == 1 else " AND ".join(clauses)
        params: dict[str, str | int] = {"query": text, "resultType": "core", "format": "json",
                                        "pageSize": min(size, 1000), "cursorMark": cursor or "*"}
        if query.sort == "newest":
            params["sort"] = "P_PDATE_D desc"
        return params  # the contact address goes in the User-Agent, as for every service

    def search(self, query: Query, *, cursor: str | None = None, size: int = PAGE_SIZE) -> Page:
        answer = self.get("search", self.params(query, cursor=cursor, size=size))
        return parse_search(self.json_of(answer), cursor=cursor, label=self.label)


def parse_search(document: Any, *, cursor: str | None = None, label: str = "Europe PMC") -> Page:
    """A page of a Europe PMC search answer (`hitCount`, `nextCursorMark`, `resultList.result`)."""
    results = (document.get("resultList") or {}).get("result") if isinstance(document, dict) else None
    if not isinstance(results, list):
        raise DiscoveryFailed(f"{label}'s answer did not contain search results. Try again later, "
                              "or try another source.")
    candidates = [record_candidate(r) for r in results if isinstance(r, dict)]
    next_cursor = document.get("nextCursorMark")
    # The last page repeats the cursor it was asked with: there is nothing after it.
    usable = isinstance(next_cursor, str) and next_cursor and next_cursor != (cursor or "*") and \
        len(next_cursor) < 2000 and results
    return Page(total=markup.count(document.get("hitCount")) or 0,
                candidates=tuple(c for c in candidates if c is not None),
                next_cursor=next_cursor if usable else None)


def parse_answer(body: bytes) -> Page:
    return parse_search(json.loads(body))


def record_candidate(record: dict[str, Any]) -> Candidate | None:
    title = markup.plain(record.get("title"))
    if title.endswith(".") and not title.endswith(".."):
        title = title[:-1]  # Europe PMC (like PubMed) ends every title with a full stop
    if not title:
        return None
    journal_info = record.get("journalInfo") if isinstance(record.get("journalInfo"), dict) else {}
    journal = journal_info.get("journal") if isinstance(journal_info.get("journal"), dict) else {}
    details = record.get("bookOrReportDetails") if isinstance(record.get("bookOrReportDetails"), dict) else {}
    venue = markup.plain(journal.get("title") or record.get("journalTitle") or details.get("publisher"),
                         markup.MAX_VENUE)
    source = markup.short(record.get("source"))
    record_id = markup.short(record.get("id"))
    listed = record.get("pubTypeList", {}).get("pubType") if isinstance(record.get("pubTypeList"), dict) \
        else record.get("pubType", [])  # the lite result type has one flat string
    pub_types = [markup.short(t) for t in (listed if isinstance(listed, list) else [listed])]
    kind = KINDS.get(source, "misc")
    if kind == "article" and not venue:
        kind = "misc"
    year = markup.year(record.get("pubYear")) or markup.year(journal_info.get("yearOfPublication"))
    authors, more = _authors(record)
    return Candidate(
        source="europepmc", source_id=f"{source}:{record_id}" if source and record_id else record_id,
        title=title, authors=authors, more_authors=more, year=year, venue=venue,
        doi=markup.doi(record.get("doi")), pmid=markup.digits(record.get("pmid")),
        abstract=markup.abstract(record.get("abstractText")), oa_url=_free_link(record),
        cited_by=markup.count(record.get("citedByCount")), kind=kind,
        publication_type="; ".join(t for t in pub_types if t),
        volume=markup.short(journal_info.get("volume") or record.get("journalVolume")),
        issue=markup.short(journal_info.get("issue") or record.get("issue")),
        pages=markup.page_range(record.get("pageInfo")),
        url=f"https://europepmc.org/article/{source}/{record_id}" if source.isalpha() and record_id.isalnum()
        else "")


def _authors(record: dict[str, Any]) -> tuple[tuple[Author, ...], bool]:
    listed = record.get("authorList", {}).get("author") if isinstance(record.get("authorList"), dict) else None
    authors: list[Author] = []
    if isinstance(listed, list):
        for item in listed:
            if not isinstance(item, dict):
                continue
            collective = markup.plain(item.get("collectiveName"), markup.MAX_NAME)
            if collective:
                authors.append(Author(name=collective, organisation=True))
                continue
            family = markup.plain(item.get("lastName"), markup.MAX_NAME)
            given = markup.plain(item.get("firstName"), markup.MAX_NAME) or \
                _spaced_initials(markup.plain(item.get("initials"), 20))
            if family:
                authors.append(Author(name=f"{given} {family}".strip(), family=family, given=given))
            else:
                full = markup.plain(item.get("fullName"), markup.MAX_NAME)
                if full:
                    authors.append(Author(name=full))
    else:  # the lite result type: "Schoenfeld JD, Haas-Kogan DA, O'Neill AF."
        for part in markup.plain(record.get("authorString"), 20_000).rstrip(".").split(","):
            words = part.split()
            if not words:
                continue
            if len(words) > 1 and words[-1].isupper() and words[-1].isalpha() and len(words[-1]) <= 4:
                family, given = " ".join(words[:-1]), _spaced_initials(words[-1])
                authors.append(Author(name=f"{given} {family}", family=family, given=given))
            else:
                authors.append(Author(name=" ".join(words)))
    return tuple(authors[: markup.MAX_AUTHORS]), len(authors) > markup.MAX_AUTHORS


def _spaced_initials(initials: str) -> str:
    """'JD' -> 'J. D.'"""
    return " ".join(f"{letter}." for letter in initials if letter.isalpha())


def _free_link(record: dict[str, Any]) -> str:
    """Where the full text can be read free of charge, preferring Europe PMC's own open-access copy."""
    urls = record.get("fullTextUrlList", {}).get("fullTextUrl") if isinstance(record.get("fullTextUrlList"),
                                                                           dict) else None
    best = ""
    for item in urls if isinstance(urls, list) else []:
        if not isinstance(item, dict) or item.get("availabilityCode") not in ("OA", "F"):
            continue
        url = markup.link(item.get("url"))
        if url and item.get("documentStyle") == "html":
            return url
        best = best or url
    if best:
        return best
    pmcid = markup.short(record.get("pmcid"))
    if record.get("isOpenAccess") == "Y" and pmcid.startswith("PMC") and pmcid[3:].isdigit():
        return f"https://europepmc.org/article/PMC/{pmcid}"
    return ""
