"""Security headers, API documentation, settings that refuse to start, and no secrets or
personal data in logs or error bodies."""

from __future__ import annotations

import base64
import logging
import os

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from citytrace.api.app import create_app
from citytrace.api.deps import get_session
from citytrace.auth.dependencies import require
from citytrace.auth.models import Role
from citytrace.auth.permissions import Permission
from citytrace.config import Settings, get_settings
from tests.auth.factories import PASSWORD, bearer, make_user

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data: https://tile.openstreetmap.org; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'"
)


def _keys() -> dict[str, str]:
    key = base64.b64encode(os.urandom(32)).decode()
    return {"CITYTRACE_KEYS": f"k1:{key}", "CITYTRACE_HASH_KEY": key}


class TestHeaders:
    @pytest.mark.parametrize("path", ["/api/health", "/api/auth/me", "/api/nowhere"])
    def test_every_response_carries_them(self, client: TestClient, path: str) -> None:
        resp = client.get(path)
        assert resp.headers["Content-Security-Policy"] == CSP
        assert resp.headers["X-Frame-Options"] == "DENY"
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["Referrer-Policy"] == "no-referrer"
        assert resp.headers["Cache-Control"] == "no-store"
        assert "Strict-Transport-Security" not in resp.headers

    def test_hsts_only_over_https(
        self, app: FastAPI, monkeypatch: pytest.MonkeyPatch, engine: Engine, session: Session
    ) -> None:
        with TestClient(app, base_url="https://testserver") as https:
            assert "max-age=" in https.get("/api/health").headers["Strict-Transport-Security"]
        forwarded = {"X-Forwarded-Proto": "https"}
        with TestClient(app) as plain:
            resp = plain.get("/api/health", headers=forwarded)
            assert "Strict-Transport-Security" not in resp.headers
        monkeypatch.setenv("CITYTRACE_BEHIND_PROXY", "true")
        get_settings.cache_clear()
        proxied = create_app(engine)
        proxied.dependency_overrides[get_session] = lambda: session
        with TestClient(proxied) as plain:
            resp = plain.get("/api/health", headers=forwarded)
            assert "Strict-Transport-Security" in resp.headers

    def test_docs_in_development_only(
        self, client: TestClient, engine: Engine, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        docs = client.get("/docs")
        assert docs.status_code == 200
        assert "cdn.jsdelivr.net" in docs.headers["Content-Security-Policy"]
        assert client.get("/openapi.json").status_code == 200
        for name, value in {
            **_keys(),
            "CITYTRACE_ENVIRONMENT": "production",
            "CITYTRACE_COOKIE_SECURE": "true",
        }.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        with TestClient(create_app(engine)) as production:
            assert production.get("/docs").status_code == 404
            assert production.get("/openapi.json").status_code == 200


class TestSettings:
    def test_outside_development_the_cookie_must_be_secure(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        for name, value in _keys().items():
            monkeypatch.setenv(name, value)
        with pytest.raises(ValidationError, match="CITYTRACE_COOKIE_SECURE"):
            Settings(environment="production")
        assert Settings(environment="production", cookie_secure=True).cookie_secure


MARKER_NAME = "Hong Gildong"
MARKER_PHONE = "010-5555-7777"


class TestNoSecretsInLogs:
    def test_logs_and_error_bodies_hold_no_secret_or_personal_data(
        self, app: FastAPI, client: TestClient, session: Session, caplog: pytest.LogCaptureFixture
    ) -> None:
        @app.get("/api/explode", dependencies=[Depends(require(Permission.CASE_READ))])
        def explode() -> None:
            raise RuntimeError(f"cannot store {MARKER_NAME} {MARKER_PHONE}")

        caplog.set_level(logging.DEBUG)
        admin = bearer(session, make_user(session, Role.ADMINISTRATOR, username="root"))
        token = admin["Authorization"].removeprefix("Bearer ")
        bodies = []
        bodies.append(client.post("/api/auth/login", json={"username": "root", "password": "no"}))
        ok = client.post("/api/auth/login", json={"username": "root", "password": PASSWORD})
        csrf = ok.json()["csrf_token"]
        session_id = client.cookies["citytrace_session"]
        client.cookies.clear()
        case = {
            "confirmed_date": "2020-03-05",
            "identity": {"full_name": MARKER_NAME, "phone": MARKER_PHONE},
        }
        created = client.post("/api/cases", json=case, headers=admin)
        assert created.status_code == 201
        bad = {**case, "confirmed_date": MARKER_PHONE, "identity": {"phone": MARKER_NAME}}
        bodies.append(client.post("/api/cases", json=bad, headers=admin))
        bodies.append(client.get("/api/explode", headers=admin))
        assert bodies[-1].status_code == 500
        secrets = [PASSWORD, token, csrf, session_id, MARKER_NAME, MARKER_PHONE]
        for resp in bodies:
            assert resp.status_code >= 400
            assert not [s for s in secrets if s in resp.text]
        assert "unhandled RuntimeError" in caplog.text
        assert not [s for s in secrets if s in caplog.text]
