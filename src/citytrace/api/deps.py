"""Dependencies shared by every router: the unit of work and the acting user."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Path, Request
from sqlalchemy.orm import Session

from citytrace.auth.exceptions import AuditedRefusalError, AuthenticationError
from citytrace.db import session_factory


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per request: committed when the handler returns, rolled back on error.

    It ends before the response is sent (``scope="function"``): a commit that fails is the
    client's error response, never a success already sent; and the transaction (on SQLite, the
    database's write lock) is not held while the answer is serialised and written out, which
    under load left every worker thread waiting for a lock held by a request waiting for one.

    Refusals are the exception: their audit records (and counts of failed logins) are committed
    before the refusal is sent.
    """
    factory = session_factory(request.app.state.engine)
    denied: AuditedRefusalError | None = None
    with factory() as session, session.begin():
        try:
            yield session
        except AuditedRefusalError as exc:
            denied = exc
    if denied is not None:
        raise denied


SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def get_actor(request: Request, session: SessionDep) -> str:
    """Who is acting: the username of the signed-in principal (401 without one)."""
    from citytrace.auth.dependencies import authenticate

    principal = authenticate(request, session)
    if principal is None:
        raise AuthenticationError("sign in first: a session cookie or a bearer token is needed")
    return principal.username


ActorDep = Annotated[str, Depends(get_actor)]

# Ids in paths: positive and within the database's integer, so that a huge number is a 422 and
# never reaches the database as an overflow.
RecordId = Annotated[int, Path(ge=1, le=2**31 - 1)]
