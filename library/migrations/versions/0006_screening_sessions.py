"""Screening lists: what a discovery search found and the librarian's place in it, kept across reloads.

Revision ID: 0006_screening_sessions
Revises: 0005_change_log
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_screening_sessions"
down_revision = "0005_change_log"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "screening_sessions",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("owner", sa.Text(), nullable=False),
        sa.Column("owner_key", sa.String(320), nullable=False),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("since", sa.Integer()),
        sa.Column("work_type", sa.String(20), nullable=False),
        sa.Column("max_results", sa.Integer(), nullable=False),
        sa.Column("sort", sa.String(20), nullable=False),
        sa.Column("saved_search", sa.String(100), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("next_cursor", sa.Text()),
        sa.Column("notice", sa.Text(), nullable=False),
        sa.Column("already_shown", sa.Integer(), nullable=False),
        sa.Column("work_count", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("show_excluded", sa.Boolean(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created", sa.String(40), nullable=False),
        sa.Column("updated", sa.String(40), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_screening_sessions"),
    )
    op.create_index("ix_screening_sessions_owner_key", "screening_sessions", ["owner_key"])
    op.create_index("ix_screening_sessions_updated", "screening_sessions", ["updated"])


def downgrade() -> None:
    op.drop_index("ix_screening_sessions_updated", table_name="screening_sessions")
    op.drop_index("ix_screening_sessions_owner_key", table_name="screening_sessions")
    op.drop_table("screening_sessions")
