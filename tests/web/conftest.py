"""Fixtures of the workspace tests: the app, a client, cases and signing in through the form."""

from __future__ import annotations

import re
from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citytrace.auth.models import Role
from citytrace.cases import service as cases
from citytrace.cases.models import Case
from citytrace.cases.schemas import CaseCreate
from tests.auth.conftest import _cheap_hashing, app, client  # noqa: F401
from tests.auth.factories import DISTRICT, OTHER_DISTRICT, PASSWORD, make_user

# Three check-ins in Jung-gu on the day of symptom onset, far enough apart to be three visits.
CHECKIN_CSV = (
    "checked_in_at,checked_out_at,venue_id,venue_name,venue_kind,latitude,longitude\n"
    "2020-03-03T10:00:00+09:00,2020-03-03T10:50:00+09:00,V-1,Cafe Namsan,cafe,37.5636,126.9976\n"
    "2020-03-03T13:00:00+09:00,2020-03-03T13:40:00+09:00,V-2,Myeongdong Noodles,restaurant,"
    "37.5600,126.9850\n"
    "2020-03-03T18:00:00+09:00,2020-03-03T19:30:00+09:00,V-3,Euljiro Gym,gym,37.5660,127.0090\n"
)
# Every data row is bad: a time without an offset, a latitude out of range.
BAD_CSV = (
    "checked_in_at,venue_id,latitude,longitude\n"
    "2020-03-03T10:00:00,V-1,37.56,126.99\n"
    "2020-03-03T11:00:00+09:00,V-2,999,126.99\n"
)
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
LOGIN_TOKEN = re.compile(r'name="login_token" value="([^"]+)"')


def make_case(session: Session, district: str = DISTRICT, reference: str | None = None) -> Case:
    return cases.create(
        session=session,
        actor="test",
        data=CaseCreate(
            reference=reference,
            confirmed_date=date(2020, 3, 5),
            symptom_onset_date=date(2020, 3, 3),
            isolated_date=date(2020, 3, 5),
            district_code=district,
        ),
    )


def sign_in(http: TestClient, username: str, password: str = PASSWORD) -> str:
    """Sign in through the login form; returns the CSRF token of the session."""
    form = http.get("/login")
    token = LOGIN_TOKEN.search(form.text)
    assert token, form.text
    resp = http.post(
        "/login",
        data={"username": username, "password": password, "login_token": token.group(1)},
        follow_redirects=False,
    )
    assert resp.status_code == 303, resp.text
    page = http.get("/")
    found = CSRF.search(page.text)
    return found.group(1) if found else ""


@pytest.fixture
def investigator(session: Session) -> str:
    return make_user(session, Role.INVESTIGATOR).username


@pytest.fixture
def outsider(session: Session) -> str:
    """An investigator of another district."""
    return make_user(
        session, Role.INVESTIGATOR, username="investigator-2", district_code=OTHER_DISTRICT
    ).username
