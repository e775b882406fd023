"""Screening decisions, exclusion reasons, saved searches and what discovery found, in the shared database.

A librarian screens what discovery searches find as in Rayyan or Covidence:
include, exclude with a reason, or maybe.  Decisions are kept (so an excluded
work does not come back in the next search) and can be exported as CSV, a
PRISMA-style record of how references were chosen.  A work is recognised
again by its DOI, its PMID, or its title, year and first author, whichever
service finds it.

Saved searches remember which works they have already shown, so re-running one
shows only what is new; the last check's count of new works is kept with its time.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, delete, func, insert, or_, select, update

from .database import Database
from .errors import ScreeningError
from .sources.model import SORTS, TYPES, Candidate, Query
from .tables import (discovered, exclusion_reasons, saved_search_seen, saved_searches,
                     screening_decisions)

DECISIONS = ("included", "excluded", "maybe")
DECISION_LABELS = {"included": "Included", "excluded": "Excluded", "maybe": "Maybe"}
MAX_REASON = 200
MAX_REASONS = 50
MAX_NAME = 100
MIN_TITLE_FOR_MATCHING = 10  # shorter titles ("Editorial") say too little to recognise a work by
CSV_COLUMNS = ("Decision", "Reason for exclusion", "Title", "Authors", "Year", "Published in", "DOI", "PMID",
               "Found by", "Source", "Saved search", "Reference key", "Decided by", "Decided on (UTC)",
               "First decided on (UTC)")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Decision:
    """The current decision on one work, with what is needed to report it."""

    id: str
    decision: str  # included | excluded | maybe
    reason: str
    reference_key: str
    title: str
    authors: str
    year: int | None
    venue: str
    doi: str
    pmid: str
    source: str
    query: str
    saved_search: str
    decided_by: str
    decided_at: dt.datetime
    first_decided_at: dt.datetime
    title_key: str = ""  # normalised title, year and first author (see Candidate.title_key)

    @property
    def label(self) -> str:
        return DECISION_LABELS[self.decision]


@dataclass(frozen=True)
class SavedSearch:
    """A discovery search followed by name."""

    name: str
    query: Query
    created: dt.datetime
    created_by: str
    last_run: dt.datetime | None = None
    checked_at: dt.datetime | None = None
    new_count: int | None = None  # works the last check found that the search had not shown
    check_message: str = ""  # why the last check failed


def clean_name(name: str) -> str:
    """A saved search's name, tidied, or `ScreeningError` saying what is wrong with it."""
    text = " ".join(_CONTROL.sub(" ", name or "").split())
    if not text:
        raise ScreeningError("Give the saved search a name, e.g. 'Staff burnout reviews'.")
    if len(text) > MAX_NAME:
        raise ScreeningError(f"A saved search's name can be at most {MAX_NAME} characters long.")
    return text


def clean_reason(reason: str) -> str:
    text = " ".join(_CONTROL.sub(" ", reason or "").split())
    if not text:
        raise ScreeningError("An exclusion reason cannot be empty.")
    if len(text) > MAX_REASON:
        raise ScreeningError(f"An exclusion reason can be at most {MAX_REASON} characters long.")
    return text


class ScreeningStore:
    """Decisions, reasons, saved searches and found works in one database (the app's is `Library.screening`)."""

    def __init__(self, database: Database, *, now: Callable[[], dt.datetime] | None = None) -> None:
        self.database = database
        self._now = now or (lambda: dt.datetime.now(dt.timezone.utc))

    def _stamp(self) -> str:
        return self._now().astimezone(dt.timezone.utc).isoformat(timespec="microseconds")

    # ------------------------------------------------------------ what searches found
    def remember(self, candidates: Iterable[Candidate], found_by: str = "") -> None:
        """Keep each candidate (as last found, with the search that found it), so that it can be
        screened later by its identity."""
        now = self._stamp()
        rows = {c.id: {"id": c.id, "doi": c.doi.lower() or None, "pmid": c.pmid or None,
                       "title_key": c.title_key[:400], "body": json.dumps(c.to_dict(), ensure_ascii=False),
                       "found_by": found_by[:2000], "first_seen": now, "last_seen": now} for c in candidates}
        if not rows:
            return
        updates = ("doi", "pmid", "title_key", "body", "last_seen") + (("found_by",) if found_by else ())
        with self.database.write() as connection:
            _upsert(connection, discovered, list(rows.values()), ("id",), updates)

    def found_by(self, candidate: Candidate) -> str:
        """The search that last found this work ('' if none is recorded)."""
        with self.database.read() as connection:
            return connection.execute(select(discovered.c.found_by).where(discovered.c.id == candidate.id)
                                      ).scalar() or ""

    def candidate(self, identifier: str) -> Candidate | None:
        """A work found earlier, by its identity, DOI (any form) or PMID."""
        from .records import normalise_doi

        text = (identifier or "").strip()
        if not text or len(text) > 400:
            return None
        lowered = text.lower()
        conditions = [discovered.c.id == text, discovered.c.id == lowered]
        if lowered.startswith("pmid:"):
            conditions.append(discovered.c.pmid == lowered[5:].strip())
        elif text.isdigit():
            conditions.append(discovered.c.pmid == text)
        else:
            conditions.append(discovered.c.doi == normalise_doi(text))
        with self.database.read() as connection:
            row = connection.execute(select(discovered.c.body).where(or_(*conditions))
                                     .order_by(discovered.c.last_seen.desc()).limit(1)).first()
        return Candidate.from_dict(json.loads(row.body)) if row else None

    # ------------------------------------------------------------ decisions
    def decide(self, candidate: Candidate, decision: str, *, who: str, reason: str = "",
               reference_key: str = "", query: str = "", saved_search: str = "") -> Decision:
        """Record (or change) the decision on a work; an exclusion needs one of the reasons."""
        if decision not in DECISIONS:
            raise ScreeningError(f"'{decision}' is not a screening decision; use one of: {', '.join(DECISIONS)}.")
        if decision == "excluded":
            reason = clean_reason(reason)
            if reason not in self.reasons():
                raise ScreeningError(f"'{reason}' is not one of the exclusion reasons. Choose one of the list, "
                                     "or add it to the list first.")
        else:
            reason = ""
        query = query or self.found_by(candidate)
        now = self._stamp()
        existing = self.decisions_for([candidate]).get(candidate.id)
        if existing is not None and existing.id != candidate.id:
            # Known under another identity (found by its PMID, now with a DOI): keep one record.
            with self.database.write() as connection:
                connection.execute(delete(screening_decisions).where(screening_decisions.c.id == existing.id))
        values = {
            "id": candidate.id, "doi": candidate.doi.lower() or None, "pmid": candidate.pmid or None,
            "title_key": candidate.title_key[:400], "decision": decision, "reason": reason,
            "reference_key": reference_key or (existing.reference_key if existing else ""),
            "title": candidate.title, "authors": "; ".join(candidate.author_names), "year": candidate.year,
            "venue": candidate.venue, "source": candidate.source, "query": query[:2000],
            "saved_search": saved_search[:MAX_NAME], "decided_by": who or "", "decided_at": now,
            "first_decided_at": existing.first_decided_at.isoformat(timespec="microseconds") if existing else now,
        }
        with self.database.write() as connection:
            _upsert(connection, screening_decisions, [values], ("id",),
                    tuple(k for k in values if k not in ("id", "first_decided_at")))
        self.remember([candidate])
        return _decision(values)

    def undo(self, candidate: Candidate) -> bool:
        """Forget the decision on a work (it becomes new again); False when there was none."""
        existing = self.decisions_for([candidate]).get(candidate.id)
        if existing is None:
            return False
        with self.database.write() as connection:
            connection.execute(delete(screening_decisions).where(screening_decisions.c.id == existing.id))
        return True

    def decisions_for(self, candidates: Sequence[Candidate]) -> dict[str, Decision]:
        """The decision on each of these works that has one, by candidate id: matched by identity,
        DOI, PMID, or title, year and first author."""
        if not candidates:
            return {}
        ids = {c.id for c in candidates}
        dois = {c.doi.lower() for c in candidates if c.doi}
        pmids = {c.pmid for c in candidates if c.pmid}
        keys = {c.title_key[:400] for c in candidates if _matchable(c)}
        found: list[Decision] = []
        with self.database.read() as connection:
            for column, values in ((screening_decisions.c.id, ids), (screening_decisions.c.doi, dois),
                                   (screening_decisions.c.pmid, pmids), (screening_decisions.c.title_key, keys)):
                for chunk in _chunks(sorted(values), 500):
                    rows = connection.execute(select(screening_decisions).where(column.in_(chunk))).mappings()
                    found.extend(_decision(dict(row)) for row in rows)
        by_id = {d.id: d for d in found}
        by_doi = {d.doi: d for d in found if d.doi}
        by_pmid = {d.pmid: d for d in found if d.pmid}
        by_key: dict[str, Decision] = {}
        for d in found:
            by_key.setdefault(d.title_key, d)
        out: dict[str, Decision] = {}
        for c in candidates:
            match = (by_id.get(c.id) or (by_doi.get(c.doi.lower()) if c.doi else None)
                     or (by_pmid.get(c.pmid) if c.pmid else None)
                     or (by_key.get(c.title_key[:400]) if _matchable(c) else None))
            if match is not None:
                out[c.id] = match
        return out

    def decisions(self, decision: str | None = None) -> list[Decision]:
        """Every decision (or those of one kind), oldest first."""
        statement = select(screening_decisions).order_by(screening_decisions.c.first_decided_at,
                                                         screening_decisions.c.id)
        if decision is not None:
            statement = statement.where(screening_decisions.c.decision == decision)
        with self.database.read() as connection:
            return [_decision(dict(row)) for row in connection.execute(statement).mappings()]

    def counts(self) -> dict[str, int]:
        """How many works have each decision."""
        with self.database.read() as connection:
            rows = connection.execute(select(screening_decisions.c.decision, func.count())
                                      .group_by(screening_decisions.c.decision)).all()
        counts = {decision: 0 for decision in DECISIONS}
        counts.update({row[0]: int(row[1]) for row in rows})
        return counts

    def export_csv(self) -> bytes:
        """Every decision as CSV (UTF-8 with a byte-order mark, so spreadsheet programs read accents)."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(CSV_COLUMNS)
        for d in self.decisions():
            writer.writerow([_cell(v) for v in (
                d.label, d.reason, d.title, d.authors, d.year or "", d.venue, d.doi, d.pmid, d.query, d.source,
                d.saved_search, d.reference_key, d.decided_by, _shown_time(d.decided_at),
                _shown_time(d.first_decided_at))])
        return ("\ufeff" + out.getvalue()).encode("utf-8")

    # ------------------------------------------------------------ exclusion reasons
    def reasons(self) -> list[str]:
        with self.database.read() as connection:
            return list(connection.execute(select(exclusion_reasons.c.reason)
                                           .order_by(exclusion_reasons.c.position, exclusion_reasons.c.reason))
                        .scalars())

    def add_reason(self, reason: str) -> str:
        reason = clean_reason(reason)
        with self.database.write() as connection:
            existing = connection.execute(select(exclusion_reasons.c.reason)).scalars().all()
            if any(r.casefold() == reason.casefold() for r in existing):
                raise ScreeningError(f"'{reason}' is already an exclusion reason.")
            if len(existing) >= MAX_REASONS:
                raise ScreeningError(f"There are already {MAX_REASONS} exclusion reasons; remove one first.")
            position = connection.execute(select(func.max(exclusion_reasons.c.position))).scalar() or 0
            connection.execute(insert(exclusion_reasons).values(reason=reason, position=position + 1))
        return reason

    def remove_reason(self, reason: str) -> None:
        """Take a reason off the list; decisions that gave it keep it."""
        with self.database.write() as connection:
            done = connection.execute(delete(exclusion_reasons).where(exclusion_reasons.c.reason == reason))
            if done.rowcount == 0:
                raise ScreeningError(f"'{reason}' is not an exclusion reason.")

    # ------------------------------------------------------------ saved searches
    def save_search(self, name: str, query: Query, *, who: str) -> SavedSearch:
        name = clean_name(name)
        query = query.checked()
        now = self._stamp()
        with self.database.write() as connection:
            taken = connection.execute(select(saved_searches.c.name)).scalars().all()
            if any(t.casefold() == name.casefold() for t in taken):
                raise ScreeningError(f"There is already a saved search called '{name}'. Choose another name, "
                                     "or delete that one first.")
            connection.execute(insert(saved_searches).values(
                name=name, query=query.text, source=query.source, since=query.since, work_type=query.type,
                max_results=query.limit, created=now, created_by=who or "", last_run=None, checked_at=None,
                new_count=None, check_message=""))
        return self.saved(name)

    def saved_searches(self) -> list[SavedSearch]:
        with self.database.read() as connection:
            rows = connection.execute(select(saved_searches).order_by(saved_searches.c.name)).mappings().all()
        return [_saved(dict(row)) for row in rows]

    def saved(self, name: str) -> SavedSearch:
        with self.database.read() as connection:
            row = connection.execute(select(saved_searches).where(saved_searches.c.name == name)).mappings().first()
            if row is None:  # a librarian types names; accept them in any case
                row = connection.execute(select(saved_searches).where(
                    func.lower(saved_searches.c.name) == (name or "").strip().lower())).mappings().first()
        if row is None:
            known = ", ".join(s.name for s in self.saved_searches()) or "none yet"
            raise ScreeningError(f"There is no saved search called '{name}' (saved searches: {known}).")
        return _saved(dict(row))

    def delete_search(self, name: str) -> None:
        search = self.saved(name)
        with self.database.write() as connection:
            connection.execute(delete(saved_search_seen).where(saved_search_seen.c.search_name == search.name))
            connection.execute(delete(saved_searches).where(saved_searches.c.name == search.name))

    def seen(self, name: str) -> set[str]:
        with self.database.read() as connection:
            return set(connection.execute(select(saved_search_seen.c.candidate_id)
                                          .where(saved_search_seen.c.search_name == name)).scalars())

    def mark_seen(self, name: str, candidate_ids: Iterable[str], *, ran: bool = True) -> None:
        """Remember that the saved search has shown these works; `ran` also records the run."""
        now = self._stamp()
        rows = [{"search_name": name, "candidate_id": i, "first_seen": now} for i in dict.fromkeys(candidate_ids)]
        with self.database.write() as connection:
            if rows:
                _upsert(connection, saved_search_seen, rows, ("search_name", "candidate_id"), ())
            if ran:
                connection.execute(update(saved_searches).where(saved_searches.c.name == name)
                                   .values(last_run=now, checked_at=now, new_count=0, check_message=""))

    def record_check(self, name: str, new_count: int | None, message: str = "") -> None:
        with self.database.write() as connection:
            connection.execute(update(saved_searches).where(saved_searches.c.name == name)
                               .values(checked_at=self._stamp(), new_count=new_count, check_message=message[:1000]))


# ------------------------------------------------------------------ helpers


def _matchable(candidate: Candidate) -> bool:
    title = candidate.title_key.split("|", 1)[0]
    return bool(candidate.year and candidate.first_family and len(title) >= MIN_TITLE_FOR_MATCHING)


def _decision(row: dict[str, Any]) -> Decision:
    return Decision(
        id=row["id"], decision=row["decision"], reason=row["reason"] or "", reference_key=row["reference_key"] or "",
        title=row["title"] or "", authors=row["authors"] or "", year=row["year"], venue=row["venue"] or "",
        doi=row["doi"] or "", pmid=row["pmid"] or "", source=row["source"] or "", query=row["query"] or "",
        saved_search=row["saved_search"] or "", decided_by=row["decided_by"] or "",
        decided_at=dt.datetime.fromisoformat(row["decided_at"]),
        first_decided_at=dt.datetime.fromisoformat(row["first_decided_at"]), title_key=row.get("title_key") or "")


def _saved(row: dict[str, Any]) -> SavedSearch:
    work_type = row["work_type"] if row["work_type"] in TYPES else "any"
    query = Query(text=row["query"], source=row["source"], since=row["since"], type=work_type,
                  limit=row["max_results"], sort="newest")
    assert query.sort in SORTS
    return SavedSearch(
        name=row["name"], query=query, created=dt.datetime.fromisoformat(row["created"]),
        created_by=row["created_by"] or "",
        last_run=dt.datetime.fromisoformat(row["last_run"]) if row["last_run"] else None,
        checked_at=dt.datetime.fromisoformat(row["checked_at"]) if row["checked_at"] else None,
        new_count=row["new_count"], check_message=row["check_message"] or "")


def _upsert(connection: Connection, table: Table, rows: list[dict[str, Any]], keys: Sequence[str],
            updates: Sequence[str]) -> None:
    """Insert rows, or update `updates` columns where a row with the same `keys` exists (or leave it)."""
    if connection.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    for chunk in _chunks(rows, 200):
        statement = dialect_insert(table).values(chunk)
        if updates:
            statement = statement.on_conflict_do_update(
                index_elements=list(keys), set_={name: statement.excluded[name] for name in updates})
        else:
            statement = statement.on_conflict_do_nothing(index_elements=list(keys))
        connection.execute(statement)


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _cell(value: object) -> str:
    """A CSV cell that a spreadsheet will show as text, never run as a formula."""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _shown_time(when: dt.datetime) -> str:
    return when.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M")

