"""Accounts and tokens for tests, made through the accounts service."""

from __future__ import annotations

from pydantic import SecretStr
from sqlalchemy.orm import Session

from citytrace.auth import service
from citytrace.auth.models import Role, User
from citytrace.auth.schemas import UserCreate

PASSWORD = "correct horse battery staple"
DISTRICT = "11140"  # Jung-gu: the district of the test investigator
OTHER_DISTRICT = "11110"  # Jongno-gu
CLINIC = "clinic-7"


def make_user(
    session: Session,
    role: Role,
    *,
    username: str | None = None,
    password: str = PASSWORD,
    district_code: str | None = None,
    clinic_ref: str | None = None,
) -> User:
    """An active account of ``role``; investigators default to :data:`DISTRICT`, clinic staff
    to :data:`CLINIC`."""
    if role == Role.INVESTIGATOR and district_code is None:
        district_code = DISTRICT
    if role == Role.CLINIC_STAFF and clinic_ref is None:
        clinic_ref = CLINIC
    return service.create(
        session=session,
        actor="test",
        data=UserCreate(
            username=username or f"{role.value.replace('_', '-')}-1",
            role=role,
            district_code=district_code,
            clinic_ref=clinic_ref,
            password=SecretStr(password),
        ),
    )


def bearer(session: Session, user: User, name: str = "test") -> dict[str, str]:
    """``Authorization`` headers with a new API token of ``user``."""
    _, token = service.create_token(session=session, actor="test", user_id=user.id, name=name)
    return {"Authorization": f"Bearer {token}"}
