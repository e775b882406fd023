"""The four literature services, driven against a local server replaying their real recorded answers.

The recordings live in ../shared/testdata/literature-apis (origins in its SOURCES.md) and are read
in place: vcrpy and R vcr cassettes through tests/cassettes.py, plain bodies as they are.  Expected
values below were read from those files by hand, not produced by the code under test.  Where a test
needs an answer no service recorded (a 429 from OpenAlex, an esearch whose IDs match a recorded
efetch), it says how the recorded answer was adapted.
"""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings as hypothesis_settings, strategies as st

from library.config import Settings
from library.errors import DiscoveryFailed, ScreeningError
from library.http import user_agent
from library.sources import Source, open_source
from library.sources import crossref as crossref_source
from library.sources import europepmc, markup, openalex, pubmed
from library.sources.model import Query
from tests.cassettes import interactions
from tests.replay_server import Reply, serving
from tests.shared_data import shared_path
from tests.test_crossref import recorded_429

CONTACT = "librarian@example.org"
JSON = (("Content-Type", "application/json"),)
XML = (("Content-Type", "text/xml; charset=UTF-8"),)


@pytest.fixture(scope="module")
def lit() -> Path:
    return shared_path("testdata", "literature-apis")


@pytest.fixture(scope="module")
def crossref_dir() -> Path:
    return shared_path("testdata", "crossref")


def body(lit: Path, *parts: str) -> bytes:
    return lit.joinpath(*parts).read_bytes()


def cassette(lit: Path, folder: str, name: str, index: int = 0) -> Reply:
    return interactions(lit / folder / name)[index].reply()


Factory = Callable[..., tuple[Source, list[float]]]


@pytest.fixture
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    # requests honours proxy variables; a developer's proxy must not stand in for the replay server.
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("no_proxy", "127.0.0.1")


@pytest.fixture
def make_source(no_proxy: None) -> Iterator[Factory]:
    """A service client aimed at `url`; it records waits instead of waiting, on a clock that moves
    only by those waits."""
    opened: list[Source] = []

    def make(name: str, url: str, *, contact_email: str = CONTACT, http_timeout: float = 5.0) -> tuple[Source, list[float]]:
        sleeps: list[float] = []
        settings = Settings.from_env(**{f"{name}_url": url}, contact_email=contact_email, http_timeout=http_timeout)
        source = open_source(name, settings, sleep=sleeps.append, clock=lambda: sum(sleeps), backoff_base=0.1)
        opened.append(source)
        return source, sleeps

    yield make
    for source in opened:
        source.close()


def names(page_or_candidates) -> list[list[str]]:  # type: ignore[no-untyped-def]
    candidates = getattr(page_or_candidates, "candidates", page_or_candidates)
    return [c.author_names for c in candidates]


# ---------------------------------------------------------------- OpenAlex


def test_openalex_asks_politely_and_follows_the_cursor_to_the_end(lit: Path, make_source: Factory) -> None:
    snowball = interactions(lit / "openalex" / "rkrug-openalexpro__pro_snowball.yml")
    first, last = snowball[2], snowball[4]  # a page with next_cursor, then the empty last page
    with serving({"/works": [first.reply(), last.reply()]}) as server:
        source, sleeps = make_source("openalex", server.url)
        page = source.fetch(Query("altmetrics open access", source="openalex", since=2018, type="article",
                                  limit=5, sort="newest"))
        sent = [server.query_of(r) for r in server.requests_to("/works")]
        agent = server.requests_to("/works")[0].headers["User-Agent"]
    assert len(sent) == 2 and sleeps == []
    assert sent[0] == {"search": "altmetrics open access", "per-page": "5", "cursor": "*",
                       "select": openalex.SELECT, "filter": "from_publication_date:2018-01-01,type:article",
                       "sort": "publication_date:desc", "mailto": CONTACT}
    assert sent[1]["cursor"] == json.loads(first.body)["meta"]["next_cursor"]
    assert sent[1]["per-page"] == "3"  # only what is still wanted
    assert agent == user_agent(CONTACT) and f"mailto:{CONTACT}" in agent
    assert page.total == 2 and page.next_cursor is None
    assert [c.id for c in page.candidates] == ["doi:10.1145/3383583.3398584", "doi:10.48550/arxiv.2007.14454"]
    acm, arxiv = page.candidates
    assert acm.author_names == ["Chifumi Nishioka", "Michael Färber"]  # non-ASCII intact
    assert acm.abstract.startswith("This paper analyzes trends of citation")
    assert (acm.oa_url, acm.cited_by, acm.pages) == ("https://dl.acm.org/doi/pdf/10.1145/3383583.3398584", 5,
                                                      "503--504")
    assert (arxiv.venue, arxiv.kind, arxiv.publication_type) == ("arXiv (Cornell University)", "misc", "preprint")


def test_openalex_abstract_is_rebuilt_in_order(lit: Path) -> None:
    work = json.loads(body(lit, "openalex", "bvitamins-openalex-python__W2741809807.json"))
    candidate = openalex.work_candidate(work)
    assert candidate is not None
    assert candidate.abstract.startswith(
        "Despite growing interest in Open Access (OA) to scholarly literature, there is an unmet need for "
        "large-scale, up-to-date, and reproducible studies assessing the prevalence and characteristics of OA. "
        "We address this need using oaDOI, an open online service that determines OA status for 67 million articles.")
    words = candidate.abstract.split(" ")
    for word, positions in work["abstract_inverted_index"].items():
        for position in positions:
            assert words[position] == word
    assert len(words) == 1 + max(p for ps in work["abstract_inverted_index"].values() for p in ps)
    assert (candidate.title, candidate.year, candidate.venue, candidate.doi, candidate.pmid) == (
        "The state of OA: a large-scale analysis of the prevalence and impact of Open Access articles", 2018,
        "PeerJ", "10.7717/peerj.4375", "29456894")
    assert candidate.author_names[2:4] == ["Vincent Larivière", "Juan Pablo Alperín"]
    assert (candidate.cited_by, candidate.oa_url, candidate.volume, candidate.pages) == (
        962, "https://peerj.com/articles/4375.pdf", "6", "e4375")


def test_openalex_drops_a_leading_abstract_heading_and_keeps_both_versions(lit: Path) -> None:
    search = interactions(lit / "openalex" / "paperqa__test_title_search_paper_attributes2_.yaml")[3]
    page = openalex.parse_answer(search.body)
    journal, preprint = page.candidates
    assert journal.abstract.startswith("Large language models (LLMs) have")
    assert (journal.pmid, journal.kind, journal.venue) == ("38799228", "article", "Nature Machine Intelligence")
    assert preprint.doi == "10.48550/arxiv.2304.05376" and preprint.kind == "misc"


def test_openalex_tolerates_missing_fields_and_keeps_other_scripts(lit: Path) -> None:
    sample = interactions(lit / "openalex" / "commonmetapy__test_get_random_id_from_openalex.yaml")[1]
    page = openalex.parse_answer(sample.body)
    assert page.total == 5 and page.next_cursor is None  # page-based answer: no cursor
    assert [c.id for c in page.candidates] == [
        "openalex:W2600965442", "openalex:W2042435470", "doi:10.5580/1cbc", "openalex:W7120675484",
        "doi:10.1016/j.landusepol.2004.08.009"]
    russian, survey, glue, portuguese, electre = page.candidates
    assert russian.author_names == ["Беспалов Дмитрий Николаевич", "Казаков Михаил Анатольевич"]
    assert russian.venue == "Бизнес. Общество. Власть"
    assert glue.author_names == [] and glue.abstract  # no authorships, an abstract
    assert survey.abstract == "" and survey.venue == "" and survey.doi == ""
    assert portuguese.title == "A função retórica da lei para os limites da tolerância"
    assert portuguese.oa_url == "http://ijp.tamu.edu/blog/wp-content/uploads/2016/03/v4i1-"
    assert electre.cited_by == 106 and electre.pages == "76--85"


@pytest.mark.parametrize(("name", "expected"), [
    # title and display_name both empty (the Japanese record) or null (a paratext): nothing to screen
    ("commonmetapy__test_journal_article_original_language.yaml", None),
    ("openalexpro__api_call_200.yml", None),
    ("commonmetapy__test_too_many_contributor_names.yaml",
     ["Valérie dos Santos", "Bernhard Maschke", "Yann Le Gorrec"]),  # affiliations filed as authors left out
])
def test_openalex_single_works_with_dirty_data(lit: Path, name: str, expected: list[str] | None) -> None:
    work = json.loads(interactions(lit / "openalex" / name)[0].body)
    candidate = openalex.work_candidate(work)
    if expected is None:
        assert candidate is None
    else:
        assert candidate is not None and candidate.author_names == expected
        assert candidate.title == "A Hamiltonian perspective to thestabilization of systems of two conservation laws"


def test_openalex_errors_say_what_happened(lit: Path, make_source: Factory) -> None:
    bad_filter = cassette(lit, "openalex", "openalexpro__opt_filter_names.yml")
    not_found = cassette(lit, "openalex", "paperqa__test_does_openalex_work_not-in-openalex_.yaml")
    with serving({"/works": [bad_filter, not_found]}) as server:
        source, _ = make_source("openalex", server.url)
        with pytest.raises(DiscoveryFailed) as caught:
            source.fetch(Query("trauma"))
        assert str(caught.value).startswith(
            "OpenAlex could not run this search (it answered with error 400: “DOESNTEXIST is not a valid field.")
        assert str(caught.value).endswith("”). Check the search words and filters, or try another source.")
        with pytest.raises(DiscoveryFailed) as caught:
            source.fetch(Query("trauma"))
        assert str(caught.value) == ("OpenAlex could not answer this search (it answered with error 404). "
                                     "Try again later, or try another source.")


def test_busy_services_are_retried_honouring_retry_after(lit: Path, crossref_dir: Path,
                                                          make_source: Factory) -> None:
    # No service recorded a 429 for a search; this is Crossref's recorded 429 (HTML body, no
    # Retry-After) with a Retry-After added, as OpenAlex sends one (it exposes the header).
    ok = cassette(lit, "openalex", "rkrug-openalexpro__pro_snowball.yml", 4)
    routes = {"/works": [recorded_429(crossref_dir, ("Retry-After", "2")), ok]}
    with serving(routes) as server:
        source, sleeps = make_source("openalex", server.url)
        page = source.fetch(Query("trauma"))
    assert sleeps == [2.0] and page.total == 2


def test_the_total_wait_is_bounded(crossref_dir: Path, make_source: Factory) -> None:
    with serving({"/works": [recorded_429(crossref_dir, ("Retry-After", "120"))]}) as server:
        source, sleeps = make_source("openalex", server.url)
        with pytest.raises(DiscoveryFailed) as caught:
            source.fetch(Query("trauma"))
        attempts = len(server.requests_to("/works"))
    assert str(caught.value) == ("OpenAlex is busy (it has had too many requests). Wait a minute and try again, "
                                 "or try another source.")
    assert sleeps == [30.0] and attempts == 2  # 30 s is the whole budget: no third attempt


def test_failing_servers_get_three_attempts(make_source: Factory) -> None:
    unavailable = Reply(503, b"<html><body>Service Unavailable</body></html>", (("Content-Type", "text/html"),))
    with serving({"/search": [unavailable]}) as server:
        source, sleeps = make_source("europepmc", server.url)
        with pytest.raises(DiscoveryFailed, match=r"^Europe PMC is having problems \(it answered with error 503\)"):
            source.fetch(Query("trauma", source="europepmc"))
        assert len(server.requests_to("/search")) == 3
    assert sleeps == [0.1, 0.2]


@pytest.mark.parametrize("name", ["openalex", "europepmc", "pubmed", "crossref"])
def test_offline_gives_a_clear_message(make_source: Factory, name: str) -> None:
    with socket.socket() as probe:  # a port with nothing listening on it
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    source, sleeps = make_source(name, url)
    label = {"openalex": "OpenAlex", "europepmc": "Europe PMC", "pubmed": "PubMed", "crossref": "Crossref"}[name]
    with pytest.raises(DiscoveryFailed) as caught:
        source.fetch(Query("trauma", source=name))
    assert str(caught.value) == (f"Could not reach {label} at {url}. Check the internet connection, "
                                 "or try another source.")
    if name == "pubmed":  # the back-off waits also keep NCBI's 0.34 s between requests
        assert sleeps == pytest.approx([0.1, 0.24, 0.2, 0.14])
    else:
        assert sleeps == [0.1, 0.2]


@pytest.mark.parametrize(("reply", "message"), [
    (Reply(200, b" " * (11 * 1024 * 1024), JSON, streamed=True),
     r"^OpenAlex sent an unexpectedly large answer \(over 10 MB\), so it was not read\."),
    (Reply(200, b"<html><body>Sign in to the hospital network</body></html>", (("Content-Type", "text/html"),)),
     r"^OpenAlex sent a web page instead of search results\."),
    (Reply(200, b'{"meta": {"count": 1}, "results": [', JSON),
     r"^OpenAlex sent an answer that could not be read \(it was not valid JSON\)\."),
    (Reply(200, b'{"meta": {"count": 1}}', JSON), r"^OpenAlex's answer did not contain search results\."),
    (Reply(200, b"{}", JSON, delay=10.0), r"^OpenAlex at http://127\.0\.0\.1:\d+ did not answer within 0\.3 seconds\."),
])
def test_unusable_answers_give_messages(make_source: Factory, reply: Reply, message: str) -> None:
    with serving({"/works": [reply]}) as server:
        source, sleeps = make_source("openalex", server.url, http_timeout=0.3)
        with pytest.raises(DiscoveryFailed, match=message):
            source.fetch(Query("trauma"))
    assert sleeps == []


# ---------------------------------------------------------------- Europe PMC


def test_europepmc_core_results(lit: Path, make_source: Factory) -> None:
    core = Reply(200, body(lit, "europepmc", "pyeuropepmc__search_cancer_core.json"), JSON)
    with serving({"/search": [core]}) as server:
        source, _ = make_source("europepmc", server.url)
        page = source.search(Query("cancer", source="europepmc", since=2020, type="review", sort="newest"),
                             size=25)
        (sent,) = [server.query_of(r) for r in server.requests_to("/search")]
    assert sent == {"query": '(cancer) AND PUB_YEAR:[2020 TO 3000] AND PUB_TYPE:"review"', "resultType": "core",
                    "format": "json", "pageSize": "25", "cursorMark": "*", "sort": "P_PDATE_D desc"}
    assert (page.total, page.next_cursor, len(page.candidates)) == (5059039, "AoIIP4ZawSg1MzEyODI1MA==", 25)
    first = page.candidates[0]
    assert (first.id, first.title, first.year, first.pages, first.volume, first.issue) == (
        "doi:10.1016/s0140-6736(24)02600-x",
        "Abscopal response in a patient with fibrolamellar hepatocellular carcinoma following radiotherapy",
        2025, "2603--2604", "404", "10471")
    assert first.author_names == ["Jonathan D Schoenfeld", "Daphne A Haas-Kogan", "Allison F O'Neill"]
    assert first.venue == "Lancet (London, England)" and first.abstract == "" and first.oa_url == ""
    by_pmid = {c.pmid: c for c in page.candidates}
    paclitaxel = by_pmid["40511629"]
    assert paclitaxel.author_names == ["Gökçe Sevim Öztürk Fincan", "Ayşe Kübra Kibar Güzin",
                                       "Atiye Seda Yar Sağlam"]
    assert paclitaxel.abstract.startswith(
        "Background: Paclitaxel is a potent agent against ovarian cancer. Hydrogen sulfide (H2S) is of "
        "particular interest in cancer treatment research. It is known that H2S has apoptotic and "
        "antiproliferative effects.\n\nObjectives: We aimed to examine")
    assert not re.search(r"</?[A-Za-z][^<>]*>", "".join(c.abstract for c in page.candidates))
    assert "p < .001" in by_pmid["40468710"].abstract  # a real "less than" stays
    assert by_pmid["39709208"].author_names == [] and by_pmid["39709208"].title == "Department of Error"
    assert by_pmid["39038316"].id == "pmid:39038316"  # no DOI
    assert by_pmid["40437959"].oa_url == "https://europepmc.org/articles/PMC12120539"
    assert by_pmid["39212676"].publication_type == "Systematic Review; review-article; Journal Article"


def test_europepmc_cursor_paging_stops_at_the_end(lit: Path, make_source: Factory) -> None:
    page_two = Reply(200, body(lit, "europepmc", "pyeuropepmc__search_cancer_page2.json"), JSON)
    empty = Reply(200, body(lit, "europepmc", "pyeuropepmc__search_no_results.json"), JSON)
    with serving({"/search": [page_two, empty]}) as server:
        source, _ = make_source("europepmc", server.url)
        page = source.fetch(Query("cancer", source="europepmc", limit=10))
        cursors = [server.query_of(r)["cursorMark"] for r in server.requests_to("/search")]
    assert cursors == ["*", "AoIIP4lkIig1MzE0NTMwOA=="]
    assert page.total == 5059039 and len(page.candidates) == 5 and page.next_cursor is None


def test_europepmc_lite_records_and_records_without_identifiers(lit: Path) -> None:
    lite = europepmc.parse_answer(body(lit, "europepmc", "pyeuropepmc__search_cancer.json"))
    first = lite.candidates[0]
    assert [(a.family, a.given) for a in first.authors] == [("Schoenfeld", "J. D."), ("Haas-Kogan", "D. A."),
                                                           ("O'Neill", "A. F.")]
    assert first.venue == "Lancet" and first.year == 2025
    mixed = europepmc.parse_answer(body(lit, "europepmc", "pyeuropepmc__Europe_PMC_results_20251022T155445.json"))
    agricola = [c for c in mixed.candidates if c.source_id.startswith("AGR:")]
    assert [c.id for c in agricola] == ["europepmc:AGR:IND608974682"] and agricola[0].kind == "misc"
    empty = europepmc.parse_answer(body(lit, "europepmc", "pyeuropepmc__search_no_results.json"))
    assert (empty.total, empty.candidates, empty.next_cursor) == (0, (), None)


# ---------------------------------------------------------------- PubMed


def esearch_for(lit: Path, pmids: list[str]) -> bytes:
    """The recorded esearch1 answer with its count and ID list replaced by `pmids`, so that the
    recorded efetch answers belong to it (no recording has both halves of one search)."""
    text = body(lit, "pubmed", "biopython__esearch1.xml").decode("utf-8")
    head, rest = text.split("<IdList>", 1)
    _, tail = rest.split("</IdList>", 1)
    head = head.replace("<Count>63</Count><RetMax>20</RetMax>", f"<Count>{len(pmids) + 40}</Count><RetMax>"
                                                                  f"{len(pmids)}</RetMax>")
    ids = "".join(f"<Id>{p}</Id>\n" for p in pmids)
    return f"{head}<IdList>\n{ids}</IdList>{tail}".encode("utf-8")


def test_pubmed_searches_then_fetches_in_the_order_found(lit: Path, make_source: Factory) -> None:
    routes = {"/esearch.fcgi": [Reply(200, esearch_for(lit, ["9997", "12091962"]), XML)],
              "/efetch.fcgi": [Reply(200, body(lit, "pubmed", "biopython__pubmed1.xml"), XML)]}
    with serving(routes) as server:
        source, sleeps = make_source("pubmed", server.url)
        page = source.search(Query("heme flavin", source="pubmed", since=1970, type="review"), size=2)
        searched = server.query_of(server.requests_to("/esearch.fcgi")[0])
        fetched = server.query_of(server.requests_to("/efetch.fcgi")[0])
    assert searched == {"db": "pubmed", "term": "(heme flavin) AND (review[pt] OR systematic review[pt] OR "
                                                "meta-analysis[pt])", "retmode": "xml", "retstart": "0",
                        "retmax": "2", "sort": "relevance", "datetype": "pdat", "mindate": "1970",
                        "maxdate": "3000", "tool": "trauma-informed-evidence-library", "email": CONTACT}
    assert fetched == {"db": "pubmed", "id": "9997,12091962", "retmode": "xml",
                       "tool": "trauma-informed-evidence-library", "email": CONTACT}
    assert sleeps == [0.34]  # NCBI: at most three requests a second
    assert (page.total, page.next_cursor) == (42, "2")
    magnetic, aids = page.candidates
    assert (magnetic.pmid, magnetic.doi, magnetic.year, magnetic.venue, magnetic.pages) == (
        "9997", "10.1016/0005-2795(76)90109-4", 1976, "Biochimica et biophysica acta", "179--191")
    assert magnetic.abstract.startswith("Electron paramagnetic resonance and magnetic susceptibility studies")
    assert (aids.id, aids.abstract, aids.year, aids.title) == (
        "pmid:12091962", "", 1990, "The treatment of AIDS behind the walls of correctional facilities")
    assert aids.publication_type == "Journal Article; Review"


@pytest.mark.parametrize(("name", "labels"), [
    ("biopython__pubmed4.xml", ["OBJECTIVE", "DESIGN", "RESULTS", "CONCLUSIONS"]),
    ("biopython__pubmed5.xml", ["OBJECTIVES", "METHODS", "RESULTS", "CONCLUSIONS"]),  # Label, not NlmCategory
    ("metapub__36987902.xml", ["BACKGROUND", "MATERIAL AND METHOD", "RESULTS", "INTERPRETATION"]),
    ("metapub__38534005.xml", ["BACKGROUND", "RECOMMENDATIONS", "MEDICAL NEEDS AND TEST REQUISITION",
                               "SPECIMEN COLLECTION", "CHEMISTRY", "PARTICLES", "BACTERIOLOGY"]),
])
def test_pubmed_structured_abstracts_keep_their_labels(lit: Path, name: str, labels: list[str]) -> None:
    (candidate,) = pubmed.parse_answer(body(lit, "pubmed", name))
    paragraphs = candidate.abstract.split("\n\n")
    assert [p.split(": ", 1)[0] for p in paragraphs] == labels
    assert all(len(p.split(": ", 1)[1]) > 10 for p in paragraphs)


def test_pubmed_markup_entities_and_names(lit: Path) -> None:
    (telomere,) = pubmed.parse_answer(body(lit, "pubmed", "biopython__pubmed4.xml"))
    assert telomere.title == ("Leucocyte telomere length, genetic variants at the TERT gene region and risk of "
                              "pancreatic cancer")
    assert "telomerase reverse transcriptase (TERT) gene region" in telomere.abstract
    assert telomere.oa_url == "https://pmc.ncbi.nlm.nih.gov/articles/PMC5442267/"
    (burns,) = pubmed.parse_answer(body(lit, "pubmed", "metapub__36987902.xml"))
    assert "All patients ≥ 75 years admitted" in burns.abstract  # &#x2265;&#xa0;
    assert "(p < 0.0001)" in burns.abstract
    assert burns.author_names[0] == "Øyvind Bruserud"
    (editorial,) = pubmed.parse_answer(body(lit, "pubmed", "metapub__38546579.xml"))
    assert editorial.abstract.startswith("The Journal of Comparative Psychology (JCP) is the flagship APA journal")
    (german,) = pubmed.parse_answer(body(lit, "pubmed", "metapub__38048813.xml"))
    assert (german.title, german.abstract) == ("[A Broader Scope - Bio-Psycho-Social Medicine In Global Focus]", "")
    (guideline,) = pubmed.parse_answer(body(lit, "pubmed", "metapub__38534005.xml"))
    assert any(a.organisation for a in guideline.authors)
    (imaging,) = pubmed.parse_answer(body(lit, "pubmed", "biopython__pubmed7.xml"))
    assert "(1) inhaled He3/Xe129 MRI ventilation" in imaging.abstract  # MathML reduced to its text
    assert "\u2009" not in imaging.abstract and "<" not in imaging.abstract
    assert pubmed.parse_answer(body(lit, "pubmed", "metapub__37909814.xml")) == []  # no record: not an error


def test_pubmed_esearch_answers(lit: Path) -> None:
    from defusedxml.ElementTree import fromstring

    found = pubmed.parse_esearch(fromstring(body(lit, "pubmed", "biopython__esearch1.xml")))
    assert (found.count, len(found.pmids), found.pmids[0], found.notice) == (63, 20, "41282813", "")
    nothing = pubmed.parse_esearch(fromstring(body(lit, "pubmed", "biopython__esearch8.xml")))
    assert (nothing.count, nothing.pmids, nothing.notice) == (0, [], "PubMed found nothing for: abcXYZ.")
    paged = pubmed.parse_esearch(fromstring(body(lit, "pubmed", "biopython__esearch3.xml")))
    assert paged.count > 6 and len(paged.pmids) == 6


@pytest.mark.parametrize(("efetch", "message"), [
    ("html-page", r"^PubMed sent a web page instead of search results\."),
    ("html-as-xml", r"^PubMed's answer did not contain PubMed records\."),
    ("414", r"^PubMed could not run this search \(it answered with error 414\)\."),
    ("entities", r"^PubMed sent an answer that could not be read \(it was not valid XML\)\."),
])
def test_pubmed_unusable_answers(lit: Path, make_source: Factory, efetch: str, message: str) -> None:
    page = body(lit, "pubmed", "biopython__pubmed3.html")
    replies = {
        "html-page": Reply(200, page, (("Content-Type", "text/html"),)),
        "html-as-xml": Reply(200, page, XML),
        "414": interactions(lit / "pubmed" / "fulltext__ft_search_fails_well_entrez_limit2large.yml")[1].reply(),
        # A hostile answer declaring entities (the "billion laughs"): refused, never expanded.
        "entities": Reply(200, b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY b "bbbbbbbb"><!ENTITY c "&b;&b;&b;">]>'
                               b"<PubmedArticleSet>&c;</PubmedArticleSet>", XML),
    }
    routes = {"/esearch.fcgi": [Reply(200, esearch_for(lit, ["9997"]), XML)], "/efetch.fcgi": [replies[efetch]]}
    with serving(routes) as server:
        source, _ = make_source("pubmed", server.url)
        with pytest.raises(DiscoveryFailed, match=message):
            source.search(Query("trauma", source="pubmed"))


# ---------------------------------------------------------------- Crossref


def test_crossref_works_query(lit: Path, make_source: Factory) -> None:
    listing = cassette(lit, "crossref-search", "fulltext__ft_abstract_crossref.yml")
    with serving({"/works": [listing]}) as server:
        source, _ = make_source("crossref", server.url)
        page = source.search(Query("political ecology", source="crossref", since=2010, type="article"), size=10)
        (sent,) = [server.query_of(r) for r in server.requests_to("/works")]
    assert sent == {"query": "political ecology", "rows": "10", "cursor": "*", "select": crossref_source.SELECT,
                    "filter": "from-pub-date:2010,type:journal-article", "mailto": CONTACT}
    assert page.total == 7496 and len(page.candidates) == 10
    assert page.notice == "Crossref cannot leave reviews out: these are all journal articles, reviews included."
    difference, political = page.candidates[:2]
    assert difference.title == ("An ecology of difference: fence-line contrast photographs as scientific models "
                                "in ecology")
    assert difference.abstract.startswith("Political ecologists have long acknowledged the links between "
                                          "knowledge and power.")
    assert difference.oa_url == "https://doi.org/10.2458/v22i1.21112"  # a Creative Commons licence
    assert political.abstract == ""  # its JATS abstract is the single word "Abstract"
    assert all("<" not in c.abstract for c in page.candidates)


def test_crossref_cursor_missing_authors_and_sparse_items(lit: Path) -> None:
    cursor = crossref_source.parse_answer(interactions(lit / "crossref-search" / "habanero__test_cursor.yaml")[0].body)
    assert cursor.total == 454 and len(cursor.candidates) == 20 and cursor.next_cursor
    assert sum(1 for c in cursor.candidates if not c.authors) == 4
    query = crossref_source.parse_answer(
        interactions(lit / "crossref-search" / "habanero__test_works_query.yaml")[0].body)
    communicating, chemical = query.candidates
    assert communicating.authors == () and communicating.kind == "misc"  # a reference-entry
    assert chemical.author_names == ["André Kessler"]
    sparse = crossref_source.parse_answer(
        interactions(lit / "crossref-search" / "habanero__test_works_with_select_param.yaml")[0].body)
    assert sparse.candidates and all(c.year is None and not c.authors for c in sparse.candidates)
    portuguese = crossref_source.parse_answer(
        interactions(lit / "crossref-search" / "habanero__test_works_field_query_publisher_name.yaml")[0].body)
    assert any("ção" in c.title or "ção" in c.abstract for c in portuguese.candidates)
    empty = crossref_source.parse_answer(interactions(lit / "crossref-search" / "rcrossref__cr_works_fails_well.yml")[0].body)
    assert (empty.total, empty.candidates, empty.next_cursor) == (0, (), None)


@pytest.mark.parametrize(("name", "index", "message"), [
    ("habanero__test_cursor_fails_cursor_value.yaml", 0,
     "Crossref could not answer this search (it answered with error 404: “Cursor specified but it is invalid”). "
     "Try again later, or try another source."),
    ("rcrossref__cr_works_fails_well.yml", 1,
     "Crossref could not run this search (it answered with error 400: “Integer specified as 200 but must be a "
     "positive integer less than or equal to 100.”). Check the search words and filters, or try another source."),
    ("rcrossref__cr_works_with_cursor_fails_well.yml", 0,
     "Crossref is having problems (it answered with error 500). Try again later, or try another source."),
])
def test_crossref_errors(lit: Path, make_source: Factory, name: str, index: int, message: str) -> None:
    with serving({"/works": [cassette(lit, "crossref-search", name, index)]}) as server:
        source, _ = make_source("crossref", server.url)
        with pytest.raises(DiscoveryFailed) as caught:
            source.fetch(Query("widget", source="crossref"))
    assert str(caught.value) == message


def test_crossref_cannot_search_for_reviews_and_says_so_before_asking(make_source: Factory) -> None:
    with serving({}) as server:
        source, _ = make_source("crossref", server.url)
        with pytest.raises(ScreeningError, match="Crossref does not say which works are reviews"):
            source.fetch(Query("burnout", source="crossref", type="review"))
        assert server.received == []


def test_without_a_contact_address_none_is_sent(lit: Path, make_source: Factory) -> None:
    listing = cassette(lit, "openalex", "rkrug-openalexpro__pro_snowball.yml", 4)
    with serving({"/works": [listing]}) as server:
        source, _ = make_source("openalex", server.url, contact_email="")
        source.fetch(Query("trauma"))
        (request,) = server.requests_to("/works")
    assert "mailto" not in server.query_of(request) and "mailto" not in request.headers["User-Agent"]


# ---------------------------------------------------------------- whatever arrives


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=15,
)
_KEYS = st.sampled_from(["title", "display_name", "doi", "authorships", "abstract_inverted_index", "ids",
                         "primary_location", "open_access", "biblio", "publication_year", "cited_by_count",
                         "abstractText", "authorList", "journalInfo", "pmid", "pubYear", "fullTextUrlList",
                         "DOI", "author", "container-title", "abstract", "license", "issued", "type", "id"])


@given(st.lists(st.dictionaries(_KEYS, _JSON, max_size=8), max_size=3))
@hypothesis_settings(max_examples=300, deadline=None)
def test_any_records_parse_to_candidates_or_nothing(records: list[dict]) -> None:
    for parse in (openalex.work_candidate, europepmc.record_candidate, crossref_source.work_candidate):
        for record in records:
            candidate = parse(record)
            if candidate is not None:
                assert candidate.title and len(candidate.title) <= markup.MAX_TITLE
                assert not candidate.oa_url or candidate.oa_url.startswith(("http://", "https://"))
                assert "<" not in candidate.title or "<" in str(record)


_TAGGY = st.lists(st.sampled_from(list("<>/&;lgtampijbsu:h4 x") + ["<p>", "</p>", "<i>", "&lt;", "&gt;",
                                                                    "<jats:p>", "<sub>", "<h4>"]),
                  max_size=40).map("".join)
_LEFT_TAG = re.compile(r"<(/?)(p|i|b|sub|sup|h4|jats:p|jats:title)>", re.IGNORECASE)


@given(_TAGGY)
@hypothesis_settings(max_examples=500)
def test_markup_never_leaves_a_known_tag(text: str) -> None:
    for value in (markup.abstract(text), markup.plain(text)):
        assert not _LEFT_TAG.search(value), value
        assert not any(ord(c) < 9 for c in value)


@pytest.mark.parametrize(("text", "expected"), [
    ("https://example.org/a", "https://example.org/a"),
    ("http://example.org", "http://example.org"),
    ("javascript:alert(1)", ""),
    ("data:text/html,<script>", ""),
    ("ftp://example.org/file", ""),
    ("https://exa mple.org", ""),
    ("https://example.org/\"onmouseover=x", ""),
    ("//example.org/a", ""),
    ("", ""),
])
def test_links_are_http_only(text: str, expected: str) -> None:
    assert markup.link(text) == expected


@pytest.mark.parametrize(("marked_up", "expected"), [
    ("<h4>Objective</h4>One.<h4>Design</h4>Two.", "Objective: One.\n\nDesign: Two."),
    ("<jats:sec><jats:title>Background</jats:title><jats:p>One &amp; two</jats:p></jats:sec>",
     "Background: One & two"),
    ("<jats:title>Abstract</jats:title><jats:p>Only text.</jats:p>", "Only text."),
    ("<p>H<sub>2</sub>O and CO<sub>2</sub></p><p>Second.</p>", "H2O and CO2\n\nSecond."),
    ("&lt;i&gt;escaped&lt;/i&gt; markup, and p &lt; 0.05", "escaped markup, and p < 0.05"),
    ("<script>alert(1)</script>Text", "alert(1)Text"),
    ("Abstract: The study", "The study"),
    ("Abstract thinking in care", "Abstract thinking in care"),
    ("<jats:p>Abstract</jats:p>", ""),
    ("line\u2028break\x00here", "linebreakhere"),
])
def test_abstract_markup_is_removed(marked_up: str, expected: str) -> None:
    assert markup.abstract(marked_up) == expected


def test_long_abstracts_are_bounded() -> None:
    long = "word " * 30_000  # 150,000 characters
    text = markup.abstract(long)
    assert len(text) <= markup.MAX_ABSTRACT and text.endswith("…")
    assert markup.abstract("word " * 19_000) == ("word " * 19_000).strip()  # 95,000: kept whole


@given(st.dictionaries(st.text(max_size=10), st.lists(st.integers(min_value=-5, max_value=10_000), max_size=5),
                       max_size=30))
def test_any_inverted_index_rebuilds_without_error(index: dict[str, list[int]]) -> None:
    text = markup.rebuild_inverted_index(index)
    assert isinstance(text, str) and len(text) <= markup.MAX_ABSTRACT
