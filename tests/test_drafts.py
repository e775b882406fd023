"""Edits of the pack in progress (library/drafts.py): citations follow their references."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from library import drafts
from library.errors import FieldConflict, MessageConflict, PackError
from library.packs import (MAX_REFERENCES, KeyMessage, Pack, PackReference, Search, Selection, dump_pack,
                           load_pack)

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
    burnout = Search(words="burnout")
    reviews = Search(words="seclusion", evidence_types=("Systematic review or meta-analysis",))
    pack = drafts.add_reference(drafts.new_pack(), "a", note="why", search=burnout)
    pack = drafts.add_reference(pack, "b", search=burnout)
    assert pack.selection == Selection(searches=(burnout,))
    pack = drafts.add_reference(pack, "a", note="ignored", one_by_one=True)  # already in: nothing chosen
    assert pack.selection == Selection(searches=(burnout,))
    pack = drafts.add_reference(pack, "c", search=reviews)
    pack = drafts.add_reference(pack, "d", one_by_one=True)
    assert pack.keys == ("a", "b", "c", "d")
    assert [r.note for r in pack.references] == ["why", "", "", ""]
    assert pack.selection == Selection(searches=(burnout, reviews), one_by_one=True)
    assert load_pack(dump_pack(pack)).selection == pack.selection
    with pytest.raises(PackError, match="not in this pack"):
        drafts.remove_reference(pack, "zzz")


def test_a_search_is_recorded_as_its_words_and_the_labels_of_its_filters() -> None:
    from library import Library, SearchRequest, Settings

    from .conftest import REPO

    vocabulary = Library(Settings.from_env(references_dir=REPO / "references"), sync=False).vocabulary
    request = SearchRequest(text="  compassion   fatigue ", themes=("burnout",), theme_mode="all",
                            evidence_types=("systematic-review", "qualitative"), settings=("inpatient",),
                            year_from=2010, year_to=2020)
    assert drafts.search_of(request, vocabulary) == Search(
        words="compassion fatigue", themes=(vocabulary.label("burnout"),), all_themes=False,  # one theme: any
        evidence_types=("Systematic review or meta-analysis", "Qualitative study"),
        settings=(vocabulary.label("inpatient"),), year_from=2010, year_to=2020)
    assert drafts.search_of(SearchRequest(), vocabulary) == Search()


def test_a_pack_holds_at_most_the_pack_file_limit() -> None:
    pack = pack_of("")
    for n in range(MAX_REFERENCES):
        pack = drafts.add_reference(pack, f"key{n}")
    with pytest.raises(PackError, match=f"at most {MAX_REFERENCES}"):
        drafts.add_reference(pack, "one-too-many")


def slot(text: str = "", *keys: str) -> drafts.MessageSlot:
    return drafts.MessageSlot.of(text, keys)


def edit(number: int, before: drafts.MessageSlot, after: drafts.MessageSlot,
         seen: tuple[str, ...] = ()) -> drafts.MessageEdit:
    return drafts.MessageEdit(number, before, after, seen)


def test_edited_applies_what_was_typed_and_dates_the_change() -> None:
    pack = pack_of("abc")
    result = drafts.edited(pack, title="  A question?  ", ask=" Fund it. ", audience="Board", prepared_by="Jo",
                           notes={"b": " Why b matters. "},
                           messages=[edit(1, slot(), slot(" First ", "c", "a")), edit(2, slot(), slot("  ", "b")),
                                     edit(3, slot(), slot("Second", "zzz"))], today=TODAY)
    assert (result.title, result.ask, result.audience, result.prepared_by) == ("A question?", "Fund it.", "Board", "Jo")
    assert [r.note for r in result.references] == ["note a", "Why b matters.", "note c"]
    assert result.key_messages == (KeyMessage("First", (1, 3)), KeyMessage("Second", ()))
    assert result.date == TODAY
    assert drafts.edited(result, title="A question?", today=dt.date(2030, 1, 1)) == result  # no change, no new date
    assert drafts.edited(result, messages=[edit(1, slot("First", "a", "c"), slot("First ", "c", "a"))],
                         today=dt.date(2030, 1, 1)) == result
    assert drafts.edited(result, title="   ", today=TODAY).title == drafts.DEFAULT_TITLE
    full = drafts.edited(pack, messages=[edit(n, slot(), slot(f"m{n}")) for n in range(1, 6)])
    assert len(full.key_messages) == 5
    with pytest.raises(PackError, match="at most 5 key messages"):
        drafts.edited(full, messages=[edit(6, slot(), slot("m6"))])


# The pack as saved now (its messages: text and cited keys), one person's edit made from an older
# version (number, before, after[, every message's text as shown]), and the messages after it; a
# string: a conflict, nothing changed, and the text the message holds now ("REMOVED": it is gone).
A, B, C = "Alpha message", "Bravo message", "Charlie message"
REMOVED = "REMOVED"
M1, M2 = "Burnout is common among mental health staff.", "Burnout is a response to the workplace."
MESSAGE_EDITS = [
    pytest.param([], (1, slot(), slot(M1)), [(M1, "")], id="a first message"),
    pytest.param([(M1, "")], (2, slot(), slot(M2)), [(M1, ""), (M2, "")],
                 id="another window wrote message 1 meanwhile: both kept"),
    pytest.param([(M1, ""), ("theirs", "")], (2, slot(), slot(M2)), [(M1, ""), ("theirs", ""), (M2, "")],
                 id="both wrote in empty box 2: the second is added, never written over the first"),
    pytest.param([(M1, ""), ("theirs", "")], (2, slot("mine before"), slot(M2)), "theirs",
                 id="both rewrote message 2: the second is told"),
    pytest.param([(M1, ""), (M2, "")], (2, slot(), slot(M2)), [(M1, ""), (M2, "")],
                 id="both wrote the same words: no conflict"),
    pytest.param([(M1, "a"), (M2, "")], (1, slot(M1), slot(M1 + " Often.")), [(M1 + " Often.", "a"), (M2, "")],
                 id="a rewrite of an unchanged message keeps its citations"),
    pytest.param([(M1, "ab")], (1, slot(M1, "a"), slot(M1, "a", "c")), [(M1, "abc")],
                 id="citations merge: another window ticked b, this one c"),
    pytest.param([(M1, "b")], (1, slot(M1, "a"), slot(M1)), [(M1, "b")],
                 id="citations merge: another window ticked b, this one unticked a"),
    pytest.param([("theirs", "a")], (1, slot(M1, "a"), slot(M1, "a", "b")), "theirs",
                 id="a reference ticked under a message rewritten elsewhere: told, not put under theirs"),
    pytest.param([(M1, ""), (M2, "")], (1, slot(M1), slot("  ")), [(M2, "")],
                 id="a message emptied is dropped and the next moves up"),
    pytest.param([("theirs", "")], (1, slot(M1), slot()), "theirs", id="emptying a message rewritten elsewhere"),
    # Another window emptied message 1, so the others moved up; this window still shows A, B, C.
    pytest.param([(B, ""), (C, "")], (2, slot(B), slot("Bravo rewritten by B"), (A, B, C)),
                 [("Bravo rewritten by B", ""), (C, "")], id="a rewrite finds its message after it moved up"),
    pytest.param([(B, ""), (C, "")], (3, slot(C), slot(C, "c"), (A, B, C)), [(B, ""), (C, "c")],
                 id="a reference ticked finds its message after it moved up"),
    pytest.param([(B, "a"), (C, "")], (2, slot(B, "a"), slot(B), (A, B, C)), [(B, ""), (C, "")],
                 id="a reference unticked finds its message after it moved up"),
    pytest.param([(B, ""), (C, "")], (1, slot(A), slot("Alpha again"), (A, B, C)), REMOVED,
                 id="a rewrite of a message removed elsewhere: told it was removed"),
    pytest.param([(B, ""), (C, "")], (1, slot(A, "a"), slot(A), (A, B, C)), REMOVED,
                 id="a reference unticked under a message removed elsewhere: told it was removed"),
    pytest.param([(A, ""), ("Bravo by A", ""), (C, "")], (2, slot(B), slot("Bravo by B"), (A, B, C)),
                 "Bravo by A", id="a rewrite of a message rewritten elsewhere: told, and theirs quoted"),
    pytest.param([("Bravo by A", ""), (C, "")], (2, slot(B), slot("Bravo by B"), (A, B, C)),
                 "Bravo by A", id="rewritten elsewhere after the one above it was removed"),
    pytest.param([(B, ""), (A, "a"), (B, "b")], (3, slot(B, "b"), slot("Second B", "b"), (B, A, B)),
                 [(B, ""), (A, "a"), ("Second B", "b")], id="two messages alike: the one citing what it cited"),
    pytest.param([(C, "")], (1, slot(), slot(A), (B, C)), [(C, ""), (A, "")],
                 id="a new message in a box another window's message moved into is added"),
    pytest.param([(M1, "")], (3, slot(), slot(M2, "c")), [(M1, ""), (M2, "c")],
                 id="a message written in the third box follows the first"),
]


@pytest.mark.parametrize(("now", "change", "after"), MESSAGE_EDITS)
def test_a_key_message_edit_applies_to_the_newest_version_or_says_it_conflicts(
        now: list[tuple[str, str]], change: tuple,
        after: list[tuple[str, str]] | str) -> None:
    pack = pack_of("abc")
    numbers = {"a": 1, "b": 2, "c": 3}
    pack = Pack(title="T", references=pack.references,
                key_messages=tuple(KeyMessage(t, tuple(numbers[k] for k in keys)) for t, keys in now))
    number, before, typed, *seen = change
    made = edit(number, before, typed, *seen)
    if isinstance(after, str):
        how = "removed" if after == REMOVED else "changed"
        with pytest.raises(MessageConflict, match=f"Key message {number} was {how}") as raised:
            drafts.edited(pack, messages=[made])
        assert (raised.value.number, raised.value.yours) == (number, typed.text)
        assert raised.value.theirs == (None if after == REMOVED else after)
        return
    result = drafts.edited(pack, messages=[made], today=TODAY)
    assert [(m.text, "".join(drafts.cited_keys(result, m))) for m in result.key_messages] == after
    assert load_pack(dump_pack(result)) == result


def test_two_people_on_one_pack_keep_both_messages_and_the_second_writer_of_one_is_told() -> None:
    """The walk-through: both windows opened the same version; each writes its own message."""
    opened = pack_of("ab")
    shown = drafts.message_slots(opened)  # what both windows' boxes hold: nothing yet
    assert shown == ()
    a = drafts.edited(opened, messages=[edit(1, slot(), slot(M1, "a"))], today=TODAY)
    b = drafts.edited(a, messages=[edit(2, slot(), slot(M2, "b"))], today=TODAY)  # B never saw A's message
    assert [(m.text, m.cites) for m in b.key_messages] == [(M1, (1,)), (M2, (2,))]
    with pytest.raises(MessageConflict):  # B rewrote A's message 1 meanwhile: A's text is not the one B started from
        drafts.edited(drafts.edited(a, messages=[edit(1, slot(M1, "a"), slot("A again", "a"))]),
                      messages=[edit(1, slot(M1, "a"), slot(M2, "a"))])
    # Once told, B may keep their text: an edit from the version they were shown replaces A's.
    kept = drafts.edited(a, messages=[edit(1, drafts.message_slots(a)[0], slot(M2, "a"))], today=TODAY)
    assert [(m.text, m.cites) for m in kept.key_messages] == [(M2, (1,))]


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
    """An uploaded pack's details of a work this collection holds come from the collection; a work
    it does not hold (an unknown key, or a key that here names a different work) keeps the details
    saved in the file, but never their web address."""
    from dataclasses import replace as dc_replace

    from library import Library, Settings
    from library.packs import Snapshot

    from .conftest import REPO

    library = Library(Settings.from_env(references_dir=REPO / "references"), sync=False)
    felitti = library.get("felitti1998relationship")
    same_work = Snapshot.from_record(felitti)
    same_work = dc_replace(same_work, fields=(*same_work.fields, ("url", "https://evil.example/here")))
    other_work = Snapshot.from_details(title="Old title", year=1998, url="https://evil.example/other")
    elsewhere = Snapshot("misc", (("title", "A work from elsewhere"), ("year", "2020"), ("doi", "10.5555/x"),
                                  ("url", "https://evil.example/away")))
    for snapshot, kept in ((same_work, Snapshot.from_record(felitti)),
                           (other_work, Snapshot.from_details(title="Old title", year=1998))):
        pack = Pack(title="T", references=(PackReference("felitti1998relationship", "n", snapshot=snapshot),
                                           PackReference("elsewhere2020", "n", snapshot=elsewhere)))
        safe = drafts.from_upload(pack, library.get_many(pack.keys))
        assert safe.references[0].snapshot == kept
        assert safe.references[1].snapshot == Snapshot("misc", (("title", "A work from elsewhere"),
                                                                ("year", "2020"), ("doi", "10.5555/x")))
        assert [r.note for r in safe.references] == ["n", "n"]


# The pack's boxes now (title, ask), one person's edit of one box made from an older version
# (field, before, after), and the value after it; a tuple: a conflict naming (the box, its text now).
FIELD_EDITS = [
    pytest.param(("T", "Fund it."), ("ask", "Fund it.", "Fund it now."), "Fund it now.", id="an unchanged ask"),
    pytest.param(("T", "Theirs."), ("ask", "Fund it.", "Mine."), ("What you are asking the manager to do", "Theirs."),
                 id="an ask another window changed meanwhile: told, theirs kept"),
    pytest.param(("T", "Mine."), ("ask", "Fund it.", " Mine. "), "Mine.", id="both typed the same ask"),
    pytest.param(("Theirs", ""), ("title", "T", "Mine"), ("Title", "Theirs"), id="a title changed meanwhile"),
    pytest.param((drafts.DEFAULT_TITLE, ""), ("title", "", "Mine"), "Mine",
                 id="an empty title is the default title"),
    pytest.param(("T", ""), ("audience", "", "Board"), "Board", id="an audience typed into an empty box"),
    pytest.param(("T", ""), ("note", "note a", "Mine", "a"), "Mine", id="an unchanged note"),
    pytest.param(("T", ""), ("note", "old note", "Mine", "b"), ("Why this matters here (reference [2])", "note b"),
                 id="a note changed meanwhile"),
]


@pytest.mark.parametrize(("now", "change", "after"), FIELD_EDITS)
def test_a_box_edit_applies_to_the_newest_version_only_if_it_still_holds_what_the_person_saw(
        now: tuple[str, str], change: tuple[str, ...], after: str | tuple[str, str]) -> None:
    pack = replace(pack_of("abc"), title=now[0], ask=now[1])
    made = drafts.FieldEdit(*change)

    def value(p: Pack) -> str:
        return next(r.note for r in p.references if r.key == made.key) if made.key else getattr(p, made.field)
    if isinstance(after, tuple):
        with pytest.raises(FieldConflict, match="was changed in another window") as raised:
            drafts.edited(pack, fields=[made])
        assert (raised.value.label, raised.value.theirs, raised.value.yours) == (*after, made.after.strip())
        return
    result = drafts.edited(pack, fields=[made], today=TODAY)
    assert value(result) == after
    assert result.date == (TODAY if result != pack else pack.date)


def test_two_windows_writing_the_ask_the_second_is_told_and_may_keep_theirs() -> None:
    opened = pack_of("ab")
    a = drafts.edited(opened, fields=[drafts.FieldEdit("ask", "", "Fund a wellbeing lead.")])
    with pytest.raises(FieldConflict) as raised:  # B never saw A's ask
        drafts.edited(a, fields=[drafts.FieldEdit("ask", "", "Train every ward.")])
    assert a.ask == "Fund a wellbeing lead."
    kept = drafts.edited(a, fields=[drafts.FieldEdit("ask", raised.value.theirs, "Train every ward.")])
    assert kept.ask == "Train every ward."
    with pytest.raises(PackError, match="no box called"):
        drafts.FieldEdit("key_messages", "", "x")
