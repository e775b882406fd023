"""The pack in progress: each edit the app makes, as a function from one `Pack` to the next.

The pack page, the search, concern and reference pages all change the advocate's
pack through these functions and save the result at once (`PackStore.save`), so
the pack in progress is always the saved pack: a reload, another page or a
server restart finds it as it was left.  Widgets only show it.

Citation numbers follow their references (the `Pack` methods renumber them):
after a reference is moved or removed, a key message that cited it still cites
the same work (or no longer cites it, when it was removed).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Mapping, Sequence

from .errors import PackError
from .packs import MAX_KEY_MESSAGES, MAX_REFERENCES, KeyMessage, Pack, PackReference
from .records import Record

DEFAULT_TITLE = "Evidence brief"


def new_pack() -> Pack:
    """An empty pack, as the pack page starts one."""
    return Pack(title=DEFAULT_TITLE, date=dt.date.today())


def is_empty(pack: Pack) -> bool:
    """True for a pack with nothing an advocate wrote or chose (not worth saving)."""
    return (not pack.references and not pack.key_messages and not pack.ask and not pack.audience
            and not pack.prepared_by and pack.title in ("", DEFAULT_TITLE))


def add_reference(pack: Pack, key: str, *, note: str = "", how: str = "") -> Pack:
    """The pack with a reference added at the end (already there: unchanged, but `how` recorded)."""
    if key not in pack.keys:
        if len(pack.references) >= MAX_REFERENCES:
            raise PackError(f"A pack holds at most {MAX_REFERENCES} references; remove some first.")
        pack = replace(pack, references=pack.references + (PackReference(key, note),))
    if how and how not in pack.selection.searches:
        pack = replace(pack, selection=replace(pack.selection, searches=pack.selection.searches + (how,)))
    return pack


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
        replace(r, snapshot=r.snapshot.without_links())
        if records.get(r.key) is None and r.snapshot is not None else r
        for r in pack.references)
    return replace(pack, references=references)


def cited_keys(pack: Pack, message: KeyMessage) -> list[str]:
    return [pack.references[n - 1].key for n in message.cites if 0 < n <= len(pack.references)]


def edited(pack: Pack, *, title: str | None = None, ask: str | None = None, audience: str | None = None,
           prepared_by: str | None = None, notes: Mapping[str, str] | None = None,
           further_reading: Mapping[str, bool] | None = None,
           messages: Sequence[tuple[str, Sequence[str]]] | None = None,
           today: dt.date | None = None) -> Pack:
    """The pack with what the advocate typed: each argument given replaces that part.

    `further_reading` moves references to (True) or from (False) the brief's "Further
    reading" line, where they are listed without their notes.  `messages` are (text, keys of the references it cites) in order; empty texts
    are left out.  The brief's date becomes `today` whenever anything changed.
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
    if messages is not None:
        numbers = {key: number for number, key in enumerate(pack.keys, 1)}
        written = [(text.strip(), keys) for text, keys in messages if text.strip()]
        if len(written) > MAX_KEY_MESSAGES:
            raise PackError(f"A brief has at most {MAX_KEY_MESSAGES} key messages.")
        changes["key_messages"] = tuple(
            KeyMessage(text, tuple(sorted({numbers[k] for k in keys if k in numbers}))) for text, keys in written)
    result = replace(pack, **changes)  # type: ignore[arg-type]
    if result != pack:
        result = replace(result, date=today or dt.date.today())
    return result
