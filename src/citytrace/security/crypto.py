"""Encryption at rest: a keyring of named AES-256-GCM keys, sealed fields, sealed file streams and
keyed hashes. A pure library: it knows nothing of settings, the database or the web.

Why AES-256-GCM (NIST SP 800-38D) rather than Fernet: Fernet is AES-128-CBC with HMAC-SHA256 and
has no associated data, so a ciphertext could be moved from one row or column to another and still
decrypt. GCM takes associated data, which binds each value to where it belongs (the table, column
and row), and has a 256-bit key. Its one hazard is nonce reuse: fields use random 96-bit nonces,
which SP 800-38D section 8.3 allows for up to 2**32 encryptions per key (key rotation resets the
count); files derive a fresh key per file with HKDF (RFC 5869), so their chunk nonces can be a
counter.

Formats (all integers big-endian):

* a sealed field: ``0x01 | len(key_id) | key_id | nonce (12) | ciphertext | tag (16)``; the
  associated data is the caller's context followed by the header before the nonce.
* a sealed stream, the STREAM construction of Hoang, Reyhanitabar, Rogaway and Vizár (CRYPTO 2015)
  as in Tink's AES-GCM-HKDF streaming AEAD: ``"CTRF" | 0x01 | len(key_id) | key_id | salt (32) |
  nonce prefix (7) | chunk size (4)``, then chunks of ``chunk size + 16`` bytes, the last one
  shorter or equal. Chunk ``i`` is sealed under ``HKDF-SHA256(key, salt, info=context)`` with nonce
  ``prefix | i (4) | last (1)`` and the header as associated data, so chunks cannot be reordered,
  dropped or cut off at the end, and the header cannot be changed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import struct
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from citytrace.errors import CitytraceError

__all__ = [
    "CHUNK_BYTES",
    "KEY_BYTES",
    "DecryptionError",
    "KeyConfigError",
    "Keyring",
    "StreamEncryptor",
    "UnknownKeyError",
    "generate_key",
    "new_key_id",
    "parse_hash_key",
    "parse_hash_keys",
    "parse_keys",
]

KEY_BYTES = 32  # AES-256
NONCE_BYTES = 12  # the 96-bit IV that SP 800-38D recommends
TAG_BYTES = 16
CHUNK_BYTES = 64 * 1024
_FIELD_VERSION = 1
_STREAM_MAGIC = b"CTRF"
_STREAM_VERSION = 1
_SALT_BYTES = 32
_PREFIX_BYTES = 7
_KEY_ID = re.compile(r"^[A-Za-z0-9_.\-]{1,40}$")


class KeyConfigError(CitytraceError):
    """The keys in the settings are missing or malformed; the message names the setting."""


class UnknownKeyError(CitytraceError):
    """A ciphertext names a key that the keyring does not hold."""


class DecryptionError(CitytraceError):
    """A ciphertext failed authentication: wrong key, wrong context, or altered bytes."""


def generate_key() -> bytes:
    """A fresh random 256-bit key."""
    return os.urandom(KEY_BYTES)


def new_key_id(stamp: str) -> str:
    """A key id from a time stamp (e.g. ``20261125T2113``) and 4 random hex digits."""
    return f"k{stamp}-{os.urandom(2).hex()}"


def _decode_key(text: str, setting: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise KeyConfigError(f"{setting}: {what} is not valid base64") from None
    if len(raw) != KEY_BYTES:
        raise KeyConfigError(f"{setting}: {what} must be {KEY_BYTES} bytes, not {len(raw)}")
    return raw


def parse_keys(text: str, setting: str = "CITYTRACE_KEYS") -> list[tuple[str, bytes]]:
    """Keys from ``id1:base64key,id2:base64key``; the first is the current one.

    Errors name the setting and the key id, never the key material.
    """
    keys: list[tuple[str, bytes]] = []
    for n, part in enumerate(p for p in text.split(",") if p.strip()):
        key_id, sep, material = part.strip().partition(":")
        if not sep or not _KEY_ID.match(key_id):
            raise KeyConfigError(
                f"{setting}: entry {n + 1} must be KEY_ID:BASE64KEY with an id of letters, "
                "digits, '.', '_' or '-' (at most 40)"
            )
        if any(key_id == k for k, _ in keys):
            raise KeyConfigError(f"{setting}: key id {key_id!r} appears twice")
        keys.append((key_id, _decode_key(material, setting, f"key {key_id!r}")))
    if not keys:
        raise KeyConfigError(f"{setting} holds no key")
    return keys


def parse_hash_key(text: str, setting: str = "CITYTRACE_HASH_KEY") -> bytes:
    """The current HMAC key of the keyed hashes (see :func:`parse_hash_keys`)."""
    return parse_hash_keys(text, setting)[0]


def parse_hash_keys(text: str, setting: str = "CITYTRACE_HASH_KEY") -> list[bytes]:
    """The HMAC keys of the keyed hashes, from ``base64[,base64...]``: the first is current (new
    hashes are made with it), the others old ones still recognised while a rotation of the hash
    key runs (see ``citytrace keys rehash``). Errors never show key material."""
    parts = [p.strip() for p in text.split(",")]
    if not any(parts):
        raise KeyConfigError(f"{setting} holds no key")
    if not all(parts):
        raise KeyConfigError(f"{setting}: an entry is empty (keys are separated by one comma)")
    if len(parts) == 1:
        return [_decode_key(parts[0], setting, "the key")]
    keys = [_decode_key(p, setting, f"key {n + 1}") for n, p in enumerate(parts)]
    if len(set(keys)) != len(keys):
        raise KeyConfigError(f"{setting}: a key appears twice")
    return keys


@dataclass(frozen=True)
class Keyring:
    """Named AES-256-GCM keys (the first is current) and the HMAC-SHA256 key of keyed hashes.

    Old keys are kept so that data sealed under them can still be read while a rotation
    re-encrypts it. The key material never appears in ``repr``.
    """

    keys: Sequence[tuple[str, bytes]] = field(repr=False)
    hash_key: bytes = field(repr=False)
    old_hash_keys: Sequence[bytes] = field(default=(), repr=False)
    """Earlier hash keys: hashes made with them are still recognised (:meth:`keyed_hashes`)."""
    _by_id: Mapping[str, bytes] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.keys:
            raise KeyConfigError("a keyring needs at least one key")
        for key_id, secret in self.keys:
            if not _KEY_ID.match(key_id) or len(secret) != KEY_BYTES:
                raise KeyConfigError(f"key {key_id!r} is malformed")
        if any(len(k) < KEY_BYTES for k in (self.hash_key, *self.old_hash_keys)):
            raise KeyConfigError(f"the hash key must be at least {KEY_BYTES} bytes")
        object.__setattr__(self, "_by_id", dict(self.keys))

    def __repr__(self) -> str:
        return f"Keyring(current={self.current_id!r}, ids={list(self.ids)!r})"

    @property
    def current_id(self) -> str:
        return self.keys[0][0]

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(k for k, _ in self.keys)

    def _key(self, key_id: str) -> bytes:
        try:
            return self._by_id[key_id]
        except KeyError:
            raise UnknownKeyError(
                f"data is sealed under key {key_id!r}, which the keyring does not hold "
                f"(it holds {', '.join(self.ids)})"
            ) from None

    # Fields ---------------------------------------------------------------------------------

    def seal(self, plaintext: bytes, *, context: bytes) -> bytes:
        """Encrypt ``plaintext`` under the current key, bound to ``context`` (e.g. table, column
        and row): the result opens only with the same context."""
        key_id = self.current_id
        header = bytes([_FIELD_VERSION, len(key_id)]) + key_id.encode("ascii")
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(self._key(key_id)).encrypt(nonce, plaintext, context + header)
        return header + nonce + sealed

    def open(self, blob: bytes, *, context: bytes) -> bytes:
        """The plaintext of a sealed field; :class:`DecryptionError` if it does not authenticate."""
        key_id, header = field_key_id(blob), blob[: 2 + blob[1]]
        nonce = blob[len(header) : len(header) + NONCE_BYTES]
        try:
            return AESGCM(self._key(key_id)).decrypt(
                nonce, blob[len(header) + NONCE_BYTES :], context + header
            )
        except InvalidTag:
            raise DecryptionError(f"a value sealed under key {key_id!r} does not open") from None

    def seal_text(self, value: str | None, *, context: bytes) -> bytes | None:
        return None if value is None else self.seal(value.encode("utf-8"), context=context)

    def open_text(self, blob: bytes | None, *, context: bytes) -> str | None:
        return None if blob is None else self.open(blob, context=context).decode("utf-8")

    # Keyed hashes ---------------------------------------------------------------------------

    def keyed_hash(self, kind: str, value: str) -> str:
        """HMAC-SHA256 (RFC 2104) of an already normalised ``value``, separated by ``kind`` so
        that a phone number and a resident number with the same digits hash differently."""
        return self._hmac(self.hash_key, kind, value)

    def keyed_hashes(self, kind: str, value: str) -> tuple[str, ...]:
        """:meth:`keyed_hash` under the current hash key, then under each old one: what a stored
        hash may be while a rotation of the hash key runs (to look up with ``IN``, or to check
        a code against each in constant time)."""
        return tuple(self._hmac(k, kind, value) for k in (self.hash_key, *self.old_hash_keys))

    @staticmethod
    def _hmac(key: bytes, kind: str, value: str) -> str:
        message = kind.encode("ascii") + b"\x00" + value.encode("utf-8")
        return hmac.new(key, message, hashlib.sha256).hexdigest()

    @classmethod
    def of(cls, keys: Sequence[tuple[str, bytes]], hash_keys: Sequence[bytes]) -> Keyring:
        """A keyring of encryption keys and hash keys (each list current first)."""
        return cls(keys, hash_keys[0], tuple(hash_keys[1:]))

    # Streams --------------------------------------------------------------------------------

    def encryptor(
        self, dst: BinaryIO, *, context: bytes, chunk_bytes: int = CHUNK_BYTES
    ) -> StreamEncryptor:
        """A :class:`StreamEncryptor` writing a sealed stream under the current key to ``dst``."""
        key_id = self.current_id
        return StreamEncryptor(
            dst, key_id=key_id, key=self._key(key_id), context=context, chunk_bytes=chunk_bytes
        )

    def encrypt_stream(
        self, src: BinaryIO, dst: BinaryIO, *, context: bytes, chunk_bytes: int = CHUNK_BYTES
    ) -> int:
        """Seal all of ``src`` into ``dst``, one chunk in memory at a time; bytes read."""
        encryptor = self.encryptor(dst, context=context, chunk_bytes=chunk_bytes)
        total = 0
        while block := src.read(chunk_bytes):
            encryptor.update(block)
            total += len(block)
        encryptor.finalize()
        return total

    def decrypt_stream(self, src: BinaryIO, *, context: bytes) -> Iterator[bytes]:
        """The plaintext of a sealed stream, chunk by chunk. A chunk is yielded only once it has
        authenticated; a stream cut short raises :class:`DecryptionError` at its end."""
        header, key_id, salt, prefix, chunk_bytes = _read_stream_header(src)
        aead = AESGCM(_file_key(self._key(key_id), salt, context))
        size = chunk_bytes + TAG_BYTES
        current = src.read(size)
        index = 0
        while True:
            following = src.read(size)
            last = not following
            nonce = prefix + struct.pack(">IB", index, int(last))
            try:
                yield aead.decrypt(nonce, current, header)
            except InvalidTag:
                raise DecryptionError(
                    f"chunk {index} of a stream sealed under key {key_id!r} does not open "
                    "(wrong key, altered or truncated)"
                ) from None
            if last:
                return
            current, index = following, index + 1


def field_key_id(blob: bytes) -> str:
    """The id of the key a sealed field was sealed under."""
    if len(blob) < 2 or blob[0] != _FIELD_VERSION or len(blob) < 2 + blob[1] + NONCE_BYTES:
        raise DecryptionError("not a sealed value of a known version")
    return _key_id(blob[2 : 2 + blob[1]])


def _key_id(raw: bytes) -> str:
    try:
        key_id = raw.decode("ascii")
    except UnicodeDecodeError:
        key_id = ""
    if not _KEY_ID.match(key_id):
        raise DecryptionError("a sealed value names no valid key id")
    return key_id


def stream_key_id(src: BinaryIO) -> str:
    """The id of the key a sealed stream was sealed under (reads only its header)."""
    return _read_stream_header(src)[1]


def _file_key(key: bytes, salt: bytes, context: bytes) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=KEY_BYTES, salt=salt, info=b"citytrace-file\x00" + context
    ).derive(key)


def _read_stream_header(src: BinaryIO) -> tuple[bytes, str, bytes, bytes, int]:
    fixed = src.read(6)
    if len(fixed) != 6 or fixed[:4] != _STREAM_MAGIC or fixed[4] != _STREAM_VERSION:
        raise DecryptionError("not a sealed stream of a known version")
    rest_size = fixed[5] + _SALT_BYTES + _PREFIX_BYTES + 4
    rest = src.read(rest_size)
    if len(rest) != rest_size:
        raise DecryptionError("the header of a sealed stream is cut short")
    n = fixed[5]
    key_id = _key_id(rest[:n])
    salt = rest[n : n + _SALT_BYTES]
    prefix = rest[n + _SALT_BYTES : n + _SALT_BYTES + _PREFIX_BYTES]
    (chunk_bytes,) = struct.unpack(">I", rest[-4:])
    if not 0 < chunk_bytes <= 1 << 24:
        raise DecryptionError("a sealed stream names an impossible chunk size")
    return fixed + rest, key_id, salt, prefix, chunk_bytes


class StreamEncryptor:
    """Writes a sealed stream: feed plaintext with :meth:`update`, end with :meth:`finalize`.

    Holds at most one chunk (plus the block being fed) in memory; a chunk is written only once
    more data follows it, so that the last one can be marked as last.
    """

    def __init__(
        self, dst: BinaryIO, *, key_id: str, key: bytes, context: bytes, chunk_bytes: int
    ) -> None:
        if not 0 < chunk_bytes <= 1 << 24:
            raise ValueError("chunk_bytes must be between 1 and 16 MiB")
        salt = os.urandom(_SALT_BYTES)
        self._prefix = os.urandom(_PREFIX_BYTES)
        self._header = (
            _STREAM_MAGIC
            + bytes([_STREAM_VERSION, len(key_id)])
            + key_id.encode("ascii")
            + salt
            + self._prefix
            + struct.pack(">I", chunk_bytes)
        )
        self._aead = AESGCM(_file_key(key, salt, context))
        self._dst = dst
        self._chunk = chunk_bytes
        self._buffer = bytearray()
        self._index = 0
        self._done = False
        dst.write(self._header)

    def _write(self, chunk: bytes, *, last: bool) -> None:
        if self._index >= 2**32 - 1:
            raise ValueError("a sealed stream holds at most 2**32 - 1 chunks")
        nonce = self._prefix + struct.pack(">IB", self._index, int(last))
        self._dst.write(self._aead.encrypt(nonce, chunk, self._header))
        self._index += 1

    def update(self, data: bytes) -> None:
        if self._done:
            raise ValueError("the stream is already finalised")
        self._buffer += data
        # Keep back at least one byte beyond a whole chunk: only then is that chunk not the last.
        while len(self._buffer) > self._chunk:
            self._write(bytes(self._buffer[: self._chunk]), last=False)
            del self._buffer[: self._chunk]

    def finalize(self) -> None:
        if self._done:
            raise ValueError("the stream is already finalised")
        self._write(bytes(self._buffer), last=True)
        self._buffer.clear()
        self._done = True
