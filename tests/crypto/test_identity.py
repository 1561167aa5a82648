"""Identity and evidence files at rest: sealed, searchable by keyed hash, opened only when asked
(and audited), never in the database or the evidence folder as plaintext."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from citytrace.audit import service as audit
from citytrace.cases import service as cases
from citytrace.cases.models import CaseIdentity
from citytrace.cases.schemas import CaseCreate, IdentityIn
from citytrace.config import get_settings
from citytrace.db import make_engine, session_factory
from citytrace.errors import InputError
from citytrace.evidence import service as evidence
from citytrace.security.crypto import DecryptionError, UnknownKeyError
from citytrace.security.keys import keys_file
from tests.factories import CARD_CSV
from tests.scratch_db import scratch_engine

PEOPLE = [
    IdentityIn(
        full_name="김민수",
        phone="010-1234-5678",
        resident_number="900101-1234567",
        address="서울특별시 중구 세종대로 110",
    ),
    IdentityIn(full_name="Hong Gildong", phone="010-8765-4321", resident_number="851212-2345678"),
    IdentityIn(full_name="Lee Younghee", phone="010-1234-5679"),
]


def register(session: Session, identity: IdentityIn | None) -> int:
    data = CaseCreate(confirmed_date=date(2020, 3, 5), identity=identity)
    return cases.create(session=session, actor="tester", data=data).id


class TestIdentity:
    def test_round_trip_through_the_service(self, session: Session) -> None:
        case_id = register(session, PEOPLE[0])
        opened = cases.read_identity(session=session, actor="inv-1", case_id=case_id)
        assert opened is not None
        assert opened.model_dump() == PEOPLE[0].model_dump()
        assert "김민수" not in repr(opened)

    def test_stored_sealed_with_key_id_and_keyed_hashes(self, session: Session) -> None:
        case_id = register(session, PEOPLE[0])
        row = session.scalar(select(CaseIdentity).where(CaseIdentity.case_id == case_id))
        assert row is not None and row.key_id
        for value in (row.full_name_enc, row.phone_enc, row.resident_number_enc, row.address_enc):
            assert value is not None and b"1234" not in value and "김".encode() not in value
        assert row.phone_hash is not None and len(row.phone_hash) == 64

    def test_keyed_hash_search_finds_exactly_the_right_case(self, session: Session) -> None:
        ids = [register(session, p) for p in PEOPLE]
        register(session, None)
        for query in ("010-1234-5678", "01012345678", "+82 10-1234-5678", " 010 1234 5678 "):
            found = cases.find_by_phone(session=session, actor="inv-1", phone=query)
            assert [c.id for c in found] == [ids[0]], query
        assert cases.find_by_phone(session=session, actor="inv-1", phone="010-0000-0000") == []
        found = cases.find_by_resident_number(
            session=session, actor="inv-1", resident_number="8512122345678"
        )
        assert [c.id for c in found] == [ids[1]]

    def test_search_is_audited_without_the_number(self, session: Session) -> None:
        case_id = register(session, PEOPLE[1])
        cases.find_by_phone(session=session, actor="inv-2", phone="010-8765-4321")
        page = audit.search(
            session=session, actor="admin", where=audit.AuditFilter(action="case.search")
        )
        event = page.events[0]
        assert (event.actor, event.detail["by"], event.detail["case_ids"]) == (
            "inv-2",
            "phone",
            [case_id],
        )
        assert "8765" not in repr(event.detail)

    def test_a_number_without_digits_is_refused(self, session: Session) -> None:
        with pytest.raises(InputError, match="no digits"):
            cases.find_by_phone(session=session, actor="inv-1", phone="--")

    def test_a_value_moved_to_another_case_does_not_open(self, session: Session) -> None:
        first, second = register(session, PEOPLE[0]), register(session, PEOPLE[1])
        name = session.scalar(
            select(CaseIdentity.full_name_enc).where(CaseIdentity.case_id == first)
        )
        session.execute(
            update(CaseIdentity).where(CaseIdentity.case_id == second).values(full_name_enc=name)
        )
        session.expire_all()
        with pytest.raises(DecryptionError):
            cases.read_identity(session=session, actor="inv-1", case_id=second)

    def test_without_the_key_nothing_opens(self, session: Session) -> None:
        case_id = register(session, PEOPLE[0])
        keys_file().unlink()  # a fresh keys.json, with other keys, is made at the next use
        session.expire_all()
        with pytest.raises(UnknownKeyError, match="does not hold"):
            cases.read_identity(session=session, actor="inv-1", case_id=case_id)


class TestRawEvidence:
    def test_kept_sealed_and_read_back_audited(self, session: Session, tmp_path: Path) -> None:
        case_id = register(session, None)
        path = tmp_path / "card.csv"
        path.write_text(CARD_CSV)
        result = evidence.attach(session=session, actor="t", case_id=case_id, path=path)
        stored = result.evidence
        assert stored.raw_path is not None and stored.key_id is not None
        sealed = (get_settings().evidence_dir / stored.raw_path).read_bytes()
        assert b"Seoul Station Cafe" not in sealed and b"transacted_at" not in sealed
        chunks = evidence.read_raw(session=session, actor="inv-3", evidence_id=stored.id)
        last = audit.list_(session=session, entity="case", entity_id=case_id)[-1]
        assert (last.action, last.actor, last.detail) == (
            "evidence.raw.read",
            "inv-3",
            {"evidence_id": stored.id},
        )
        assert b"".join(chunks) == CARD_CSV.encode()

    def test_a_sealed_file_of_another_case_does_not_open(
        self, session: Session, tmp_path: Path
    ) -> None:
        path = tmp_path / "card.csv"
        path.write_text(CARD_CSV)
        first = evidence.attach(
            session=session, actor="t", case_id=register(session, None), path=path
        ).evidence
        second = evidence.attach(
            session=session, actor="t", case_id=register(session, None), path=path
        ).evidence
        root = get_settings().evidence_dir
        assert first.raw_path and second.raw_path
        (root / second.raw_path).write_bytes((root / first.raw_path).read_bytes())
        with pytest.raises(DecryptionError):
            b"".join(evidence.read_raw(session=session, actor="t", evidence_id=second.id))


class TestNoPlaintextAtRest:
    def test_database_file_holds_no_identity(self, tmp_path: Path) -> None:
        """Greps the bytes of an embedded SQLite database (and its WAL) after real commits."""
        with scratch_engine(make_engine("sqlite://"), tmp_path) as scratch:
            with session_factory(scratch)() as session, session.begin():
                for person in PEOPLE:
                    register(session, person)
            # Outside any transaction: a checkpoint cannot run while one holds the write lock.
            raw = scratch.raw_connection()
            try:
                raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                raw.close()
            files = [p for p in tmp_path.iterdir() if p.name.startswith("scratch.db")]
            data = b"".join(p.read_bytes() for p in files)
        assert len(data) > 10_000
        for person in PEOPLE:
            for value in person.model_dump().values():
                if value is None:
                    continue
                assert value.encode() not in data, value
                # Phone and resident numbers without their dashes too (a house number's few
                # digits are found in any database file).
                digits = "".join(ch for ch in value if ch.isdigit())
                if len(digits) >= 8:
                    assert digits.encode() not in data, value
