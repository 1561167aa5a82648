"""Where the keyring comes from: the settings, or in development a ``keys.json`` made at first
start under ``CITYTRACE_HOME``.

The keyring is cached, and the cache follows its source: a changed setting or a rewritten
``keys.json`` (``citytrace keys rotate`` adds a key there) is picked up by a running service at
its next use, so a rotation needs no restart in development. With keys in the settings, a
rotation starts by deploying the new key first in ``CITYTRACE_KEYS`` (see ``citytrace keys``).
"""

from __future__ import annotations

import base64
import json
import os
import tempfile
import threading
from collections.abc import Hashable
from datetime import UTC, datetime
from pathlib import Path

from citytrace.config import Settings, get_settings
from citytrace.security.crypto import (
    KeyConfigError,
    Keyring,
    generate_key,
    new_key_id,
    parse_hash_keys,
    parse_keys,
)

__all__ = [
    "add_file_hash_key",
    "add_file_key",
    "get_keyring",
    "keys_file",
    "remove_file_key",
    "retire_file_hash_keys",
    "uses_keys_file",
]

KEYS_FILE = "keys.json"

_lock = threading.Lock()
_cached: tuple[Hashable, Keyring] | None = None


def keys_file(settings: Settings | None = None) -> Path:
    return (settings or get_settings()).home / KEYS_FILE


def uses_keys_file(settings: Settings | None = None) -> bool:
    """True when the keys come from ``keys.json`` (development without keys in the settings)."""
    settings = settings or get_settings()
    return settings.keys is None and settings.environment == "development"


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S")


def _write_private(path: Path, data: dict[str, object]) -> None:
    """Write ``path`` readable by its owner only (mode 0600), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".keys-", suffix=".tmp")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_file(path: Path) -> Keyring:
    if path.stat().st_mode & 0o077:
        raise KeyConfigError(f"{path} may be read by others than its owner: chmod 600 it")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        keys = ",".join(f"{k['id']}:{k['key']}" for k in data["keys"])
        hash_key = str(data["hash_key"])
    except (OSError, ValueError, KeyError, TypeError):
        raise KeyConfigError(f"{path} is not a readable keys file") from None
    return Keyring.of(parse_keys(keys, str(path)), parse_hash_keys(hash_key, str(path)))


def _create_file(path: Path) -> None:
    data: dict[str, object] = {
        "keys": [{"id": new_key_id(_stamp()), "key": _b64(generate_key())}],
        "hash_key": _b64(generate_key()),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return  # another process made it first
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2)
        handle.flush()
        os.fsync(handle.fileno())


def get_keyring() -> Keyring:
    """The keyring of the settings; in development, from (and at first made into) keys.json."""
    global _cached
    settings = get_settings()
    with _lock:
        if settings.keys is not None and settings.hash_key is not None:
            keys, hash_key = settings.keys.get_secret_value(), settings.hash_key.get_secret_value()
            source: Hashable = ("settings", keys, hash_key)
            if _cached is None or _cached[0] != source:
                _cached = (source, Keyring.of(parse_keys(keys), parse_hash_keys(hash_key)))
            return _cached[1]
        if not uses_keys_file(settings):  # Settings refuses this already; kept for safety.
            raise KeyConfigError("CITYTRACE_KEYS and CITYTRACE_HASH_KEY must be set")
        path = keys_file(settings)
        if not path.exists():
            _create_file(path)
        stat = path.stat()
        source = ("file", str(path), stat.st_mtime_ns, stat.st_size, stat.st_ino, stat.st_mode)
        if _cached is None or _cached[0] != source:
            _cached = (source, _read_file(path))
        return _cached[1]


def add_file_key() -> str:
    """Put a new current key first in keys.json, keeping the old ones; its id."""
    path = keys_file()
    get_keyring()  # makes the file if it does not exist yet
    data = json.loads(path.read_text(encoding="utf-8"))
    key_id = new_key_id(_stamp())
    data["keys"].insert(0, {"id": key_id, "key": _b64(generate_key())})
    _write_private(path, data)
    return key_id


def remove_file_key(key_id: str) -> None:
    """Drop an old key from keys.json (the caller checks that no data uses it)."""
    path = keys_file()
    data = json.loads(path.read_text(encoding="utf-8"))
    ids = [k["id"] for k in data["keys"]]
    if key_id not in ids:
        raise KeyConfigError(f"{path} holds no key {key_id!r}")
    if ids[0] == key_id:
        raise KeyConfigError(f"key {key_id!r} is the current key and cannot be removed")
    data["keys"] = [k for k in data["keys"] if k["id"] != key_id]
    _write_private(path, data)


def add_file_hash_key() -> int:
    """Put a new current hash key first in keys.json, keeping the old ones after it (hashes made
    with them are still recognised until ``citytrace keys rehash`` has made them again); how
    many hash keys it holds now."""
    path = keys_file()
    get_keyring()  # makes the file if it does not exist yet
    data = json.loads(path.read_text(encoding="utf-8"))
    data["hash_key"] = ",".join([_b64(generate_key()), str(data["hash_key"])])
    _write_private(path, data)
    return len(data["hash_key"].split(","))


def retire_file_hash_keys() -> int:
    """Keep only the current hash key in keys.json; how many old ones were dropped."""
    path = keys_file()
    data = json.loads(path.read_text(encoding="utf-8"))
    keys = str(data["hash_key"]).split(",")
    data["hash_key"] = keys[0]
    _write_private(path, data)
    return len(keys) - 1


def generate_settings() -> tuple[str, str]:
    """New values for ``CITYTRACE_KEYS`` (one key) and ``CITYTRACE_HASH_KEY``."""
    return f"{new_key_id(_stamp())}:{_b64(generate_key())}", _b64(generate_key())
