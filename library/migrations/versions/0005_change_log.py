"""The change log's index: a queryable copy of changes.jsonl.

Revision ID: 0005_change_log
Revises: 0004_signin_attempts

The change log stays the file `LIBRARY_DATA_DIR/changes.jsonl`; these tables only index
it (library/changelog.py), so they start empty and are filled from the file the first
time the change log is read or the library saves a change.
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_change_log"
down_revision = "0004_signin_attempts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "change_log",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("changed_at", sa.String(40), nullable=False),
        sa.Column("who", sa.Text(), nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("changes", sa.Text(), nullable=False),
        sa.Column("version", sa.String(40), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_change_log"),
    )
    op.create_index("ix_change_log_position", "change_log", ["position"])
    op.create_index("ix_change_log_who", "change_log", ["who"])
    op.create_index("ix_change_log_key", "change_log", ["key"])
    op.create_table(
        "change_log_files",
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("indexed_bytes", sa.BigInteger(), nullable=False),
        sa.Column("tail", sa.String(64), nullable=False),
        sa.Column("updated", sa.String(40), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_change_log_files"),
    )


def downgrade() -> None:
    op.drop_table("change_log_files")
    op.drop_index("ix_change_log_key", table_name="change_log")
    op.drop_index("ix_change_log_who", table_name="change_log")
    op.drop_index("ix_change_log_position", table_name="change_log")
    op.drop_table("change_log")
