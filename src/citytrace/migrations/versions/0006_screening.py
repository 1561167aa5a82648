"""screening: clinics and their lanes or booths, bookings and their slots, the arrival queue,
samples, results and the outbox of result notifications

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 00:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import citytrace.db

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "screening_clinic",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "drive_through",
                "walk_through",
                "conventional",
                name="clinickind",
                native_enum=False,
                length=21,
            ),
            nullable=False,
        ),
        sa.Column("address", sa.String(length=300), nullable=False),
        sa.Column("province", sa.String(length=40), nullable=False),
        sa.Column("district_name", sa.String(length=60), nullable=False),
        sa.Column("district_code", sa.String(length=10), nullable=True),
        sa.Column("latitude", sa.Double(), nullable=True),
        sa.Column("longitude", sa.Double(), nullable=True),
        sa.Column(
            "location_precision",
            sa.Enum(
                "address",
                "district",
                "unknown",
                name="locationprecision",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("phone", sa.String(length=60), nullable=False),
        sa.Column("weekday_hours", sa.String(length=16), nullable=True),
        sa.Column("saturday_hours", sa.String(length=16), nullable=True),
        sa.Column("holiday_hours", sa.String(length=16), nullable=True),
        sa.Column("service_time_min", sa.Integer(), nullable=False),
        sa.Column("ventilation_min", sa.Integer(), nullable=False),
        sa.Column("disinfection_min", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(length=300), nullable=False),
        sa.Column("source_key", sa.String(length=64), nullable=True),
        sa.Column("booking_version", sa.Integer(), nullable=False),
        sa.Column("created_at", citytrace.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", citytrace.db.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_screening_clinic")),
        sa.UniqueConstraint("reference", name=op.f("uq_screening_clinic_reference")),
        sa.UniqueConstraint("source_key", name=op.f("uq_screening_clinic_source_key")),
    )
    with op.batch_alter_table("screening_clinic", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_screening_clinic_district_code"), ["district_code"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_screening_clinic_kind"), ["kind"], unique=False)

    op.create_table(
        "screening_unit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=40), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["clinic_id"],
            ["screening_clinic.id"],
            name=op.f("fk_screening_unit_clinic_id_screening_clinic"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_screening_unit")),
        sa.UniqueConstraint("clinic_id", "number", name=op.f("uq_screening_unit_clinic_id_number")),
    )
    with op.batch_alter_table("screening_unit", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_screening_unit_clinic_id"), ["clinic_id"], unique=False
        )

    op.create_table(
        "screening_booking",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=20), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("slot_starts_at", citytrace.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("walk_in", sa.Boolean(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "booked",
                "cancelled",
                "checked_in",
                "sampled",
                "no_show",
                name="bookingstatus",
                native_enum=False,
                length=18,
            ),
            nullable=False,
        ),
        sa.Column("idempotency_key", sa.String(length=100), nullable=True),
        sa.Column("request_hash", sa.String(length=64), nullable=True),
        sa.Column("access_code_hash", sa.String(length=64), nullable=False),
        sa.Column("code_failures", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=5), nullable=False),
        sa.Column("key_id", sa.String(length=40), nullable=False),
        sa.Column("full_name_enc", sa.LargeBinary(), nullable=False),
        sa.Column("phone_enc", sa.LargeBinary(), nullable=True),
        sa.Column("email_enc", sa.LargeBinary(), nullable=True),
        sa.Column("phone_hash", sa.String(length=64), nullable=True),
        sa.Column("created_at", citytrace.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", citytrace.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("cancelled_at", citytrace.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("checked_in_at", citytrace.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("closed_at", citytrace.db.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["clinic_id"],
            ["screening_clinic.id"],
            name=op.f("fk_screening_booking_clinic_id_screening_clinic"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["screening_unit.id"],
            name=op.f("fk_screening_booking_unit_id_screening_unit"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_screening_booking")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_screening_booking_idempotency_key")),
        sa.UniqueConstraint("reference", name=op.f("uq_screening_booking_reference")),
    )
    with op.batch_alter_table("screening_booking", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_screening_booking_clinic_id"), ["clinic_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_screening_booking_closed_at"), ["closed_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_screening_booking_key_id"), ["key_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_screening_booking_phone_hash"), ["phone_hash"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_screening_booking_slot_starts_at"), ["slot_starts_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_screening_booking_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_screening_booking_unit_id"), ["unit_id"], unique=False)

    op.create_table(
        "screening_queue_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("booking_id", sa.Integer(), nullable=False),
        sa.Column("service_date", sa.Date(), nullable=False),
        sa.Column("ticket", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "waiting",
                "in_service",
                "done",
                "left",
                name="queuestatus",
                native_enum=False,
                length=18,
            ),
            nullable=False,
        ),
        sa.Column("arrived_at", citytrace.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("called_at", citytrace.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", citytrace.db.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["booking_id"],
            ["screening_booking.id"],
            name=op.f("fk_screening_queue_entry_booking_id_screening_booking"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["clinic_id"],
            ["screening_clinic.id"],
            name=op.f("fk_screening_queue_entry_clinic_id_screening_clinic"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["screening_unit.id"],
            name=op.f("fk_screening_queue_entry_unit_id_screening_unit"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_screening_queue_entry")),
        sa.UniqueConstraint("booking_id", name=op.f("uq_screening_queue_entry_booking_id")),
        sa.UniqueConstraint(
            "clinic_id",
            "service_date",
            "ticket",
            name=op.f("uq_screening_queue_entry_clinic_id_service_date_ticket"),
        ),
    )
    with op.batch_alter_table("screening_queue_entry", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_screening_queue_entry_clinic_id"), ["clinic_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_screening_queue_entry_status"), ["status"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_screening_queue_entry_unit_id"), ["unit_id"], unique=False
        )

    op.create_table(
        "screening_sample",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=32), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("booking_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "collected",
                "sent",
                "received",
                "resulted",
                name="samplestatus",
                native_enum=False,
                length=17,
            ),
            nullable=False,
        ),
        sa.Column("collected_at", citytrace.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("collected_by", sa.String(length=64), nullable=False),
        sa.Column("lab", sa.String(length=120), nullable=True),
        sa.Column("sent_at", citytrace.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("received_at", citytrace.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("resulted_at", citytrace.db.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["booking_id"],
            ["screening_booking.id"],
            name=op.f("fk_screening_sample_booking_id_screening_booking"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["clinic_id"],
            ["screening_clinic.id"],
            name=op.f("fk_screening_sample_clinic_id_screening_clinic"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_screening_sample")),
        sa.UniqueConstraint("booking_id", name=op.f("uq_screening_sample_booking_id")),
        sa.UniqueConstraint("label", name=op.f("uq_screening_sample_label")),
    )
    with op.batch_alter_table("screening_sample", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_screening_sample_clinic_id"), ["clinic_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_screening_sample_status"), ["status"], unique=False)

    op.create_table(
        "screening_slot_claim",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("starts_at", citytrace.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("booking_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["booking_id"],
            ["screening_booking.id"],
            name=op.f("fk_screening_slot_claim_booking_id_screening_booking"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["screening_unit.id"],
            name=op.f("fk_screening_slot_claim_unit_id_screening_unit"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_screening_slot_claim")),
        sa.UniqueConstraint("booking_id", name=op.f("uq_screening_slot_claim_booking_id")),
        sa.UniqueConstraint(
            "unit_id", "starts_at", name=op.f("uq_screening_slot_claim_unit_id_starts_at")
        ),
    )
    op.create_table(
        "screening_result",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sample_id", sa.Integer(), nullable=False),
        sa.Column(
            "outcome",
            sa.Enum(
                "positive", "negative", "inconclusive", name="outcome", native_enum=False, length=20
            ),
            nullable=False,
        ),
        sa.Column("reported_at", citytrace.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("entered_at", citytrace.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("entered_by", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=300), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["case_file.id"],
            name=op.f("fk_screening_result_case_id_case_file"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["sample_id"],
            ["screening_sample.id"],
            name=op.f("fk_screening_result_sample_id_screening_sample"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_screening_result")),
        sa.UniqueConstraint("sample_id", name=op.f("uq_screening_result_sample_id")),
    )
    with op.batch_alter_table("screening_result", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_screening_result_case_id"), ["case_id"], unique=False)

    op.create_table(
        "screening_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("result_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("template", sa.String(length=60), nullable=False),
        sa.Column("language", sa.String(length=5), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "sending",
                "sent",
                "failed",
                name="outboxstatus",
                native_enum=False,
                length=15,
            ),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", citytrace.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("claimed_at", citytrace.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("sent_at", citytrace.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=300), nullable=True),
        sa.Column("created_at", citytrace.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["result_id"],
            ["screening_result.id"],
            name=op.f("fk_screening_outbox_result_id_screening_result"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_screening_outbox")),
        sa.UniqueConstraint(
            "result_id", "channel", name=op.f("uq_screening_outbox_result_id_channel")
        ),
    )
    with op.batch_alter_table("screening_outbox", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_screening_outbox_next_attempt_at"), ["next_attempt_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_screening_outbox_result_id"), ["result_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_screening_outbox_status"), ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("screening_outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_screening_outbox_status"))
        batch_op.drop_index(batch_op.f("ix_screening_outbox_result_id"))
        batch_op.drop_index(batch_op.f("ix_screening_outbox_next_attempt_at"))

    op.drop_table("screening_outbox")
    with op.batch_alter_table("screening_result", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_screening_result_case_id"))

    op.drop_table("screening_result")
    op.drop_table("screening_slot_claim")
    with op.batch_alter_table("screening_sample", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_screening_sample_status"))
        batch_op.drop_index(batch_op.f("ix_screening_sample_clinic_id"))

    op.drop_table("screening_sample")
    with op.batch_alter_table("screening_queue_entry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_screening_queue_entry_unit_id"))
        batch_op.drop_index(batch_op.f("ix_screening_queue_entry_status"))
        batch_op.drop_index(batch_op.f("ix_screening_queue_entry_clinic_id"))

    op.drop_table("screening_queue_entry")
    with op.batch_alter_table("screening_booking", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_screening_booking_unit_id"))
        batch_op.drop_index(batch_op.f("ix_screening_booking_status"))
        batch_op.drop_index(batch_op.f("ix_screening_booking_slot_starts_at"))
        batch_op.drop_index(batch_op.f("ix_screening_booking_phone_hash"))
        batch_op.drop_index(batch_op.f("ix_screening_booking_key_id"))
        batch_op.drop_index(batch_op.f("ix_screening_booking_closed_at"))
        batch_op.drop_index(batch_op.f("ix_screening_booking_clinic_id"))

    op.drop_table("screening_booking")
    with op.batch_alter_table("screening_unit", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_screening_unit_clinic_id"))

    op.drop_table("screening_unit")
    with op.batch_alter_table("screening_clinic", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_screening_clinic_kind"))
        batch_op.drop_index(batch_op.f("ix_screening_clinic_district_code"))

    op.drop_table("screening_clinic")
