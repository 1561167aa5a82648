"""Signing in and out, sessions, CSRF, API tokens, lockout, rate limits and passwords."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from citytrace.audit.models import AuditEvent
from citytrace.auth import service
from citytrace.auth.dependencies import SESSION_COOKIE
from citytrace.auth.models import ApiToken, LoginSession, Role, User
from citytrace.auth.ratelimit import RateLimits, TokenBucket
from citytrace.config import get_settings
from citytrace.db import utcnow
from tests.auth.factories import PASSWORD, bearer, make_user

LOGIN = "/api/auth/login"


def login(client: TestClient, username: str, password: str = PASSWORD) -> Any:
    return client.post(LOGIN, json={"username": username, "password": password})


def actions(session: Session, action: str) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def generous_limits(app: FastAPI) -> None:
    app.state.rate_limits = RateLimits(
        login_per_client_per_min=1000,
        login_per_username_per_min=1000,
        public_per_client_per_min=1000,
    )


class TestLogin:
    def test_login_sets_a_strict_http_only_cookie_and_returns_the_csrf_token(
        self, client: TestClient, session: Session
    ) -> None:
        make_user(session, Role.INVESTIGATOR, username="kim")
        resp = login(client, "Kim ")  # usernames are case- and space-insensitive
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["username"] == "kim" and body["role"] == "investigator"
        assert len(body["csrf_token"]) >= 32
        cookie = resp.headers["set-cookie"]
        assert cookie.startswith(f"{SESSION_COOKIE}=")
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
        assert "Secure" not in cookie  # plain HTTP in development
        me = client.get("/api/auth/me")
        assert me.status_code == 200
        assert me.json()["district_code"] == "11140" and "case:identity" in me.json()["permissions"]
        (event,) = actions(session, "auth.login")
        assert event.actor == "kim"
        stored = session.scalar(select(LoginSession))
        assert stored is not None and stored.client_address == "testclient"
        assert client.cookies[SESSION_COOKIE] not in (stored.session_sha256, stored.csrf_secret)

    def test_cookie_is_secure_over_https_and_when_settings_say_so(
        self, app: FastAPI, session: Session, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        make_user(session, Role.ANALYST, username="lee")
        with TestClient(app, base_url="https://testserver") as https:
            assert "Secure" in login(https, "lee").headers["set-cookie"]
        monkeypatch.setenv("CITYTRACE_COOKIE_SECURE", "true")
        get_settings.cache_clear()
        with TestClient(app) as plain:
            assert "Secure" in login(plain, "lee").headers["set-cookie"]

    def test_failures_all_look_the_same(self, client: TestClient, session: Session) -> None:
        make_user(session, Role.ANALYST, username="lee")
        inactive = make_user(session, Role.ANALYST, username="gone")
        inactive.active = False
        answers = [
            login(client, "lee", "wrong password"),
            login(client, "nobody", PASSWORD),
            login(client, "gone", PASSWORD),
        ]
        assert {a.status_code for a in answers} == {401}
        assert len({a.text for a in answers}) == 1
        assert "Set-Cookie" not in answers[0].headers
        reasons = sorted(e.detail["reason"] for e in actions(session, "auth.login.failed"))
        assert reasons == ["bad_password", "inactive", "unknown_user"]

    def test_logout_ends_the_session(self, client: TestClient, session: Session) -> None:
        make_user(session, Role.ANALYST, username="lee")
        csrf = login(client, "lee").json()["csrf_token"]
        assert client.post("/api/auth/logout").status_code == 403  # no CSRF token
        cookie = client.cookies[SESSION_COOKIE]
        out = client.post("/api/auth/logout", headers={"X-CSRF-Token": csrf})
        assert out.status_code == 204
        assert client.get("/api/auth/me").status_code == 401
        # The old cookie, replayed, opens nothing.
        client.cookies.set(SESSION_COOKIE, cookie)
        assert client.get("/api/auth/me").status_code == 401

    def test_idle_and_expired_sessions_end(self, client: TestClient, session: Session) -> None:
        make_user(session, Role.ANALYST, username="lee")
        login(client, "lee")
        stored = session.scalar(select(LoginSession))
        assert stored is not None
        stored.last_seen_at = utcnow() - timedelta(minutes=get_settings().session_idle_min + 1)
        session.flush()
        assert client.get("/api/auth/me").status_code == 401
        stored.last_seen_at = utcnow()
        stored.expires_at = utcnow() - timedelta(seconds=1)
        session.flush()
        assert client.get("/api/auth/me").status_code == 401

    def test_deactivation_ends_sessions_and_tokens(
        self, client: TestClient, session: Session
    ) -> None:
        lee = make_user(session, Role.ANALYST, username="lee")
        token_headers = bearer(session, lee)
        login(client, "lee")
        make_user(session, Role.ADMINISTRATOR, username="root")
        service.deactivate(session=session, actor="root", user_id=lee.id)
        assert client.get("/api/auth/me").status_code == 401
        assert client.get("/api/auth/me", headers=token_headers).status_code == 401

    def test_the_last_administrator_stays(self, session: Session) -> None:
        from citytrace.errors import ConflictError

        root = make_user(session, Role.ADMINISTRATOR, username="root")
        with pytest.raises(ConflictError, match="last active administrator"):
            service.deactivate(session=session, actor="root", user_id=root.id)


class TestCsrf:
    def test_unsafe_cookie_requests_need_the_token(
        self, client: TestClient, session: Session
    ) -> None:
        make_user(session, Role.INVESTIGATOR, username="kim")
        csrf = login(client, "kim").json()["csrf_token"]
        data = {"confirmed_date": "2020-03-05"}
        assert client.post("/api/cases", json=data).status_code == 403
        wrong = client.post("/api/cases", json=data, headers={"X-CSRF-Token": "x" * len(csrf)})
        assert wrong.status_code == 403
        assert client.get("/api/cases").status_code == 200  # reads need none
        ok = client.post("/api/cases", json=data, headers={"X-CSRF-Token": csrf})
        assert ok.status_code == 201
        denied = actions(session, "access.denied")
        assert [e.detail["reason"] for e in denied] == ["csrf", "csrf"]
        garbage = client.post(
            "/api/cases",
            content=b"--x\r\nbroken",
            headers={"Content-Type": "multipart/form-data; boundary=x"},
        )
        assert garbage.status_code in {400, 403, 422}

    def test_a_form_field_will_do(self, client: TestClient, session: Session) -> None:
        from tests.factories import CARD_CSV

        make_user(session, Role.INVESTIGATOR, username="kim")
        csrf = login(client, "kim").json()["csrf_token"]
        case_id = client.post(
            "/api/cases", json={"confirmed_date": "2020-03-05"}, headers={"X-CSRF-Token": csrf}
        ).json()["id"]
        files = {"file": ("card.csv", CARD_CSV.encode())}
        url = f"/api/cases/{case_id}/evidence"
        assert client.post(url, files=files).status_code == 403
        resp = client.post(url, files=files, data={"csrf_token": csrf})
        assert resp.status_code == 201, resp.text

    def test_bearer_requests_need_no_csrf_token(self, client: TestClient, session: Session) -> None:
        headers = bearer(session, make_user(session, Role.INVESTIGATOR))
        resp = client.post("/api/cases", json={"confirmed_date": "2020-03-05"}, headers=headers)
        assert resp.status_code == 201


class TestTokens:
    def test_a_token_is_shown_once_and_kept_as_a_hash(
        self, client: TestClient, session: Session
    ) -> None:
        admin = bearer(session, make_user(session, Role.ADMINISTRATOR, username="root"))
        lee = make_user(session, Role.ANALYST, username="lee")
        created = client.post(
            f"/api/users/{lee.id}/tokens", json={"name": "report job"}, headers=admin
        )
        assert created.status_code == 201
        token = created.json()["token"]
        listed = client.get(f"/api/users/{lee.id}/tokens", headers=admin)
        assert token not in listed.text and listed.json()[0]["name"] == "report job"
        stored = session.get(ApiToken, created.json()["id"])
        assert stored is not None and stored.token_sha256 == service.sha256_hex(token)
        headers = {"Authorization": f"Bearer {token}"}
        assert client.get("/api/auth/me", headers=headers).json()["username"] == "lee"
        assert stored.last_used_at is not None
        revoked = client.post(
            f"/api/users/{lee.id}/tokens/{stored.id}/revoke", headers=admin
        ).json()
        assert revoked["revoked_at"] is not None
        assert client.get("/api/auth/me", headers=headers).status_code == 401

    def test_expired_and_malformed_tokens_are_refused(
        self, client: TestClient, session: Session
    ) -> None:
        lee = make_user(session, Role.ANALYST, username="lee")
        record, token = service.create_token(session=session, actor="t", user_id=lee.id, name="x")
        record.expires_at = utcnow() - timedelta(seconds=1)
        session.flush()
        for value in (f"Bearer {token}", "Bearer ", "Bearer ct_nope", "Basic abc", token):
            assert client.get("/api/auth/me", headers={"Authorization": value}).status_code == 401

    def test_a_bad_token_is_not_rescued_by_a_cookie(
        self, client: TestClient, session: Session
    ) -> None:
        make_user(session, Role.ANALYST, username="lee")
        login(client, "lee")
        assert client.get("/api/auth/me").status_code == 200
        bad = client.get("/api/auth/me", headers={"Authorization": "Bearer ct_forged"})
        assert bad.status_code == 401
        assert bad.headers["WWW-Authenticate"] == "Bearer"


class TestLockout:
    def test_repeated_failures_lock_the_account_for_a_while(
        self, app: FastAPI, client: TestClient, session: Session
    ) -> None:
        generous_limits(app)
        lee = make_user(session, Role.ANALYST, username="lee")
        for _ in range(get_settings().login_max_failures):
            assert login(client, "lee", "wrong password").status_code == 401
        assert lee.locked_until is not None
        locked = login(client, "lee")
        assert locked.status_code == 401
        assert locked.text == login(client, "nobody").text  # it does not say "locked"
        assert len(actions(session, "auth.lockout")) == 1
        lee.locked_until = utcnow() - timedelta(seconds=1)
        session.flush()
        assert login(client, "lee").status_code == 200
        assert lee.failed_logins == 0

    def test_old_failures_are_forgotten(
        self, app: FastAPI, client: TestClient, session: Session
    ) -> None:
        generous_limits(app)
        lee = make_user(session, Role.ANALYST, username="lee")
        settings = get_settings()
        for _ in range(settings.login_max_failures - 1):
            login(client, "lee", "wrong password")
        assert lee.first_failed_at is not None
        lee.first_failed_at -= timedelta(minutes=settings.login_failure_window_min + 1)
        session.flush()
        login(client, "lee", "wrong password")
        assert lee.locked_until is None and lee.failed_logins == 1

    def test_an_administrator_reset_lifts_the_lock(
        self, app: FastAPI, client: TestClient, session: Session
    ) -> None:
        generous_limits(app)
        admin = bearer(session, make_user(session, Role.ADMINISTRATOR, username="root"))
        lee = make_user(session, Role.ANALYST, username="lee")
        for _ in range(get_settings().login_max_failures):
            login(client, "lee", "wrong password")
        new = "a brand new long password"
        reset = client.post(f"/api/users/{lee.id}/password", json={"password": new}, headers=admin)
        assert reset.status_code == 204
        assert login(client, "lee", new).status_code == 200


class TestRateLimits:
    def test_logins_per_username_are_limited(self, client: TestClient) -> None:
        limit = get_settings().login_rate_per_username_per_min
        answers = [login(client, "lee", "wrong") for _ in range(limit + 1)]
        assert [a.status_code for a in answers[:limit]] == [401] * limit
        refused = answers[-1]
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1

    def test_logins_per_client_are_limited(self, client: TestClient) -> None:
        limit = get_settings().login_rate_per_client_per_min
        codes = [login(client, f"user{n}", "wrong").status_code for n in range(limit + 1)]
        assert codes[-1] == 429 and set(codes[:-1]) == {401}

    def test_public_routes_are_limited_per_client(
        self, app: FastAPI, client: TestClient, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        app.state.rate_limits = RateLimits(
            login_per_client_per_min=10, login_per_username_per_min=10, public_per_client_per_min=3
        )
        codes = [client.get("/api/health").status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        # Forwarded addresses count only behind a proxy the settings trust.
        spoofed = client.get("/api/health", headers={"X-Forwarded-For": "10.0.0.9"})
        assert spoofed.status_code == 429
        monkeypatch.setenv("CITYTRACE_BEHIND_PROXY", "true")
        get_settings.cache_clear()
        other = client.get("/api/health", headers={"X-Forwarded-For": "1.2.3.4, 10.0.0.9"})
        assert other.status_code == 200

    def test_a_bucket_refills_with_time(self) -> None:
        now = [0.0]
        bucket = TokenBucket(6, clock=lambda: now[0])  # one token every 10 s
        assert [bucket.take("a") for _ in range(6)] == [0.0] * 6
        assert bucket.take("a") == pytest.approx(10.0)
        assert bucket.take("b") == 0.0
        now[0] = 10.0
        assert bucket.take("a") == 0.0
        assert bucket.take("a") > 0

    def test_buckets_stay_bounded(self) -> None:
        bucket = TokenBucket(1, max_keys=10)
        for n in range(100):
            bucket.take(f"user{n}")
        assert len(bucket._buckets) <= 10


class TestPasswords:
    def test_passwords_are_argon2id_and_rehashed_when_the_cost_changes(
        self, client: TestClient, session: Session, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        lee = make_user(session, Role.ANALYST, username="lee")
        old_hash = lee.password_hash
        assert old_hash.startswith("$argon2id$") and ",t=1," in old_hash
        assert PASSWORD not in old_hash
        assert login(client, "lee").status_code == 200
        assert lee.password_hash == old_hash  # same cost: left alone
        monkeypatch.setenv("CITYTRACE_ARGON2_TIME_COST", "2")
        get_settings.cache_clear()
        assert login(client, "lee").status_code == 200
        assert lee.password_hash != old_hash and ",t=2," in lee.password_hash
        assert [e.detail["rehashed"] for e in actions(session, "auth.login")] == [False, True]
        assert login(client, "lee").status_code == 200

    def test_changing_ones_password_ends_other_sessions(
        self, app: FastAPI, client: TestClient, session: Session
    ) -> None:
        make_user(session, Role.ANALYST, username="leesoon")
        with TestClient(app) as other:
            login(other, "leesoon")
            csrf = login(client, "leesoon").json()["csrf_token"]
            headers = {"X-CSRF-Token": csrf}
            wrong = client.post(
                "/api/auth/password",
                json={"current_password": "not it", "new_password": "a new long password"},
                headers=headers,
            )
            assert wrong.status_code == 403
            user = service.get_by_username(session=session, username="leesoon")
            assert user is not None and user.failed_logins == 1
            weak = client.post(
                "/api/auth/password",
                json={"current_password": PASSWORD, "new_password": "my name is LeeSoon"},
                headers=headers,
            )
            assert weak.status_code == 422 and "username" in weak.text
            changed = client.post(
                "/api/auth/password",
                json={"current_password": PASSWORD, "new_password": "a new long password"},
                headers=headers,
            )
            assert changed.status_code == 204
            assert client.get("/api/auth/me").status_code == 200
            assert other.get("/api/auth/me").status_code == 401

    def test_short_passwords_are_refused(self, client: TestClient, session: Session) -> None:
        admin = bearer(session, make_user(session, Role.ADMINISTRATOR, username="root"))
        resp = client.post(
            "/api/users",
            json={"username": "lee", "role": "analyst", "password": "short"},
            headers=admin,
        )
        assert resp.status_code == 422 and "short" not in resp.text


class TestAccounts:
    @pytest.mark.parametrize(
        ("role", "district", "clinic", "field"),
        [
            ("investigator", None, None, "district_code"),
            ("investigator", "99999", None, "district_code"),
            ("analyst", "11140", None, "district_code"),
            ("clinic_staff", None, None, "clinic_ref"),
            ("administrator", None, "clinic-1", "clinic_ref"),
        ],
    )
    def test_scope_fields_fit_the_role(
        self,
        client: TestClient,
        session: Session,
        role: str,
        district: str | None,
        clinic: str | None,
        field: str,
    ) -> None:
        admin = bearer(session, make_user(session, Role.ADMINISTRATOR, username="root"))
        resp = client.post(
            "/api/users",
            json={
                "username": "new",
                "role": role,
                "district_code": district,
                "clinic_ref": clinic,
                "password": PASSWORD,
            },
            headers=admin,
        )
        assert resp.status_code == 422 and resp.json()["location"] == field

    def test_usernames_are_unique(self, client: TestClient, session: Session) -> None:
        admin = bearer(session, make_user(session, Role.ADMINISTRATOR, username="root"))
        data = {"username": "lee", "role": "analyst", "password": PASSWORD}
        assert client.post("/api/users", json=data, headers=admin).status_code == 201
        assert client.post("/api/users", json=data, headers=admin).status_code == 409
        users = client.get("/api/users", headers=admin).json()
        assert [u["username"] for u in users] == ["lee", "root"]
        assert "password" not in str(users) and session.scalar(select(User.id).limit(1))


class TestRefusalsAreKept:
    def test_a_refused_request_still_commits_its_audit_record_and_failure_count(
        self, tmp_path: Path
    ) -> None:
        from datetime import date

        from citytrace.api.app import create_app
        from citytrace.cases import service as cases
        from citytrace.cases.schemas import CaseCreate
        from citytrace.db import make_engine, unit_of_work
        from citytrace.migrations import upgrade

        # A database of its own: here the app's real unit of work commits.
        engine = make_engine(f"sqlite:///{tmp_path / 'own.db'}")
        upgrade(engine)
        with unit_of_work(engine) as session:
            headers = bearer(session, make_user(session, Role.INVESTIGATOR, username="kim"))
            make_user(session, Role.ANALYST, username="leesoon")
            other = cases.create(
                session=session,
                actor="test",
                data=CaseCreate(confirmed_date=date(2020, 3, 5), district_code="11110"),
            ).id
        with TestClient(create_app(engine)) as client:
            assert client.get(f"/api/cases/{other}", headers=headers).status_code == 403
            assert login(client, "leesoon", "wrong password").status_code == 401
            assert client.post("/api/cases", json={}, headers=headers).status_code == 422
        with unit_of_work(engine) as session:
            kept = {e.action for e in session.scalars(select(AuditEvent))}
            assert {"access.denied", "auth.login.failed"} <= kept
            user = service.get_by_username(session=session, username="leesoon")
            assert user is not None and user.failed_logins == 1
        engine.dispose()
