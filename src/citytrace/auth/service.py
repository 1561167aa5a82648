"""Accounts, logins, sessions and API tokens. Every change is audited in the caller's transaction.

Passwords are hashed with argon2id (RFC 9106) and rehashed at login when the configured cost
has changed. Session ids and API tokens are random (256 bits) and stored only as SHA-256, so a
copy of the database lets no one sign in. Failed logins lock an account for a while; the answer
to a failed login never says whether the username exists.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from citytrace.audit import service as audit
from citytrace.auth.models import ApiToken, LoginSession, Role, User
from citytrace.auth.permissions import Principal
from citytrace.auth.schemas import UserCreate
from citytrace.config import get_settings
from citytrace.db import utcnow
from citytrace.errors import ConflictError, InputError, NotFoundError

TOKEN_PREFIX = "ct_"  # noqa: S105  (a marker, not a secret)
# Writing last-seen times on every request would turn reads into writes; once a minute will do.
TOUCH_EVERY = timedelta(minutes=1)


# --- passwords -----------------------------------------------------------------------------


@lru_cache(maxsize=4)
def _hasher(time_cost: int, memory_kib: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)


def password_hasher() -> PasswordHasher:
    """The argon2id hasher with the configured cost."""
    s = get_settings()
    return _hasher(s.argon2_time_cost, s.argon2_memory_kib, s.argon2_parallelism)


@lru_cache(maxsize=4)
def _dummy_hash(hasher: PasswordHasher) -> str:
    return hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return password_hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return password_hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _check_password(username: str, password: str) -> None:
    # Short usernames would refuse too many good passwords ("lee" in "sleepless").
    if len(username) >= 4 and username.lower() in password.lower():
        raise InputError("the password must not contain the username", location="password")


def sha256_hex(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


# --- accounts ------------------------------------------------------------------------------


def get(*, session: Session, user_id: int) -> User | None:
    return session.get(User, user_id)


def get_or_raise(*, session: Session, user_id: int) -> User:
    user = get(session=session, user_id=user_id)
    if user is None:
        raise NotFoundError(f"user {user_id} does not exist")
    return user


def get_by_username(*, session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username.strip().lower()))


def get_by_username_or_raise(*, session: Session, username: str) -> User:
    user = get_by_username(session=session, username=username)
    if user is None:
        raise NotFoundError(f"user {username!r} does not exist")
    return user


def list_(*, session: Session) -> Sequence[User]:
    return session.scalars(select(User).order_by(User.username)).all()


def _check_scope_fields(data: UserCreate) -> None:
    if data.role == Role.INVESTIGATOR:
        if data.district_code is None:
            raise InputError("an investigator needs a district", location="district_code")
        from citytrace.geo import load_city

        city = load_city(get_settings().city)
        if data.district_code not in {d.code for d in city.districts}:
            raise InputError(
                f"unknown district code {data.district_code!r}", location="district_code"
            )
    elif data.district_code is not None:
        raise InputError("only investigators belong to a district", location="district_code")
    if data.role == Role.CLINIC_STAFF:
        if data.clinic_ref is None:
            raise InputError("clinic staff need a clinic", location="clinic_ref")
    elif data.clinic_ref is not None:
        raise InputError("only clinic staff belong to a clinic", location="clinic_ref")


def create(*, session: Session, actor: str, data: UserCreate) -> User:
    """Create an account; investigators need a district of the city, clinic staff a clinic."""
    _check_scope_fields(data)
    password = data.password.get_secret_value()
    _check_password(data.username, password)
    if get_by_username(session=session, username=data.username) is not None:
        raise ConflictError(f"user {data.username!r} already exists")
    user = User(
        username=data.username,
        display_name=data.display_name,
        password_hash=hash_password(password),
        role=data.role,
        district_code=data.district_code,
        clinic_ref=data.clinic_ref,
    )
    session.add(user)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="user.create",
        entity="user",
        entity_id=user.id,
        detail={"role": str(user.role), "district_code": user.district_code},
    )
    return user


def _active_admins(session: Session) -> int:
    query = select(func.count()).where(User.role == Role.ADMINISTRATOR, User.active.is_(True))
    return session.scalar(query) or 0


def _revoke_sessions(session: Session, user_id: int, *, keep_id: int | None = None) -> None:
    query = update(LoginSession).where(
        LoginSession.user_id == user_id, LoginSession.revoked_at.is_(None)
    )
    if keep_id is not None:
        query = query.where(LoginSession.id != keep_id)
    session.execute(query.values(revoked_at=utcnow()))


def deactivate(*, session: Session, actor: str, user_id: int) -> User:
    """Deactivate an account and end its sessions; its tokens stop working with it."""
    user = get_or_raise(session=session, user_id=user_id)
    if user.role == Role.ADMINISTRATOR and user.active and _active_admins(session) <= 1:
        raise ConflictError("the last active administrator cannot be deactivated")
    user.active = False
    _revoke_sessions(session, user.id)
    session.flush()
    audit.record(
        session=session, actor=actor, action="user.deactivate", entity="user", entity_id=user.id
    )
    return user


def activate(*, session: Session, actor: str, user_id: int) -> User:
    user = get_or_raise(session=session, user_id=user_id)
    user.active = True
    session.flush()
    audit.record(
        session=session, actor=actor, action="user.activate", entity="user", entity_id=user.id
    )
    return user


def reset_password(*, session: Session, actor: str, user_id: int, password: str) -> User:
    """Set a new password, lift any lockout and end the account's sessions."""
    user = get_or_raise(session=session, user_id=user_id)
    _check_password(user.username, password)
    user.password_hash = hash_password(password)
    user.failed_logins = 0
    user.first_failed_at = None
    user.locked_until = None
    _revoke_sessions(session, user.id)
    session.flush()
    audit.record(
        session=session, actor=actor, action="user.password.reset", entity="user", entity_id=user.id
    )
    return user


# --- logins --------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoginResult:
    """A new session: the raw session id goes to the cookie and nowhere else."""

    user: User
    session_id: str = field(repr=False)
    csrf_token: str = field(repr=False)
    expires_at: datetime


def _register_failure(session: Session, user: User, now: datetime) -> None:
    settings = get_settings()
    window = timedelta(minutes=settings.login_failure_window_min)
    if user.first_failed_at is None or now - user.first_failed_at > window:
        user.first_failed_at = now
        user.failed_logins = 1
    else:
        user.failed_logins += 1
    if user.failed_logins >= settings.login_max_failures:
        user.locked_until = now + timedelta(minutes=settings.lockout_min)
        user.failed_logins = 0
        user.first_failed_at = None
        audit.record(
            session=session,
            actor="anonymous",
            action="auth.lockout",
            entity="user",
            entity_id=user.id,
            detail={"minutes": settings.lockout_min},
        )


def login(
    *, session: Session, username: str, password: str, client_address: str | None = None
) -> LoginResult | None:
    """Open a session for good credentials of an active, unlocked account; ``None`` otherwise.

    Unknown usernames cost the same hashing time as known ones, and every failure looks the same
    to the caller. Failures are counted toward a lockout and audited.
    """
    now = utcnow()
    hasher = password_hasher()
    user = get_by_username(session=session, username=username)
    if user is None:
        verify_password(_dummy_hash(hasher), password)
        audit.record(
            session=session,
            actor="anonymous",
            action="auth.login.failed",
            entity="user",
            detail={"reason": "unknown_user"},
        )
        return None
    locked = user.locked_until is not None and user.locked_until > now
    if locked:
        # Same work as a real attempt, so that timing does not tell a locked account apart.
        verify_password(_dummy_hash(hasher), password)
        good = False
    else:
        good = verify_password(user.password_hash, password)
    if not good or not user.active:
        if not locked and not good:
            _register_failure(session, user, now)
        reason = "locked" if locked else "inactive" if good else "bad_password"
        audit.record(
            session=session,
            actor="anonymous",
            action="auth.login.failed",
            entity="user",
            entity_id=user.id,
            detail={"reason": reason},
        )
        return None
    user.failed_logins = 0
    user.first_failed_at = None
    user.locked_until = None
    user.last_login_at = now
    rehashed = hasher.check_needs_rehash(user.password_hash)
    if rehashed:
        user.password_hash = hasher.hash(password)
    session_id = secrets.token_urlsafe(32)
    csrf_token = secrets.token_urlsafe(32)
    expires_at = now + timedelta(hours=get_settings().session_max_hours)
    session.add(
        LoginSession(
            user_id=user.id,
            session_sha256=sha256_hex(session_id),
            csrf_secret=csrf_token,
            created_at=now,
            expires_at=expires_at,
            last_seen_at=now,
            client_address=None if client_address is None else client_address[:64],
        )
    )
    session.flush()
    audit.record(
        session=session,
        actor=user.username,
        action="auth.login",
        entity="user",
        entity_id=user.id,
        detail={"rehashed": rehashed},
    )
    return LoginResult(
        user=user, session_id=session_id, csrf_token=csrf_token, expires_at=expires_at
    )


def _find_session(session: Session, session_id: str) -> LoginSession | None:
    query = select(LoginSession).where(LoginSession.session_sha256 == sha256_hex(session_id))
    return session.scalar(query)


def logout(*, session: Session, session_id: str) -> None:
    """End the session with this id (nothing happens for an unknown one)."""
    found = _find_session(session, session_id)
    if found is None or found.revoked_at is not None:
        return
    found.revoked_at = utcnow()
    user = get_or_raise(session=session, user_id=found.user_id)
    audit.record(
        session=session, actor=user.username, action="auth.logout", entity="user", entity_id=user.id
    )


def _principal(user: User, *, via: str, login_session: LoginSession | None = None) -> Principal:
    return Principal(
        user_id=user.id,
        username=user.username,
        role=user.role,
        district_code=user.district_code,
        clinic_ref=user.clinic_ref,
        via=via,
        csrf_secret=None if login_session is None else login_session.csrf_secret,
        login_session_id=None if login_session is None else login_session.id,
    )


def principal_from_session(*, session: Session, session_id: str) -> Principal | None:
    """Who holds this session cookie, if the session is live and the account active."""
    now = utcnow()
    found = _find_session(session, session_id)
    if found is None or found.revoked_at is not None or found.expires_at <= now:
        return None
    if now - found.last_seen_at > timedelta(minutes=get_settings().session_idle_min):
        return None
    user = get(session=session, user_id=found.user_id)
    if user is None or not user.active:
        return None
    if now - found.last_seen_at > TOUCH_EVERY:
        found.last_seen_at = now
    return _principal(user, via="session", login_session=found)


def change_password(
    *, session: Session, principal: Principal, current_password: str, new_password: str
) -> bool:
    """Change one's own password; ``False`` (a counted failure) if the current one is wrong.

    Other sessions of the account end; the caller's stays open.
    """
    user = get_or_raise(session=session, user_id=principal.user_id)
    if not verify_password(user.password_hash, current_password):
        _register_failure(session, user, utcnow())
        return False
    _check_password(user.username, new_password)
    user.password_hash = hash_password(new_password)
    _revoke_sessions(session, user.id, keep_id=principal.login_session_id)
    session.flush()
    audit.record(
        session=session,
        actor=user.username,
        action="user.password.change",
        entity="user",
        entity_id=user.id,
    )
    return True


# --- API tokens ----------------------------------------------------------------------------


def create_token(
    *, session: Session, actor: str, user_id: int, name: str, expires_days: int | None = None
) -> tuple[ApiToken, str]:
    """A new API token of the user: the record and the token itself, which is not kept."""
    user = get_or_raise(session=session, user_id=user_id)
    days = expires_days or get_settings().api_token_days
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    record = ApiToken(
        user_id=user.id,
        name=name,
        token_sha256=sha256_hex(token),
        created_at=now,
        expires_at=now + timedelta(days=days),
    )
    session.add(record)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="token.create",
        entity="user",
        entity_id=user.id,
        detail={"token_id": record.id, "days": days},
    )
    return record, token


def list_tokens(*, session: Session, user_id: int) -> Sequence[ApiToken]:
    get_or_raise(session=session, user_id=user_id)
    query = select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.id)
    return session.scalars(query).all()


def revoke_token(*, session: Session, actor: str, user_id: int, token_id: int) -> ApiToken:
    record = session.get(ApiToken, token_id)
    if record is None or record.user_id != user_id:
        raise NotFoundError(f"token {token_id} of user {user_id} does not exist")
    if record.revoked_at is None:
        record.revoked_at = utcnow()
        audit.record(
            session=session,
            actor=actor,
            action="token.revoke",
            entity="user",
            entity_id=user_id,
            detail={"token_id": token_id},
        )
    return record


def principal_from_token(*, session: Session, token: str) -> Principal | None:
    """Who holds this API token, if it is live and the account active."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    now = utcnow()
    record = session.scalar(select(ApiToken).where(ApiToken.token_sha256 == sha256_hex(token)))
    if record is None or record.revoked_at is not None:
        return None
    if record.expires_at is not None and record.expires_at <= now:
        return None
    user = get(session=session, user_id=record.user_id)
    if user is None or not user.active:
        return None
    if record.last_used_at is None or now - record.last_used_at > TOUCH_EVERY:
        record.last_used_at = now
    return _principal(user, via="token")
