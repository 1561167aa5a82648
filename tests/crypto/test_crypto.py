"""The pure encryption library: sealed fields, sealed streams, keyed hashes, key parsing."""

from __future__ import annotations

import base64
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from citytrace.security.crypto import (
    DecryptionError,
    KeyConfigError,
    Keyring,
    UnknownKeyError,
    field_key_id,
    generate_key,
    parse_hash_key,
    parse_keys,
    stream_key_id,
)

K1, K2, HASH = generate_key(), generate_key(), generate_key()


def ring(*keys: tuple[str, bytes], hash_key: bytes = HASH) -> Keyring:
    return Keyring(list(keys), hash_key)


class TestSeal:
    def test_round_trip_names_the_key(self) -> None:
        keyring = ring(("k1", K1))
        sealed = keyring.seal("김민수".encode(), context=b"case_identity.full_name:1")
        assert field_key_id(sealed) == "k1" and "김민수".encode() not in sealed
        assert keyring.open(sealed, context=b"case_identity.full_name:1") == "김민수".encode()

    def test_two_seals_of_one_value_differ(self) -> None:
        keyring = ring(("k1", K1))
        assert keyring.seal(b"x", context=b"c") != keyring.seal(b"x", context=b"c")

    def test_wrong_key_fails(self) -> None:
        sealed = ring(("k1", K1)).seal(b"secret", context=b"c")
        with pytest.raises(DecryptionError, match="'k1' does not open"):
            ring(("k1", K2)).open(sealed, context=b"c")

    def test_other_context_fails(self) -> None:
        """A value moved to another row or column does not open there."""
        keyring = ring(("k1", K1))
        sealed = keyring.seal(b"secret", context=b"case_identity.phone:1")
        with pytest.raises(DecryptionError):
            keyring.open(sealed, context=b"case_identity.phone:2")

    @pytest.mark.parametrize("position", [0, 1, 5, 20, -1])
    def test_any_changed_byte_fails(self, position: int) -> None:
        keyring = ring(("k1", K1))
        sealed = bytearray(keyring.seal(b"secret value", context=b"c"))
        sealed[position] ^= 0x01
        with pytest.raises((DecryptionError, UnknownKeyError)):
            keyring.open(bytes(sealed), context=b"c")

    def test_old_key_still_opens_after_a_new_current_key(self) -> None:
        sealed = ring(("k1", K1)).seal(b"secret", context=b"c")
        rotated = ring(("k2", K2), ("k1", K1))
        assert rotated.current_id == "k2"
        assert rotated.open(sealed, context=b"c") == b"secret"
        assert field_key_id(rotated.seal(b"secret", context=b"c")) == "k2"

    def test_unknown_key_is_named(self) -> None:
        sealed = ring(("k1", K1)).seal(b"secret", context=b"c")
        with pytest.raises(UnknownKeyError, match=r"'k1'.*holds k2"):
            ring(("k2", K2)).open(sealed, context=b"c")

    def test_repr_shows_no_key_material(self) -> None:
        keyring = ring(("k1", K1))
        assert repr(keyring) == "Keyring(current='k1', ids=['k1'])"
        assert base64.b64encode(K1).decode() not in repr(keyring)


def seal_stream(keyring: Keyring, data: bytes, chunk_bytes: int, context: bytes = b"f") -> bytes:
    out = io.BytesIO()
    keyring.encrypt_stream(io.BytesIO(data), out, context=context, chunk_bytes=chunk_bytes)
    return out.getvalue()


def open_stream(keyring: Keyring, sealed: bytes, context: bytes = b"f") -> bytes:
    return b"".join(keyring.decrypt_stream(io.BytesIO(sealed), context=context))


class TestStream:
    @pytest.mark.parametrize("size", [0, 1, 15, 16, 17, 48, 50])
    def test_round_trip_at_chunk_edges(self, size: int) -> None:
        keyring = ring(("k1", K1))
        data = bytes(range(256))[:size] * 1
        sealed = seal_stream(keyring, data, chunk_bytes=16)
        assert stream_key_id(io.BytesIO(sealed)) == "k1"
        assert open_stream(keyring, sealed) == data

    @settings(max_examples=60, deadline=None)
    @given(data=st.binary(max_size=2000), chunk_bytes=st.integers(min_value=1, max_value=300))
    def test_round_trip_property(self, data: bytes, chunk_bytes: int) -> None:
        keyring = ring(("k1", K1))
        assert open_stream(keyring, seal_stream(keyring, data, chunk_bytes)) == data

    def test_reads_its_input_one_chunk_at_a_time(self) -> None:
        class Recording(io.BytesIO):
            largest = 0

            def read(self, size: int | None = -1) -> bytes:
                assert size is not None and size > 0, "the whole input was asked for"
                Recording.largest = max(Recording.largest, size)
                return super().read(size)

        out = io.BytesIO()
        ring(("k1", K1)).encrypt_stream(Recording(b"x" * 10_000), out, context=b"f", chunk_bytes=64)
        assert Recording.largest == 64

    def test_header_names_the_key_and_plaintext_is_absent(self) -> None:
        sealed = seal_stream(ring(("k1", K1)), b"Hong Gildong 010-1234-5678" * 10, 32)
        assert b"Hong" not in sealed and b"010-1234" not in sealed

    def test_wrong_key_and_wrong_context_fail(self) -> None:
        sealed = seal_stream(ring(("k1", K1)), b"abc" * 40, 16)
        with pytest.raises(DecryptionError, match="chunk 0"):
            open_stream(ring(("k1", K2)), sealed)
        with pytest.raises(DecryptionError, match="chunk 0"):
            open_stream(ring(("k1", K1)), sealed, context=b"other")

    def test_cut_at_a_chunk_boundary_fails(self) -> None:
        keyring = ring(("k1", K1))
        sealed = seal_stream(keyring, b"a" * 64, chunk_bytes=16)  # 4 full chunks
        header = len(sealed) - 4 * (16 + 16)
        with pytest.raises(DecryptionError, match="chunk 2"):
            open_stream(keyring, sealed[: header + 3 * 32])

    def test_swapped_chunks_fail(self) -> None:
        keyring = ring(("k1", K1))
        sealed = seal_stream(keyring, b"a" * 16 + b"b" * 16 + b"c" * 5, chunk_bytes=16)
        header = len(sealed) - (32 + 32 + 21)
        first, second = sealed[header : header + 32], sealed[header + 32 : header + 64]
        swapped = sealed[:header] + second + first + sealed[header + 64 :]
        with pytest.raises(DecryptionError, match="chunk 0"):
            open_stream(keyring, swapped)

    def test_changed_header_fails(self) -> None:
        keyring = ring(("k1", K1))
        sealed = bytearray(seal_stream(keyring, b"abc", 16))
        sealed[-20 - 16] ^= 1  # a byte of the salt or nonce prefix
        with pytest.raises(DecryptionError):
            open_stream(keyring, bytes(sealed))

    def test_not_a_sealed_stream(self) -> None:
        with pytest.raises(DecryptionError, match="not a sealed stream"):
            open_stream(ring(("k1", K1)), b"timestamp,latitude\n")


class TestKeyedHash:
    def test_same_value_same_hash_other_kind_or_key_other_hash(self) -> None:
        keyring = ring(("k1", K1))
        digest = keyring.keyed_hash("phone", "01012345678")
        assert digest == ring(("k2", K2)).keyed_hash("phone", "01012345678")  # not the AES key
        assert len(digest) == 64 and "01012345678" not in digest
        assert digest != keyring.keyed_hash("resident_number", "01012345678")
        assert digest != ring(("k1", K1), hash_key=K2).keyed_hash("phone", "01012345678")


class TestParseKeys:
    def test_first_is_current(self) -> None:
        text = f"new:{base64.b64encode(K2).decode()}, old:{base64.b64encode(K1).decode()}"
        keys = parse_keys(text)
        assert [k for k, _ in keys] == ["new", "old"] and keys[0][1] == K2

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ("", "holds no key"),
            ("nocolon", "entry 1 must be KEY_ID:BASE64KEY"),
            ("bad id:AAAA", "entry 1 must be"),
            ("k1:not base64!", "key 'k1' is not valid base64"),
            ("k1:" + base64.b64encode(b"short").decode(), "must be 32 bytes, not 5"),
        ],
    )
    def test_errors_name_the_setting_not_the_key(self, text: str, message: str) -> None:
        with pytest.raises(KeyConfigError, match=message) as info:
            parse_keys(text)
        assert str(info.value).startswith("CITYTRACE_KEYS")

    def test_duplicate_ids_are_refused(self) -> None:
        key = base64.b64encode(K1).decode()
        with pytest.raises(KeyConfigError, match="'k1' appears twice"):
            parse_keys(f"k1:{key},k1:{key}")

    def test_hash_key(self) -> None:
        assert parse_hash_key(base64.b64encode(HASH).decode()) == HASH
        with pytest.raises(KeyConfigError, match="CITYTRACE_HASH_KEY"):
            parse_hash_key("AAAA")
