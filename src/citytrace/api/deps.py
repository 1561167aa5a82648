"""Dependencies shared by every router: the unit of work and the acting user."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from citytrace.db import session_factory


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per request: committed when the handler returns, rolled back on error."""
    factory = session_factory(request.app.state.engine)
    with factory() as session, session.begin():
        yield session


def get_actor(request: Request) -> str:
    """Who is acting. Until accounts exist this is the local operator of the service."""
    return str(request.app.state.default_actor)


SessionDep = Annotated[Session, Depends(get_session)]
ActorDep = Annotated[str, Depends(get_actor)]
