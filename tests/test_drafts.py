"""Edits of the pack in progress (library/drafts.py): citations follow their references."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from library import drafts
from library.errors import PackError
from library.packs import MAX_REFERENCES, KeyMessage, Pack, PackReference, dump_pack, load_pack

TODAY = dt.date(2026, 2, 3)


def pack_of(keys: str, messages: tuple[tuple[int, ...], ...] = ()) -> Pack:
    return Pack(title="T", references=tuple(PackReference(k, f"note {k}") for k in keys),
                key_messages=tuple(KeyMessage(f"m{i}", cites) for i, cites in enumerate(messages)))


def cited(pack: Pack) -> list[list[str]]:
    return [drafts.cited_keys(pack, m) for m in pack.key_messages]


# pack (keys, citations by number), the edit, keys after, each message's cited keys after
MOVES = [
    ("abc", ((1,), (2, 3)), ("move", "a", 1), "bac", [["a"], ["b", "c"]]),
    ("abc", ((1,), (2, 3)), ("move", "c", -2), "cab", [["a"], ["c", "b"]]),  # in number order
    ("abc", ((1, 3),), ("move", "a", -1), "abc", [["a", "c"]]),  # already first: unchanged
    ("abc", ((1, 3),), ("move", "c", 5), "abc", [["a", "c"]]),
    ("abc", ((1, 2), (2,)), ("remove", "b", 0), "ac", [["a"], []]),
    ("abc", ((3,), (1, 3)), ("remove", "a", 0), "bc", [["c"], ["c"]]),
]


@pytest.mark.parametrize(("keys", "messages", "edit", "after", "cites_after"), MOVES)
def test_citations_follow_their_references(keys: str, messages: tuple, edit: tuple, after: str,
                                           cites_after: list[list[str]]) -> None:
    pack = pack_of(keys, messages)
    before = cited(pack)
    kind, key, step = edit
    result = drafts.move_reference(pack, key, step) if kind == "move" else drafts.remove_reference(pack, key)
    assert "".join(result.keys) == after
    assert cited(result) == cites_after
    if kind == "move":
        assert [sorted(c) for c in cited(result)] == [sorted(c) for c in before]  # the same works, renumbered
        assert {r.key: r.note for r in result.references} == {r.key: r.note for r in pack.references}


@given(st.permutations("abcdef"), st.lists(st.tuples(st.sampled_from("abcdef"), st.integers(-6, 6)), max_size=12))
def test_any_sequence_of_moves_keeps_every_citation_on_its_work(keys: list[str], moves: list[tuple[str, int]]) -> None:
    pack = pack_of("".join(keys), ((1, 2), (3,), (4, 5, 6)))
    before = [set(c) for c in cited(pack)]
    for key, step in moves:
        pack = drafts.move_reference(pack, key, step)
        assert [set(c) for c in cited(pack)] == before
        assert all(m.cites == tuple(sorted(m.cites)) for m in pack.key_messages)
    assert load_pack(dump_pack(pack)) == pack  # every number still names a reference of the pack


def test_add_reference_keeps_the_note_and_how_it_was_found_once() -> None:
    pack = drafts.add_reference(drafts.new_pack(), "a", note="why", how="a search for “burnout”")
    pack = drafts.add_reference(pack, "b", how="a search for “burnout”")
    pack = drafts.add_reference(pack, "a", note="ignored", how="reference a chosen by hand")
    assert pack.keys == ("a", "b")
    assert [r.note for r in pack.references] == ["why", ""]
    assert pack.selection.searches == ("a search for “burnout”", "reference a chosen by hand")
    with pytest.raises(PackError, match="not in this pack"):
        drafts.remove_reference(pack, "zzz")


def test_a_pack_holds_at_most_the_pack_file_limit() -> None:
    pack = pack_of("")
    for n in range(MAX_REFERENCES):
        pack = drafts.add_reference(pack, f"key{n}")
    with pytest.raises(PackError, match=f"at most {MAX_REFERENCES}"):
        drafts.add_reference(pack, "one-too-many")


def test_edited_applies_what_was_typed_and_dates_the_change() -> None:
    pack = pack_of("abc")
    result = drafts.edited(pack, title="  A question?  ", ask=" Fund it. ", audience="Board", prepared_by="Jo",
                           notes={"b": " Why b matters. "},
                           messages=[("First", ["c", "a"]), ("  ", ["b"]), ("Second", ["zzz"])], today=TODAY)
    assert (result.title, result.ask, result.audience, result.prepared_by) == ("A question?", "Fund it.", "Board", "Jo")
    assert [r.note for r in result.references] == ["note a", "Why b matters.", "note c"]
    assert result.key_messages == (KeyMessage("First", (1, 3)), KeyMessage("Second", ()))
    assert result.date == TODAY
    assert drafts.edited(result, title="A question?", today=dt.date(2030, 1, 1)) == result  # no change, no new date
    assert drafts.edited(result, title="   ", today=TODAY).title == drafts.DEFAULT_TITLE
    with pytest.raises(PackError, match="at most 5 key messages"):
        drafts.edited(pack, messages=[(f"m{n}", []) for n in range(6)])


@pytest.mark.parametrize(("pack", "empty"), [
    (drafts.new_pack(), True),
    (Pack(title=""), True),
    (Pack(title="My title"), False),
    (Pack(title=drafts.DEFAULT_TITLE, ask="Fund it."), False),
    (pack_of("a"), False),
])
def test_an_untouched_pack_is_empty(pack: Pack, empty: bool) -> None:
    assert drafts.is_empty(pack) is empty


def test_an_uploaded_pack_keeps_no_web_address_for_a_reference_the_library_lacks() -> None:
    from library.packs import Snapshot

    here = Snapshot.from_details(title="Old title", year=1998, url="https://evil.example/here")
    elsewhere = Snapshot("misc", (("title", "A work from elsewhere"), ("year", "2020"), ("doi", "10.5555/x"),
                                  ("url", "https://evil.example/away")))
    pack = Pack(title="T", references=(PackReference("felitti1998relationship", "n", snapshot=here),
                                       PackReference("elsewhere2020", "n", snapshot=elsewhere)))
    from library import Library, Settings

    from .conftest import REPO

    library = Library(Settings.from_env(references_dir=REPO / "references"), sync=False)
    records = library.get_many(pack.keys)
    safe = drafts.from_upload(pack, records)
    assert safe.references[0].snapshot == Snapshot.from_record(records["felitti1998relationship"])  # type: ignore[arg-type]
    assert safe.references[1].snapshot == Snapshot("misc", (("title", "A work from elsewhere"), ("year", "2020"),
                                                            ("doi", "10.5555/x")))
    assert [r.note for r in safe.references] == ["n", "n"]
