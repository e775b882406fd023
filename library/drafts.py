"""The pack in progress: each edit the app makes, as a function from one `Pack` to the next.

The pack page, the search, concern and reference pages all change the advocate's
pack through these functions and save the result at once (`PackStore.save`), so
the pack in progress is always the saved pack: a reload, another page or a
server restart finds it as it was left.  Widgets only show it.

Citation numbers follow their references (the `Pack` methods renumber them):
after a reference is moved or removed, a key message that cited it still cites
the same work (or no longer cites it, when it was removed).

Every edit names only what the advocate changed, so `ui.change_pack` can apply it
again to a version another window saved meanwhile.  A key message is edited
through `MessageEdit`, which carries what the message held before: applied to a
newer version, it changes only that message, and finds a real conflict (someone
else rewrote the same message) instead of overwriting it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Mapping, Sequence

from .errors import FieldConflict, MessageConflict, PackError
from .packs import (MAX_KEY_MESSAGES, MAX_REFERENCES, ONE_BY_ONE, KeyMessage, Pack, PackReference, Search,
                    uses_saved_details)
from .records import Record

if TYPE_CHECKING:
    from .search import SearchRequest
    from .taxonomy import Vocabulary

DEFAULT_TITLE = "Evidence brief"


def new_pack() -> Pack:
    """An empty pack, as the pack page starts one."""
    return Pack(title=DEFAULT_TITLE, date=dt.date.today())


def is_empty(pack: Pack) -> bool:
    """True for a pack with nothing an advocate wrote or chose (not worth saving)."""
    return (not pack.references and not pack.key_messages and not pack.ask and not pack.audience
            and not pack.prepared_by and pack.title in ("", DEFAULT_TITLE))


def add_reference(pack: Pack, key: str, *, note: str = "", search: Search | None = None,
                  one_by_one: bool = False, today: dt.date | None = None) -> Pack:
    """The pack with a reference added at the end, and how it was chosen: from `search`, or
    `one_by_one` from its own page (recorded on the reference too, `PackReference.chosen_by`).
    A pack with no date is dated `today`.  A reference already in the pack leaves it unchanged."""
    if key in pack.keys:
        return pack
    if len(pack.references) >= MAX_REFERENCES:
        raise PackError(f"A pack holds at most {MAX_REFERENCES} references; remove some first.")
    chosen_by = search if search is not None else ONE_BY_ONE if one_by_one else None
    pack = replace(pack, references=pack.references + (PackReference(key, note, chosen_by=chosen_by),),
                   date=pack.date or today or dt.date.today())
    if search is not None:
        pack = replace(pack, selection=pack.selection.with_search(search))
    if one_by_one and not pack.selection.one_by_one:
        pack = replace(pack, selection=replace(pack.selection, one_by_one=True))
    return pack


def search_of(request: "SearchRequest", vocabulary: "Vocabulary") -> Search:
    """A search as a pack records it: the words and filters, with the filters' labels."""
    return Search(
        words=" ".join(request.text.split()),
        themes=tuple(vocabulary.label(t) for t in request.themes),
        all_themes=request.theme_mode == "all" and len(request.themes) > 1,
        evidence_types=tuple(vocabulary.label(t) for t in request.evidence_types),
        settings=tuple(vocabulary.label(s) for s in request.settings),
        year_from=request.year_from, year_to=request.year_to)


def open_years(request: "SearchRequest", years_held: Sequence[int]) -> "SearchRequest":
    """The request with only the year bounds the person chose: the search page's slider always
    holds both ends, so an end at the library's first or latest year is no limit ("from 2015",
    not "2015 to 2024", which would stop being true when a newer reference arrives)."""
    if not years_held:
        return request
    first, last = min(years_held), max(years_held)
    return replace(request,
                   year_from=None if request.year_from is not None and request.year_from <= first else request.year_from,
                   year_to=None if request.year_to is not None and request.year_to >= last else request.year_to)


def remove_reference(pack: Pack, key: str) -> Pack:
    """The pack without one reference; key messages stop citing it (`Pack.without` renumbers)."""
    return pack.without(key)


def move_reference(pack: Pack, key: str, step: int) -> Pack:
    """The pack with one reference moved up (negative `step`) or down the list (`Pack.moved`)."""
    return pack.moved(key, step)


def from_upload(pack: Pack, records: Mapping[str, Record | None]) -> Pack:
    """A pack file someone uploaded, made safe to show: the details of each reference this
    collection holds come from the collection, and a reference it does not hold keeps the
    details saved in the file but not their web address (which could point anywhere, under a
    manager's trust in the brief).  Its DOI, resolved by doi.org, is kept.
    """
    pack = pack.with_snapshots(records)
    references = tuple(
        replace(r, snapshot=r.snapshot.without_links()) if uses_saved_details(r, records) and r.snapshot else r
        for r in pack.references)
    return replace(pack, references=references)


def cited_keys(pack: Pack, message: KeyMessage) -> list[str]:
    return [pack.references[n - 1].key for n in message.cites if 0 < n <= len(pack.references)]


@dataclass(frozen=True)
class MessageSlot:
    """What one "Key message" box and its reference picker hold: the text and the cited keys."""

    text: str = ""
    cites: frozenset[str] = frozenset()

    @classmethod
    def of(cls, text: str, keys: Sequence[str] = ()) -> "MessageSlot":
        return cls(text.strip(), frozenset(keys))


def message_slots(pack: Pack) -> tuple[MessageSlot, ...]:
    """The pack's key messages as the page's boxes show them, in order."""
    return tuple(MessageSlot(m.text, frozenset(cited_keys(pack, m))) for m in pack.key_messages)


@dataclass(frozen=True)
class MessageEdit:
    """Key message `number` (1-based, as the page labels it) changed from `before` to `after`.

    Its text and its citations are separate parts: a part that `before` and `after` agree on
    is not touched, so applying the edit to a newer version keeps what others changed there.
    The message is found in the newer version by what it held (`before`), wherever it moved;
    `seen` is every message's text as the page showed them, to tell a message someone else
    changed from one they removed.  An empty `before` is a new message: it is added.
    """

    number: int
    before: MessageSlot
    after: MessageSlot
    seen: tuple[str, ...] = ()


def _find(pack: Pack, messages: Sequence[KeyMessage], edit: MessageEdit) -> int | None:
    """Where the message `edit` was made on is now: the one message still holding its text
    (among several, the one citing what it cited, then the nearest to where it was)."""
    hits = [i for i, m in enumerate(messages) if m.text == edit.before.text]
    if len(hits) > 1:
        hits = [i for i in hits if frozenset(cited_keys(pack, messages[i])) == edit.before.cites] or hits
    return min(hits, key=lambda i: abs(i - (edit.number - 1))) if hits else None


def _conflict(pack: Pack, messages: Sequence[KeyMessage], edit: MessageEdit) -> MessageConflict:
    """The message `edit` was made on holds something else now, or is gone: say which."""
    texts = {m.text for m in messages}
    gone_before = sum(1 for t in edit.seen[:edit.number - 1] if t not in texts)
    at = edit.number - 1 - gone_before  # where it would be, had it only moved up
    if 0 <= at < len(messages) and messages[at].text and messages[at].text not in edit.seen:
        return MessageConflict(edit.number, messages[at].text, edit.after.text,
                               tuple(cited_keys(pack, messages[at])))
    return MessageConflict(edit.number, None, edit.after.text)


def edit_messages(pack: Pack, edits: Sequence[MessageEdit]) -> Pack:
    """The pack with each edited key message's changed parts applied, onto whatever the pack
    holds now (another window may have saved a newer version since the edit's `before`).

    Each edit finds its message by the text it held (`_find`), not by its place: another window
    may have emptied a message above it, so it moved up.  When no message holds that text any
    more, someone else rewrote or removed it meanwhile, and `MessageConflict` says which
    (nothing is changed).  A message written in an empty box is added after the others.
    Citations merge: the references ticked are added and those unticked removed, whatever
    others ticked.  Messages left empty are dropped, the rest move up.
    """
    if not edits:
        return pack
    numbers = {key: number for number, key in enumerate(pack.keys, 1)}
    messages = list(pack.key_messages)
    for edit in edits:
        if not 1 <= edit.number <= MAX_KEY_MESSAGES:
            raise PackError(f"A brief has at most {MAX_KEY_MESSAGES} key messages.")
        before, after = edit.before.text.strip(), edit.after.text.strip()
        edit = replace(edit, before=MessageSlot(before, edit.before.cites), after=MessageSlot(after, edit.after.cites))
        if edit.before == edit.after:
            continue
        if not before:  # a new message: added, never written over another
            if not after:
                continue  # references ticked under an empty box: nothing to save yet
            index = next((i for i, m in enumerate(messages) if m.text == after), None)
            if index is None:
                messages.append(KeyMessage(after))
                index = len(messages) - 1
            edit = replace(edit, before=MessageSlot(after, edit.before.cites))
        else:
            found = _find(pack, messages, edit)
            if found is None:
                raise _conflict(pack, messages, edit)
            index = found
        message = messages[index]
        cites = frozenset(cited_keys(pack, message))
        if edit.after.cites != edit.before.cites:
            cites = (cites | (edit.after.cites - edit.before.cites)) - (edit.before.cites - edit.after.cites)
            message = replace(message, cites=tuple(sorted(numbers[k] for k in cites if k in numbers)))
        messages[index] = replace(message, text=after)
    written = tuple(m for m in messages if m.text)
    if len(written) > MAX_KEY_MESSAGES:
        raise PackError(f"A brief has at most {MAX_KEY_MESSAGES} key messages.")
    return replace(pack, key_messages=written)


# The parts of a pack typed in one box each, as the page names them (a reference's note by its key).
FIELD_LABELS = {"title": "Title", "ask": "What you are asking the manager to do", "audience": "Who it is for",
                "prepared_by": "Prepared by", "note": "Why this matters here"}


@dataclass(frozen=True)
class FieldEdit:
    """One box (`field`: title, ask, audience, prepared_by, or the `note` of reference `key`)
    changed from `before` (what the page showed) to `after`."""

    field: str
    before: str
    after: str
    key: str = ""

    def __post_init__(self) -> None:
        if self.field not in FIELD_LABELS or (self.field == "note") != bool(self.key):
            raise PackError(f"There is no box called {self.field!r} in a pack.")


def field_value(pack: Pack, field: str, key: str, value: str | None = None) -> str:
    if field == "note":
        if value is None:
            return next((r.note for r in pack.references if r.key == key), "")
        return value.strip()
    text = (getattr(pack, field) if value is None else value).strip()
    return (text or DEFAULT_TITLE) if field == "title" else text


def edit_fields(pack: Pack, edits: Sequence[FieldEdit]) -> Pack:
    """The pack with each box's new text, applied onto whatever the pack holds now: only where
    it still holds the text the person started from (or already the new one).  Otherwise
    someone else changed that box meanwhile, and `FieldConflict` says so (nothing is changed).
    A note of a reference removed meanwhile is not saved (the reference is gone)."""
    for edit in edits:
        now = field_value(pack, edit.field, edit.key)
        before = field_value(pack, edit.field, edit.key, edit.before)
        after = field_value(pack, edit.field, edit.key, edit.after)
        if now == after or before == after:
            continue
        if now != before:
            label = FIELD_LABELS[edit.field]
            if edit.field == "note":
                label += f" (reference [{pack.keys.index(edit.key) + 1}])" if edit.key in pack.keys else ""
            raise FieldConflict(label, now, after)
        if edit.field == "note":
            pack = replace(pack, references=tuple(replace(r, note=after) if r.key == edit.key else r
                                                  for r in pack.references))
        else:
            pack = replace(pack, **{edit.field: after})
    return pack


def edited(pack: Pack, *, title: str | None = None, ask: str | None = None, audience: str | None = None,
           prepared_by: str | None = None, notes: Mapping[str, str] | None = None,
           further_reading: Mapping[str, bool] | None = None,
           messages: Sequence[MessageEdit] = (), fields: Sequence[FieldEdit] = (),
           today: dt.date | None = None) -> Pack:
    """The pack with what the advocate typed: each argument given replaces that part.

    `further_reading` moves references to (True) or from (False) the brief's "Further
    reading" line, where they are listed without their notes.  `messages` are the key messages
    changed (`edit_messages`), `fields` the boxes changed from what the page showed
    (`edit_fields`: a second writer is told instead of overwriting the first).  The brief's date becomes `today` whenever anything changed.
    """
    changes: dict[str, object] = {}
    if title is not None:
        changes["title"] = title.strip() or DEFAULT_TITLE
    for name, value in (("ask", ask), ("audience", audience), ("prepared_by", prepared_by)):
        if value is not None:
            changes[name] = value.strip()
    if notes is not None or further_reading is not None:
        notes, further = notes or {}, further_reading or {}
        changes["references"] = tuple(
            replace(r, note=notes[r.key].strip() if r.key in notes else r.note,
                    further_reading=further.get(r.key, r.further_reading))
            for r in pack.references)
    result = edit_messages(edit_fields(replace(pack, **changes), fields), messages)  # type: ignore[arg-type]
    if result != pack:
        result = replace(result, date=today or dt.date.today())
    return result
