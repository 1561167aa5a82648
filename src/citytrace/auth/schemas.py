"""API shapes of accounts, logins and tokens. Passwords and tokens never appear in a repr."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from citytrace.auth.models import Role
from citytrace.auth.permissions import Permission

USERNAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{1,63}$"
# Long enough to resist guessing; capped so that hashing cannot be used to exhaust the server.
PASSWORD_MIN = 12
PASSWORD_MAX = 1024


class LoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: SecretStr = Field(min_length=1, max_length=PASSWORD_MAX)


class LoginOut(BaseModel):
    username: str
    role: Role
    csrf_token: str = Field(
        description="Send it back as the X-CSRF-Token header (or a csrf_token form field) "
        "with every POST, PATCH, PUT and DELETE made with the session cookie."
    )
    expires_at: datetime


class PasswordChangeIn(BaseModel):
    current_password: SecretStr = Field(min_length=1, max_length=PASSWORD_MAX)
    new_password: SecretStr = Field(min_length=PASSWORD_MIN, max_length=PASSWORD_MAX)


class PasswordResetIn(BaseModel):
    password: SecretStr = Field(min_length=PASSWORD_MIN, max_length=PASSWORD_MAX)


class MeOut(BaseModel):
    username: str
    display_name: str
    role: Role
    district_code: str | None
    clinic_ref: str | None
    permissions: list[Permission]


class UserCreate(BaseModel):
    username: str = Field(pattern=USERNAME_PATTERN)
    display_name: str = Field(default="", max_length=200)
    role: Role
    district_code: str | None = Field(default=None, max_length=10)
    clinic_ref: str | None = Field(default=None, min_length=1, max_length=64)
    password: SecretStr = Field(min_length=PASSWORD_MIN, max_length=PASSWORD_MAX)


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    display_name: str
    role: Role
    district_code: str | None
    clinic_ref: str | None
    active: bool
    locked_until: datetime | None
    created_at: datetime
    last_login_at: datetime | None


class TokenCreate(BaseModel):
    name: str = Field(min_length=1, max_length=80)
    expires_days: int | None = Field(
        default=None, ge=1, le=3650, description="Days until it expires (default from settings)."
    )


class TokenOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    user_id: int
    name: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None


class TokenCreated(TokenOut):
    token: str = Field(description="Shown this once; only its SHA-256 is kept.")

    def __repr__(self) -> str:
        return f"TokenCreated(id={self.id}, name={self.name!r})"

    __str__ = __repr__
