"""Bad input: every API operation fuzzed from its OpenAPI schema (schemathesis), as every role
and anonymously. No request may end in a server error, and no refusal may carry personal data
or a traceback."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from citytrace.api.app import create_app
from citytrace.api.deps import get_session
from citytrace.auth import service as accounts
from citytrace.auth.models import Role, User
from citytrace.auth.ratelimit import RateLimits
from citytrace.cases import service as cases
from citytrace.cases.schemas import CaseCreate, IdentityIn
from citytrace.config import get_settings
from citytrace.db import make_engine
from citytrace.investigation.models import Visit, VisitStatus
from citytrace.migrations import upgrade
from tests.auth.factories import DISTRICT, bearer, make_user
from tests.conftest import postgres_engine
from tests.factories import contact_row

# Distinctive personal data of the one case: none of it may ever appear in an error body.
FULL_NAME = "Quillon Marbleworth"
PHONE = "010-7391-2468"
RESIDENT_NUMBER = "880808-1234567"
ADDRESS = "77 Zanzibar-ro, Fuzz-dong"
SECRETS = (FULL_NAME, "Marbleworth", PHONE, "73912468", RESIDENT_NUMBER, ADDRESS)
TRACEBACK_MARKERS = ("Traceback (most recent call last)", 'File "/')

MAX_EXAMPLES = 15
FUZZ_SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
    print_blob=False,
)
ROLES: list[Role | None] = [*Role, None]


def no_personal_data_in_errors(ctx: Any, response: Any, case: Any) -> bool | None:
    """An error body (4xx/5xx) carries neither the identity of a case nor a traceback."""
    if response.status_code < 400:
        return None
    body = response.content.decode("utf-8", errors="replace")
    for secret in SECRETS:
        if secret.lower() in body.lower():
            raise AssertionError(f"{response.status_code} body contains personal data {secret!r}")
    for marker in TRACEBACK_MARKERS:
        if marker in body:
            raise AssertionError(f"{response.status_code} body contains a traceback")
    return None


CHECKS = [not_a_server_error, no_personal_data_in_errors]


@pytest.fixture(params=["sqlite", "postgres"])
def fuzz_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A database of its own for each fuzz run: requests change state and refusals are
    audited, which must not disturb the shared test database."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'fuzz.db'}")
    else:
        engine = postgres_engine(f"citytrace_fuzz_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}")
    upgrade(engine)
    yield engine
    engine.dispose()


@dataclass
class World:
    users: dict[Role, User]


def _world(engine: Engine) -> World:
    """A case in the investigator's district with a distinctive identity, a visit and a contact
    of it, and one account of each role."""
    start = datetime(2020, 3, 3, 1, 0, tzinfo=UTC)
    with Session(engine, expire_on_commit=False) as session, session.begin():
        case = cases.create(
            session=session,
            actor="test",
            data=CaseCreate(
                confirmed_date=date(2020, 3, 5),
                symptom_onset_date=date(2020, 3, 3),
                district_code=DISTRICT,
                identity=IdentityIn(
                    full_name=FULL_NAME,
                    phone=PHONE,
                    resident_number=RESIDENT_NUMBER,
                    address=ADDRESS,
                ),
            ),
        )
        session.add_all(
            [
                Visit(
                    case_id=case.id,
                    started_at=start,
                    finished_at=start + timedelta(minutes=40),
                    latitude=37.5663,
                    longitude=126.9779,
                    radius_m=30.0,
                    evidence_count=1,
                    confidence=0.9,
                    status=VisitStatus.PROPOSED,
                ),
                contact_row(case.id, "P-1", start=start),
            ]
        )
        users = {role: make_user(session, role) for role in Role}
    return World(users=users)


def _headers(engine: Engine, world: World, role: Role | None) -> dict[str, str]:
    """A fresh token of ``role`` (its account active again), so that an operation that revoked
    or deactivated it does not leave the later operations unauthenticated."""
    if role is None:
        return {}
    user = world.users[role]
    with Session(engine) as session, session.begin():
        record = accounts.get_or_raise(session=session, user_id=user.id)
        if not record.active:
            record.active = True
        _, token = accounts.create_token(session=session, actor="test", user_id=user.id, name="f")
    return {"Authorization": f"Bearer {token}"}


def _fuzz(operation: Any, headers: dict[str, str]) -> None:
    """Up to :data:`MAX_EXAMPLES` generated requests to ``operation``, each checked."""

    @FUZZ_SETTINGS
    @given(case=operation.as_strategy())
    def fuzz(case: Any) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS)

    fuzz()


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r.value if r else "anonymous")
def test_fuzz_every_operation(
    role: Role | None, fuzz_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Cheap password hashes (accounts are created by the fuzz), and no background purge.
    monkeypatch.setenv("CITYTRACE_ARGON2_TIME_COST", "1")
    monkeypatch.setenv("CITYTRACE_ARGON2_MEMORY_KIB", "1024")
    monkeypatch.setenv("CITYTRACE_ARGON2_PARALLELISM", "1")
    monkeypatch.setenv("CITYTRACE_RETENTION_INTERVAL_MIN", "0")
    monkeypatch.setenv("CITYTRACE_DISCLOSURE_INTERVAL_MIN", "0")
    get_settings.cache_clear()

    world = _world(fuzz_engine)
    app = create_app(fuzz_engine)
    # Rate limits have their own tests; here they would only turn the fuzz into 429s.
    app.state.rate_limits = RateLimits(
        login_per_client_per_min=100_000,
        login_per_username_per_min=100_000,
        public_per_client_per_min=100_000,
    )
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)

    failures: list[str] = []
    n_operations = 0
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operation = result.ok()
        n_operations += 1
        headers = _headers(fuzz_engine, world, role)

        try:
            _fuzz(operation, headers)
        except Exception as exc:  # every operation is fuzzed, and all failures reported
            failures.append(f"{operation.label}: {exc}")
    assert n_operations > 20
    assert not failures, "\n\n".join(failures)


# --- cases the fuzz found, kept as plain tests --------------------------------------------


@pytest.mark.parametrize("field", ["confirmed_date", "symptom_onset_date", "isolated_date"])
@pytest.mark.parametrize("value", ["0001-01-01", "9999-12-31"])
def test_case_dates_at_the_ends_of_the_calendar_are_refused(
    engine: Engine, session: Session, field: str, value: str
) -> None:
    """The disclosure window around such a date overflowed the calendar: a 500, now a 422."""
    app = create_app(engine)
    app.dependency_overrides[get_session] = lambda: session
    headers = bearer(session, make_user(session, Role.ADMINISTRATOR, username="admin"))
    with TestClient(app, raise_server_exceptions=False, headers=headers) as client:
        body = {"confirmed_date": "2020-03-05", "district_code": DISTRICT, field: value}
        resp = client.post("/api/cases", json=body)
        assert resp.status_code == 422, resp.text
        created = client.post(
            "/api/cases", json={"confirmed_date": "2020-03-05", "district_code": DISTRICT}
        )
        assert created.status_code == 201, created.text
        resp = client.patch(f"/api/cases/{created.json()['id']}", json={field: value})
        assert resp.status_code == 422, resp.text


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/auth/login", {"username": "ad\u0000min", "password": "x"}),
        ("POST", "/api/cases", {"confirmed_date": "2020-03-05", "notes": "a\u0000b"}),
        ("GET", "/api/cases/9223372036854775808", None),
        ("GET", "/api/cases/-9223372036854775809", None),
    ],
)
def test_values_the_database_refuses_are_bad_input(
    engine: Engine, session: Session, method: str, path: str, body: dict[str, str] | None
) -> None:
    """A NUL character (which PostgreSQL refuses in text; SQLite keeps it) or an id beyond 64
    bits is never a 500."""
    app = create_app(engine)
    app.dependency_overrides[get_session] = lambda: session
    headers = bearer(session, make_user(session, Role.ADMINISTRATOR, username="admin"))
    with TestClient(app, raise_server_exceptions=False, headers=headers) as client:
        resp = client.request(method, path, json=body)
    assert resp.status_code < 500, resp.text
    assert "SELECT" not in resp.text and "INSERT" not in resp.text
