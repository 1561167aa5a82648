"""Where keys come from: the settings, or keys.json made at first start in development."""

from __future__ import annotations

import base64
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from citytrace.config import get_settings
from citytrace.security.crypto import KeyConfigError, generate_key
from citytrace.security.keys import add_file_key, get_keyring, keys_file, remove_file_key


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


@pytest.fixture
def production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITYTRACE_ENVIRONMENT", "production")
    monkeypatch.setenv("CITYTRACE_COOKIE_SECURE", "true")
    get_settings.cache_clear()


class TestDevelopmentKeysFile:
    def test_made_at_first_use_readable_by_owner_only(self) -> None:
        path = keys_file()
        assert not path.exists()
        keyring = get_keyring()
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert get_keyring() is keyring  # cached while the file is unchanged
        assert len(keyring.ids) == 1

    def test_a_new_key_is_picked_up_and_the_old_one_kept(self) -> None:
        old = get_keyring()
        new_id = add_file_key()
        rotated = get_keyring()
        assert rotated.current_id == new_id and rotated.ids == (new_id, old.current_id)
        assert stat.S_IMODE(keys_file().stat().st_mode) == 0o600
        remove_file_key(old.current_id)
        assert get_keyring().ids == (new_id,)
        with pytest.raises(KeyConfigError, match="is the current key"):
            remove_file_key(new_id)

    def test_a_file_others_can_read_is_refused(self) -> None:
        get_keyring()
        os.chmod(keys_file(), 0o644)
        with pytest.raises(KeyConfigError, match="chmod 600"):
            get_keyring()


class TestSettings:
    def test_outside_development_keys_are_required(self, production: None) -> None:
        with pytest.raises(KeyConfigError, match="CITYTRACE_KEYS and CITYTRACE_HASH_KEY must be"):
            get_settings()

    def test_keys_from_settings(self, production: None, monkeypatch: pytest.MonkeyPatch) -> None:
        k1, k2 = generate_key(), generate_key()
        monkeypatch.setenv("CITYTRACE_KEYS", f"new:{b64(k2)},old:{b64(k1)}")
        monkeypatch.setenv("CITYTRACE_HASH_KEY", b64(generate_key()))
        keyring = get_keyring()
        assert keyring.ids == ("new", "old")
        assert not keys_file().exists()
        assert b64(k1) not in repr(get_settings())

    def test_one_without_the_other_is_refused(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("CITYTRACE_KEYS", f"k1:{b64(generate_key())}")
        get_settings.cache_clear()
        with pytest.raises(KeyConfigError, match="must be set together"):
            get_settings()

    def test_a_malformed_key_is_refused_at_start(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("CITYTRACE_KEYS", "k1:c2hvcnQ=")
        monkeypatch.setenv("CITYTRACE_HASH_KEY", b64(generate_key()))
        get_settings.cache_clear()
        with pytest.raises(KeyConfigError, match="CITYTRACE_KEYS: key 'k1' must be 32 bytes"):
            get_settings()

    def test_serve_refuses_to_start_without_keys(self, production: None, tmp_path: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CITYTRACE_KEYS")}
        result = subprocess.run(
            [sys.executable, "-m", "citytrace", "serve", "--port", "1"],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
        )
        assert result.returncode == 2, result.stderr
        assert "CITYTRACE_KEYS" in result.stderr and "Traceback" not in result.stderr
