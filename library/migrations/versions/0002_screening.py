"""Discovery and screening: works found, decisions, exclusion reasons, saved searches.

Revision ID: 0002_screening
Revises: 0001_packs
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_screening"
down_revision = "0001_packs"
branch_labels = None
depends_on = None

# The short list a librarian starts from (and can extend on the librarian page or with
# `python -m library screen reasons --add`).
STARTING_REASONS = (
    "Not about trauma or trauma-informed care",
    "Wrong population or setting",
    "Wrong kind of study or publication (editorial, letter, protocol...)",
    "Not in English",
    "Duplicate of another record",
    "Superseded by a newer review or version",
)


def upgrade() -> None:
    op.create_table(
        "discovered",
        sa.Column("id", sa.String(320), nullable=False),
        sa.Column("doi", sa.String(300), nullable=True),
        sa.Column("pmid", sa.String(20), nullable=True),
        sa.Column("title_key", sa.String(400), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("found_by", sa.Text(), nullable=False),
        sa.Column("first_seen", sa.String(40), nullable=False),
        sa.Column("last_seen", sa.String(40), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_discovered"),
    )
    op.create_index("ix_discovered_doi", "discovered", ["doi"])
    op.create_index("ix_discovered_pmid", "discovered", ["pmid"])

    op.create_table(
        "screening_decisions",
        sa.Column("id", sa.String(320), nullable=False),
        sa.Column("doi", sa.String(300), nullable=True),
        sa.Column("pmid", sa.String(20), nullable=True),
        sa.Column("title_key", sa.String(400), nullable=False),
        sa.Column("decision", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("reference_key", sa.String(120), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("authors", sa.Text(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.Column("venue", sa.Text(), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("saved_search", sa.String(100), nullable=False),
        sa.Column("decided_by", sa.Text(), nullable=False),
        sa.Column("decided_at", sa.String(40), nullable=False),
        sa.Column("first_decided_at", sa.String(40), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_screening_decisions"),
    )
    op.create_index("ix_screening_decisions_doi", "screening_decisions", ["doi"])
    op.create_index("ix_screening_decisions_pmid", "screening_decisions", ["pmid"])
    op.create_index("ix_screening_decisions_title_key", "screening_decisions", ["title_key"])
    op.create_index("ix_screening_decisions_decided_at", "screening_decisions", ["decided_at"])

    reasons = op.create_table(
        "exclusion_reasons",
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("reason", name="pk_exclusion_reasons"),
    )
    op.bulk_insert(reasons, [{"reason": reason, "position": position}
                             for position, reason in enumerate(STARTING_REASONS, 1)])

    op.create_table(
        "saved_searches",
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("since", sa.Integer(), nullable=True),
        sa.Column("work_type", sa.String(20), nullable=False),
        sa.Column("max_results", sa.Integer(), nullable=False),
        sa.Column("created", sa.String(40), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.Column("last_run", sa.String(40), nullable=True),
        sa.Column("checked_at", sa.String(40), nullable=True),
        sa.Column("new_count", sa.Integer(), nullable=True),
        sa.Column("check_message", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_saved_searches"),
    )
    op.create_table(
        "saved_search_seen",
        sa.Column("search_name", sa.String(100), nullable=False),
        sa.Column("candidate_id", sa.String(320), nullable=False),
        sa.Column("first_seen", sa.String(40), nullable=False),
        sa.ForeignKeyConstraint(["search_name"], ["saved_searches.name"], ondelete="CASCADE",
                                name="fk_saved_search_seen_search_name_saved_searches"),
        sa.PrimaryKeyConstraint("search_name", "candidate_id", name="pk_saved_search_seen"),
    )


def downgrade() -> None:
    op.drop_table("saved_search_seen")
    op.drop_table("saved_searches")
    op.drop_table("exclusion_reasons")
    op.drop_index("ix_screening_decisions_decided_at", table_name="screening_decisions")
    op.drop_index("ix_screening_decisions_title_key", table_name="screening_decisions")
    op.drop_index("ix_screening_decisions_pmid", table_name="screening_decisions")
    op.drop_index("ix_screening_decisions_doi", table_name="screening_decisions")
    op.drop_table("screening_decisions")
    op.drop_index("ix_discovered_pmid", table_name="discovered")
    op.drop_index("ix_discovered_doi", table_name="discovered")
    op.drop_table("discovered")
