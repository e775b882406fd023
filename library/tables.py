"""The tables of the shared database (see `library.database`), for queries.

The schema itself is made and changed only by the migrations in
`library/migrations/versions/`; a test checks that these definitions and the
migrated database agree, so a table added here needs a migration too.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Float, ForeignKey, Index, Integer, MetaData, String, Table, Text

# Named constraints, so that migrations can refer to them on every database.
metadata = MetaData(naming_convention={
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})

# Saved evidence packs.  `body` is the pack file (JSON, see library/packs.py); times are
# ISO 8601 in UTC with microseconds, so that text order is time order.  `owner` is an
# owner string (library/owners.py), NULL for a pack held by its edit link; `edit_token`
# and `share_token` are the random secrets of its private edit link and its read-only
# share link; `shared_body`/`shared_style` are the version the share link shows (set
# when the owner shares, so later edits never reach a reader half-made); `revision`
# counts saves, so that two windows editing one pack cannot overwrite each other unseen.
packs = Table(
    "packs", metadata,
    Column("id", String(64), primary_key=True),
    Column("title", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("created", String(40), nullable=False),
    Column("updated", String(40), nullable=False),
    Column("share_token", String(64), unique=True),
    Column("owner", String(320)),
    Column("edit_token", String(64), nullable=False, unique=True),
    Column("style", String(20), nullable=False, server_default="apa"),
    Column("revision", Integer, nullable=False, server_default="1"),
    Column("shared_body", Text),
    Column("shared_style", String(20)),
    Column("shared_at", String(40)),
)
Index("ix_packs_updated", packs.c.updated)
Index("ix_packs_owner", packs.c.owner)

# ------------------------------------------------------------------ discovery and screening
# What discovery searches found, what the librarian decided about each work, the exclusion
# reasons to choose from, and the saved searches with what each has already shown.
# Identities: "doi:<lower-case DOI>", else "pmid:<PMID>", else "<source>:<the service's id>".

# Each work a discovery search has shown (the candidate as JSON), so that a decision can be
# made later (from the command line too) and the screening record names what was decided.
discovered = Table(
    "discovered", metadata,
    Column("id", String(320), primary_key=True),
    Column("doi", String(300)),
    Column("pmid", String(20)),
    Column("title_key", String(400), nullable=False),
    Column("body", Text, nullable=False),
    Column("found_by", Text, nullable=False),  # the search that last found it, as described to people
    Column("first_seen", String(40), nullable=False),
    Column("last_seen", String(40), nullable=False),
)
Index("ix_discovered_doi", discovered.c.doi)
Index("ix_discovered_pmid", discovered.c.pmid)

# The current decision on each screened work; a changed mind replaces it (decided_at moves,
# first_decided_at stays).  Title, authors... are kept here so the record outlives the cache.
screening_decisions = Table(
    "screening_decisions", metadata,
    Column("id", String(320), primary_key=True),
    Column("doi", String(300)),
    Column("pmid", String(20)),
    Column("title_key", String(400), nullable=False),
    Column("decision", String(20), nullable=False),  # included | excluded | maybe
    Column("reason", Text, nullable=False),  # why it was excluded ('' otherwise)
    Column("reference_key", String(120), nullable=False),  # the reference an included work became
    Column("title", Text, nullable=False),
    Column("authors", Text, nullable=False),
    Column("year", Integer),
    Column("venue", Text, nullable=False),
    Column("source", String(20), nullable=False),
    Column("query", Text, nullable=False),  # the search that found it, as described to people
    Column("saved_search", String(100), nullable=False),
    Column("decided_by", Text, nullable=False),
    Column("decided_at", String(40), nullable=False),
    Column("first_decided_at", String(40), nullable=False),
)
Index("ix_screening_decisions_doi", screening_decisions.c.doi)
Index("ix_screening_decisions_pmid", screening_decisions.c.pmid)
Index("ix_screening_decisions_title_key", screening_decisions.c.title_key)
Index("ix_screening_decisions_decided_at", screening_decisions.c.decided_at)

# The reasons a librarian can give for excluding a work, in the order they are offered.
exclusion_reasons = Table(
    "exclusion_reasons", metadata,
    Column("reason", String(200), primary_key=True),
    Column("position", Integer, nullable=False),
)

# Searches a librarian follows.  new_count is how many works the last check found that the
# search had not shown before (and nobody had screened), checked_at when that was.
saved_searches = Table(
    "saved_searches", metadata,
    Column("name", String(100), primary_key=True),
    Column("query", Text, nullable=False),
    Column("source", String(20), nullable=False),
    Column("since", Integer),
    Column("work_type", String(20), nullable=False),
    Column("max_results", Integer, nullable=False),
    Column("created", String(40), nullable=False),
    Column("created_by", Text, nullable=False),
    Column("last_run", String(40)),
    Column("checked_at", String(40)),
    Column("new_count", Integer),
    Column("check_message", Text, nullable=False),  # why the last check failed ('' when it worked)
)

# Which works each saved search has already shown, so a re-run shows only what is new.
saved_search_seen = Table(
    "saved_search_seen", metadata,
    Column("search_name", String(100), ForeignKey("saved_searches.name", ondelete="CASCADE"),
           primary_key=True),
    Column("candidate_id", String(320), primary_key=True),
    Column("first_seen", String(40), nullable=False),
)

# A librarian's screening lists (library/screening_session.py): what one search found, in order,
# and the work on screen, so a reload or a restarted server reopens the list at the same place.
# `body` is {"version": 1, "works": [candidate...], "hidden": [candidate...]} as JSON (each
# candidate as `Candidate.to_dict`); `owner_key` is the owner's name folded for comparing;
# `updated` is when the list was last used (lists unused for 30 days are removed).
screening_sessions = Table(
    "screening_sessions", metadata,
    Column("id", String(64), primary_key=True),
    Column("owner", Text, nullable=False),
    Column("owner_key", String(320), nullable=False),
    Column("query", Text, nullable=False),
    Column("source", String(20), nullable=False),
    Column("since", Integer),
    Column("work_type", String(20), nullable=False),
    Column("max_results", Integer, nullable=False),
    Column("sort", String(20), nullable=False),
    Column("saved_search", String(100), nullable=False),
    Column("total", BigInteger, nullable=False),
    Column("next_cursor", Text),
    Column("notice", Text, nullable=False),
    Column("already_shown", Integer, nullable=False),
    Column("work_count", Integer, nullable=False),
    Column("position", Integer, nullable=False),
    Column("show_excluded", Boolean, nullable=False),
    Column("body", Text, nullable=False),
    Column("created", String(40), nullable=False),
    Column("updated", String(40), nullable=False),
)
Index("ix_screening_sessions_owner_key", screening_sessions.c.owner_key)
Index("ix_screening_sessions_updated", screening_sessions.c.updated)

# ------------------------------------------------------------------ sign-in throttling
# Wrong librarian passwords, counted per subject: a browser session, a client address or a name,
# each stored as "<kind>:<keyed hash>" (library/auth.py), never in the clear.  Times are seconds
# since the epoch, so that every app server sharing the database reads them alike.
signin_attempts = Table(
    "signin_attempts", metadata,
    Column("subject", String(80), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("locked_until", Float, nullable=False),
    Column("last_failure", Float, nullable=False),
)
Index("ix_signin_attempts_last_failure", signin_attempts.c.last_failure)

# ------------------------------------------------------------------ the change log's index
# The change log itself is `LIBRARY_DATA_DIR/changes.jsonl` (library/store.py), the durable
# record; these tables are a queryable copy of it (library/changelog.py), kept in step by
# every save and rebuilt from the file whenever they are missing, behind or out of step.
# `position` is the byte offset of the line in the file, so newest first is `position DESC`;
# `changes` is the line's {"field": [old, new]} as JSON.
change_log = Table(
    "change_log", metadata,
    Column("id", String(64), primary_key=True),
    Column("position", BigInteger, nullable=False),
    Column("changed_at", String(40), nullable=False),
    Column("who", Text, nullable=False),
    Column("action", String(20), nullable=False),
    Column("key", String(200), nullable=False),
    Column("detail", Text, nullable=False),
    Column("changes", Text, nullable=False),
    Column("version", String(40), nullable=False),
)
Index("ix_change_log_position", change_log.c.position)
Index("ix_change_log_who", change_log.c.who)
Index("ix_change_log_key", change_log.c.key)

# How far into each log file the index has read: `indexed_bytes` whole lines, ending with
# bytes whose fingerprint is `tail` (a replaced or shortened file is noticed and re-read).
change_log_files = Table(
    "change_log_files", metadata,
    Column("name", String(100), primary_key=True),
    Column("indexed_bytes", BigInteger, nullable=False),
    Column("tail", String(64), nullable=False),
    Column("updated", String(40), nullable=False),
)
