"""Every route declares its permission, and every role (and an anonymous visitor) gets exactly
what the role table gives it: walked over all routes of the app, in and out of the district."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi import Depends, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from citytrace.audit.models import AuditEvent
from citytrace.auth import service as accounts
from citytrace.auth.dependencies import PermissionDependency, require
from citytrace.auth.models import Role
from citytrace.auth.permissions import Permission, allows
from citytrace.auth.ratelimit import RateLimits
from citytrace.cases import service as cases
from citytrace.cases.schemas import CaseCreate, IdentityIn
from citytrace.disclosure.models import DisclosureEntry, DisclosureSource
from citytrace.investigation.models import Visit, VisitStatus
from tests.auth.factories import DISTRICT, OTHER_DISTRICT, bearer, make_user
from tests.factories import contact_row
from tests.screening.factories import route_walk_records

# The only routes anyone may call without signing in. A new public route must be added here.
PUBLIC_ROUTES = {
    ("GET", "/api/health"),
    ("POST", "/api/auth/login"),
    ("GET", "/login"),
    ("POST", "/login"),
    # Screening's pages for citizens.
    ("GET", "/screening"),
    ("GET", "/screening/clinics/{clinic_id}"),
    ("POST", "/screening/clinics/{clinic_id}/book"),
    ("GET", "/screening/my-booking"),
    ("POST", "/screening/my-booking"),
    ("POST", "/screening/my-booking/cancel"),
    ("POST", "/screening/my-booking/forget"),
    ("GET", "/screening/my-booking/qr.svg"),
    ("GET", "/screening/my-booking/qr.png"),
    ("GET", "/screening/my-result"),
    ("POST", "/screening/my-result"),
    # Screening's API for citizens: clinics, the finder, slots, booking, one's own booking.
    ("GET", "/api/screening/clinics"),
    ("GET", "/api/screening/clinics/nearest"),
    ("GET", "/api/screening/clinics/{clinic_id}"),
    ("GET", "/api/screening/clinics/{clinic_id}/slots"),
    ("POST", "/api/screening/bookings"),
    ("POST", "/api/screening/my/booking"),
    ("POST", "/api/screening/my/cancel"),
    ("POST", "/api/screening/my/reschedule"),
    # Disclosure's public list of places, its open-data feed and the map's outlines.
    ("GET", "/places"),
    ("GET", "/api/public/districts.geojson"),
    *(
        (method, f"/api/public/places.{fmt}")
        for fmt in ("geojson", "csv", "json")
        for method in ("GET", "HEAD", "OPTIONS")
    ),
}
# Path parameters naming a record that lies in a district (filled in and out of the district).
SCOPED_PARAMS = {"case_id", "visit_id", "contact_id", "entry_id"}
PARAM = re.compile(r"{(\w+)}")
OK = {200, 201, 204, 404, 409, 422}
# Pages of the workspace (everything outside /api/) answer a form with "see other" (303), and
# send an anonymous visitor to the login page (303) instead of answering 401.
PAGE_OK = OK | {303}
# Pages whose GET redirects when allowed: the start page sends readers of cases on to them.
REDIRECTING_PAGES = {"/"}


def is_page(path: str) -> bool:
    return not path.startswith("/api/")


# Bodies that make a request succeed, where an empty one would only reach validation.
SAMPLE_BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/api/cases"): {"confirmed_date": "2020-03-05", "district_code": DISTRICT},
    ("PATCH", "/api/cases/{case_id}"): {"notes": "checked"},
    ("PATCH", "/api/visits/{visit_id}"): {"note": "checked"},
    ("POST", "/api/users/{user_id}/tokens"): {"name": "walk"},
    ("POST", "/api/users"): {
        "username": "walker",
        "role": "analyst",
        "password": "a long password",
    },
    ("POST", "/api/users/{user_id}/password"): {"password": "another long password"},
    ("POST", "/api/auth/login"): {"username": "nobody", "password": "wrong"},
}


@dataclass(frozen=True)
class Endpoint:
    """An API route as served: its full path, methods and dependencies."""

    path: str
    methods: frozenset[str]
    dependant: Dependant


def api_routes(app: FastAPI) -> list[Endpoint]:
    """Every API route of the app, also those of included routers (which FastAPI no longer
    copies into ``app.routes``)."""
    return [
        Endpoint(path=str(rc.path), methods=frozenset(rc.methods or ()), dependant=rc.dependant)
        for rc in iter_route_contexts(app.routes)
        if isinstance(rc.original_route, APIRoute)
    ]


def declared_permissions(route: Endpoint) -> set[Permission]:
    """The permissions a route's dependencies declare, however deeply nested."""
    found: set[Permission] = set()
    stack = [route.dependant]
    while stack:
        dependant = stack.pop()
        if isinstance(dependant.call, PermissionDependency):
            found.add(dependant.call.permission)
        stack.extend(dependant.dependencies)
    return found


def undeclared(app: FastAPI) -> list[str]:
    return [f"{sorted(r.methods)} {r.path}" for r in api_routes(app) if not declared_permissions(r)]


class TestDeclarations:
    def test_every_route_declares_a_permission(self, app: FastAPI) -> None:
        assert undeclared(app) == []

    def test_public_routes_are_only_the_allowed_ones(self, app: FastAPI) -> None:
        public = {
            (method, r.path)
            for r in api_routes(app)
            if Permission.PUBLIC in declared_permissions(r)
            for method in r.methods
        }
        assert public == PUBLIC_ROUTES
        for r in api_routes(app):
            permissions = declared_permissions(r)
            assert Permission.PUBLIC not in permissions or len(permissions) == 1, r.path

    def test_a_route_without_a_permission_is_caught(self, app: FastAPI) -> None:
        @app.get("/api/forgotten")
        def forgotten() -> dict[str, str]:
            return {}

        @app.get("/api/declared", dependencies=[Depends(require(Permission.STATS_READ))])
        def declared() -> dict[str, str]:
            return {}

        assert undeclared(app) == ["['GET'] /api/forgotten"]


@dataclass
class World:
    """Records in and out of the test investigator's district, and a token for every role."""

    ids: dict[str, dict[str, int]]
    headers: dict[Role | None, dict[str, str]]


@pytest.fixture
def world(app: FastAPI, session: Session) -> World:
    # Rate limits have their own tests; here they would only cut the walk short.
    app.state.rate_limits = RateLimits(
        login_per_client_per_min=10_000,
        login_per_username_per_min=10_000,
        public_per_client_per_min=10_000,
    )
    start = datetime(2020, 3, 3, 1, 0, tzinfo=UTC)
    ids: dict[str, dict[str, int]] = {"case_id": {}, "visit_id": {}, "contact_id": {}}
    for where, district in (("in", DISTRICT), ("out", OTHER_DISTRICT)):
        case = cases.create(
            session=session,
            actor="test",
            data=CaseCreate(
                confirmed_date=date(2020, 3, 5),
                symptom_onset_date=date(2020, 3, 3),
                district_code=district,
                identity=IdentityIn(full_name="Hong Gildong", phone="010-0000-1111"),
            ),
        )
        # Reviewed, so that a rebuild of the route during the walk keeps it.
        visit = Visit(
            case_id=case.id,
            started_at=start,
            finished_at=start + timedelta(minutes=40),
            latitude=37.5663,
            longitude=126.9779,
            radius_m=30.0,
            evidence_count=1,
            confidence=0.9,
            status=VisitStatus.CONFIRMED,
        )
        contact = contact_row(case.id, f"P-{where}", start=start)
        session.add_all([visit, contact])
        session.flush()
        ids["case_id"][where] = case.id
        ids["visit_id"][where] = visit.id
        ids["contact_id"][where] = contact.id
        # A draft of the public place list, from the visit (disclosure officer's routes).
        entry = DisclosureEntry(
            public_id=f"walk{where}",
            district_code=district,
            place_kind="cafe",
            exposure_start=start,
            exposure_end=start + timedelta(minutes=60),
            last_contact_at=start + timedelta(minutes=40),
            expires_at=start + timedelta(days=14),
            sources=[
                DisclosureSource(
                    case_id=case.id,
                    visit_id=visit.id,
                    started_at=start,
                    finished_at=start + timedelta(minutes=40),
                    latitude=37.5663,
                    longitude=126.9779,
                )
            ],
        )
        session.add(entry)
        session.flush()
        ids.setdefault("entry_id", {})[where] = entry.id
    # A clinic of the test clinic staff, with a booking, an arrival, a sample and its result.
    ids.update(route_walk_records(session))
    target = make_user(session, Role.ANALYST, username="target")
    record, _ = accounts.create_token(session=session, actor="test", user_id=target.id, name="t")
    ids["user_id"] = {"in": target.id}
    ids["token_id"] = {"in": record.id}
    headers: dict[Role | None, dict[str, str]] = {None: {}}
    for role in Role:
        headers[role] = bearer(session, make_user(session, role))
    return World(ids=ids, headers=headers)


def _variants(route: Endpoint) -> list[str]:
    params = set(PARAM.findall(route.path))
    return ["in", "out"] if params & SCOPED_PARAMS else ["in"]


def _path(route: Endpoint, world: World, where: str) -> str:
    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in world.ids:
            pytest.fail(f"{route.path}: give the route walk a record for {{{name}}}")
        return str(world.ids[name].get(where, world.ids[name]["in"]))

    return PARAM.sub(fill, route.path)


def expected(
    permissions: set[Permission], role: Role | None, where: str, page: bool = False
) -> set[int]:
    """What the role table says ``role`` gets from a route needing ``permissions``."""
    ok = PAGE_OK if page else OK
    if Permission.PUBLIC in permissions:
        return ok | {401}  # login with an empty body, or wrong credentials
    if role is None:
        return {303} if page else {401}
    if not all(allows(role, p) for p in permissions):
        return {403}
    if where == "out" and role == Role.INVESTIGATOR:
        return {403}
    return ok


class TestRouteWalk:
    def test_every_route_as_every_role(
        self, app: FastAPI, client: TestClient, world: World
    ) -> None:
        problems = []
        seen = 0
        for route in api_routes(app):
            permissions = declared_permissions(route)
            for method in sorted(route.methods):
                body = SAMPLE_BODIES.get((method, route.path), {})
                for where in _variants(route):
                    path = _path(route, world, where)
                    for role, headers in world.headers.items():
                        resp = client.request(
                            method,
                            path,
                            json=body if method in {"POST", "PATCH", "PUT"} else None,
                            headers=headers,
                            follow_redirects=False,
                        )
                        seen += 1
                        page = is_page(route.path)
                        want = expected(permissions, role, where, page)
                        if (
                            method == "GET"
                            and want in (OK, PAGE_OK)
                            and Permission.PUBLIC not in permissions
                        ):
                            want = {200, 303} if route.path in REDIRECTING_PAGES else {200}
                        if resp.status_code not in want:
                            problems.append(
                                f"{method} {route.path} ({where}) as {role or 'anonymous'}: "
                                f"{resp.status_code}, expected {sorted(want)}: {resp.text[:120]}"
                            )
        assert seen > 100
        assert problems == []

    def test_out_of_district_refusal_is_audited(
        self, client: TestClient, session: Session, world: World
    ) -> None:
        other = world.ids["case_id"]["out"]
        resp = client.get(f"/api/cases/{other}", headers=world.headers[Role.INVESTIGATOR])
        assert resp.status_code == 403
        assert "Hong" not in resp.text
        denied = session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "access.denied", AuditEvent.entity_id == str(other)
            )
        ).all()
        assert [(e.actor, e.detail["reason"]) for e in denied] == [("investigator-1", "scope")]

    def test_investigator_lists_only_their_district(self, client: TestClient, world: World) -> None:
        headers = world.headers[Role.INVESTIGATOR]
        listed = client.get("/api/cases", headers=headers).json()
        assert {c["district_code"] for c in listed} == {DISTRICT}
        other = client.get(f"/api/cases?district_code={OTHER_DISTRICT}", headers=headers)
        assert other.status_code == 403
        everything = client.get("/api/cases", headers=world.headers[Role.DISCLOSURE_OFFICER])
        assert {c["district_code"] for c in everything.json()} == {DISTRICT, OTHER_DISTRICT}

    def test_investigator_cannot_move_a_case_out_of_their_district(
        self, client: TestClient, world: World
    ) -> None:
        headers = world.headers[Role.INVESTIGATOR]
        mine = world.ids["case_id"]["in"]
        moved = client.patch(
            f"/api/cases/{mine}", json={"district_code": OTHER_DISTRICT}, headers=headers
        )
        assert moved.status_code == 403
        created = client.post(
            "/api/cases",
            json={"confirmed_date": "2020-03-05", "district_code": OTHER_DISTRICT},
            headers=headers,
        )
        assert created.status_code == 403
        default = client.post("/api/cases", json={"confirmed_date": "2020-03-05"}, headers=headers)
        assert default.status_code == 201 and default.json()["district_code"] == DISTRICT

    def test_analyst_gets_aggregates_only(self, client: TestClient, world: World) -> None:
        headers = world.headers[Role.ANALYST]
        counts = client.get("/api/stats/cases", headers=headers).json()
        assert sum(c["cases"] for c in counts) == 2
        assert set(counts[0]) == {"district_code", "status", "cases"}
        assert client.get("/api/cases", headers=headers).status_code == 403


MARKER = "Kim Minsu 010-9876-5432"
# Every field name the API knows, each with a value that is wrong and looks like personal data.
BAD_BODY: dict[str, Any] = {
    "username": MARKER,
    "password": MARKER,
    "new_password": MARKER,
    "confirmed_date": MARKER,
    "district_code": MARKER,
    "started_at": MARKER,
    "latitude": MARKER,
    "state": MARKER,
    "status": MARKER,
    "name": {"nested": MARKER},
    "identity": {"full_name": "", "phone": MARKER, "resident_number": MARKER},
    "expires_days": MARKER,
    "role": MARKER,
}
MALFORMED = b'{"password": "' + MARKER.encode()
BAD_IDS = ["abc", "99999999999999999999"]


class TestBadInput:
    def test_no_500_and_no_personal_data_in_errors(
        self, app: FastAPI, client: TestClient, world: World
    ) -> None:
        problems = []
        for route in api_routes(app):
            for method in sorted(route.methods):
                good_path = _path(route, world, "in")
                attempts: list[tuple[str, dict[str, Any]]]
                if method == "GET":
                    bad_query = {"district_code": MARKER, "status": MARKER}
                    attempts = [(good_path, {"params": bad_query})]
                else:
                    attempts = [
                        (good_path, {"json": BAD_BODY}),
                        (good_path, {"content": MALFORMED}),
                    ]
                if PARAM.search(route.path):
                    attempts += [
                        (PARAM.sub(bad, route.path), {"json": BAD_BODY}) for bad in BAD_IDS
                    ]
                for role, headers in world.headers.items():
                    for path, extra in attempts:
                        resp = client.request(method, path, headers=headers, **extra)
                        text = resp.text
                        if resp.status_code >= 500 or (
                            resp.status_code >= 400 and ("Minsu" in text or "9876" in text)
                        ):
                            problems.append(
                                f"{method} {path} as {role or 'anonymous'}: "
                                f"{resp.status_code} {text[:160]}"
                            )
        assert problems == []
