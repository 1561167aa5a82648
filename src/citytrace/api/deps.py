"""Dependencies shared by every router: the unit of work and the acting user."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Coroutine, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from contextvars import ContextVar
from typing import Annotated, Any

from fastapi import Depends, Path, Request, Response
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session

from citytrace.auth.exceptions import AuditedRefusalError, AuthenticationError
from citytrace.db import session_factory


class _RequestWork:
    """The session of the request being handled, once :func:`get_session` opened it."""

    __slots__ = ("session",)

    def __init__(self) -> None:
        self.session: Session | None = None


# Set by UnitOfWorkRoute for each request, before its dependencies run: every thread the request
# runs code in sees a copy of the context, hence this same object.
_request_work: ContextVar[_RequestWork | None] = ContextVar("request_work", default=None)


@contextmanager
def _ends_transaction(session: Session) -> Iterator[None]:
    """Commit ``session``'s transaction when the block ends, and also when it raises an audited
    refusal (whose audit records are kept); roll it back when it raises anything else or the
    commit fails."""
    try:
        try:
            yield
        except AuditedRefusalError:
            session.commit()
            raise
        session.commit()
    except BaseException:
        session.rollback()
        raise


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per request: committed when the handler returns, rolled back on error.

    It ends before the response is written (``scope="function"``), so that a commit that fails
    is the client's error response, never a success already sent. On a route of
    :class:`UnitOfWorkRoute` (every router's) it ends earlier still, in the thread that ran the
    route, right after it returned: see there why. An audited refusal is not rolled back: its
    audit records (and counts of failed logins) are committed before the refusal is sent.
    """
    factory = session_factory(request.app.state.engine)
    with factory() as session:
        work = _request_work.get()
        if work is not None:
            work.session = session
        with _ends_transaction(session):
            yield session


def _ends_request_transaction() -> AbstractContextManager[None]:
    """Ends the request's transaction (:func:`_ends_transaction`) when the block ends, if the
    request opened one."""
    work = _request_work.get()
    if work is None or work.session is None:
        return nullcontext()
    return _ends_transaction(work.session)


class UnitOfWorkRoute(APIRoute):
    """A route that ends the request's transaction (:func:`get_session`) where the route ran,
    right after it returns, before its answer is serialised.

    FastAPI runs a plain ``def`` route in a worker thread and the exit of the request's session
    (its commit) in another worker thread afterwards. Under concurrent writes every worker
    thread could be waiting for a database lock (SQLite's write lock, a row or advisory lock on
    PostgreSQL) held by a request whose route had returned and that waited for a free thread
    to commit: no request could go on. Ending the transaction in the route's own thread lets a
    lock's holder release it without waiting for anything. An ``async def`` route's
    transaction ends on the event loop, where the route ran, for the same reason.

    The transaction is ended as :func:`get_session` would: committed (also on an audited
    refusal), or rolled back when the route raises. A failed commit is the route's error, so
    that the client is never told of a success that was not kept. Work done afterwards (a lazy
    load while the answer is serialised) would be in a transaction of its own, ended by
    :func:`get_session` in another thread: build answers from what the route loaded.
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, _ending_request_transaction(endpoint), **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def handle_request(request: Request) -> Response:
            token = _request_work.set(_RequestWork())
            try:
                return await handle(request)
            finally:
                _request_work.reset(token)

        return handle_request


def _ending_request_transaction(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """``endpoint``, ending the request's transaction where it ran, right after it returns.

    A streaming route (a generator) is left as it is: its transaction ends after the stream.
    """
    if inspect.isgeneratorfunction(endpoint) or inspect.isasyncgenfunction(endpoint):
        return endpoint
    if inspect.iscoroutinefunction(endpoint):

        @functools.wraps(endpoint)
        async def run_async(*args: Any, **kwargs: Any) -> Any:
            with _ends_request_transaction():
                return await endpoint(*args, **kwargs)

        return run_async

    @functools.wraps(endpoint)
    def run(*args: Any, **kwargs: Any) -> Any:
        with _ends_request_transaction():
            return endpoint(*args, **kwargs)

    return run


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
