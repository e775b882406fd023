"""Sign-in throttling: wrong librarian passwords counted per session, address and name.

Revision ID: 0004_signin_attempts
Revises: 0003_pack_owners
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_signin_attempts"
down_revision = "0003_pack_owners"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "signin_attempts",
        sa.Column("subject", sa.String(80), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.Float(), nullable=False),
        sa.Column("last_failure", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("subject", name="pk_signin_attempts"),
    )
    op.create_index("ix_signin_attempts_last_failure", "signin_attempts", ["last_failure"])


def downgrade() -> None:
    op.drop_index("ix_signin_attempts_last_failure", table_name="signin_attempts")
    op.drop_table("signin_attempts")
