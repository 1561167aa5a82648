"""Who is asking, and may they: authentication, declared permissions and record scope.

A route declares its permission where it is declared, with ``require(Permission.X)`` (in the
decorator's ``dependencies`` or as a parameter, which then receives the :class:`Principal`), or
with a loader such as ``case_for(Permission.X)`` that loads the record (404 if absent), checks
the permission and the record's scope (403, audited) and hands the record to the route.
"""

# No ``from __future__ import annotations`` here: FastAPI reads the annotations of the loaders
# below, which name the permission of their enclosing factory and must be evaluated in place.
import hmac
from collections.abc import Callable
from functools import cache
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from citytrace.api.deps import RecordId, SessionDep
from citytrace.audit import service as audit
from citytrace.auth import service
from citytrace.auth.exceptions import AuthenticationError, PermissionDeniedError, RateLimitedError
from citytrace.auth.models import Role
from citytrace.auth.permissions import Permission, Principal
from citytrace.auth.ratelimit import RateLimits, retry_after_s
from citytrace.cases import service as cases
from citytrace.cases.models import Case
from citytrace.config import get_settings
from citytrace.contacts import service as contacts
from citytrace.contacts.models import Contact
from citytrace.investigation import service as investigation
from citytrace.investigation.models import Visit

SESSION_COOKIE = "citytrace_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Declares bearer tokens in the OpenAPI description (Swagger UI's "Authorize"); the header itself
# is read by ``authenticate``, which also accepts the session cookie.
BEARER_SCHEME = HTTPBearer(auto_error=False, description="An API token: `Bearer ct_...`")
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


# --- the request ---------------------------------------------------------------------------


def client_address(request: Request) -> str:
    """The client's address; behind a trusted proxy, the one the proxy saw (last hop)."""
    if get_settings().behind_proxy:
        forwarded = request.headers.get("x-forwarded-for", "")
        hops = [h.strip() for h in forwarded.split(",") if h.strip()]
        if hops:
            return hops[-1][:64]
    return request.client.host if request.client else "unknown"


def is_https(request: Request) -> bool:
    """Whether the client reached us over TLS (``X-Forwarded-Proto`` only behind a proxy)."""
    if request.url.scheme == "https":
        return True
    if get_settings().behind_proxy:
        return request.headers.get("x-forwarded-proto", "").split(",")[0].strip() == "https"
    return False


def rate_limits(request: Request) -> RateLimits:
    """The app's token buckets (made on first use if the app did not make them)."""
    limits = getattr(request.app.state, "rate_limits", None)
    if limits is None:
        limits = RateLimits.from_settings()
        request.app.state.rate_limits = limits
    return limits  # type: ignore[no-any-return]


def take_token(bucket_wait_s: float) -> None:
    """Refuse with 429 (and ``Retry-After``) when a bucket said to wait."""
    if bucket_wait_s > 0:
        raise RateLimitedError(retry_after_s(bucket_wait_s))


# --- authentication ------------------------------------------------------------------------


def authenticate(request: Request, session: Session) -> Principal | None:
    """The principal of a bearer token or a session cookie, once per request.

    An ``Authorization`` header is used alone when present: a bad token is not rescued by a
    cookie.
    """
    if hasattr(request.state, "principal"):
        return request.state.principal  # type: ignore[no-any-return]
    principal: Principal | None = None
    authorization = request.headers.get("authorization")
    if authorization is not None:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            principal = service.principal_from_token(session=session, token=token.strip())
    else:
        session_id = request.cookies.get(SESSION_COOKIE)
        if session_id:
            principal = service.principal_from_session(session=session, session_id=session_id)
    request.state.principal = principal
    return principal


def current_principal(request: Request, session: SessionDep) -> Principal:
    """The signed-in principal, or 401."""
    principal = authenticate(request, session)
    if principal is None:
        raise AuthenticationError("sign in first: a session cookie or a bearer token is needed")
    return principal


async def submitted_csrf(request: Request) -> str | None:
    """The CSRF token sent with an unsafe request: the header, or else a form field.

    Only a request that may be signed in by its cookie needs one, so only such a request has
    its form read here (a form the route reads itself is parsed once: Starlette keeps it).
    """
    if request.method in SAFE_METHODS:
        return None
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    by_cookie = SESSION_COOKIE in request.cookies and "authorization" not in request.headers
    if by_cookie and request.headers.get("content-type", "").startswith(_FORM_TYPES):
        try:
            value = (await request.form()).get(CSRF_FIELD)
        except Exception:  # a malformed form: no token in it
            return None
        return value if isinstance(value, str) else None
    return None


def deny(
    *,
    session: Session,
    principal: Principal,
    permission: Permission,
    reason: str,
    entity: str = "route",
    entity_id: int | str | None = None,
    route: str | None = None,
) -> PermissionDeniedError:
    """Audit a refusal (the record is kept although the request fails) and return the error."""
    audit.record(
        session=session,
        actor=principal.username,
        action="access.denied",
        entity=entity,
        entity_id=entity_id,
        detail={"permission": str(permission), "reason": reason, "route": route},
    )
    return PermissionDeniedError(f"{principal.role} may not do this here ({permission})")


class PermissionDependency:
    """A dependency that declares the permission a route needs (found by the route-walk test)."""

    def __init__(self, permission: Permission) -> None:
        self.permission = permission

    def __repr__(self) -> str:
        return f"require({self.permission})"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError


class Require(PermissionDependency):
    """The dependency of a route needing ``permission``: the principal, or 401/403."""

    def __call__(
        self,
        request: Request,
        session: SessionDep,
        csrf: Annotated[str | None, Depends(submitted_csrf)],
        _bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER_SCHEME)],
    ) -> Principal:
        principal = current_principal(request, session)
        route = getattr(request.scope.get("route"), "path", None)
        if principal.via == "session" and request.method not in SAFE_METHODS:
            expected = principal.csrf_secret or ""
            if not csrf or not hmac.compare_digest(csrf.encode(), expected.encode()):
                raise deny(
                    session=session,
                    principal=principal,
                    permission=self.permission,
                    reason="csrf",
                    route=route,
                )
        if not principal.can(self.permission):
            raise deny(
                session=session,
                principal=principal,
                permission=self.permission,
                reason="role",
                route=route,
            )
        return principal


class RequirePublic(PermissionDependency):
    """The dependency of a public route: anyone, within the per-client rate limit."""

    def __init__(self) -> None:
        super().__init__(Permission.PUBLIC)

    def __call__(self, request: Request) -> None:
        take_token(rate_limits(request).public_client.take(client_address(request)))


@cache
def require(permission: Permission) -> PermissionDependency:
    """The dependency declaring ``permission`` (one instance per permission, so that FastAPI
    runs it once per request however many times a route's dependencies name it)."""
    if permission == Permission.PUBLIC:
        return RequirePublic()
    return Require(permission)


PrincipalDep = Annotated[Principal, Depends(current_principal)]


# --- record scope --------------------------------------------------------------------------


def check_district(
    *,
    session: Session,
    principal: Principal,
    permission: Permission,
    district_code: str | None,
    entity: str = "case",
    entity_id: int | str | None = None,
) -> None:
    """The one record-scope check: 403 (audited) outside the principal's districts."""
    if not principal.reaches_district(district_code):
        raise deny(
            session=session,
            principal=principal,
            permission=permission,
            reason="scope",
            entity=entity,
            entity_id=entity_id,
        )


def district_filter(
    *,
    session: Session,
    principal: Principal,
    permission: Permission,
    district_code: str | None,
) -> str | None:
    """The district a listing is limited to: an investigator's own, whatever they ask."""
    if principal.role != Role.INVESTIGATOR:
        return district_code
    if district_code is not None:
        check_district(
            session=session,
            principal=principal,
            permission=permission,
            district_code=district_code,
            entity="district",
            entity_id=district_code,
        )
    return principal.district_code


def check_case(
    *, session: Session, principal: Principal, permission: Permission, case: Case
) -> Case:
    """``case``, if within the principal's scope; otherwise 403 (audited)."""
    check_district(
        session=session,
        principal=principal,
        permission=permission,
        district_code=case.district_code,
        entity="case",
        entity_id=case.id,
    )
    return case


def case_for(permission: Permission) -> Callable[..., Case]:
    """A dependency giving the path's case: 404 if absent, 403 if out of scope."""

    def load_case(
        case_id: RecordId,
        session: SessionDep,
        principal: Annotated[Principal, Depends(require(permission))],
    ) -> Case:
        case = cases.get_or_raise(session=session, case_id=case_id)
        return check_case(session=session, principal=principal, permission=permission, case=case)

    return shared_loader("case", permission, load_case)


def visit_for(permission: Permission) -> Callable[..., Visit]:
    """A dependency giving the path's visit: 404 if absent, 403 if its case is out of scope."""

    def load_visit(
        visit_id: RecordId,
        session: SessionDep,
        principal: Annotated[Principal, Depends(require(permission))],
    ) -> Visit:
        visit = investigation.get_visit_or_raise(session=session, visit_id=visit_id)
        case = cases.get_or_raise(session=session, case_id=visit.case_id)
        check_case(session=session, principal=principal, permission=permission, case=case)
        return visit

    return shared_loader("visit", permission, load_visit)


def contact_for(permission: Permission) -> Callable[..., Contact]:
    """A dependency giving the path's contact: 404 if absent, 403 if its case is out of scope."""

    def load_contact(
        contact_id: RecordId,
        session: SessionDep,
        principal: Annotated[Principal, Depends(require(permission))],
    ) -> Contact:
        contact = contacts.get_or_raise(session=session, contact_id=contact_id)
        case = cases.get_or_raise(session=session, case_id=contact.case_id)
        check_case(session=session, principal=principal, permission=permission, case=case)
        return contact

    return shared_loader("contact", permission, load_contact)


T = TypeVar("T")
_LOADERS: dict[tuple[str, Permission], Callable[..., object]] = {}


def shared_loader(kind: str, permission: Permission, loader: Callable[..., T]) -> Callable[..., T]:
    """One loader per (``kind``, ``permission``), the first one made, so that FastAPI's
    per-request cache recognises it however many routes ask for it. ``kind`` must be unique
    across the app (e.g. ``"case"``, ``"clinic"``)."""
    return _LOADERS.setdefault((kind, permission), loader)  # type: ignore[return-value]
