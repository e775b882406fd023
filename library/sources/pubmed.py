"""PubMed through NCBI's E-utilities (https://www.ncbi.nlm.nih.gov/books/NBK25499/): esearch, then efetch.

`esearch.fcgi` gives the matching PMIDs (paged by `retstart`: PubMed has no
cursor), `efetch.fcgi` their records as PubMed XML.  NCBI asks every tool to
send its name (`tool`) and a contact address (`email`), and to make at most
three requests a second without an API key, so requests are spaced.

The XML is parsed with defusedxml: an answer declaring entities is refused.
Structured abstracts keep their section labels ("OBJECTIVE: ...").
"""

from __future__ import annotations

import html
from xml.etree.ElementTree import Element, ParseError, tostring

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from ..errors import DiscoveryFailed
from ..http import Answer
from . import PAGE_SIZE, TOOL_NAME, Source, markup
from .model import Author, Candidate, Page, Query

TYPE_CLAUSES = {
    "review": "(review[pt] OR systematic review[pt] OR meta-analysis[pt])",
    "article": "journal article[pt] NOT review[pt] NOT systematic review[pt] NOT meta-analysis[pt]",
}


class PubMedSource(Source):
    name = "pubmed"
    url_setting = "pubmed_url"
    min_interval = 0.34  # NCBI: no more than three requests a second without an API key
    accept = "application/xml, text/xml"

    def identify(self) -> dict[str, str | int]:
        params: dict[str, str | int] = {"tool": TOOL_NAME}
        if self.contact_email:
            params["email"] = self.contact_email
        return params

    def search_params(self, query: Query, *, cursor: str | None, size: int) -> dict[str, str | int]:
        term = query.text
        if query.type in TYPE_CLAUSES:
            term = f"({term}) AND {TYPE_CLAUSES[query.type]}"
        params: dict[str, str | int] = {"db": "pubmed", "term": term, "retmode": "xml",
                                        "retstart": _offset(cursor), "retmax": min(size, 200),
                                        "sort": "pub_date" if query.sort == "newest" else "relevance"}
        if query.since:
            params.update({"datetype": "pdat", "mindate": str(query.since), "maxdate": "3000"})
        return {**params, **self.identify()}

    def search(self, query: Query, *, cursor: str | None = None, size: int = PAGE_SIZE) -> Page:
        start = _offset(cursor)
        found = parse_esearch(self._xml(self.get("esearch.fcgi", self.search_params(query, cursor=cursor,
                                                                                      size=size))),
                              label=self.label)
        candidates: tuple[Candidate, ...] = ()
        if found.pmids:
            fetched = self._xml(self.get("efetch.fcgi", {"db": "pubmed", "id": ",".join(found.pmids),
                                                          "retmode": "xml", **self.identify()}))
            by_pmid = {c.pmid: c for c in parse_efetch(fetched, label=self.label)}
            candidates = tuple(by_pmid[p] for p in found.pmids if p in by_pmid)
        after = start + len(found.pmids)
        return Page(found.count, candidates, str(after) if found.pmids and after < found.count else None,
                    found.notice)

    def _xml(self, answer: Answer) -> Element:
        if answer.status != 200:
            raise DiscoveryFailed(self.refused(answer))
        if "html" in answer.content_type.lower():
            raise DiscoveryFailed(self.unreadable(answer, "XML"))
        try:
            return fromstring(answer.body)
        except (ParseError, DefusedXmlException, ValueError):
            raise DiscoveryFailed(self.unreadable(answer, "XML")) from None


def _offset(cursor: str | None) -> int:
    return int(cursor) if cursor and cursor.isdigit() and len(cursor) < 9 else 0


class Found:
    def __init__(self, count: int, pmids: list[str], notice: str) -> None:
        self.count, self.pmids, self.notice = count, pmids, notice


def parse_esearch(root: Element, *, label: str = "PubMed") -> Found:
    """The PMIDs and total of an esearch answer; an ERROR element is a `DiscoveryFailed`."""
    if root.tag != "eSearchResult":
        raise DiscoveryFailed(f"{label}'s answer did not contain search results. Try again later, "
                              "or try another source.")
    error = _text(root.find("ERROR"))
    if error:
        raise DiscoveryFailed(f"{label} could not run this search (it said: “{markup.bounded(error, 200)}”). "
                              "Check the search words and filters, or try another source.")
    count = markup.count(_text(root.find("Count"))) or 0
    pmids = [p for p in (markup.digits(_text(e)) for e in root.findall("IdList/Id")) if p]
    missing = [_text(e) for e in root.findall("ErrorList/PhraseNotFound") if _text(e)]
    notice = f"{label} found nothing for: {', '.join(missing)}." if missing else ""
    return Found(count, pmids, markup.bounded(notice, 300))


def parse_efetch(root: Element, *, label: str = "PubMed") -> list[Candidate]:
    """The records of an efetch answer (PubmedArticleSet); an empty set is no records, not an error."""
    if root.tag != "PubmedArticleSet":
        raise DiscoveryFailed(f"{label}'s answer did not contain PubMed records. Try again later, "
                              "or try another source.")
    out = []
    for article in root.findall("PubmedArticle"):
        candidate = article_candidate(article)
        if candidate is not None:
            out.append(candidate)
    return out


def parse_answer(body: bytes) -> list[Candidate]:
    return parse_efetch(fromstring(body))


def article_candidate(article: Element) -> Candidate | None:
    citation = article.find("MedlineCitation")
    item = citation.find("Article") if citation is not None else None
    if citation is None or item is None:
        return None
    pmid = markup.digits(_text(citation.find("PMID")))
    title = markup.plain(_inner(item.find("ArticleTitle"))) or markup.plain(_inner(item.find("VernacularTitle")))
    if title.endswith(".") and not title.endswith(".."):
        title = title[:-1]  # PubMed ends every title with a full stop
    if not title:
        return None
    journal = item.find("Journal")
    issue = journal.find("JournalIssue") if journal is not None else None
    sections = [(element.get("Label") or "", markup.plain(_inner(element), markup.MAX_ABSTRACT))
                for element in item.findall("Abstract/AbstractText")]
    doi = ""
    for location in item.findall("ELocationID"):
        if location.get("EIdType") == "doi" and location.get("ValidYN") != "N":
            doi = markup.doi(_text(location))
            break
    ids = {e.get("IdType"): _text(e) for e in article.findall("PubmedData/ArticleIdList/ArticleId")}
    doi = doi or markup.doi(ids.get("doi", ""))
    pmc = markup.short(ids.get("pmc", ""))
    pages = _text(item.find("Pagination/MedlinePgn"))
    if not pages:
        start, end = _text(item.find("Pagination/StartPage")), _text(item.find("Pagination/EndPage"))
        pages = f"{start}-{end}" if start and end else start
    types = [markup.short(_text(t)) for t in item.findall("PublicationTypeList/PublicationType")]
    authors, more = _authors(item)
    return Candidate(
        source="pubmed", source_id=pmid, title=title, authors=authors, more_authors=more,
        year=_year(issue, item), venue=markup.plain(_text(journal.find("Title")) if journal is not None else "",
                                                    markup.MAX_VENUE),
        doi=doi, pmid=pmid, abstract=markup.join_labelled(sections),
        oa_url=f"https://pmc.ncbi.nlm.nih.gov/articles/{pmc}/" if pmc.startswith("PMC") and pmc[3:].isdigit()
        else "",
        cited_by=None, kind="article" if journal is not None else "misc",
        publication_type="; ".join(t for t in types if t),
        volume=markup.short(_text(issue.find("Volume")) if issue is not None else ""),
        issue=markup.short(_text(issue.find("Issue")) if issue is not None else ""),
        pages=markup.page_range(pages), url=f"https://pubmed.ncbi.nlm.nih.gov/{pmid}/" if pmid else "")


def _authors(item: Element) -> tuple[tuple[Author, ...], bool]:
    authors: list[Author] = []
    for element in item.findall("AuthorList/Author"):
        if element.get("ValidYN") == "N":
            continue
        collective = markup.plain(_inner(element.find("CollectiveName")), markup.MAX_NAME)
        if collective:
            authors.append(Author(name=collective, organisation=True))
            continue
        family = markup.plain(_text(element.find("LastName")), markup.MAX_NAME)
        given = markup.plain(_text(element.find("ForeName")), markup.MAX_NAME) or \
            " ".join(f"{c}." for c in _text(element.find("Initials")) if c.isalpha())
        suffix = markup.plain(_text(element.find("Suffix")), 20)
        if family:
            name = " ".join(p for p in (given, family, suffix) if p)
            authors.append(Author(name=name, family=family, given=given, suffix=suffix))
    return tuple(authors[: markup.MAX_AUTHORS]), len(authors) > markup.MAX_AUTHORS


def _year(issue: Element | None, item: Element) -> int | None:
    if issue is not None:
        year = markup.year(_text(issue.find("PubDate/Year"))) or markup.year(_text(issue.find("PubDate/MedlineDate")))
        if year:
            return year
    return markup.year(_text(item.find("ArticleDate/Year")))


def _text(element: Element | None) -> str:
    """All the text inside an element, tags dropped (for short values: names, dates, ids)."""
    if element is None:
        return ""
    return "".join(element.itertext()).strip()


def _inner(element: Element | None) -> str:
    """The element's content as markup (its own tag and tail left out), for `markup` to turn into text."""
    if element is None:
        return ""
    return html.escape(element.text or "", quote=False) + "".join(
        tostring(child, encoding="unicode") for child in element)
