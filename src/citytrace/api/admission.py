"""At most so many requests at once inside the app; the others wait their turn on the event
loop, holding no worker thread.

Why: a request runs each sync dependency and its plain ``def`` route in separate calls to the
worker threads (anyio's default limiter, 40 threads), and may hold a database lock between
those calls. On SQLite the first statement of its transaction (usually authentication, in a
dependency) takes the write lock (``BEGIN IMMEDIATE``, see :mod:`citytrace.db`); on PostgreSQL an
audited refusal holds an advisory lock until the request's session ends. The holder then needs a
free thread to run its route and commit (:class:`citytrace.api.deps.UnitOfWorkRoute`). When
every thread is taken by other requests waiting for that lock, none goes on until the database's
busy timeout fails the waiters (503), and then again for the next ones.

Each admitted request uses at most one worker thread at a time, so admitting fewer requests
than there are threads (:data:`RESERVED_THREADS` fewer) always leaves a thread for a lock's
holder. Requests beyond the limit wait in :class:`AdmissionMiddleware`, on the event loop.
"""

from __future__ import annotations

import logging
import math
import sys
from typing import Any

import anyio
import anyio.to_thread

__all__ = ["EXEMPT_PREFIXES", "RESERVED_THREADS", "AdmissionMiddleware", "admission_limit"]

log = logging.getLogger(__name__)

RESERVED_THREADS = 8
"""Worker threads never given to admitted requests: they serve the exempt requests, and leave a
margin for a lock's holder."""
EXEMPT_PREFIXES = ("/static/",)
"""Paths admitted without waiting: files of the workspace, which never touch the database."""


def admission_limit(thread_tokens: float, configured: int | None = None) -> int:
    """How many requests to admit at once, with ``thread_tokens`` worker threads: ``configured``,
    or by default all threads but :data:`RESERVED_THREADS`; never more than that, nor less than
    one."""
    if math.isinf(thread_tokens):  # threads without limit: no request waits for one
        bound = sys.maxsize
    else:
        bound = max(1, int(thread_tokens) - RESERVED_THREADS)
    return bound if configured is None else min(configured, bound)


class AdmissionMiddleware:
    """A pure ASGI middleware admitting at most :func:`admission_limit` HTTP requests at once;
    a request holds its place until its response is sent (a streamed answer may still hold a
    lock). Paths under :data:`EXEMPT_PREFIXES`, lifespan and websocket scopes pass through.

    Install it inside :class:`citytrace.disclosure.public.OpenDataFastPath`: the open-data feed
    answered from memory is never queued, while its fall-through to the routes (a ``since``
    query, a snapshot to check), which reads the database, waits its turn.

    The limit is read from the worker threads of the event loop at the first request.
    ``max_requests`` may lower it (e.g. to the database's connection pool).
    """

    def __init__(self, app: Any, *, max_requests: int | None = None) -> None:
        self.app = app
        self.max_requests = max_requests
        self.limit: int | None = None
        """Requests admitted at once; None before the first request."""
        self._places: anyio.Semaphore | None = None

    def _admission(self) -> anyio.Semaphore:
        if self._places is None:
            threads = anyio.to_thread.current_default_thread_limiter().total_tokens
            self.limit = limit = admission_limit(threads, self.max_requests)
            if self.max_requests is not None and limit < self.max_requests:
                log.warning(
                    "CITYTRACE_MAX_CONCURRENT_REQUESTS=%d is more than %s worker threads "
                    "allow with %d kept free for lock holders: %d are admitted at once",
                    self.max_requests,
                    threads,
                    RESERVED_THREADS,
                    limit,
                )
            self._places = anyio.Semaphore(limit, fast_acquire=True)
        return self._places

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"].startswith(EXEMPT_PREFIXES):
            await self.app(scope, receive, send)
            return
        async with self._admission():
            await self.app(scope, receive, send)
