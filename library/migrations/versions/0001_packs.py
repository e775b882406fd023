"""Saved evidence packs (as kept in packs.sqlite3 before the shared database).

Revision ID: 0001_packs
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001_packs"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "packs",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created", sa.String(40), nullable=False),
        sa.Column("updated", sa.String(40), nullable=False),
        sa.Column("share_token", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_packs"),
        sa.UniqueConstraint("share_token", name="uq_packs_share_token"),
    )
    op.create_index("ix_packs_updated", "packs", ["updated"])


def downgrade() -> None:
    op.drop_index("ix_packs_updated", table_name="packs")
    op.drop_table("packs")
