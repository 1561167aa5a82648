"""Attaching evidence to a case: one transaction, idempotent, refused whole when bad."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from citytrace.cases import service as cases
from citytrace.cases.schemas import CaseCreate
from citytrace.config import get_settings
from citytrace.errors import InputError
from citytrace.evidence import service
from citytrace.security.crypto import DecryptionError
from citytrace.security.keys import get_keyring
from tests.factories import CARD_CSV


@pytest.fixture
def case_id(session: Session) -> int:
    from datetime import date

    return cases.create(
        session=session, actor="t", data=CaseCreate(confirmed_date=date(2020, 3, 5))
    ).id


class TestAttach:
    def test_stores_parquet_and_reads_it_back(
        self, session: Session, case_id: int, tmp_path: Path
    ) -> None:
        path = tmp_path / "card.csv"
        path.write_text(CARD_CSV)
        result = service.attach(session=session, actor="t", case_id=case_id, path=path)
        assert result.created and result.evidence.n_observations == 1
        fixes, observations = service.load(service.list_(session=session, case_id=case_id))
        assert fixes.num_rows == 0
        assert observations.column("place_name").to_pylist() == ["Seoul Station Cafe"]

    def test_what_is_read_from_a_file_is_stored_sealed_to_its_case(
        self, session: Session, case_id: int, tmp_path: Path
    ) -> None:
        path = tmp_path / "card.csv"
        path.write_text(CARD_CSV)
        stored = service.attach(session=session, actor="t", case_id=case_id, path=path).evidence
        root = get_settings().evidence_dir
        assert stored.observations_path is not None
        sealed = (root / stored.observations_path).read_bytes()
        assert b"Seoul Station Cafe" not in sealed and not sealed.startswith(b"PAR1")
        # Bound to its case and part: the same bytes passed off as another part do not open.
        stored.fixes_path = stored.observations_path
        with pytest.raises(DecryptionError):
            service.read_part(stored, "fixes", root, get_keyring())

    def test_a_file_larger_than_the_limit_is_refused_before_reading(
        self, session: Session, case_id: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("CITYTRACE_MAX_EVIDENCE_MB", "1")
        get_settings.cache_clear()
        path = tmp_path / "Records.json"
        path.write_bytes(b'{"locations": [' + b" " * (2 * 1024 * 1024) + b"]}")
        with pytest.raises(InputError, match=r"Records.json: the file is 2 MB, more than the 1 MB"):
            service.attach(session=session, actor="t", case_id=case_id, path=path)
        assert service.list_(session=session, case_id=case_id) == []
