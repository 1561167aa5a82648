"""Rotation of the hash key: lookups recognise the old key while the stored hashes are made again,
access codes are hashed again as they are used, and nothing is unfindable at any moment."""

from __future__ import annotations

import base64
from datetime import date

import pytest
from sqlalchemy.orm import Session

from citytrace.audit import service as audit
from citytrace.cases import service as cases
from citytrace.cases.models import CaseIdentity
from citytrace.cases.schemas import CaseCreate, IdentityIn
from citytrace.cli.keys import app
from citytrace.config import get_settings
from citytrace.errors import ConflictError, InputError
from citytrace.screening import booking, queue
from citytrace.security import rotation
from citytrace.security.crypto import KeyConfigError, Keyring, parse_hash_keys
from citytrace.security.keys import add_file_hash_key, get_keyring, retire_file_hash_keys
from tests.cli_runner import home_session, invoke
from tests.screening.factories import book, make_clinic, seoul

K1, K2, K3 = (bytes([n]) * 32 for n in (1, 2, 3))


def b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


class TestHashKeys:
    def test_current_first_then_old(self) -> None:
        assert parse_hash_keys(b64(K1)) == [K1]
        assert parse_hash_keys(f" {b64(K2)} , {b64(K1)}") == [K2, K1]
        ring = Keyring.of([("k", K3)], [K2, K1])
        assert ring.hash_key == K2 and list(ring.old_hash_keys) == [K1]
        hashes = ring.keyed_hashes("phone", "01012345678")
        assert hashes[0] == ring.keyed_hash("phone", "01012345678")
        assert hashes[1] == Keyring.of([("k", K3)], [K1]).keyed_hash("phone", "01012345678")

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ("", "holds no key"),
            (f"{b64(K1)},,{b64(K2)}", "an entry is empty"),
            (f"{b64(K1)},{b64(K1)}", "a key appears twice"),
            (f"{b64(K1)},AAAA", "key 2 must be 32 bytes"),
            (f"{b64(K1)},not base64!", "key 2 is not valid base64"),
        ],
    )
    def test_errors_name_the_entry_not_the_key(self, text: str, message: str) -> None:
        with pytest.raises(KeyConfigError, match=message) as error:
            parse_hash_keys(text)
        assert b64(K1) not in str(error.value)


class TestRehash:
    def test_findable_all_the_way_through(self, session: Session) -> None:
        identity = IdentityIn(full_name="Kim", phone="010-1234-5678", resident_number="900101-1")
        case = cases.create(
            session=session,
            actor="t",
            data=CaseCreate(confirmed_date=date(2020, 3, 5), identity=identity),
        )
        made = book(session, make_clinic(session), seoul(5, 10))
        old_payload = queue.checkin_payload(made.booking)
        old_code_hash = made.booking.access_code_hash
        session.commit()
        before = session.get(CaseIdentity, case.identity.id)
        assert before is not None
        old_hashes = (before.phone_hash, before.resident_number_hash)

        add_file_hash_key()  # NEW,OLD: lookups find what the old key hashed
        assert len(get_keyring().old_hash_keys) == 1
        found = cases.find_by_phone(session=session, actor="t", phone="01012345678")
        assert [c.id for c in found] == [case.id]
        assert booking.find_by_phone(session=session, actor="t", phone="010-5555-0000")
        assert queue.parse_checkin_code(old_payload) == made.booking.reference
        assert queue.checkin_payload(made.booking) != old_payload  # new codes: the new key

        result = rotation.rehash(session=session, keyring=get_keyring(), actor="t", batch_size=1)
        assert (result.identities, result.bookings, result.changed) == (1, 1, 2)
        session.expire_all()
        after = session.get(CaseIdentity, case.identity.id)
        assert after is not None
        assert (after.phone_hash, after.resident_number_hash) != old_hashes
        assert all(h is not None for h in (after.phone_hash, after.resident_number_hash))
        again = rotation.rehash(session=session, keyring=get_keyring(), actor="t")
        assert (again.identities, again.changed) == (1, 0)  # nothing left to do
        events = audit.list_(session=session, entity="key", entity_id="hash")
        assert [e.detail for e in events] == [{"identities": 1}, {"bookings": 1}]

        # The access code, hashed by the old key, opens the booking and is hashed again.
        opened = booking.verify_access(
            session=session, reference=made.booking.reference, code=made.access_code
        )
        assert opened.access_code_hash != old_code_hash
        session.commit()

        assert retire_file_hash_keys() == 1  # only the new key now
        assert not get_keyring().old_hash_keys
        assert cases.find_by_resident_number(session=session, actor="t", resident_number="9001011")
        assert booking.find_by_phone(session=session, actor="t", phone="01055550000")
        assert booking.verify_access(
            session=session, reference=made.booking.reference, code=made.access_code
        )
        with pytest.raises(InputError, match="damaged or not a booking of ours"):
            queue.parse_checkin_code(old_payload)  # printed under the key now gone


class TestRehashCommand:
    def test_new_key_rehash_and_retire(self) -> None:
        with home_session() as session:
            data = CaseCreate(
                confirmed_date=date(2020, 3, 5),
                identity=IdentityIn(full_name="Kim", phone="010-1234"),
            )
            cases.create(session=session, actor="t", data=data)
        done = invoke(app, "rehash", "--new-key")
        assert done.exit_code == 0, done.output
        assert "new current hash key added to keys.json (1 old kept after it)" in done.output
        assert "1 identities and 0 bookings read, 1 hashes made again" in done.output
        assert "1 old hash keys are still recognised" in done.output
        assert "hash keys: the current one and 1 old" in invoke(app, "status").output
        retired = invoke(app, "rehash", "--retire-old")
        assert "0 hashes made again" in retired.output
        assert "1 old hash keys removed from keys.json" in retired.output
        assert not get_keyring().old_hash_keys
        assert "hash keys" not in invoke(app, "status").output
        with home_session() as session:
            assert cases.find_by_phone(session=session, actor="t", phone="0101234")

    def test_keys_in_the_settings_take_new_then_old(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("CITYTRACE_KEYS", f"k1:{b64(K3)}")
        monkeypatch.setenv("CITYTRACE_HASH_KEY", f"{b64(K2)},{b64(K1)}")
        get_settings.cache_clear()
        ring = get_keyring()
        assert ring.hash_key == K2 and list(ring.old_hash_keys) == [K1]
        refused = invoke(app, "rehash", "--new-key")
        assert isinstance(refused.exception, ConflictError)
        assert "put the new key first in CITYTRACE_HASH_KEY" in str(refused.exception)
        monkeypatch.setenv("CITYTRACE_HASH_KEY", f"{b64(K2)},,{b64(K1)}")
        get_settings.cache_clear()
        with pytest.raises(KeyConfigError, match="CITYTRACE_HASH_KEY: an entry is empty"):
            get_settings()
