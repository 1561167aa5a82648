"""audit chain, encryption at rest and retention

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 21:20:31.497903

* ``audit_event`` gains ``client``, ``prev_hash`` and ``hash``; the events already there are
  chained in id order; on PostgreSQL a trigger refuses UPDATE, DELETE and TRUNCATE.
* ``case_identity`` keeps only ciphertext: the plaintext rows already there are sealed under the
  current key of the settings (made in keys.json in development) and the plaintext columns
  dropped. The downgrade opens them again.
* ``case_file`` gains ``closed_at`` (a closed case counts from its last update) and
  ``traces_purged_at``; ``evidence_file`` gains ``raw_path`` and ``key_id``; and
  ``statistics_daily`` keeps the counts of records that retention removes.
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

import citytrace.db

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_IDENTITY_FIELDS = ("full_name", "phone", "resident_number", "address")
_PLAIN_LENGTHS = {"full_name": 200, "phone": 40, "resident_number": 20, "address": 400}

_APPEND_ONLY = """
CREATE FUNCTION audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_event is append-only: % is refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_event_no_change BEFORE UPDATE OR DELETE ON audit_event
    FOR EACH ROW EXECUTE FUNCTION audit_event_append_only();
CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event
    FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only();
"""


def _is_postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _chain_existing_events() -> None:
    from citytrace.audit.chain import GENESIS, event_hash

    events = sa.table(
        "audit_event",
        sa.column("id", sa.Integer()),
        sa.column("at", citytrace.db.UtcDateTime()),
        sa.column("actor", sa.String()),
        sa.column("action", sa.String()),
        sa.column("entity", sa.String()),
        sa.column("entity_id", sa.String()),
        sa.column("detail", sa.JSON()),
        sa.column("client", sa.String()),
        sa.column("prev_hash", sa.String()),
        sa.column("hash", sa.String()),
    )
    bind = op.get_bind()
    prev = GENESIS
    rows = bind.execute(sa.select(events).order_by(events.c.id)).all()
    for row in rows:
        digest = event_hash(
            at=row.at,
            actor=row.actor,
            action=row.action,
            entity=row.entity,
            entity_id=row.entity_id,
            detail=row.detail,
            client=None,
            prev_hash=prev,
        )
        bind.execute(
            events.update().where(events.c.id == row.id).values(prev_hash=prev, hash=digest)
        )
        prev = digest


def _identity_table(*columns: sa.ColumnClause[Any]) -> sa.TableClause:
    return sa.table(
        "case_identity", sa.column("id", sa.Integer()), sa.column("case_id", sa.Integer()), *columns
    )


def _seal_existing_identities() -> None:
    plain = [sa.column(f, sa.String()) for f in _IDENTITY_FIELDS]
    sealed = [sa.column(f"{f}_enc", sa.LargeBinary()) for f in _IDENTITY_FIELDS]
    hashes = [sa.column(c, sa.String()) for c in ("key_id", "phone_hash", "resident_number_hash")]
    table = _identity_table(*plain, *sealed, *hashes)
    bind = op.get_bind()
    rows = bind.execute(sa.select(table).order_by(table.c.id)).all()
    if not rows:
        return  # no keys are needed (nor made) for an empty table
    from citytrace.cases.service import seal_identity_values
    from citytrace.security.keys import get_keyring

    keyring = get_keyring()
    for row in rows:
        values = {f: getattr(row, f) for f in _IDENTITY_FIELDS}
        columns = seal_identity_values(keyring, row.case_id, values)
        bind.execute(table.update().where(table.c.id == row.id).values(**columns))


def _open_identities() -> None:
    plain = [sa.column(f, sa.String()) for f in _IDENTITY_FIELDS]
    sealed = [sa.column(f"{f}_enc", sa.LargeBinary()) for f in _IDENTITY_FIELDS]
    table = _identity_table(*plain, *sealed)
    bind = op.get_bind()
    rows = bind.execute(sa.select(table).order_by(table.c.id)).all()
    if not rows:
        return
    from citytrace.security.keys import get_keyring

    keyring = get_keyring()
    for row in rows:
        values = {
            f: keyring.open_text(
                getattr(row, f"{f}_enc"), context=f"case_identity.{f}:{row.case_id}".encode()
            )
            for f in _IDENTITY_FIELDS
        }
        bind.execute(table.update().where(table.c.id == row.id).values(**values))


def upgrade() -> None:
    op.create_table(
        "statistics_daily",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("stat_date", sa.Date(), nullable=False),
        sa.Column("district_code", sa.String(length=10), nullable=False),
        sa.Column("cases_confirmed", sa.Integer(), nullable=False),
        sa.Column("visits", sa.Integer(), nullable=False),
        sa.Column("contacts_identified", sa.Integer(), nullable=False),
        sa.Column("updated_at", citytrace.db.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_statistics_daily")),
        sa.UniqueConstraint(
            "stat_date", "district_code", name=op.f("uq_statistics_daily_stat_date_district_code")
        ),
    )

    # Audit chain: add the columns, chain the events already there, then require them.
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("client", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("hash", sa.String(length=64), nullable=True))
    _chain_existing_events()
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column("hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.create_index(batch_op.f("ix_audit_event_actor"), ["actor"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_event_entity_id"), ["entity_id"], unique=False)
        batch_op.create_unique_constraint(batch_op.f("uq_audit_event_prev_hash"), ["prev_hash"])
    if _is_postgres():
        op.execute(_APPEND_ONLY)

    with op.batch_alter_table("case_file", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("closed_at", citytrace.db.UtcDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("traces_purged_at", citytrace.db.UtcDateTime(timezone=True), nullable=True)
        )
    op.execute("UPDATE case_file SET closed_at = updated_at WHERE status = 'closed'")

    # Identity: add the sealed columns, seal the rows already there, drop the plaintext.
    with op.batch_alter_table("case_identity", schema=None) as batch_op:
        batch_op.add_column(sa.Column("key_id", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("full_name_enc", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("phone_enc", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("resident_number_enc", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("address_enc", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("phone_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("resident_number_hash", sa.String(length=64), nullable=True))
    _seal_existing_identities()
    with op.batch_alter_table("case_identity", schema=None) as batch_op:
        batch_op.alter_column("key_id", existing_type=sa.String(length=40), nullable=False)
        batch_op.alter_column("full_name_enc", existing_type=sa.LargeBinary(), nullable=False)
        batch_op.create_index(batch_op.f("ix_case_identity_key_id"), ["key_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_case_identity_phone_hash"), ["phone_hash"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_case_identity_resident_number_hash"),
            ["resident_number_hash"],
            unique=False,
        )
        for field in _IDENTITY_FIELDS:
            batch_op.drop_column(field)

    with op.batch_alter_table("evidence_file", schema=None) as batch_op:
        batch_op.add_column(sa.Column("raw_path", sa.String(length=400), nullable=True))
        batch_op.add_column(sa.Column("key_id", sa.String(length=40), nullable=True))
        batch_op.create_index(batch_op.f("ix_evidence_file_key_id"), ["key_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("evidence_file", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_evidence_file_key_id"))
        batch_op.drop_column("key_id")
        batch_op.drop_column("raw_path")

    with op.batch_alter_table("case_identity", schema=None) as batch_op:
        for field in _IDENTITY_FIELDS:
            batch_op.add_column(
                sa.Column(field, sa.String(length=_PLAIN_LENGTHS[field]), nullable=True)
            )
    _open_identities()
    with op.batch_alter_table("case_identity", schema=None) as batch_op:
        batch_op.alter_column("full_name", existing_type=sa.String(length=200), nullable=False)
        batch_op.drop_index(batch_op.f("ix_case_identity_resident_number_hash"))
        batch_op.drop_index(batch_op.f("ix_case_identity_phone_hash"))
        batch_op.drop_index(batch_op.f("ix_case_identity_key_id"))
        batch_op.drop_column("resident_number_hash")
        batch_op.drop_column("phone_hash")
        batch_op.drop_column("address_enc")
        batch_op.drop_column("resident_number_enc")
        batch_op.drop_column("phone_enc")
        batch_op.drop_column("full_name_enc")
        batch_op.drop_column("key_id")

    # Not in batch mode: on SQLite that copies case_file and drops the original, and dropping a
    # parent table with foreign keys on deletes every identity, evidence file and visit through
    # ON DELETE CASCADE. SQLite (3.35+) drops a plain column in place.
    op.execute("ALTER TABLE case_file DROP COLUMN traces_purged_at")
    op.execute("ALTER TABLE case_file DROP COLUMN closed_at")

    if _is_postgres():
        op.execute("DROP TRIGGER audit_event_no_truncate ON audit_event")
        op.execute("DROP TRIGGER audit_event_no_change ON audit_event")
        op.execute("DROP FUNCTION audit_event_append_only()")
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_audit_event_prev_hash"), type_="unique")
        batch_op.drop_index(batch_op.f("ix_audit_event_entity_id"))
        batch_op.drop_index(batch_op.f("ix_audit_event_actor"))
        batch_op.drop_column("hash")
        batch_op.drop_column("prev_hash")
        batch_op.drop_column("client")

    op.drop_table("statistics_daily")
