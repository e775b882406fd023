"""Packs get an owner, a private edit link, their citation style and a shared version.

Revision ID: 0003_pack_owners
Revises: 0002_screening

Packs saved before this migration had no owner and anyone could change them.  They
now belong to the local administrator (`admin`, see `library/owners.py`): in the
app nobody can change or delete them, anyone holding their share link can still
read them (and make their own copy to edit), and the command line can list and
delete them.  A pack that was shared keeps its share link, which shows it as it
was saved (in APA, the only style links showed before).
"""

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0003_pack_owners"
down_revision = "0002_screening"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("packs") as batch:
        batch.add_column(sa.Column("owner", sa.String(320), nullable=True))
        batch.add_column(sa.Column("edit_token", sa.String(64), nullable=True))
        batch.add_column(sa.Column("style", sa.String(20), nullable=False, server_default="apa"))
        batch.add_column(sa.Column("revision", sa.Integer(), nullable=False, server_default="1"))
        batch.add_column(sa.Column("shared_body", sa.Text(), nullable=True))
        batch.add_column(sa.Column("shared_style", sa.String(20), nullable=True))
        batch.add_column(sa.Column("shared_at", sa.String(40), nullable=True))

    packs = sa.table("packs", sa.column("id", sa.String), sa.column("body", sa.Text),
                     sa.column("updated", sa.String), sa.column("share_token", sa.String),
                     sa.column("owner", sa.String), sa.column("edit_token", sa.String),
                     sa.column("shared_body", sa.Text), sa.column("shared_style", sa.String),
                     sa.column("shared_at", sa.String))
    connection = op.get_bind()
    rows = connection.execute(sa.select(packs.c.id, packs.c.body, packs.c.updated, packs.c.share_token)).all()
    for row in rows:
        shared = row.share_token is not None
        connection.execute(sa.update(packs).where(packs.c.id == row.id).values(
            owner="admin", edit_token=secrets.token_urlsafe(24),
            shared_body=row.body if shared else None, shared_style="apa" if shared else None,
            shared_at=row.updated if shared else None))

    with op.batch_alter_table("packs") as batch:
        batch.alter_column("edit_token", existing_type=sa.String(64), nullable=False)
        batch.create_unique_constraint("uq_packs_edit_token", ["edit_token"])
        batch.create_index("ix_packs_owner", ["owner"])


def downgrade() -> None:
    with op.batch_alter_table("packs") as batch:
        batch.drop_index("ix_packs_owner")
        batch.drop_constraint("uq_packs_edit_token", type_="unique")
        for name in ("shared_at", "shared_style", "shared_body", "revision", "style", "edit_token", "owner"):
            batch.drop_column(name)
