"""Evidence packs: the JSON format, snapshots and `compare`, (the store: test_packstore.py)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from pathlib import Path

import pytest

from library.bibtex import parse_file
from library.errors import PackError
from library.exporters import build_pack
from library.packs import (KeyMessage, Pack, PackReference, Selection, Snapshot, compare, dump_pack,
                           load_pack, resolve_records)
from library.records import Record

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
        selection=Selection(("trauma-informed care",), ("Evidence type: any",), "Chosen with the team"),
    )


# ---------------------------------------------------------------- JSON


def test_json_round_trip(pack: Pack) -> None:
    text = dump_pack(pack)
    assert load_pack(text) == pack
    assert load_pack(text.encode("utf-8")) == pack
    assert dump_pack(load_pack(text)) == text


def test_round_trip_keeps_non_ascii_names(pack: Pack) -> None:
    text = dump_pack(pack)
    assert "Šimić" in text and "Ó Súilleabháin" in text  # readable, not \u escapes
    names = load_pack(text).references[3].snapshot.authors  # type: ignore[union-attr]
    assert [n.family for n in names] == ["Müller", "Šimić", "Ó Súilleabháin"]


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


def test_unknown_keys_are_tolerated() -> None:
    data = json.loads(MINIMAL)
    data["colour_scheme"] = "teal"
    data["references"][0]["rating"] = 5
    data["references"][0]["snapshot"] = {"title": "T", "year": 1998, "future_field": [1, 2]}
    pack = load_pack(json.dumps(data))
    assert pack.references[0].snapshot == Snapshot(title="T", year=1998)


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
    changed = Record.from_entry(clark.entry.with_fields(title="A new title", school="Another University")
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
    assert reference.snapshot is not None and reference.snapshot.year == 2021


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
