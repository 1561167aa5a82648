"""Migration 0004 on a database with data: plaintext identities sealed, the audit events already
there chained, closed cases given ``closed_at``; and the way back."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from sqlalchemy import Engine, text

from citytrace.audit import service as audit
from citytrace.cases import service as cases
from citytrace.db import session_factory
from citytrace.migrations import alembic_config, upgrade
from tests.scratch_db import scratch_engine

BEFORE = datetime(2020, 3, 5, 1, 2, 3, 456789, tzinfo=UTC)


def downgrade(engine: Engine, revision: str) -> None:
    with engine.begin() as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def test_upgrade_seals_and_chains_what_is_there_and_downgrade_opens_it(
    engine: Engine, tmp_path: Path
) -> None:
    with scratch_engine(engine, tmp_path, revision="0003") as old:
        with old.begin() as conn:
            for n, status in ((1, "open"), (2, "closed")):
                conn.execute(
                    text(
                        "INSERT INTO case_file (id, reference, status, confirmed_date, notes, "
                        "created_at, updated_at) VALUES (:id, :ref, :status, '2020-03-05', '', "
                        ":at, :at)"
                    ),
                    {"id": n, "ref": f"C-{n}", "status": status, "at": BEFORE},
                )
            conn.execute(
                text(
                    "INSERT INTO case_identity (case_id, full_name, phone, resident_number, "
                    "address) VALUES (1, '김민수', '010-1234-5678', '900101-1234567', NULL)"
                )
            )
            for n in range(3):
                conn.execute(
                    text(
                        "INSERT INTO audit_event (at, actor, action, entity, entity_id, detail) "
                        "VALUES (:at, 'old', 'case.create', 'case', :id, :detail)"
                    ),
                    {"at": BEFORE, "id": str(n), "detail": '{"identity": true, "n": 1.5}'},
                )
        upgrade(old)

        with session_factory(old)() as session:
            opened = cases.read_identity(session=session, actor="t", case_id=1)
            assert opened is not None and opened.full_name == "김민수"
            assert [
                c.id
                for c in cases.find_by_phone(session=session, actor="t", phone="+82 10 1234 5678")
            ] == [1]
            check = audit.verify(session=session)
            assert check.ok and check.events == 5  # 3 chained by the migration, 2 reads since
            assert cases.get_or_raise(session=session, case_id=2).closed_at == BEFORE
            assert cases.get_or_raise(session=session, case_id=1).closed_at is None
            session.commit()

        downgrade(old, "0003")
        with old.connect() as conn:
            row = conn.execute(
                text("SELECT full_name, phone, resident_number FROM case_identity")
            ).one()
        assert tuple(row) == ("김민수", "010-1234-5678", "900101-1234567")
