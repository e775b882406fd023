"""DOI look-up, driven against a local server replaying real recorded Crossref answers.

The recordings live in ../shared/testdata/crossref (read in place, see
tests/shared_data.py).  Expected values below were read from those JSON files
by hand, not produced by the code under test.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings as hypothesis_settings, strategies as st

from library import bibtex
from library.config import Settings
from library.crossref import CrossrefClient, entry_from_work, is_doi, parse_doi, user_agent
from library.errors import LookupFailed
from library.records import Record
from tests.replay_server import Reply, ReplayServer, serving
from tests.shared_data import shared_path

LOOKED_UP = date(2026, 11, 28)
CONTACT = "librarian@example.org"
PLOS = "10.1371/journal.pone.0020476"
HUGE = 6 * 1024 * 1024  # over the 5 MB cap


# ---------------------------------------------------------------- recorded answers


@pytest.fixture(scope="module")
def crossref_dir() -> Path:
    return shared_path("testdata", "crossref")


def recorded(folder: Path, body_name: str, meta_name: str | None = None) -> Reply:
    """A recorded body with the status and content type its .meta.json gives.

    The abbotsbury bodies were saved without headers; Crossref serves works as
    200 application/json, so that is what they are replayed as.  The recorded
    content-encoding and content-length are not replayed: the bodies on disk
    are already decompressed.
    """
    body = (folder / body_name).read_bytes()
    if meta_name is None:
        return Reply(200, body, (("Content-Type", "application/json"),))
    response = json.loads((folder / meta_name).read_text(encoding="utf-8"))["response"]
    return Reply(response["status"]["code"], body,
                 (("Content-Type", response["headers"]["content-type"]),))


def recorded_429(folder: Path, *extra_headers: tuple[str, str]) -> Reply:
    """Crossref's 429 as quoted in public issues: HTML body, no Retry-After."""
    observed = json.loads((folder / "crossref_429_and_ratelimit_headers_observed.json")
                          .read_text(encoding="utf-8"))["observations"]
    body = observed[0]["body_as_quoted"].encode("utf-8")
    headers = tuple(observed[1]["headers"].items()) + extra_headers
    return Reply(observed[0]["status"], body, headers)


@pytest.fixture
def server(crossref_dir: Path) -> Iterator[ReplayServer]:
    plos = recorded(crossref_dir, f"habanero_works_{PLOS.replace('/', '_')}.json",
                    f"habanero_works_{PLOS.replace('/', '_')}.meta.json")
    not_found = recorded(crossref_dir, "habanero_works_404_notarealdoi.txt",
                         "habanero_works_404_notarealdoi.meta.json")
    web_page = recorded(crossref_dir, "habanero_contentneg_10.1126_science.169.3946.635.302_redirect.html",
                        "habanero_contentneg_10.1126_science.169.3946.635.302_redirect.meta.json")
    plos_document = json.loads(plos.body)
    without_message = {k: v for k, v in plos_document.items() if k != "message"}
    unavailable = Reply(503, b"<html><body>Service Unavailable</body></html>",
                        (("Content-Type", "text/html"),))
    routes = {
        f"/works/{PLOS}": [plos],
        "/works/10.1371/notarealdoi": [not_found],
        "/works/10.5555/always-busy": [recorded_429(crossref_dir)],
        "/works/10.5555/busy-retry-1": [recorded_429(crossref_dir, ("Retry-After", "1")), plos],
        "/works/10.5555/busy-retry-120": [recorded_429(crossref_dir, ("Retry-After", "120")), plos],
        "/works/10.5555/busy-retry-repeated": [recorded_429(crossref_dir, ("Retry-After", "1, 1")), plos],
        "/works/10.5555/busy-retry-nonsense": [recorded_429(crossref_dir, ("Retry-After", "soon")), plos],
        "/works/10.5555/unavailable-then-ok": [unavailable, plos],
        "/works/10.5555/always-unavailable": [unavailable],
        "/works/10.5555/slow": [Reply(plos.status, plos.body, plos.headers, delay=10.0)],
        # The real answer cut off half-way: what a dropped proxy connection leaves.
        "/works/10.5555/malformed": [Reply(200, plos.body[: len(plos.body) // 2], plos.headers)],
        # doi.org's recorded HTML page, as a captive portal or proxy would send one.
        "/works/10.5555/web-page": [Reply(200, web_page.body, web_page.headers)],
        "/works/10.5555/no-message": [Reply(200, json.dumps(without_message).encode(), plos.headers)],
        "/works/10.5555/list-message": [Reply(200, json.dumps({**without_message, "message": []}).encode(),
                                              plos.headers)],
        "/works/10.5555/huge-streamed": [Reply(200, b" " * HUGE, plos.headers, streamed=True)],
        "/works/10.5555/huge-declared": [Reply(200, b" " * HUGE, plos.headers)],
    }
    for name in ("10.1021_acs.orglett.9b00971", "10.1126_science.280.5362.421",
                 "10.1007_978-3-319-53923-2"):
        routes["/works/" + name.replace("_", "/", 1)] = [recorded(crossref_dir, f"abbotsbury_works_{name}.json")]
    with serving(routes) as running:
        yield running


ClientFactory = Callable[..., tuple[CrossrefClient, list[float]]]


@pytest.fixture
def make_client(server: ReplayServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[ClientFactory]:
    """A client aimed at the replay server; it records back-off waits instead of waiting."""
    # requests honours proxy variables; a developer's proxy must not stand in for the replay server.
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    clients: list[CrossrefClient] = []

    def make(url: str | None = None, contact_email: str = CONTACT, http_timeout: float = 5.0,
             backoff_base: float = 0.1) -> tuple[CrossrefClient, list[float]]:
        sleeps: list[float] = []
        settings = Settings.from_env(crossref_url=url or server.url, contact_email=contact_email,
                                     http_timeout=http_timeout)
        client = CrossrefClient(settings, sleep=sleeps.append, today=lambda: LOOKED_UP,
                                backoff_base=backoff_base)
        clients.append(client)
        return client, sleeps

    yield make
    for client in clients:
        client.close()


# ---------------------------------------------------------------- mapping, field by field


def test_plos_article_is_mapped_field_by_field(make_client: ClientFactory, server: ReplayServer) -> None:
    client, _ = make_client()
    entry = client.lookup(PLOS)

    assert entry.type == "article"
    assert entry.key == "boulkedid2011using"
    assert entry.persons == {"author": ("Boulkedid, Rym", "Abdoul, Hendy", "Loustau, Marine",
                                        "Sibony, Olivier", "Alberti, Corinne")}
    assert entry.fields == {
        "title": "Using and Reporting the Delphi Method for Selecting Healthcare Quality "
                 "Indicators: A Systematic Review",
        "journal": "PLoS ONE",
        "year": "2011",  # no published-print; published-online is 2011-06-09
        "volume": "6",
        "number": "6",
        "pages": "e20476",  # an article number, written in 'page'
        "publisher": "Public Library of Science (PLoS)",
        "issn": "1932-6203",
        "doi": PLOS,
        "provenance": f"Crossref REST API, DOI {PLOS}, looked up 2026-11-28",
        "added": "2026-11-28",
    }
    # James M. Wright is PLOS's academic editor for the paper, not an editor of the work.
    assert "editor" not in entry.persons


@pytest.mark.parametrize(("doi", "kind", "authors", "expected"), [
    ("10.1021/acs.orglett.9b00971", "article",
     ("Mansfield, Steven J.", "Smith, Russell C.", "Yong, Jonathan R. J.", "Garry, Olivia L.",
      "Anderson, Edward A."),
     {"title": "A General Copper-Catalyzed Synthesis of Ynamides from 1,2-Dichloroenamides",
      "journal": "Organic Letters", "volume": "21", "number": "8", "pages": "2918--2922",
      "year": "2019", "publisher": "American Chemical Society (ACS)",
      "issn": "1523-7060, 1523-7052", "doi": "10.1021/acs.orglett.9b00971"}),
    ("10.1126/science.280.5362.421", "article", ("Glaser, S. J.",),
     {"title": "Unitary Control in Quantum Ensembles: Maximizing Signal Intensity in Coherent "
               "Spectroscopy",
      "journal": "Science", "volume": "280", "number": "5362", "pages": "421--424",
      "year": "1998", "publisher": "American Association for the Advancement of Science (AAAS)",
      "issn": "0036-8075, 1095-9203", "doi": "10.1126/science.280.5362.421"}),
    ("10.1007/978-3-319-53923-2", "book",
     ("Gatti, Fabien", "Lasorne, Benjamin", "Meyer, Hans-Dieter", "Nauts, André"),
     {"title": "Applications of Quantum Dynamics in Chemistry",
      "series": "Lecture Notes in Chemistry", "year": "2017",
      "publisher": "Springer International Publishing", "address": "Cham",
      "isbn": "9783319539218, 9783319539232", "issn": "0342-4901, 2192-6603",
      "doi": "10.1007/978-3-319-53923-2"}),
])
def test_recorded_works_are_mapped_field_by_field(make_client: ClientFactory, doi: str, kind: str,
                                                  authors: tuple[str, ...],
                                                  expected: dict[str, str]) -> None:
    client, _ = make_client()
    entry = client.lookup(doi)
    assert entry.type == kind
    assert entry.persons["author"] == authors
    own = {name: value for name, value in entry.fields.items() if name not in ("provenance", "added")}
    assert own == expected


@pytest.mark.parametrize("doi", [PLOS, "10.1021/acs.orglett.9b00971",
                                 "10.1126/science.280.5362.421", "10.1007/978-3-319-53923-2"])
def test_looked_up_entry_writes_bibtex_that_reads_back_the_same(make_client: ClientFactory,
                                                                doi: str) -> None:
    client, _ = make_client()
    entry = client.lookup(doi)
    result = bibtex.parse_text(bibtex.format_entry(entry))
    assert result.problems == ()
    (again,) = result.entries
    assert (again.key, again.type, again.fields, again.persons) == \
        (entry.key, entry.type, entry.fields, entry.persons)
    record = Record.from_entry(again)
    assert record.doi == doi
    assert record.provenance == f"Crossref REST API, DOI {doi}, looked up 2026-11-28"


def test_request_names_the_client_and_quotes_the_doi(make_client: ClientFactory,
                                                     server: ReplayServer) -> None:
    client, _ = make_client()
    client.lookup(f"  https://doi.org/{PLOS} ")
    (request,) = server.requests_for(f"/works/{PLOS}")
    agent = request.headers["User-Agent"]
    assert agent.startswith("trauma-informed-evidence-library/")
    assert f"mailto:{CONTACT}" in agent
    assert request.path == "/works/10.1371%2Fjournal.pone.0020476"


def test_user_agent_leaves_out_mailto_without_a_contact_address(make_client: ClientFactory,
                                                                server: ReplayServer) -> None:
    client, _ = make_client(contact_email="")
    client.lookup(PLOS)
    (request,) = server.requests_for(f"/works/{PLOS}")
    assert "mailto" not in request.headers["User-Agent"]


@pytest.mark.parametrize("address", ["someone@example.org\r\nX-Injected: 1", "naïve@example.org",
                                     "not an address"])
def test_user_agent_never_carries_an_unusable_address(address: str) -> None:
    agent = user_agent(address)
    assert "mailto" not in agent and "\n" not in agent and agent.isascii()


# ---------------------------------------------------------------- failures


def test_unknown_doi_gives_the_recorded_404_as_a_plain_message(make_client: ClientFactory,
                                                               server: ReplayServer) -> None:
    client, sleeps = make_client()
    with pytest.raises(LookupFailed) as caught:
        client.lookup("doi:10.1371/notarealdoi")
    assert str(caught.value) == (
        "No work with the DOI 10.1371/notarealdoi is registered with Crossref. Check the DOI for typos. "
        "DOIs registered elsewhere, such as DataCite's for many theses and data sets, cannot be looked up "
        "here: add such a reference by pasting its BibTeX instead.")
    assert len(server.requests_for("/works/10.1371/notarealdoi")) == 1  # a 404 is not retried
    assert sleeps == []


def test_still_busy_after_three_attempts(make_client: ClientFactory, server: ReplayServer) -> None:
    client, sleeps = make_client()
    with pytest.raises(LookupFailed, match=r"^The DOI service is busy"):
        client.lookup("10.5555/always-busy")
    assert len(server.requests_for("/works/10.5555/always-busy")) == 3
    assert sleeps == [0.1, 0.2]  # no Retry-After: exponential back-off


@pytest.mark.parametrize(("path", "expected_sleep"), [
    ("10.5555/busy-retry-1", 1.0),
    ("10.5555/busy-retry-120", 30.0),  # capped
    ("10.5555/busy-retry-repeated", 1.0),  # "1, 1" from a proxy repeating the header
    ("10.5555/busy-retry-nonsense", 0.1),  # unreadable: back-off instead
])
def test_back_off_honours_retry_after(make_client: ClientFactory, server: ReplayServer,
                                      path: str, expected_sleep: float) -> None:
    client, sleeps = make_client()
    entry = client.lookup(path)
    assert entry.fields["doi"] == PLOS  # the second answer is the recorded PLOS work
    assert sleeps == [expected_sleep]
    assert len(server.requests_for(f"/works/{path}")) == 2


def test_server_error_then_success(make_client: ClientFactory, server: ReplayServer) -> None:
    client, sleeps = make_client()
    entry = client.lookup("10.5555/unavailable-then-ok")
    assert entry.key == "boulkedid2011using"
    assert sleeps == [0.1]


def test_server_error_every_time(make_client: ClientFactory, server: ReplayServer) -> None:
    client, sleeps = make_client()
    with pytest.raises(LookupFailed) as caught:
        client.lookup("10.5555/always-unavailable")
    assert str(caught.value) == ("The DOI service is having problems (it answered with error 503). "
                                 "Try again later, or add the reference by pasting its BibTeX.")
    assert len(server.requests_for("/works/10.5555/always-unavailable")) == 3
    assert sleeps == [0.1, 0.2]


def test_slow_service_times_out_with_a_message(make_client: ClientFactory,
                                               server: ReplayServer) -> None:
    client, sleeps = make_client(http_timeout=0.3)
    started = time.monotonic()
    with pytest.raises(LookupFailed) as caught:
        client.lookup("10.5555/slow")
    assert time.monotonic() - started < 5
    assert str(caught.value) == (f"The DOI service at {server.url} did not answer within 0.3 seconds. "
                                 "Try again later, or add the reference by pasting its BibTeX.")
    assert sleeps == []  # waiting again would only double the wait


def test_offline_gives_a_message_after_retrying(make_client: ClientFactory) -> None:
    with socket.socket() as probe:  # a port with nothing listening on it
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    client, sleeps = make_client(url=url)
    with pytest.raises(LookupFailed) as caught:
        client.lookup(PLOS)
    assert str(caught.value) == (f"Could not reach the DOI service at {url}. Check the internet "
                                 "connection, or add the reference by pasting its BibTeX.")
    assert sleeps == [0.1, 0.2]


@pytest.mark.parametrize(("path", "message"), [
    ("10.5555/malformed", r"^The DOI service sent an answer that could not be read \(it was not valid JSON\)"),
    ("10.5555/web-page", r"^The DOI service sent a web page instead of the work's details"),
    ("10.5555/no-message", r"^The DOI service's answer did not contain the work's details"),
    ("10.5555/list-message", r"^The DOI service's answer did not contain the work's details"),
    ("10.5555/huge-streamed", r"^The DOI service sent an unexpectedly large answer \(over 5 MB\)"),
    ("10.5555/huge-declared", r"^The DOI service sent an unexpectedly large answer \(over 5 MB\)"),
])
def test_unusable_answers_give_messages(make_client: ClientFactory, path: str, message: str) -> None:
    client, sleeps = make_client()
    with pytest.raises(LookupFailed, match=message):
        client.lookup(path)
    assert sleeps == []


def test_not_a_doi_is_refused_before_any_request(make_client: ClientFactory,
                                                 server: ReplayServer) -> None:
    client, _ = make_client()
    with pytest.raises(LookupFailed, match=r"^'Trauma and Recovery' is not a DOI\."):
        client.lookup("Trauma and Recovery")
    assert server.received == []


# ---------------------------------------------------------------- mapping details


@pytest.fixture(scope="module")
def plos_work(crossref_dir: Path) -> dict:
    document = json.loads((crossref_dir / f"habanero_works_{PLOS.replace('/', '_')}.json")
                          .read_text(encoding="utf-8"))
    return document["message"]


def test_markup_in_titles_becomes_plain_escaped_text(plos_work: dict) -> None:
    work = {**plos_work, "title": ["  Trauma &amp; <i>recovery</i> in H<sub>2</sub>O:\n 50% {of} cases "],
            "container-title": ["Journal of Trauma &amp; Dissociation"]}
    entry = entry_from_work(work, looked_up=LOOKED_UP)
    assert entry.fields["title"] == r"Trauma \& recovery in H2O: 50\% \textbraceleft{}of\textbraceright{} cases"
    assert entry.fields["journal"] == r"Journal of Trauma \& Dissociation"
    assert Record.from_entry(entry).title == "Trauma & recovery in H2O: 50% {of} cases"


@pytest.mark.parametrize(("title", "expected"), [
    ("Trauma { care", r"Trauma \textbraceleft{} care"),
    ("Trauma } care {", r"Trauma \textbraceright{} care \textbraceleft{}"),
    ("{PTSD} in services", r"\textbraceleft{}PTSD\textbraceright{} in services"),
])
def test_braces_are_kept_as_text_and_the_file_stays_readable(plos_work: dict, title: str,
                                                                  expected: str) -> None:
    entry = entry_from_work({**plos_work, "title": [title]}, looked_up=LOOKED_UP)
    assert entry.fields["title"] == expected
    assert bibtex.parse_text(bibtex.format_entry(entry)).errors == ()


def test_subtitle_is_added_unless_the_title_already_has_it(plos_work: dict) -> None:
    with_subtitle = entry_from_work({**plos_work, "title": ["Trauma-informed care"],
                                     "subtitle": ["a scoping review"]}, looked_up=LOOKED_UP)
    repeated = entry_from_work({**plos_work, "title": ["Trauma-informed care: a scoping review"],
                                "subtitle": ["A scoping review"]}, looked_up=LOOKED_UP)
    assert with_subtitle.fields["title"] == "Trauma-informed care: a scoping review"
    assert repeated.fields["title"] == "Trauma-informed care: a scoping review"


def test_organisations_and_awkward_names(plos_work: dict) -> None:
    work = {**plos_work, "author": [
        {"name": "Substance Abuse and Mental Health Services Administration", "sequence": "first"},
        {"given": "Bessel A.", "family": "van der Kolk", "sequence": "additional"},
        {"given": "Martin Luther", "family": "King", "suffix": "Jr.", "sequence": "additional"},
        {"given": "Ann", "family": "Smith, Jones", "sequence": "additional"},
        {"sequence": "additional"},
    ]}
    entry = entry_from_work(work, looked_up=LOOKED_UP)
    assert entry.persons["author"] == (
        "{Substance Abuse and Mental Health Services Administration}",
        "van der Kolk, Bessel A.",
        "King, Jr., Martin Luther",
        "{Smith, Jones}, Ann",
    )
    names = Record.from_entry(bibtex.parse_text(bibtex.format_entry(entry)).entries[0]).authors
    assert [n.natural() for n in names] == [
        "Substance Abuse and Mental Health Services Administration", "Bessel A. van der Kolk",
        "Martin Luther King Jr.", "Ann Smith, Jones"]


@pytest.mark.parametrize(("crossref_type", "kind", "container_field"), [
    ("journal-article", "article", "journal"),
    ("book", "book", "series"),
    ("monograph", "book", "series"),
    ("edited-book", "book", "series"),
    ("book-chapter", "incollection", "booktitle"),
    ("book-section", "incollection", "booktitle"),
    ("book-part", "incollection", "booktitle"),
    ("proceedings-article", "inproceedings", "booktitle"),
    ("report", "techreport", None),
    ("dissertation", "phdthesis", None),
    ("posted-content", "misc", None),
    ("peer-review", "misc", None),
    (None, "misc", None),
])
def test_types_and_where_the_container_goes(plos_work: dict, crossref_type: str | None, kind: str,
                                            container_field: str | None) -> None:
    entry = entry_from_work({**plos_work, "type": crossref_type}, looked_up=LOOKED_UP)
    assert entry.type == kind
    for name in ("journal", "booktitle", "series"):
        assert (entry.fields.get(name) == "PLoS ONE") == (name == container_field)
    if kind == "techreport":
        assert entry.fields["institution"] == "Public Library of Science (PLoS)"
    if kind == "phdthesis":
        assert entry.fields["school"] == "Public Library of Science (PLoS)"


def test_chapter_keeps_its_editors_and_the_year_falls_back_to_issued(plos_work: dict) -> None:
    work = {**plos_work, "type": "book-chapter", "published-online": None, "page": None,
            "article-number": "12", "issued": {"date-parts": [[2004, 3]]}}
    entry = entry_from_work(work, looked_up=LOOKED_UP)
    assert entry.persons["editor"] == ("Wright, James M.",)
    assert entry.fields["year"] == "2004"
    assert entry.fields["pages"] == "12"


def test_doi_org_bibtex_one_liner_parses(crossref_dir: Path) -> None:
    """doi.org's current BibTeX: leading space, one line, bare `month=Aug`, Unicode en dash."""
    text = (crossref_dir / "habanero_contentneg_10.1126_science.169.3946.635.bib").read_text(
        encoding="utf-8")
    result = bibtex.parse_text(text, "doi.org")
    assert result.errors == ()
    (entry,) = result.entries
    assert entry.key == "Frank_1970"
    assert entry.fields["doi"] == "10.1126/science.169.3946.635"
    assert entry.fields["pages"] == "635\u2013641"
    assert entry.fields["month"] == "August"
    assert entry.persons["author"] == ("Frank, Henry S.",)
    record = Record.from_entry(entry)
    assert (record.year, record.venue, record.doi) == (1970, "Science", "10.1126/science.169.3946.635")


# ---------------------------------------------------------------- DOIs


@pytest.mark.parametrize(("text", "expected"), [
    ("10.1016/S0749-3797(98)00017-8", "10.1016/S0749-3797(98)00017-8"),
    ("  10.1371/journal.pone.0020476\n", "10.1371/journal.pone.0020476"),
    ("doi:10.1080/09638237.2018.1520973", "10.1080/09638237.2018.1520973"),
    ("DOI: 10.1192/bja.2018.29", "10.1192/bja.2018.29"),
    ("https://doi.org/10.1108/MHRJ-01-2015-0006", "10.1108/MHRJ-01-2015-0006"),
    ("http://dx.doi.org/10.1186/1741-7015-12-72", "10.1186/1741-7015-12-72"),
    ("HTTPS://DOI.ORG/10.3402/ejpt.v4i0.19985", "10.3402/ejpt.v4i0.19985"),
    ("doi.org/10.15123/uel.8y96y", "10.15123/uel.8y96y"),
    ("https://doi.org/10.1126%2Fscience.169.3946.635", "10.1126/science.169.3946.635"),
    ("10.1002/(SICI)1097-4571(199806)49:8<693::AID-ASI4>3.0.CO;2-0",
     "10.1002/(SICI)1097-4571(199806)49:8<693::AID-ASI4>3.0.CO;2-0"),
    ("10.1000.10/abc", "10.1000.10/abc"),
])
def test_parse_doi_accepts(text: str, expected: str) -> None:
    assert parse_doi(text) == expected
    assert is_doi(text)


@pytest.mark.parametrize(("text", "message"), [
    ("xyz", "'xyz' is not a DOI. A DOI starts with 10. and has a slash, "
            "e.g. 10.1016/S0749-3797(98)00017-8."),
    ("", "No DOI was given."),
    ("   ", "No DOI was given."),
    ("10.1371", "'10.1371' is not a DOI."),
    ("10.1371/", "'10.1371/' is not a DOI."),
    ("10.12/abc", "'10.12/abc' is not a DOI."),
    ("11.1371/journal.pone.0020476", "is not a DOI."),
    ("10.1371/journal pone", "it contains spaces or invisible characters"),
    ("10.1371/journal\u00a0pone", "it contains spaces or invisible characters"),
    ("10.1371/journal\u200bpone", "it contains spaces or invisible characters"),
    ("10.1371/journal\x00pone", "it contains spaces or invisible characters"),
    ("10.1371/" + "a" * 300, "it is far too long"),
    ("https://example.org/10.1371/journal.pone.0020476", "is not a DOI."),
    ("Using and Reporting the Delphi Method", "is not a DOI."),
    ("10.\u0661\u0662\u0663\u0664/abc", "is not a DOI."),  # Arabic-Indic digits
])
def test_parse_doi_refuses(text: str, message: str) -> None:
    with pytest.raises(LookupFailed) as caught:
        parse_doi(text)
    assert message in str(caught.value)
    assert not is_doi(text)


@given(st.text())
@hypothesis_settings(max_examples=500)
def test_parse_doi_returns_a_doi_or_says_why_not(text: str) -> None:
    try:
        result = parse_doi(text)
    except LookupFailed as error:
        assert str(error)
    else:
        assert result.startswith("10.")


_SUFFIX_CHARACTERS = st.characters(blacklist_categories=("Cc", "Cf", "Cs", "Zs", "Zl", "Zp"))


@given(st.builds("{}/{}".format, st.from_regex(r"10\.[0-9]{4,9}", fullmatch=True),
                 st.text(_SUFFIX_CHARACTERS, min_size=1, max_size=40).filter(
                     lambda s: not any(c.isspace() for c in s))))
def test_parse_doi_keeps_every_well_formed_doi(doi: str) -> None:
    assert parse_doi(f"https://doi.org/{doi}".replace("%", "%25")) == doi
    assert parse_doi(f" doi:{doi} ") == doi


# ---------------------------------------------------------------- whatever Crossref sends

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
_NAME = st.fixed_dictionaries({}, optional={
    "family": st.text(max_size=20), "given": st.text(max_size=20), "suffix": st.text(max_size=5),
    "name": st.text(max_size=20)})
_WORK = st.fixed_dictionaries({}, optional={
    "type": st.sampled_from(["journal-article", "book", "book-chapter", "report", "dissertation",
                             "posted-content", "proceedings-article"]) | _JSON,
    "title": st.lists(st.text(max_size=40), max_size=2) | _JSON,
    "subtitle": st.lists(st.text(max_size=20), max_size=2),
    "container-title": st.lists(st.text(max_size=30), max_size=2) | _JSON,
    "author": st.lists(_NAME | _JSON, max_size=3) | _JSON,
    "editor": st.lists(_NAME, max_size=2),
    "volume": _JSON, "issue": _JSON, "page": _JSON, "article-number": _JSON,
    "publisher": _JSON, "publisher-location": _JSON, "ISBN": _JSON, "ISSN": _JSON,
    "DOI": st.text(max_size=30), "URL": st.text(max_size=30),
    "published-print": _JSON, "issued": st.fixed_dictionaries({"date-parts": _JSON}),
    "institution": _JSON,
})


@given(_WORK)
@hypothesis_settings(max_examples=300, deadline=None)
def test_any_work_maps_to_bibtex_that_reads_back(work: dict) -> None:
    try:
        entry = entry_from_work(work, looked_up=LOOKED_UP, requested_doi="10.5555/fallback")
    except LookupFailed:
        return  # only an unstorable DOI may refuse
    result = bibtex.parse_text(bibtex.format_entry(entry))
    assert result.errors == ()
    (again,) = result.entries
    assert (again.fields, again.persons) == (entry.fields, entry.persons)
