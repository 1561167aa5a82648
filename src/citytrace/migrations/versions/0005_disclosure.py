"""disclosure: the public list of places and, apart, the visits each entry was drawn from

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 00:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import citytrace.db

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _utc(name: str, nullable: bool) -> sa.Column[object]:
    return sa.Column(name, citytrace.db.UtcDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "disclosure_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "draft",
                "approved",
                "published",
                "withdrawn",
                "expired",
                "suppressed",
                name="entrystatus",
                native_enum=False,
                length=18,
            ),
            nullable=False,
        ),
        sa.Column("district_code", sa.String(length=10), nullable=False),
        sa.Column("place_kind", sa.String(length=40), nullable=False),
        sa.Column("business_name", sa.String(length=200), nullable=True),
        sa.Column("road_address", sa.String(length=400), nullable=True),
        sa.Column("latitude", sa.Double(), nullable=True),
        sa.Column("longitude", sa.Double(), nullable=True),
        _utc("exposure_start", False),
        _utc("exposure_end", False),
        sa.Column("disinfected", sa.Boolean(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("transport_line", sa.String(length=80), nullable=True),
        sa.Column("transport_car", sa.String(length=20), nullable=True),
        sa.Column("boarding_stop", sa.String(length=200), nullable=True),
        _utc("boarding_at", True),
        sa.Column("alighting_stop", sa.String(length=200), nullable=True),
        _utc("alighting_at", True),
        _utc("last_contact_at", False),
        _utc("expires_at", False),
        _utc("created_at", False),
        _utc("updated_at", False),
        _utc("approved_at", True),
        _utc("published_at", True),
        _utc("withdrawn_at", True),
        sa.Column("withdrawal_reason", sa.Text(), nullable=True),
        _utc("corrected_at", True),
        sa.Column("correction_note", sa.Text(), nullable=True),
        _utc("suppressed_at", True),
        sa.Column("suppression_reason", sa.Text(), nullable=True),
        sa.Column("mass_exposure", sa.Boolean(), nullable=False),
        sa.Column("time_step_min", sa.Integer(), nullable=False),
        sa.Column(
            "precision",
            sa.Enum("place", "district", name="precision", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("risk_k", sa.Integer(), nullable=True),
        sa.Column(
            "risk_level",
            sa.Enum("ok", "warning", "blocked", name="risklevel", native_enum=False, length=15),
            nullable=False,
        ),
        sa.Column("risk_reason", sa.Text(), nullable=False),
        _utc("risk_checked_at", True),
        sa.Column("override_justification", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disclosure_entry")),
        sa.UniqueConstraint("public_id", name=op.f("uq_disclosure_entry_public_id")),
    )
    with op.batch_alter_table("disclosure_entry", schema=None) as batch_op:
        for column in ("district_code", "expires_at", "status", "updated_at"):
            batch_op.create_index(
                batch_op.f(f"ix_disclosure_entry_{column}"), [column], unique=False
            )

    op.create_table(
        "disclosure_source",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("visit_id", sa.Integer(), nullable=True),
        _utc("started_at", False),
        _utc("finished_at", False),
        sa.Column("latitude", sa.Double(), nullable=False),
        sa.Column("longitude", sa.Double(), nullable=False),
        sa.Column("district_code", sa.String(length=10), nullable=True),
        sa.Column("venue_id", sa.String(length=80), nullable=True),
        sa.Column("venue_name", sa.String(length=200), nullable=True),
        sa.Column("venue_kind", sa.String(length=40), nullable=True),
        sa.Column("address", sa.String(length=400), nullable=True),
        _utc("created_at", False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["case_file.id"],
            name=op.f("fk_disclosure_source_case_id_case_file"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["disclosure_entry.id"],
            name=op.f("fk_disclosure_source_entry_id_disclosure_entry"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["visit_id"],
            ["visit.id"],
            name=op.f("fk_disclosure_source_visit_id_visit"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disclosure_source")),
        sa.UniqueConstraint(
            "entry_id", "visit_id", name=op.f("uq_disclosure_source_entry_id_visit_id")
        ),
    )
    with op.batch_alter_table("disclosure_source", schema=None) as batch_op:
        for column in ("case_id", "entry_id", "visit_id"):
            batch_op.create_index(
                batch_op.f(f"ix_disclosure_source_{column}"), [column], unique=False
            )


def downgrade() -> None:
    with op.batch_alter_table("disclosure_source", schema=None) as batch_op:
        for column in ("visit_id", "entry_id", "case_id"):
            batch_op.drop_index(batch_op.f(f"ix_disclosure_source_{column}"))
    op.drop_table("disclosure_source")
    with op.batch_alter_table("disclosure_entry", schema=None) as batch_op:
        for column in ("updated_at", "status", "expires_at", "district_code"):
            batch_op.drop_index(batch_op.f(f"ix_disclosure_entry_{column}"))
    op.drop_table("disclosure_entry")
