"""A librarian's screening list: what one discovery search found, and where the librarian is in it.

Streamlit forgets everything on a reload, so the list a search brought back and the work on
screen are kept here, in the shared database, under a random id that the app puts in the
address (`/librarian?discover=ID`).  A reload, a second tab, a bookmark or a restarted server
reopens the same works in the same order at the same place, as Rayyan or Covidence keep a
reviewer's place.  The decisions themselves are not kept here but in `library.screening`
(shared by every list and every librarian); a list holds the works as the service sent them,
already parsed and bounded, and its statuses are worked out afresh each time it is shown
(`Discovery.result_of`), so a decision made in another tab shows too.

A list belongs to the librarian who ran the search (by the name the change log records); an
id from an address is checked against `SESSION_ID` before it is looked up, and is only ever a
bound value, never part of a path or of SQL text.  Lists unused for `KEEP_DAYS` days are
removed, and each librarian keeps at most `KEEP_PER_OWNER` (the oldest go first).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, insert, select, update

from .database import Database
from .errors import ScreeningError
from .sources.model import SORTS, TYPES, Candidate, Query
from .tables import screening_sessions

if TYPE_CHECKING:
    from .discovery import DiscoveryResult

SESSION_ID = re.compile(r"[A-Za-z0-9_-]{22,64}")
KEEP_DAYS = 30  # a list nobody has used for this long is removed
KEEP_PER_OWNER = 20  # the most lists one librarian keeps; starting another removes the oldest
MAX_WORKS = 1000  # the most works one list holds ("Show more results" stops there)
BODY_VERSION = 1
NOT_FOUND = ("That screening list is not open any more: lists are kept for {days} days after they were last "
             "used, and each belongs to the librarian who ran its search. Search again to start a new one.")


class ScreeningSessionNotFound(ScreeningError):
    """The list was removed, belongs to someone else, or never existed."""


@dataclass(frozen=True)
class ScreeningSession:
    """One screening list: the search, the works it found (in order) and the place in it."""

    id: str
    owner: str  # the librarian who ran the search, as the change log names them
    query: Query
    total: int  # how many works the service said match
    works: tuple[Candidate, ...]  # the works to screen, in the order found
    hidden: tuple[Candidate, ...] = ()  # works excluded before the search: listed only when asked for
    next_cursor: str | None = None  # where more results start, when the service has more
    notice: str = ""  # what the service said about the search
    saved_search: str = ""  # the saved search this list shows the new works of, if any
    already_shown: int = 0  # a saved search's works left out because it had shown them before
    position: int = 0  # the work on screen, counted from 0 in `listed()`
    show_excluded: bool = False  # whether the works excluded earlier are listed (after the others)
    created: dt.datetime = dt.datetime.min.replace(tzinfo=dt.timezone.utc)
    updated: dt.datetime = dt.datetime.min.replace(tzinfo=dt.timezone.utc)

    def listed(self) -> tuple[Candidate, ...]:
        """The works in the order they are screened."""
        return self.works + self.hidden if self.show_excluded else self.works

    @property
    def current(self) -> int:
        """The position, within the list as it is now (0 for an empty list)."""
        return min(max(0, self.position), max(0, len(self.listed()) - 1))

    @property
    def can_extend(self) -> bool:
        return bool(self.next_cursor) and not self.saved_search and len(self.works) + len(self.hidden) < MAX_WORKS

    def at(self, position: int) -> "ScreeningSession":
        """The list with another work on screen (kept within the list)."""
        return replace(self, position=min(max(0, int(position)), max(0, len(self.listed()) - 1)))

    def showing_excluded(self, show: bool) -> "ScreeningSession":
        """The list with the works excluded earlier listed or not; the same work stays on screen
        where it can."""
        if show == self.show_excluded:
            return self
        listed = self.listed()
        on_screen = listed[self.current].id if listed else None
        changed = replace(self, show_excluded=show)
        ids = [c.id for c in changed.listed()]
        return changed.at(ids.index(on_screen) if on_screen in ids else changed.position)

    def extended(self, more: "DiscoveryResult") -> "ScreeningSession":
        """The list with the works of the next page added (those not already in it), up to `MAX_WORKS`."""
        known = {c.id for c in self.works + self.hidden}
        room = MAX_WORKS - len(known)
        works: list[Candidate] = []
        hidden: list[Candidate] = []
        for group, target in ((more.items, works), (more.hidden, hidden)):
            for found in group:
                if found.candidate.id in known or room <= 0:
                    continue
                known.add(found.candidate.id)
                room -= 1
                target.append(found.candidate)
        # The service's next page follows the page just read; when nothing new came, the paging ends.
        cursor = more.next_cursor if (works or hidden) and room > 0 else None
        return replace(self, works=self.works + tuple(works), hidden=self.hidden + tuple(hidden), next_cursor=cursor)


@dataclass(frozen=True)
class SessionSummary:
    """A list as the librarian's list of lists shows it (without its works)."""

    id: str
    query: Query
    saved_search: str
    work_count: int
    position: int
    updated: dt.datetime


def new_session_id() -> str:
    return secrets.token_urlsafe(24)


def owner_key(owner: str) -> str:
    """How owners are compared: a name typed at sign-in in another case or spacing is the same person."""
    return " ".join((owner or "").split()).casefold()[:320]


class ScreeningSessions:
    """The screening lists in one database (the app's is `Library.database`)."""

    def __init__(self, database: Database, *, now: Callable[[], dt.datetime] | None = None) -> None:
        self.database = database
        self._now = now or (lambda: dt.datetime.now(dt.timezone.utc))

    def _stamp(self) -> str:
        return self._now().astimezone(dt.timezone.utc).isoformat(timespec="microseconds")

    # ------------------------------------------------------------ starting and reading
    def start(self, result: "DiscoveryResult", *, owner: str) -> ScreeningSession:
        """A new list for what a search found, on its first work still to screen; old lists are pruned."""
        if not owner_key(owner):
            raise ScreeningError("A screening list needs the name of the librarian who runs it; sign in first.")
        items = result.items[:MAX_WORKS]
        hidden = result.hidden[:max(0, MAX_WORKS - len(items))]
        first = next((i for i, found in enumerate(items) if found.status == "new"), 0)
        now = self._now().astimezone(dt.timezone.utc)
        truncated = len(items) + len(hidden) < len(result.items) + len(result.hidden)
        session = ScreeningSession(
            id=new_session_id(), owner=" ".join(owner.split()), query=result.query.checked(), total=result.total,
            works=tuple(f.candidate for f in items), hidden=tuple(f.candidate for f in hidden),
            next_cursor=None if truncated else result.next_cursor, notice=result.notice,
            saved_search=result.saved_search, already_shown=result.already_shown, position=first,
            created=now, updated=now)
        self.prune(keep_for_owner=KEEP_PER_OWNER - 1, owner=session.owner)
        with self.database.write() as connection:
            connection.execute(insert(screening_sessions).values(_row(session)))
        return self.load(session.id, owner=session.owner)

    def load(self, session_id: str, *, owner: str) -> ScreeningSession:
        """The list with this id, if it is this librarian's; else `ScreeningSessionNotFound`."""
        if not isinstance(session_id, str) or not SESSION_ID.fullmatch(session_id):
            raise ScreeningSessionNotFound(NOT_FOUND.format(days=KEEP_DAYS))
        with self.database.read() as connection:
            row = connection.execute(select(screening_sessions).where(screening_sessions.c.id == session_id)
                                     ).mappings().first()
        if row is None or row["owner_key"] != owner_key(owner):
            raise ScreeningSessionNotFound(NOT_FOUND.format(days=KEEP_DAYS))
        return _session(dict(row))

    def recent(self, *, owner: str, limit: int = KEEP_PER_OWNER) -> list[SessionSummary]:
        """This librarian's lists, the most recently used first."""
        columns = [c for c in screening_sessions.c if c.name != "body"]
        with self.database.read() as connection:
            rows = connection.execute(select(*columns).where(screening_sessions.c.owner_key == owner_key(owner))
                                      .order_by(screening_sessions.c.updated.desc()).limit(limit)).mappings().all()
        return [SessionSummary(row["id"], _query(dict(row)), row["saved_search"], row["work_count"], row["position"],
                               dt.datetime.fromisoformat(row["updated"])) for row in rows]

    # ------------------------------------------------------------ changing
    def update(self, session_id: str, change: Callable[[ScreeningSession], ScreeningSession], *,
               owner: str) -> ScreeningSession:
        """Apply `change` to the list and keep the result, in one transaction (two tabs queue)."""
        if not isinstance(session_id, str) or not SESSION_ID.fullmatch(session_id):
            raise ScreeningSessionNotFound(NOT_FOUND.format(days=KEEP_DAYS))
        with self.database.write() as connection:
            row = connection.execute(select(screening_sessions).where(screening_sessions.c.id == session_id)
                                     ).mappings().first()
            if row is None or row["owner_key"] != owner_key(owner):
                raise ScreeningSessionNotFound(NOT_FOUND.format(days=KEEP_DAYS))
            session = _session(dict(row))
            changed = replace(change(session), id=session_id, updated=self._now())
            values = _row(changed)
            del values["id"], values["created"], values["owner"], values["owner_key"]
            if changed.works == session.works and changed.hidden == session.hidden:
                del values["body"]  # a move: the works stay as they are
            connection.execute(update(screening_sessions).where(screening_sessions.c.id == session_id).values(values))
        return changed

    def move(self, session_id: str, position: int, *, owner: str) -> ScreeningSession:
        return self.update(session_id, lambda s: s.at(position), owner=owner)

    def delete(self, session_id: str, *, owner: str) -> None:
        self.load(session_id, owner=owner)
        with self.database.write() as connection:
            connection.execute(delete(screening_sessions).where(screening_sessions.c.id == session_id))

    def prune(self, *, days: int = KEEP_DAYS, keep_for_owner: int | None = None, owner: str = "") -> int:
        """Remove lists unused for `days` days, and (with `owner`) that librarian's oldest beyond
        `keep_for_owner`; returns how many were removed."""
        limit = (self._now() - dt.timedelta(days=days)).astimezone(dt.timezone.utc).isoformat(timespec="microseconds")
        with self.database.write() as connection:
            removed = connection.execute(delete(screening_sessions).where(screening_sessions.c.updated < limit)
                                         ).rowcount or 0
            if keep_for_owner is not None and owner:
                ids = connection.execute(select(screening_sessions.c.id)
                                         .where(screening_sessions.c.owner_key == owner_key(owner))
                                         .order_by(screening_sessions.c.updated.desc(), screening_sessions.c.id)
                                         ).scalars().all()
                doomed = list(ids[max(0, keep_for_owner):])
                if doomed:
                    removed += connection.execute(delete(screening_sessions)
                                                  .where(screening_sessions.c.id.in_(doomed))).rowcount or 0
        return removed


# ------------------------------------------------------------------ rows


def _row(session: ScreeningSession) -> dict[str, Any]:
    q = session.query
    body = {"version": BODY_VERSION, "works": [c.to_dict() for c in session.works],
            "hidden": [c.to_dict() for c in session.hidden]}
    return {
        "id": session.id, "owner": session.owner, "owner_key": owner_key(session.owner),
        "query": q.text, "source": q.source, "since": q.since, "work_type": q.type, "max_results": q.limit,
        "sort": q.sort, "saved_search": session.saved_search, "total": int(session.total),
        "next_cursor": session.next_cursor, "notice": session.notice, "already_shown": session.already_shown,
        "work_count": len(session.works) + len(session.hidden), "position": session.current,
        "show_excluded": bool(session.show_excluded), "body": json.dumps(body, ensure_ascii=False),
        "created": session.created.astimezone(dt.timezone.utc).isoformat(timespec="microseconds"),
        "updated": session.updated.astimezone(dt.timezone.utc).isoformat(timespec="microseconds"),
    }


def _query(row: dict[str, Any]) -> Query:
    return Query(text=row["query"], source=row["source"], since=row["since"],
                 type=row["work_type"] if row["work_type"] in TYPES else "any", limit=row["max_results"],
                 sort=row["sort"] if row["sort"] in SORTS else "relevance")


def _session(row: dict[str, Any]) -> ScreeningSession:
    try:
        body = json.loads(row["body"])
        if not isinstance(body, dict) or body.get("version") != BODY_VERSION:
            raise ValueError("an unknown layout")
        works = _candidates(body.get("works"))
        hidden = _candidates(body.get("hidden"))
    except (ValueError, TypeError, KeyError) as error:
        raise ScreeningSessionNotFound(f"The screening list {row['id']} cannot be read ({error}); "
                                       "search again to start a new one.") from None
    return ScreeningSession(
        id=row["id"], owner=row["owner"], query=_query(row), total=int(row["total"]), works=works, hidden=hidden,
        next_cursor=row["next_cursor"] or None, notice=row["notice"] or "", saved_search=row["saved_search"] or "",
        already_shown=int(row["already_shown"] or 0), position=int(row["position"] or 0),
        show_excluded=bool(row["show_excluded"]), created=dt.datetime.fromisoformat(row["created"]),
        updated=dt.datetime.fromisoformat(row["updated"]))


def _candidates(items: object) -> tuple[Candidate, ...]:
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise ValueError("its works are not a list")
    return tuple(Candidate.from_dict(item) for item in items)


__all__: Sequence[str] = ("ScreeningSession", "ScreeningSessions", "ScreeningSessionNotFound", "SessionSummary",
                          "KEEP_DAYS", "KEEP_PER_OWNER", "MAX_WORKS", "SESSION_ID")
