"""Accounts, their login sessions and API tokens. Secrets are stored only as hashes."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from citytrace.db import Base, str_enum, utcnow


class Role(StrEnum):
    ADMINISTRATOR = "administrator"
    INVESTIGATOR = "investigator"
    DISCLOSURE_OFFICER = "disclosure_officer"
    CLINIC_STAFF = "clinic_staff"
    ANALYST = "analyst"


class User(Base):
    """A member of staff who signs in; investigators belong to a district, clinic staff to a
    clinic."""

    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    # argon2id, in the PHC string format (parameters and salt included).
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(str_enum(Role))
    district_code: Mapped[str | None] = mapped_column(String(10))
    clinic_ref: Mapped[str | None] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(default=True)
    failed_logins: Mapped[int] = mapped_column(default=0)
    # Start of the current run of failed logins: older runs are forgotten.
    first_failed_at: Mapped[datetime | None]
    locked_until: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]

    def __repr__(self) -> str:
        return f"User(id={self.id}, username={self.username!r}, role={self.role})"


class ApiToken(Base):
    """A bearer token for programs; the token itself is shown once and kept as SHA-256 only."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    def __repr__(self) -> str:
        return f"ApiToken(id={self.id}, user_id={self.user_id}, name={self.name!r})"


class LoginSession(Base):
    """A browser session: the cookie holds the session id, the database its SHA-256."""

    __tablename__ = "login_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    session_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_secret: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    client_address: Mapped[str | None] = mapped_column(String(64))

    def __repr__(self) -> str:
        return f"LoginSession(id={self.id}, user_id={self.user_id})"
