"""The tables of the shared database (see `library.database`), for queries.

The schema itself is made and changed only by the migrations in
`library/migrations/versions/`; a test checks that these definitions and the
migrated database agree, so a table added here needs a migration too.
"""

from __future__ import annotations

from sqlalchemy import Column, Index, Integer, MetaData, String, Table, Text

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
