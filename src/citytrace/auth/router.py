"""HTTP routes of signing in and out, and of the administration of accounts and tokens."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from citytrace.api.deps import RecordId, SessionDep, UnitOfWorkRoute
from citytrace.auth import service
from citytrace.auth.dependencies import (
    SESSION_COOKIE,
    client_address,
    is_https,
    rate_limits,
    require,
    take_token,
)
from citytrace.auth.exceptions import LoginFailedError, PermissionDeniedError
from citytrace.auth.permissions import Permission, Principal
from citytrace.auth.schemas import (
    LoginIn,
    LoginOut,
    MeOut,
    PasswordChangeIn,
    PasswordResetIn,
    TokenCreate,
    TokenCreated,
    TokenOut,
    UserCreate,
    UserOut,
)
from citytrace.config import get_settings

router = APIRouter(prefix="/api/auth", tags=["auth"], route_class=UnitOfWorkRoute)
users_router = APIRouter(prefix="/api/users", tags=["users"], route_class=UnitOfWorkRoute)

Me = Annotated[Principal, Depends(require(Permission.SELF))]
Admin = Annotated[Principal, Depends(require(Permission.USER_ADMIN))]

LOGIN_FAILED = "login failed: wrong username or password, or the account is locked for a while"


@router.post("/login", dependencies=[Depends(require(Permission.PUBLIC))])
def login(data: LoginIn, request: Request, response: Response, session: SessionDep) -> LoginOut:
    """Sign in: sets the session cookie and returns the CSRF token for unsafe requests."""
    limits = rate_limits(request)
    address = client_address(request)
    take_token(limits.login_client.take(address))
    take_token(limits.login_username.take(data.username.strip().lower()))
    old = request.cookies.get(SESSION_COOKIE)
    if old:
        service.logout(session=session, session_id=old)
    result = service.login(
        session=session,
        username=data.username,
        password=data.password.get_secret_value(),
        client_address=address,
    )
    if result is None:
        raise LoginFailedError(LOGIN_FAILED)
    response.set_cookie(
        SESSION_COOKIE,
        result.session_id,
        httponly=True,
        samesite="strict",
        secure=get_settings().cookie_secure or is_https(request),
        path="/",
    )
    return LoginOut(
        username=result.user.username,
        role=result.user.role,
        csrf_token=result.csrf_token,
        expires_at=result.expires_at,
    )


@router.post("/logout", status_code=204)
def logout(request: Request, response: Response, session: SessionDep, me: Me) -> None:
    """Sign out: ends the cookie's session (a bearer token stays valid until revoked)."""
    session_id = request.cookies.get(SESSION_COOKIE)
    if me.via == "session" and session_id:
        service.logout(session=session, session_id=session_id)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")


@router.get("/me")
def me(session: SessionDep, me: Me) -> MeOut:
    """The signed-in account and what it may do."""
    user = service.get_or_raise(session=session, user_id=me.user_id)
    return MeOut(
        username=user.username,
        display_name=user.display_name,
        role=user.role,
        district_code=user.district_code,
        clinic_ref=user.clinic_ref,
        permissions=sorted(me.permissions),
    )


@router.post("/password", status_code=204)
def change_password(data: PasswordChangeIn, session: SessionDep, me: Me) -> None:
    """Change one's own password; the account's other sessions end."""
    changed = service.change_password(
        session=session,
        principal=me,
        current_password=data.current_password.get_secret_value(),
        new_password=data.new_password.get_secret_value(),
    )
    if not changed:
        raise PermissionDeniedError("the current password is wrong")


# --- administration ------------------------------------------------------------------------


@users_router.post("", status_code=201)
def create_user(data: UserCreate, session: SessionDep, admin: Admin) -> UserOut:
    """Create an account (investigators need a district, clinic staff a clinic)."""
    user = service.create(session=session, actor=admin.username, data=data)
    return UserOut.model_validate(user)


@users_router.get("")
def list_users(session: SessionDep, admin: Admin) -> list[UserOut]:
    return [UserOut.model_validate(u) for u in service.list_(session=session)]


@users_router.get("/{user_id}")
def get_user(user_id: RecordId, session: SessionDep, admin: Admin) -> UserOut:
    return UserOut.model_validate(service.get_or_raise(session=session, user_id=user_id))


@users_router.post("/{user_id}/deactivate")
def deactivate_user(user_id: RecordId, session: SessionDep, admin: Admin) -> UserOut:
    """Deactivate an account: its sessions end and its tokens stop working."""
    user = service.deactivate(session=session, actor=admin.username, user_id=user_id)
    return UserOut.model_validate(user)


@users_router.post("/{user_id}/activate")
def activate_user(user_id: RecordId, session: SessionDep, admin: Admin) -> UserOut:
    user = service.activate(session=session, actor=admin.username, user_id=user_id)
    return UserOut.model_validate(user)


@users_router.post("/{user_id}/password", status_code=204)
def reset_password(
    user_id: RecordId, data: PasswordResetIn, session: SessionDep, admin: Admin
) -> None:
    """Set a new password, lift a lockout and end the account's sessions."""
    service.reset_password(
        session=session,
        actor=admin.username,
        user_id=user_id,
        password=data.password.get_secret_value(),
    )


@users_router.get("/{user_id}/tokens")
def list_tokens(user_id: RecordId, session: SessionDep, admin: Admin) -> list[TokenOut]:
    return [
        TokenOut.model_validate(t) for t in service.list_tokens(session=session, user_id=user_id)
    ]


@users_router.post("/{user_id}/tokens", status_code=201)
def create_token(
    user_id: RecordId, data: TokenCreate, session: SessionDep, admin: Admin
) -> TokenCreated:
    """A new API token of the account, shown in this answer only."""
    record, token = service.create_token(
        session=session,
        actor=admin.username,
        user_id=user_id,
        name=data.name,
        expires_days=data.expires_days,
    )
    return TokenCreated(**TokenOut.model_validate(record).model_dump(), token=token)


@users_router.post("/{user_id}/tokens/{token_id}/revoke")
def revoke_token(
    user_id: RecordId, token_id: RecordId, session: SessionDep, admin: Admin
) -> TokenOut:
    record = service.revoke_token(
        session=session, actor=admin.username, user_id=user_id, token_id=token_id
    )
    return TokenOut.model_validate(record)
