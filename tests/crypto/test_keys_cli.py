"""`citytrace keys status|rotate|retire|generate` on the embedded database of the test's home."""

from __future__ import annotations

from datetime import date

from citytrace.cases import service as cases
from citytrace.cases.schemas import CaseCreate, IdentityIn
from citytrace.cli.keys import app
from citytrace.errors import ConflictError
from citytrace.security.crypto import parse_hash_key, parse_keys
from citytrace.security.keys import get_keyring
from tests.cli_runner import home_session, invoke


def status_rows() -> dict[str, list[str]]:
    result = invoke(app, "status")
    assert result.exit_code == 0, result.output
    return {line.split()[0]: line.split()[1:] for line in result.output.splitlines()[1:]}


class TestKeysCommands:
    def test_rotate_status_retire(self) -> None:
        with home_session() as session:
            data = CaseCreate(
                confirmed_date=date(2020, 3, 5),
                identity=IdentityIn(full_name="Kim", phone="010-1234"),
            )
            cases.create(session=session, actor="t", data=data)
        (old,) = status_rows()
        assert status_rows()[old] == ["1", "0", "current"]

        rotated = invoke(app, "rotate", "--batch-size", "1")
        assert "new current key" in rotated.output, rotated.output
        assert "1 identities and 0 files re-sealed" in rotated.output
        new = get_keyring().current_id
        assert status_rows() == {new: ["1", "0", "current"], old: ["0", "0", "old"]}

        assert f"key {old} removed" in invoke(app, "retire", old).output
        refused = invoke(app, "retire", new)
        assert isinstance(refused.exception, ConflictError)
        assert "still seals 1 identities" in str(refused.exception)
        with home_session() as session:
            (case,) = cases.find_by_phone(session=session, actor="t", phone="0101234")
            opened = cases.read_identity(session=session, actor="t", case_id=case.id)
            assert opened is not None and opened.full_name == "Kim"

    def test_generate_prints_usable_settings(self) -> None:
        keys_line, hash_line = invoke(app, "generate").output.splitlines()
        assert len(parse_keys(keys_line.removeprefix("CITYTRACE_KEYS="))) == 1
        assert len(parse_hash_key(hash_line.removeprefix("CITYTRACE_HASH_KEY="))) == 32
