"""Evidence packs: the JSON format, snapshots and `compare`, (the store: test_packstore.py)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from pathlib import Path

import pytest

import io

import pypdf

from library.api import Library
from library.bibtex import parse_file
from library.citations import STYLES
from library.errors import PackDoesNotFit, PackError
from library.exporters import build_pack
from library.exporters.brief import BriefTerms, how_chosen, uk_date
from library.exporters.pdf import Fit
from library.onepage import first_sentence, fit_to_one_page
from library.packs import (KeyMessage, Pack, PackReference, Search, Selection, Snapshot, compare, dump_pack,
                           load_pack, resolve_records)
from library.records import Record
from tests.security_support import seed_collection, settings_for

DATA = Path(__file__).resolve().parent / "data"
REPO = Path(__file__).resolve().parent.parent

MINIMAL = ('{"title": "...", "ask": "...", "key_messages": ["..."], '
           '"references": [{"key": "felitti1998relationship", "note": "..."}]}')


@pytest.fixture(scope="module")
def records() -> dict[str, Record]:
    result = parse_file(DATA / "pack_references.bib")
    assert not result.problems, [p.describe() for p in result.problems]
    return {entry.key: Record.from_entry(entry) for entry in result.entries}


@pytest.fixture()
def pack(records: dict[str, Record]) -> Pack:
    chosen = [records[k] for k in ("felitti1998relationship", "samhsa2014concept", "clark2021mental",
                                   "muller2023example")]
    return Pack(
        title="Should our wards become trauma-informed?",
        audience="Ward managers",
        ask="Agree a six-month pilot on two acute wards.",
        concern="“This is just the medical model renamed.”",
        key_messages=(KeyMessage("Adverse childhood experiences are common.", (1,)),
                      KeyMessage("There is national guidance on what trauma-informed care is.", (2,)),
                      KeyMessage("Advocates say managers make the difference.", (3, 4))),
        references=tuple(PackReference.from_record(r) for r in chosen),
        prepared_by="Jo Bloggs",
        date=dt.date(2025, 3, 1),
        selection=Selection((Search("trauma-informed care", themes=("Burnout", "Vicarious trauma"), all_themes=True,
                                    evidence_types=("Trial",), settings=("Inpatient wards",), year_from=2010),
                             Search()),
                            ("Evidence type: any",), "Chosen with the team", one_by_one=True),
    )


# ---------------------------------------------------------------- JSON


def test_json_round_trip(pack: Pack) -> None:
    text = dump_pack(pack)
    assert load_pack(text) == pack
    assert load_pack(text.encode("utf-8")) == pack
    assert dump_pack(load_pack(text)) == text


def test_round_trip_keeps_non_ascii_names(pack: Pack) -> None:
    text = dump_pack(pack)
    # The snapshot keeps the names as the file writes them (LaTeX and all), and reads them the same way.
    saved = json.loads(text)["references"][3]["snapshot"]["persons"]["author"]
    assert saved == ["M{\\\"u}ller, Anna", "{\\v{S}}imi{\\'c}, Ivana", "{\\'O} S{\\'u}illeabh{\\'a}in, Se{\\'a}n"]
    names = load_pack(text).references[3].snapshot.to_record("muller2023example").authors  # type: ignore[union-attr]
    assert [n.family for n in names] == ["Müller", "Šimić", "Ó Súilleabháin"]
    typed = replace(pack.references[3], snapshot=Snapshot.from_details(title="Études", authors=names))
    text = dump_pack(replace(pack, references=(typed,), key_messages=()))
    assert "Šimić" in text and "Ó Súilleabháin" in text and "Études" in text  # readable, not \u escapes


def test_minimal_form_is_accepted() -> None:
    pack = load_pack(MINIMAL)
    assert pack.title == "..." and pack.ask == "..."
    assert pack.key_messages == (KeyMessage("...", ()),)
    assert pack.references == (PackReference("felitti1998relationship", "..."),)
    assert pack.date is None and pack.selection == Selection()


def test_messages_may_be_text_or_objects_with_citations() -> None:
    pack = load_pack(json.dumps({
        "title": "T", "references": [{"key": "a"}, {"key": "b"}],
        "key_messages": ["Plain message.", {"text": "Cited message.", "cites": [2, 1, 2]}]}))
    assert pack.key_messages == (KeyMessage("Plain message."), KeyMessage("Cited message.", (2, 1)))


def test_new_fields_round_trip(pack: Pack) -> None:
    further = replace(pack, references=(replace(pack.references[0], further_reading=True), *pack.references[1:]))
    text = dump_pack(further)
    data = json.loads(text)
    assert data["references"][0]["further_reading"] is True
    assert "further_reading" not in data["references"][1]  # written only when set
    assert data["references"][0]["snapshot"]["fields"]["themes"] == "aces"
    assert load_pack(text) == further


def test_a_pack_file_saved_before_the_new_fields_still_loads(records: dict[str, Record]) -> None:
    # Written by the library as it was before `further_reading` and snapshot `themes`.
    saved = load_pack((DATA / "pack-format-1.json").read_bytes())
    assert [r.key for r in saved.references] == ["felitti1998relationship", "samhsa2014concept",
                                                 "clark2021mental", "muller2023example"]
    assert not any(r.further_reading for r in saved.references)
    assert saved.references[0].snapshot is not None
    assert saved.references[0].snapshot.to_record("felitti1998relationship").themes == ()
    assert saved.references[0].evidence == "Quantitative observational study"
    assert saved.key_messages[2] == KeyMessage("Advocates say managers make the difference.", (3, 4))
    assert saved.selection == Selection((Search("trauma-informed care"),), ("Evidence type: any",),
                                        "Chosen with the team")
    page = build_pack(saved, {}, "html").decode("utf-8")  # renders from its snapshots alone
    assert "Advocates say managers make the difference." in page and "Clark, 2021" in page
    assert ("How the references were chosen: a search of the evidence library for “trauma-informed care”; "
            "filtered by Evidence type: any; Chosen with the team.") in page


# How the app before format 2 recorded each way references were added (`selection.searches`,
# phrases made by the search page), what they load as, and how the brief now says it.
REVIEWS = "Systematic review or meta-analysis"
OLD_SELECTIONS = [
    pytest.param(["a search for “seclusion”, evidence type: Systematic review or meta-analysis",
                  "references chosen one by one"],
                 Selection((Search("seclusion", evidence_types=(REVIEWS,)),), one_by_one=True),
                 "a search of the evidence library for “seclusion” (systematic reviews or meta-analyses only); "
                 "others chosen one by one", id="the walk-through's pack"),
    pytest.param(["a search for “burnout”"], Selection((Search("burnout"),)),
                 "a search of the evidence library for “burnout”", id="search only"),
    pytest.param(["references chosen one by one"], Selection(one_by_one=True),
                 "chosen one by one from the evidence library", id="one by one only"),
    pytest.param(["browsing the whole library", "themes: Burnout, setting: Inpatient wards, years 2010 to …"],
                 Selection((Search(), Search(themes=("Burnout",), settings=("Inpatient wards",), year_from=2010))),
                 "browsing the whole evidence library; browsing the evidence library (theme: burnout; setting: "
                 "inpatient wards; published in 2010 or later)", id="browsing"),
    pytest.param(["a search for “a, b”, evidence type: Guidance, policy or framework, years … to 2020"],
                 Selection((Search("a, b", evidence_types=("Guidance, policy or framework",), year_to=2020),)),
                 "a search of the evidence library for “a, b” (guidance, policy or framework documents only; "
                 "published in 2020 or earlier)", id="commas in the words and the label"),
    pytest.param(["trauma-informed care", "staff wellbeing", ""],
                 Selection((Search("trauma-informed care"), Search("staff wellbeing"))),
                 "searches of the evidence library for “trauma-informed care” and for “staff wellbeing”",
                 id="words alone, from a file written by hand"),
]


@pytest.mark.parametrize(("searches", "selection", "words"), OLD_SELECTIONS)
def test_a_pack_saved_before_searches_were_data_still_loads_and_reads_plainly(
        searches: list[str], selection: Selection, words: str) -> None:
    data = json.loads(MINIMAL)
    data["version"] = 1
    data["selection"] = {"searches": searches}
    pack = load_pack(json.dumps(data))
    assert pack.selection == selection
    assert how_chosen(pack.selection, BriefTerms.from_labels({"guidance": "Guidance, policy or framework"})) == words
    again = dump_pack(pack)
    assert json.loads(again)["version"] == 2 and load_pack(again) == pack  # saved again as data


@pytest.mark.parametrize(("selection", "words"), [
    (Selection(), "not recorded"),
    (Selection((Search("restraint", evidence_types=("Trial", "Qualitative study"), settings=("Inpatient wards",
                                                                                            "Primary care"),
                       year_from=2015, year_to=2015),)),
     "a search of the evidence library for “restraint” (trials or qualitative studies only; settings: inpatient "
     "wards or primary care; published in 2015)"),
    (Selection((Search("burnout", themes=("Burnout", "Vicarious trauma"), all_themes=True, year_from=2010,
                       year_to=2020), Search("seclusion"), Search("NHS staff", themes=("PTSD",)))),
     "searches of the evidence library for “burnout” (themes: burnout and vicarious trauma; published 2010 to "
     "2020), for “seclusion” and for “NHS staff” (theme: PTSD)"),
    (Selection((Search(evidence_types=(REVIEWS,)),), note="Chosen with the team."),
     "browsing the evidence library (systematic reviews or meta-analyses only); Chosen with the team"),
])
def test_how_the_references_were_chosen_reads_as_plain_english(selection: Selection, words: str) -> None:
    assert how_chosen(selection) == words


@pytest.mark.parametrize(("search", "error"), [
    (5, r"'selection.searches\[1\]' must be an object with the 'words' searched for, not a number"),
    ({"words": 5}, r"'selection.searches\[1\].words' must be text, not a number"),
    ({"themes": "Burnout"}, r"'selection.searches\[1\].themes' must be a list of text, not text"),
    ({"all_themes": "yes"}, r"'selection.searches\[1\].all_themes' must be true or false, not text"),
    ({"year_from": "2010"}, r"'selection.searches\[1\].year_from' must be a year such as 2015, not text"),
])
def test_a_malformed_search_is_refused_with_its_field_named(search: object, error: str) -> None:
    data = json.loads(MINIMAL)
    data["selection"] = {"searches": [search]}
    with pytest.raises(PackError, match=error):
        load_pack(json.dumps(data))


def test_further_reading_must_be_true_or_false() -> None:
    data = json.loads(MINIMAL)
    data["references"][0]["further_reading"] = "yes"
    with pytest.raises(PackError, match=r"'references\[1\].further_reading' must be true or false, not text"):
        load_pack(json.dumps(data))


def test_unprintable_characters_are_dropped_on_loading() -> None:
    data = json.loads(MINIMAL)
    data["title"] = "Brief\u0000 with\u000b a \ud800stray"
    data["key_messages"] = ["Message\u0007 one"]
    pack = load_pack(json.dumps(data))
    assert (pack.title, pack.key_messages[0].text) == ("Brief with a stray", "Message one")
    dump_pack(pack).encode("utf-8")  # and it can be saved again


@pytest.mark.parametrize("char", sorted(
    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"  # text-direction overrides
    "\u00ad\u200b\u2060\ufeff"))  # invisible characters, as typed values drop them
def test_direction_overrides_and_invisible_characters_are_dropped_on_loading(tmp_path: Path, char: str) -> None:
    from library import values

    assert char in values.INVISIBLE | values.BIDI_CONTROLS  # the characters typed values refuse or drop
    data = json.loads(MINIMAL)
    data["title"] = f"Brief{char}txet"
    data["ask"] = f"Ask{char}"
    data["key_messages"] = [{"text": f"Message{char} one", "cites": [1]}]
    data["selection"] = {"note": f"note{char}", "searches": [{"words": f"burn{char}out"}]}
    data["references"][0]["note"] = f"Why{char} it matters"
    data["references"][0]["snapshot"] = {"type": "article", "fields": {"title": f"Saved{char} title"},
                                         "persons": {"author": [f"Smith{char}, Ann"]}}
    pack = load_pack(json.dumps(data))
    text = dump_pack(pack)
    assert char not in text and "Brieftxet" in text and "Saved title" in text and "Smith, Ann" in text
    seed_collection(tmp_path, 0)
    library = Library(settings_for(tmp_path))
    try:
        for fmt in ("md", "html", "bib", "ris", "csljson"):
            assert char not in library.render_pack(pack, fmt).decode("utf-8"), fmt
    finally:
        library.close()


def test_unknown_keys_are_tolerated() -> None:
    data = json.loads(MINIMAL)
    data["colour_scheme"] = "teal"
    data["references"][0]["rating"] = 5
    data["references"][0]["snapshot"] = {"title": "T", "year": 1998, "future_field": [1, 2]}
    pack = load_pack(json.dumps(data))
    assert pack.references[0].snapshot == Snapshot.from_details(title="T", year=1998)


def test_byte_order_mark_and_filters_object_are_accepted() -> None:
    data = json.loads(MINIMAL)
    data["selection"] = {"searches": ["burnout"], "filters": {"Evidence type": ["Trial", "Qualitative"],
                                                              "From": 2010}}
    pack = load_pack(b"\xef\xbb\xbf" + json.dumps(data).encode("utf-8"))
    assert pack.selection.filters == ("Evidence type: Trial, Qualitative", "From: 2010")


def _with(**changes: object) -> str:
    data = json.loads(MINIMAL)
    data.update(changes)
    return json.dumps(data)


def _without(name: str) -> str:
    data = json.loads(MINIMAL)
    del data[name]
    return json.dumps(data)


MALFORMED = [
    ("not JSON", "this is not json", "not valid JSON (line 1, column 1)"),
    ("a list", "[1, 2]", "must hold a JSON object"),
    ("missing title", _without("title"), "'title' is missing"),
    ("empty title", _with(title="   "), "'title' is empty"),
    ("title a number", _with(title=42), "'title' must be text, not a number"),
    ("ask a list", _with(ask=["x"]), "'ask' must be text, not a list"),
    ("messages not a list", _with(key_messages="one"), "'key_messages' must be a list, not text"),
    ("too many messages", _with(key_messages=["m"] * 6), "'key_messages' has 6 messages; a brief has at most 5"),
    ("message a number", _with(key_messages=[7]), "'key_messages[1]' must be text or an object"),
    ("message without text", _with(key_messages=[{"cites": [1]}]), "'key_messages[1].text' is missing"),
    ("cites not a list", _with(key_messages=[{"text": "m", "cites": 1}]),
     "'key_messages[1].cites' must be a list of reference numbers"),
    ("cite as text", _with(key_messages=[{"text": "m", "cites": ["1"]}]),
     "'key_messages[1].cites' must hold reference numbers (1, 2, ...), not text"),
    ("cite out of range", _with(key_messages=[{"text": "m", "cites": [3]}]),
     "'key_messages[1].cites' refers to reference 3, but the pack has 1 reference."),
    ("cite true", _with(key_messages=[{"text": "m", "cites": [True]}]), "not true/false"),
    ("references an object", _with(references={"key": "a"}), "'references' must be a list, not an object"),
    ("reference without key", _with(references=[{"note": "n"}]), "'references[1].key' is missing"),
    ("duplicate reference", _with(references=[{"key": "a"}, {"key": "A"}]),
     "'references[2].key' repeats 'A', already reference 1"),
    ("snapshot year as text", _with(references=[{"key": "a", "snapshot": {"title": "t", "year": "1998"}}]),
     "'references[1].snapshot.year' must be a whole number, not text"),
    ("bad date", _with(date="1st March"), "'date' must be a date written like 2025-03-01, not '1st March'"),
    ("newer format", _with(version=99), "saved by a newer version of the library"),
    ("very long field", _with(ask="x" * 6000), "'ask' is 6,000 characters long"),
    ("deeply nested", "[" * 100_000 + "]" * 100_000, "not valid JSON"),
]


@pytest.mark.parametrize(("text", "message"), [(t, m) for _, t, m in MALFORMED],
                         ids=[name for name, _, _ in MALFORMED])
def test_malformed_packs_are_refused_with_the_field_named(text: str, message: str) -> None:
    with pytest.raises(PackError) as caught:
        load_pack(text)
    assert message in str(caught.value)


def test_huge_files_are_refused_before_parsing() -> None:
    with pytest.raises(PackError, match=r"too large \(2,000 bytes; the limit is 1,000 bytes\)"):
        load_pack(b" " * 2000, max_bytes=1000)
    with pytest.raises(PackError, match=r"too large \(2\.0 MB; the limit is 1\.0 MB\)"):
        load_pack("{" + " " * 1_999_999)


def test_non_utf8_bytes_are_refused() -> None:
    with pytest.raises(PackError, match="not UTF-8"):
        load_pack('{"title": "Caf\u00e9"}'.encode("latin-1"))


# ---------------------------------------------------------------- citation numbers follow the references


def _numbered(cites: dict[str, tuple[str, ...]], keys: tuple[str, ...]) -> Pack:
    """A pack with references `keys` and one message per entry of `cites`, citing by key."""
    pack = Pack(title="T", references=tuple(PackReference(k) for k in keys),
                key_messages=tuple(KeyMessage(text) for text in cites))
    for number, cited in enumerate(cites.values(), 1):
        pack = pack.with_cites(number, cited)
    return pack


def _cited(pack: Pack) -> list[tuple[str, ...]]:
    return [pack.cited_keys(n) for n in range(1, len(pack.key_messages) + 1)]


CHANGES = [
    ("reorder", lambda p: p.reordered(("c", "a", "d", "b")), ("c", "a", "d", "b"), [(1, 2), (3, 4), ()]),
    ("move up", lambda p: p.moved("c", -1), ("a", "c", "b", "d"), [(1, 2), (3, 4), ()]),
    ("move down past the end", lambda p: p.moved("c", 5), ("a", "b", "d", "c"), [(1, 4), (2, 3), ()]),
    ("remove", lambda p: p.without("b"), ("a", "c", "d"), [(1, 2), (3,), ()]),
    ("remove the only cited", lambda p: p.without("a").without("c"), ("b", "d"), [(), (1, 2), ()]),
    ("add", lambda p: p.with_reference(PackReference("e")), ("a", "b", "c", "d", "e"), [(1, 3), (2, 4), ()]),
]


@pytest.mark.parametrize(("change", "expected_keys", "expected_cites"), [c[1:] for c in CHANGES],
                         ids=[c[0] for c in CHANGES])
def test_citation_numbers_follow_their_references(change, expected_keys: tuple[str, ...],  # type: ignore[no-untyped-def]
                                                  expected_cites: list[tuple[int, ...]]) -> None:
    before = _numbered({"m1": ("a", "c"), "m2": ("b", "d"), "m3": ()}, ("a", "b", "c", "d"))
    after = change(before)
    assert after.keys == expected_keys
    assert [m.cites for m in after.key_messages] == expected_cites
    # Whatever the numbers became, each message still cites the same works.
    assert [set(keys) for keys in _cited(after)] == [set(k for k in keys if k in after.keys)
                                                    for keys in _cited(before)]


def test_reference_changes_are_refused_with_a_reason() -> None:
    pack = _numbered({"m1": ("a",)}, ("a", "b"))
    with pytest.raises(PackError, match="'zzz' is not in this pack"):
        pack.without("zzz")
    with pytest.raises(PackError, match="every reference of the pack exactly once"):
        pack.reordered(("a", "a"))
    with pytest.raises(PackError, match="'A' is already in this pack"):
        pack.with_reference(PackReference("A"))
    with pytest.raises(PackError, match="There is no key message 2"):
        pack.with_cites(2, ("a",))


# ---------------------------------------------------------------- fit to one page


@pytest.mark.parametrize(("text", "first"), [
    ("A review of burnout. It shows a lot.", "A review of burnout."),
    ("Interviews with staff, e.g. nurses. They said X.", "Interviews with staff, e.g. nurses."),
    ("Work by Felitti et al. in 1998. It found Y.", "Work by Felitti et al. in 1998."),
    ("A thesis by S. Clark on advocates. It is small.", "A thesis by S. Clark on advocates."),
    ("Does it work? Few trials say.", "Does it work?"),
    ("Staff said ‘enough’. Then they left.", "Staff said ‘enough’."),
    ("One sentence only", "One sentence only"),
    ("Spread\nover  lines. Second.", "Spread over lines."),
])
def test_first_sentence(text: str, first: str) -> None:
    assert first_sentence(text) == first


def _fits_when(rule):  # type: ignore[no-untyped-def]
    """A stand-in page: fits when `rule(pack)` is true (the real layout is tested below)."""
    return lambda pack: Fit(True, 9.0) if rule(pack) else Fit(False, lines_over=3, advice="Shorten the ask.")


def _printed_note_length(pack: Pack) -> int:
    return sum(len(r.note) for r in pack.references if not r.further_reading)


def test_fit_shortens_the_longest_notes_first_and_stops_when_it_fits() -> None:
    pack = Pack(title="T", references=(
        PackReference("a", "Short. Note."), PackReference("b", "A much longer first sentence here. And more. And more."),
        PackReference("c", "Middle sized note. With a caveat.")))
    result = fit_to_one_page(pack, _fits_when(lambda p: _printed_note_length(p) < 85))
    assert result.fits
    assert [r.note for r in result.pack.references] == [
        "Short. Note.", "A much longer first sentence here.", "Middle sized note. With a caveat."]
    assert result.steps == ("Shortened the note for reference 2 to the first sentence. Check that each still "
                            "says what the work can and cannot support.",)


def test_fit_moves_the_least_cited_to_further_reading_and_gives_back_full_notes() -> None:
    pack = Pack(title="T", key_messages=(KeyMessage("m1", (1, 2)), KeyMessage("m2", (1,))), references=(
        PackReference("a", "First. Second."), PackReference("b", "First. Second."),
        PackReference("c", "First. Second."), PackReference("d", "First. Second.")))
    printed = lambda p: sum(not r.further_reading for r in p.references)  # noqa: E731
    result = fit_to_one_page(pack, _fits_when(lambda p: printed(p) <= 2),
                             labels=["A, 2001", "B, 2002", "C, 2003", "D, 2004"])
    assert result.fits
    # Uncited c and d go first (the last in the list first); a and b keep their full notes.
    assert [(r.key, r.further_reading, r.note) for r in result.pack.references] == [
        ("a", False, "First. Second."), ("b", False, "First. Second."),
        ("c", True, "First. Second."), ("d", True, "First. Second.")]
    assert result.steps == (
        "Moved references 3 and 4 ([3] C, 2003; [4] D, 2004) to a “Further reading” line, as they were cited "
        "least: still in the reference list with the same number, without a note in “What the evidence says” "
        "(the note is kept in the pack).",)
    assert result.pack.keys == pack.keys and result.pack.key_messages == pack.key_messages  # nothing dropped


def test_fit_that_cannot_succeed_moves_nothing_and_says_what_to_cut() -> None:
    pack = Pack(title="T", references=(PackReference("a", "One. Two."), PackReference("b", "Three.")))
    result = fit_to_one_page(pack, _fits_when(lambda p: False))
    assert not result.fits and result.advice == "Shorten the ask."
    assert not any(r.further_reading for r in result.pack.references)
    assert result.steps == ("Shortened the note for reference 1 to the first sentence. Check that each still "
                            "says what the work can and cannot support.",)


def test_further_reading_needs_no_note() -> None:
    pack = Pack(title="T", references=(PackReference("a"), PackReference("b", further_reading=True)),
                key_messages=(KeyMessage("m", (1, 2)),))
    assert [t for t in pack.advice() if "note" in t] == ["Reference 1 has no note saying why it matters here."]


def test_a_template_never_cuts_notes() -> None:
    pack = Pack(title="T", key_messages=(KeyMessage("m", (1, 2)),),
                references=(PackReference("a", "One. Two."), PackReference("b", "Three. Four.")))
    result = fit_to_one_page(pack, _fits_when(lambda p: p.references[1].further_reading), shorten_notes=False)
    assert result.fits
    assert [(r.note, r.further_reading) for r in result.pack.references] == [("One. Two.", False),
                                                                             ("Three. Four.", True)]


# ---------------------------------------------------------------- through the Library, on the shipped collection


@pytest.fixture(scope="module")
def shipped(tmp_path_factory: pytest.TempPathFactory) -> Library:
    root = tmp_path_factory.mktemp("shipped")
    seed_collection(root)
    return Library(settings_for(root))


CONCERN_STYLES = [(c, s) for c in ("medical-model", "just-training", "staff-burnout", "no-management-buy-in",
                                   "already-doing-this", "no-resources", "no-evidence") for s in sorted(STYLES)]


def test_the_concern_list_here_is_the_vocabulary_s(shipped: Library) -> None:
    assert {c for c, _ in CONCERN_STYLES} <= set(shipped.vocabulary.concern_by_slug)


@pytest.mark.parametrize("style", sorted(STYLES))
def test_every_concern_template_fits_one_page(shipped: Library, style: str) -> None:
    for concern in shipped.vocabulary.concerns:
        pack = shipped.concern_pack(concern.slug)
        hits = shipped.search(concern_request(concern.themes)).hits
        assert pack.keys == tuple(h.key for h in hits)  # every reference kept, in rank order
        reader = pypdf.PdfReader(io.BytesIO(shipped.render_pack(pack, "pdf", style)))
        assert len(reader.pages) == 1, f"{concern.slug} in {style}"
        text = " ".join(reader.pages[0].extract_text().split())
        for number in range(1, len(pack.references) + 1):
            assert f"[{number}]" in text
        further = [n for n, r in enumerate(pack.references, 1) if r.further_reading]
        if further:
            assert "Further reading:" in text, concern.slug
        assert shipped.check_pack_fits(pack, style).fits


def concern_request(themes: tuple[str, ...]):  # type: ignore[no-untyped-def]
    from library.search import SearchRequest

    return SearchRequest(themes=themes, per_page=6)


def _ten_reference_pack(library: Library) -> Pack:
    keys = [h.key for h in library.search("trauma", per_page=10).hits]
    records = library.get_many(keys)
    return Pack(title="Making our ward trauma-informed", ask="Fund a six-month pilot of trauma-informed training.",
                key_messages=(KeyMessage("Most people using our services have lived through trauma.", (1, 2)),
                              KeyMessage("Training alone changes little without leadership.", (3, 4, 5)),
                              KeyMessage("Staff wellbeing improves when the organisation changes.", (6,))),
                references=tuple(PackReference(k, records[k].key_finding) for k in keys))  # type: ignore[union-attr]


@pytest.mark.parametrize("style", sorted(STYLES))
def test_the_preview_and_fit_check_agree_with_the_rendered_files(shipped: Library, style: str) -> None:
    pack = _ten_reference_pack(shipped)
    for candidate in (pack, replace(pack, references=pack.references[:4])):
        preview = shipped.preview_pack(candidate, style)
        assert preview.html == shipped.render_pack(candidate, "html", style).decode("utf-8")
        assert shipped.check_pack_fits(candidate, style) == preview.fit
        if preview.fit.fits:
            assert len(pypdf.PdfReader(io.BytesIO(shipped.render_pack(candidate, "pdf", style))).pages) == 1
        else:
            with pytest.raises(PackDoesNotFit) as refused:
                shipped.render_pack(candidate, "pdf", style)
            assert str(refused.value) == preview.fit.advice


def test_fit_pack_makes_ten_references_fit_and_says_how(shipped: Library) -> None:
    pack = _ten_reference_pack(shipped)
    assert not shipped.check_pack_fits(pack).fits
    result = shipped.fit_pack(pack)
    assert result.fits and result.steps and result.advice == ""
    assert result.pack.keys == pack.keys and result.pack.key_messages == pack.key_messages
    assert len(pypdf.PdfReader(io.BytesIO(shipped.render_pack(result.pack, "pdf"))).pages) == 1
    for reference, before in zip(result.pack.references, pack.references):
        assert reference.note == before.note or before.note.startswith(reference.note[:-1])
    assert any(step.startswith("Shortened the notes for references") for step in result.steps)


def test_citation_labels_for_the_picker(shipped: Library) -> None:
    two = next(k for k in sorted(shipped.collection.scan()) if len(shipped.get(k[:-4]).authors) == 2)[:-4]
    pack = Pack(title="T", references=(PackReference(two),))
    [label] = shipped.pack_citation_labels(pack)
    assert "et al." not in label and "&" in label


# ---------------------------------------------------------------- snapshots and compare


def test_compare_reports_removed_changed_and_unknown_references(pack: Pack,
                                                                records: dict[str, Record]) -> None:
    saved = load_pack(dump_pack(pack))
    felitti = records["felitti1998relationship"]
    assert felitti.entry is not None
    corrected = Record.from_entry(felitti.entry.with_fields(year="1999", doi="10.5555/changed"))
    extra = replace(saved, references=saved.references + (PackReference("smith2020"),))
    current: dict[str, Record | None] = {
        "felitti1998relationship": corrected,
        "samhsa2014concept": None,  # removed from the collection
        "clark2021mental": records["clark2021mental"],  # unchanged
        # muller2023example is absent from the mapping altogether: removed too
    }
    assert compare(extra, current) == [
        "'felitti1998relationship' has changed since the pack was saved (year was 1998, now 1999; "
        "DOI was 10.1016/S0749-3797(98)00017-8, now 10.5555/changed); the brief uses the current details.",
        "'samhsa2014concept' was removed from the collection; the brief uses the details saved with the pack.",
        "'muller2023example' was removed from the collection; the brief uses the details saved with the pack.",
        "'smith2020' is not in the collection and the pack has no saved details for it; remove it from "
        "the pack or add it to the collection.",
    ]


def test_compare_is_quiet_when_nothing_changed(pack: Pack, records: dict[str, Record]) -> None:
    assert compare(pack, records) == []


def test_compare_names_title_author_and_venue_changes(pack: Pack, records: dict[str, Record]) -> None:
    clark = records["clark2021mental"]
    assert clark.entry is not None
    # A corrected title (a title the duplicate check still matches): the same work, so it is reported as changed.
    corrected_title = clark.entry.fields["title"].replace("Understandings", "Understanding")
    changed = Record.from_entry(clark.entry.with_fields(title=corrected_title, school="Another University")
                                .with_persons("author", ["Clark, Sam"]))
    [note] = compare(pack, {**records, "clark2021mental": changed})
    assert "title was 'Mental Health Staff’s Understandings" in note
    assert "authors were Clark, S., now Clark, S." not in note  # same initials: no change reported
    assert "published in was 'University of East London, School of Psychology', now 'Another University'" in note


def test_removed_reference_still_renders_from_its_snapshot(pack: Pack, records: dict[str, Record]) -> None:
    saved = load_pack(dump_pack(pack))
    current = {k: v for k, v in records.items() if k != "muller2023example"}
    page = build_pack(saved, current, "html").decode("utf-8")
    assert ("Müller, A., Šimić, I., &amp; Ó Súilleabháin, S. (2023). Example study of staff wellbeing "
            "for export tests. <i>Example Journal of Citation Tests</i>, <i>4</i>(1), 1–12.") in page
    bib = build_pack(saved, current, "bib").decode("utf-8")
    assert "@article{muller2023example," in bib


def test_reference_with_neither_record_nor_snapshot_cannot_render(records: dict[str, Record]) -> None:
    pack = load_pack(MINIMAL.replace("felitti1998relationship", "smith2020"))
    with pytest.raises(PackError, match=r"Reference 1 \('smith2020'\) is not in the collection"):
        resolve_records(pack, records)


def test_new_references_are_prefilled_from_the_key_finding(records: dict[str, Record]) -> None:
    reference = PackReference.from_record(records["clark2021mental"])
    assert reference.note == records["clark2021mental"].key_finding
    assert reference.snapshot is not None and reference.snapshot.to_record("clark2021mental").year == 2021


def test_with_snapshots_refreshes_saved_details(pack: Pack, records: dict[str, Record]) -> None:
    bare = replace(pack, references=tuple(replace(r, snapshot=None) for r in pack.references))
    assert bare.with_snapshots(records) == pack


def test_advice_names_what_would_improve_the_brief() -> None:
    pack = load_pack(MINIMAL)
    assert pack.advice() == [
        "A brief works best with 3 to 5 key messages; this one has 1.",
        "Key message 1 cites no reference; add the numbers of the references that support it.",
        "Reference 1 supports no key message.",
    ]


# ---------------------------------------------------------------- what the footer says after removals

TRAUMA = Search("trauma", evidence_types=(REVIEWS,), settings=("Inpatient wards",), year_from=2010, year_to=2022)
BURNOUT = Search(themes=("Burnout",), year_from=2015)
TRAUMA_WORDS = ("a search of the evidence library for “trauma” (systematic reviews or meta-analyses only; "
                "setting: inpatient wards; published 2010 to 2022)")
BURNOUT_WORDS = "browsing the evidence library (theme: burnout; published in 2015 or later)"
CONCERN_NOTE = "from the 6 references (of 19) the library ranks highest for the concern “X” (themes: Burnout)"


def _built(steps: list[tuple[str, str, object]], *, concern: int = 0) -> Pack:
    """A pack made as the app makes it: `concern` references from a concern pack, then each step
    ("add", key, search or None for one by one) or ("remove", key, None)."""
    from library import drafts
    from library.packs import CONCERN

    pack = Pack("t", references=tuple(PackReference(f"c{n}", chosen_by=CONCERN) for n in range(concern)),
                selection=Selection(note=CONCERN_NOTE) if concern else Selection())
    for action, key, search in steps:
        if action == "add":
            pack = drafts.add_reference(pack, key, search=search, one_by_one=search is None)  # type: ignore[arg-type]
        else:
            pack = drafts.remove_reference(pack, key)
    return load_pack(dump_pack(pack))  # and the pack file keeps it


WALKS = [
    pytest.param([("add", "t", TRAUMA), ("add", "b", BURNOUT), ("add", "o", None)], 0,
                 f"{TRAUMA_WORDS}; {BURNOUT_WORDS}; others chosen one by one", id="all three"),
    pytest.param([("add", "t", TRAUMA), ("add", "b", BURNOUT), ("add", "o", None), ("remove", "t", None),
                  ("remove", "o", None)], 0, BURNOUT_WORDS, id="the walk-through: trauma and one-by-one removed"),
    pytest.param([("add", "t", TRAUMA), ("add", "t2", TRAUMA), ("remove", "t", None)], 0, TRAUMA_WORDS,
                 id="one of two from a search removed: the search stays"),
    pytest.param([("add", "o", None), ("add", "t", TRAUMA), ("remove", "t", None)], 0,
                 "chosen one by one from the evidence library", id="only one by one left"),
    pytest.param([("add", "t", TRAUMA), ("remove", "t", None)], 0, "not recorded", id="all removed"),
    pytest.param([("add", "o", None)], 6, f"{CONCERN_NOTE}; others chosen one by one",
                 id="concern pack plus one from its page"),
    pytest.param([("add", "o", None), ("add", "t", TRAUMA)], 6,
                 f"{TRAUMA_WORDS}; others chosen one by one; {CONCERN_NOTE}", id="concern pack plus search"),
    pytest.param([("add", "o", None)] + [("remove", f"c{n}", None) for n in range(6)], 6,
                 "chosen one by one from the evidence library", id="concern's references all removed"),
    pytest.param([("remove", "c0", None)], 6, CONCERN_NOTE, id="concern pack, one removed"),
]


@pytest.mark.parametrize(("steps", "concern", "words"), WALKS)
def test_the_footer_describes_only_how_the_references_still_in_the_pack_were_chosen(
        steps: list[tuple[str, str, object]], concern: int, words: str) -> None:
    assert how_chosen(_built(steps, concern=concern).selection_in_use()) == words


def test_a_pack_file_without_chosen_by_keeps_describing_its_whole_selection() -> None:
    pack = _built([("add", "t", TRAUMA), ("add", "b", BURNOUT), ("remove", "t", None)])
    data = json.loads(dump_pack(pack))
    assert data["references"] == [{"key": "b", "note": "", "chosen_by": {"search": {
        "words": "", "themes": ["Burnout"], "year_from": 2015}}}]
    for reference in data["references"]:
        del reference["chosen_by"]  # as saved before each reference said what brought it in
    old = load_pack(json.dumps(data))
    assert old.references == (PackReference("b"),)
    assert how_chosen(old.selection_in_use()) == f"{TRAUMA_WORDS}; {BURNOUT_WORDS}"  # as before


@pytest.mark.parametrize(("value", "error"), [
    ("by hand", r"'references\[1\].chosen_by' must be \"one_by_one\", \"concern\" or an object holding the "
                r"'search' it was added from, not text \(a word this library does not know\)"),
    (3, r"'references\[1\].chosen_by' must be .* not a number\."),
    ({"search": "trauma"}, r"'references\[1\].chosen_by' must be .* not an object\."),
    ({"search": {"year_from": "2015"}}, r"'references\[1\].chosen_by.search.year_from' must be a year"),
])
def test_a_bad_chosen_by_is_named(value: object, error: str) -> None:
    data = json.loads(MINIMAL)
    data["references"][0]["chosen_by"] = value
    with pytest.raises(PackError, match=error):
        load_pack(json.dumps(data))


@pytest.mark.parametrize(("date", "expected"), [
    (None, dt.date(2026, 1, 2)),  # an undated pack is dated when a reference is added
    (dt.date(2025, 3, 1), dt.date(2025, 3, 1)),  # a dated one keeps its date
])
def test_adding_a_reference_dates_an_undated_pack(date: dt.date | None, expected: dt.date) -> None:
    from library import drafts

    pack = drafts.add_reference(Pack("t", date=date), "a", one_by_one=True, today=dt.date(2026, 1, 2))
    assert pack.date == expected
    assert drafts.add_reference(Pack("t"), "a", one_by_one=True).date == dt.date.today()


@pytest.mark.parametrize(("year_from", "year_to", "expected"), [
    (2015, 2024, (2015, None)),  # "from 2015": the slider's end is the latest year held
    (1998, 2020, (None, 2020)),
    (1998, 2024, (None, None)),  # the whole range is no filter
    (2010, 2022, (2010, 2022)),
    (None, None, (None, None)),
    (1990, 2030, (None, None)),  # beyond what the library holds: no limit either
])
def test_a_year_range_records_only_the_ends_the_person_chose(year_from: int | None, year_to: int | None,
                                                              expected: tuple[int | None, int | None]) -> None:
    from library import drafts
    from library.search import SearchRequest

    request = drafts.open_years(SearchRequest(text="x", year_from=year_from, year_to=year_to), [1998, 2005, 2024])
    assert (request.year_from, request.year_to) == expected and request.text == "x"
    assert drafts.open_years(SearchRequest(year_from=2015, year_to=2024), []).year_to == 2024  # nothing held


def test_a_concern_pack_says_which_references_it_holds_and_is_dated(shipped: Library) -> None:
    from library.packs import CONCERN

    for concern in shipped.vocabulary.concerns:
        pack = shipped.concern_pack(concern.slug)
        found = shipped.search(concern_request(concern.themes))
        themes = ", ".join(shipped.vocabulary.label(t) for t in concern.themes)
        n = len(pack.references)
        which = (f"from the {n} references (of {found.total}) the library ranks highest for" if n < found.total
                 else "from the library’s only reference on" if n == 1 else f"from the library’s {n} references on")
        assert pack.selection.note == f"{which} the concern “{concern.label}” (themes: {themes})"
        assert pack.date == dt.date.today()
        assert {r.chosen_by for r in pack.references} <= {CONCERN}
        page = shipped.render_pack(pack, "md").decode("utf-8")
        assert f"Prepared on {uk_date(dt.date.today())}" in page
    assert any(len(shipped.concern_pack(c.slug).references) < shipped.search(concern_request(c.themes)).total
               for c in shipped.vocabulary.concerns)  # the "of N" wording is exercised
