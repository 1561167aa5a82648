"""Key rotation: everything re-sealed under the new key in committed batches, readable all the
way through, and an interrupted rotation resumed without loss."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from sqlalchemy.orm import Session

from citytrace.audit import service as audit
from citytrace.cases import service as cases
from citytrace.cases.schemas import CaseCreate, IdentityIn
from citytrace.config import get_settings
from citytrace.evidence import service as evidence
from citytrace.security import crypto, rotation
from citytrace.security.keys import add_file_key, get_keyring
from tests.factories import CARD_CSV

N_CASES = 5


class PowerCutError(Exception):
    pass


@pytest.fixture
def stored(session: Session, tmp_path: Path) -> dict[int, tuple[IdentityIn, list[int]]]:
    """Five cases with identities and one evidence file each, under the first key."""
    result = {}
    for n in range(N_CASES):
        identity = IdentityIn(
            full_name=f"Person {n}",
            phone=f"010-5555-000{n}",
            resident_number=f"90010{n}-1234567" if n % 2 else None,
            address=f"{n} Sejong-daero" if n % 3 else None,
        )
        case = cases.create(
            session=session,
            actor="t",
            data=CaseCreate(confirmed_date=date(2020, 3, 5), identity=identity),
        )
        path = tmp_path / f"card-{n}.csv"
        path.write_text(CARD_CSV.replace(",4500", f",{4500 + n}"))
        attached = evidence.attach(session=session, actor="t", case_id=case.id, path=path)
        result[case.id] = (identity, [attached.evidence.id])
    return result


def assert_all_readable(session: Session, stored: dict[int, tuple[IdentityIn, list[int]]]) -> None:
    session.expire_all()
    for case_id, (identity, evidence_ids) in stored.items():
        opened = cases.read_identity(session=session, actor="t", case_id=case_id)
        assert opened is not None and opened.model_dump() == identity.model_dump()
        for evidence_id in evidence_ids:
            data = b"".join(evidence.read_raw(session=session, actor="t", evidence_id=evidence_id))
            assert data.startswith(b"transacted_at,")
        files = evidence.list_(session=session, case_id=case_id)
        _, observations = evidence.load(files)
        assert observations.num_rows == 1
    found = cases.find_by_phone(session=session, actor="t", phone="01055550003")
    assert len(found) == 1 and found[0].id in stored


def uses(session: Session) -> dict[str, tuple[int, int]]:
    return {
        u.key_id: (u.identities, u.files)
        for u in rotation.status(session=session, keyring=get_keyring())
    }


class TestRotate:
    def test_everything_ends_under_the_new_key(
        self, session: Session, stored: dict[int, tuple[IdentityIn, list[int]]]
    ) -> None:
        old = get_keyring().current_id
        assert uses(session) == {old: (N_CASES, N_CASES)}
        new = add_file_key()
        seen: list[tuple[int, int]] = []

        def meanwhile(progress: rotation.RotationResult) -> None:
            # The service keeps working between batches: reads and new writes.
            assert_all_readable(session, stored)
            seen.append((progress.identities, progress.files))

        result = rotation.rotate(
            session=session, keyring=get_keyring(), actor="admin", batch_size=2, on_batch=meanwhile
        )
        assert (result.identities, result.files, result.batches) == (N_CASES, N_CASES, 6)
        assert seen[0] == (2, 0) and seen[-1] == (N_CASES, N_CASES)
        assert result.still_old == {}
        assert uses(session) == {new: (N_CASES, N_CASES), old: (0, 0)}
        assert_all_readable(session, stored)
        events = audit.list_(session=session, entity="key", entity_id=new)
        assert [e.detail for e in events[:3]] == [
            {"identities": 2},
            {"identities": 2},
            {"identities": 1},
        ]

    def test_parts_stored_before_sealing_are_sealed_and_the_plain_files_removed(
        self, session: Session, stored: dict[int, tuple[IdentityIn, list[int]]]
    ) -> None:
        root = get_settings().evidence_dir
        # Two evidence rows as a release that kept its Parquet unsealed left them.
        legacy = []
        for case_id in list(stored)[:2]:
            (row,) = evidence.list_(session=session, case_id=case_id)
            table = evidence.read_part(row, "observations", root, get_keyring())
            assert row.observations_path is not None and table is not None
            plain = row.observations_path.removesuffix(".sealed")
            pq.write_table(table, root / plain)
            (root / row.observations_path).unlink()
            row.observations_path = plain
            legacy.append((row, root / plain))
        session.commit()
        assert uses(session)[evidence.UNSEALED] == (0, 2)
        assert_all_readable(session, stored)  # plain parts are still read

        result = rotation.rotate(session=session, keyring=get_keyring(), actor="admin")
        assert result.files == 2 and evidence.UNSEALED not in uses(session)
        for row, plain in legacy:
            session.refresh(row)
            assert row.observations_path is not None
            assert row.observations_path.endswith(".parquet.sealed")
            assert not plain.exists()
            assert not (root / row.observations_path).read_bytes().startswith(b"PAR1")
        assert_all_readable(session, stored)

    def test_interrupted_in_the_identities_then_resumed(
        self,
        session: Session,
        stored: dict[int, tuple[IdentityIn, list[int]]],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        old = get_keyring().current_id
        new = add_file_key()
        seal = crypto.Keyring.seal
        calls = 0

        def failing_seal(self: crypto.Keyring, plaintext: bytes, *, context: bytes) -> bytes:
            nonlocal calls
            calls += 1
            if calls == 8:  # inside the second batch of identities
                raise PowerCutError
            return seal(self, plaintext, context=context)

        monkeypatch.setattr(crypto.Keyring, "seal", failing_seal)
        with pytest.raises(PowerCutError):
            rotation.rotate(session=session, keyring=get_keyring(), actor="admin", batch_size=2)
        monkeypatch.setattr(crypto.Keyring, "seal", seal)

        assert uses(session) == {new: (2, 0), old: (N_CASES - 2, N_CASES)}
        assert_all_readable(session, stored)
        result = rotation.rotate(session=session, keyring=get_keyring(), actor="admin")
        assert (result.identities, result.files) == (N_CASES - 2, N_CASES)
        assert uses(session) == {new: (N_CASES, N_CASES), old: (0, 0)}
        assert_all_readable(session, stored)

    def test_interrupted_between_a_file_and_its_row_then_resumed(
        self,
        session: Session,
        stored: dict[int, tuple[IdentityIn, list[int]]],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        old = get_keyring().current_id
        new = add_file_key()
        replace = os.replace
        calls = 0

        def failing_replace(src: str, dst: str) -> None:
            nonlocal calls
            calls += 1
            if calls == 7:  # the first file of the second row of the second batch (2 files a row)
                raise PowerCutError
            replace(src, dst)

        monkeypatch.setattr(evidence.os, "replace", failing_replace)
        with pytest.raises(PowerCutError):
            rotation.rotate(session=session, keyring=get_keyring(), actor="admin", batch_size=2)
        monkeypatch.setattr(evidence.os, "replace", replace)

        # Files 1-3 are under the new key on disk; the row of file 3 was rolled back with its
        # batch and still names the old key. Every file opens, and no temporary file is left.
        assert uses(session) == {new: (N_CASES, 2), old: (0, N_CASES - 2)}
        assert_all_readable(session, stored)
        assert not list(Path(evidence.get_settings().evidence_dir).rglob("*.tmp"))
        result = rotation.rotate(session=session, keyring=get_keyring(), actor="admin")
        assert result.files == N_CASES - 2
        assert uses(session) == {new: (N_CASES, N_CASES), old: (0, 0)}
        assert_all_readable(session, stored)

    def test_data_under_a_key_the_keyring_lost_is_shown(
        self, session: Session, stored: dict[int, tuple[IdentityIn, list[int]]]
    ) -> None:
        old = get_keyring().current_id
        lost = crypto.Keyring([("other", crypto.generate_key())], crypto.generate_key())
        listed = rotation.status(session=session, keyring=lost)
        assert [(u.key_id, u.in_keyring, u.current) for u in listed] == [
            ("other", True, True),
            (old, False, False),
        ]
