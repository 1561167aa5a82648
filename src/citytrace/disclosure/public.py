"""The public side of disclosure: the place list pages and the open-data feed.

Anyone may read them, without signing in. What they show is the published snapshot of
:mod:`citytrace.disclosure.feed`, never the investigation store.

* ``GET /places`` (``?district=`` for one district): the list and the map, in Korean or English.
* ``GET|HEAD /api/public/places.{geojson,csv,json}``: the current published set, with ``ETag``,
  ``Last-Modified``, conditional GET (``If-None-Match``, ``If-Modified-Since``: 304),
  ``Cache-Control`` and open CORS; ``?since=ISO8601`` gives the changes after that moment
  instead (entries withdrawn, expired or suppressed as removals).
* ``GET /api/public/districts.geojson``: the district outlines for maps.

Downloads of the feed are not logged and not counted per client: the feed is served from
memory, so it carries no per-client rate limit (the place to throttle a flood is the proxy in
front), and the uvicorn access log leaves out every request of the public side
(:class:`PublicAccessLogFilter`). :class:`OpenDataFastPath` answers the plain feed requests
before FastAPI's routing and dependencies, from the same code as the routes below.
"""

# No ``from __future__ import annotations``: FastAPI reads the annotations of the routes.
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from sqlalchemy.orm import Session

from citytrace.api.deps import SessionDep, UnitOfWorkRoute
from citytrace.auth.dependencies import (
    PermissionDependency,
    client_address,
    rate_limits,
    require,
    take_token,
)
from citytrace.auth.permissions import Permission
from citytrace.config import get_settings
from citytrace.db import utcnow
from citytrace.disclosure import feed
from citytrace.errors import InputError, NotFoundError
from citytrace.web.pages import Formats, city, render

__all__ = [
    "CHANGE_SETTLE_S",
    "FEED_PATHS",
    "OpenData",
    "OpenDataFastPath",
    "PublicAccessLogFilter",
    "feed_cache",
    "router",
]

router = APIRouter(route_class=UnitOfWorkRoute)
log = logging.getLogger(__name__)

FEED_PATHS: dict[str, str] = {f"/api/public/places.{fmt}": fmt for fmt in feed.FORMATS}
OUTLINES_PATH = "/api/public/districts.geojson"
PAGE_PATH = "/places"
OPEN_DATA_PREFIX = "/api/public/"
PUBLIC_PREFIXES = (OPEN_DATA_PREFIX, PAGE_PATH)
CHANGE_SETTLE_S = 60
"""The change feed's ``until`` stays this far behind the clock, so that a change committed by a
transaction that began before a request is in the next answer (changes are idempotent: a
consumer may see one twice, and misses none)."""
CORS = (
    (b"access-control-allow-origin", b"*"),
    (b"access-control-expose-headers", b"ETag, Last-Modified, Content-Length, Retry-After"),
)
PREFLIGHT = (
    *CORS,
    (b"access-control-allow-methods", b"GET, HEAD, OPTIONS"),
    (b"access-control-allow-headers", b"If-None-Match, If-Modified-Since"),
    (b"access-control-max-age", b"86400"),
)

Headers = list[tuple[bytes, bytes]]


class OpenData(PermissionDependency):
    """The dependency of an open-data route: anyone, with no per-client limit or record (the
    feed is served from memory; a flood is for the proxy to throttle)."""

    def __init__(self) -> None:
        super().__init__(Permission.PUBLIC)

    def __repr__(self) -> str:
        return "open_data(public)"

    async def __call__(self) -> None:
        return None


OPEN_DATA = OpenData()


class PublicAccessLogFilter(logging.Filter):
    """Leaves requests of the public side out of the access log: who reads the list of places
    or downloads the feed is nobody's record."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            return not args[2].startswith(PUBLIC_PREFIXES)
        return True


_ACCESS_FILTER = PublicAccessLogFilter()


def quiet_access_log() -> None:
    """Install :class:`PublicAccessLogFilter` on uvicorn's access log (once)."""
    logging.getLogger("uvicorn.access").addFilter(_ACCESS_FILTER)


def feed_cache(app: Any) -> feed.FeedCache:
    """The app's copy of the feed snapshot (made on first use)."""
    found: feed.FeedCache | None = getattr(app.state, "disclosure_feed", None)
    if found is None:
        found = feed.FeedCache()
        app.state.disclosure_feed = found
    return found


# --- answering a feed request --------------------------------------------------------------


@dataclass(frozen=True)
class _Representation:
    """One document as sent: the body, and the headers of a 200 and of a 304 (all but
    ``Cache-Control``, whose age counts down to the next expiry)."""

    body: bytes
    etag: str
    ok: tuple[tuple[bytes, bytes], ...]
    not_modified: tuple[tuple[bytes, bytes], ...]


def _representation(
    view: feed.FeedView, fmt: str, packed: bool, security: tuple[tuple[bytes, bytes], ...]
) -> _Representation:
    key = (fmt, packed, security)
    found: _Representation | None = view.memo.get(key)
    if found is not None:
        return found
    if packed:
        body, etag = view.body_gzip(fmt), view.etag_gzip(fmt)
    else:
        body, etag = view.body(fmt), view.etag(fmt)
    common = [(b"etag", etag.encode()), (b"vary", b"Accept-Encoding"), *CORS, *security]
    if view.last_modified is not None:
        common.append((b"last-modified", view.last_modified.encode()))
    ok = [*common, (b"content-type", feed.MEDIA_TYPES[fmt].encode())]
    if packed:
        ok.append((b"content-encoding", b"gzip"))
    ok.append((b"content-length", str(len(body)).encode()))
    found = _Representation(body=body, etag=etag, ok=tuple(ok), not_modified=tuple(common))
    view.memo[key] = found
    return found


@cache
def _cache_control(max_age: int) -> tuple[bytes, bytes]:
    return (b"cache-control", f"public, max-age={max_age}".encode())


def feed_answer(
    view: feed.FeedView,
    fmt: str,
    *,
    head: bool,
    if_none_match: str | None,
    if_modified_since: str | None,
    accept_encoding: str | None,
    now_s: float,
    security: tuple[tuple[bytes, bytes], ...] = (),
) -> tuple[int, Headers, bytes]:
    """Status, headers and body of a request for the current feed: gzip when accepted, and
    RFC 9110's conditionals (``If-None-Match`` decides when present, else
    ``If-Modified-Since``)."""
    rep = _representation(view, fmt, feed.accepts_gzip(accept_encoding), security)
    if if_none_match is not None:
        fresh = feed.etag_matches(if_none_match, rep.etag)
    elif if_modified_since is not None and view.modified_s is not None:
        since_s = feed.parse_http_date(if_modified_since)
        fresh = since_s is not None and view.modified_s <= since_s
    else:
        fresh = False
    age = _cache_control(view.max_age(now_s))
    if fresh:
        return 304, [*rep.not_modified, age], b""
    return 200, [*rep.ok, age], b"" if head else rep.body


def security_headers(*, https: bool) -> tuple[tuple[bytes, bytes], ...]:
    """The headers :class:`citytrace.api.headers.SecurityHeadersMiddleware` adds to every
    response, for the fast path, which answers before it (a test keeps the two the same)."""
    from citytrace.api.headers import HSTS, content_security_policy

    headers = [
        (
            b"content-security-policy",
            content_security_policy(tile_host=get_settings().map_tile_host),
        ),
        (b"x-frame-options", "DENY"),
        (b"x-content-type-options", "nosniff"),
        (b"referrer-policy", "no-referrer"),
        (b"cross-origin-opener-policy", "same-origin"),
    ]
    if https:
        headers.append((b"strict-transport-security", HSTS))
    return tuple((name, value.encode("latin-1")) for name, value in headers)


async def current_view(request: Request, session: Session) -> feed.FeedView:
    """The feed's documents now; the snapshot is made or checked first when due."""
    cache = feed_cache(request.app)
    now = utcnow()
    if cache.claim():
        try:
            await run_in_threadpool(cache.verify, session, now)
        except Exception as exc:  # the database is busy or away: serve the snapshot there is
            if cache.view() is None:
                raise
            log.warning("the feed snapshot was not checked (%s)", type(exc).__name__)
    view = cache.view()
    if view is None:  # another request is making the first snapshot: make it here too
        await run_in_threadpool(cache.verify, session, now)
        view = cache.view()
    if view is None:
        raise RuntimeError("the feed snapshot could not be made")
    return view


def _response(status: int, headers: Headers, body: bytes) -> Response:
    response = Response(content=body, status_code=status)
    # Our own Content-Length: a HEAD gets the length of the body a GET would get.
    response.raw_headers = [h for h in response.raw_headers if h[0] != b"content-length"]
    response.raw_headers.extend(headers)
    return response


class OpenDataFastPath:
    """A pure ASGI middleware answering ``GET``/``HEAD`` of the current feed from memory,
    before FastAPI's routing and dependencies; anything else (a ``since`` query, no snapshot
    yet, the periodic check against the database) goes on to the routes, which answer the
    same way.

    Install it outermost (``add_middleware`` last): it adds the security headers itself (see
    :func:`security_headers`), once, instead of having them set on every answer. Installing
    it also keeps the public side out of uvicorn's access log.
    """

    def __init__(self, app: Callable[..., Awaitable[None]]) -> None:
        self.app = app
        self.behind_proxy = get_settings().behind_proxy
        self.security = {https: security_headers(https=https) for https in (False, True)}
        quiet_access_log()

    async def __call__(
        self,
        scope: MutableMapping[str, Any],
        receive: Callable[[], Awaitable[Any]],
        send: Callable[[MutableMapping[str, Any]], Awaitable[None]],
    ) -> None:
        if scope["type"] == "http":
            fmt = FEED_PATHS.get(scope["path"])
            method = scope["method"]
            if (
                fmt is not None
                and (method == "GET" or method == "HEAD")
                and b"since=" not in scope.get("query_string", b"")
                and "app" in scope
            ):
                cache = feed_cache(scope["app"])
                view = None if cache.due() else cache.view()
                if view is not None:
                    await self._answer(scope, send, view, fmt, head=method == "HEAD")
                    return
        await self.app(scope, receive, send)

    async def _answer(
        self,
        scope: MutableMapping[str, Any],
        send: Callable[[MutableMapping[str, Any]], Awaitable[None]],
        view: feed.FeedView,
        fmt: str,
        *,
        head: bool,
    ) -> None:
        none_match = modified_since = encodings = None
        https = scope.get("scheme") == "https"
        for name, value in scope["headers"]:
            if name == b"accept-encoding":
                encodings = value.decode("latin-1")
            elif name == b"if-none-match":
                none_match = value.decode("latin-1")
            elif name == b"if-modified-since":
                modified_since = value.decode("latin-1")
            elif name == b"x-forwarded-proto" and self.behind_proxy:
                https = https or value.split(b",")[0].strip().lower() == b"https"
        status, headers, body = feed_answer(
            view,
            fmt,
            head=head,
            if_none_match=none_match,
            if_modified_since=modified_since,
            accept_encoding=encodings,
            now_s=time.time(),
            security=self.security[https],
        )
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


# --- the feed routes ---------------------------------------------------------------------------


def _check_since(since: datetime) -> datetime:
    if since.tzinfo is None:
        raise InputError(
            "give the time with its offset, e.g. 2020-03-05T00:00:00+09:00", location="since"
        )
    return since.astimezone(UTC)


def _changes(request: Request, session: Session, fmt: str, since: datetime, head: bool) -> Response:
    # The change feed reads the database: it is limited per client like other public routes.
    take_token(rate_limits(request).public_client.take(client_address(request)))
    from citytrace.disclosure.service import changes_since

    now = utcnow()
    entries = changes_since(session, since)
    # The next request's ``since``: the latest change given, but never within the settling
    # time (a transaction still open may yet commit a change stamped before it). With nothing
    # new, the answer stays the same, and so does its ETag.
    latest = max((e.updated_at for e in entries), default=since)
    until = max(since, min(latest, now - timedelta(seconds=CHANGE_SETTLE_S)))
    body = feed.render_changes(entries, fmt, since=since, until=until, now=now)
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers: Headers = [
        (b"etag", etag.encode()),
        (b"cache-control", f"public, max-age={feed.FEED_MAX_AGE_S}".encode()),
        *CORS,
    ]
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None and feed.etag_matches(if_none_match, etag):
        return _response(304, headers, b"")
    headers.append((b"content-type", feed.MEDIA_TYPES[fmt].encode()))
    headers.append((b"content-length", str(len(body)).encode()))
    return _response(200, headers, b"" if head else body)


def _feed_route(fmt: str) -> None:
    path = f"/api/public/places.{fmt}"

    @router.api_route(
        path,
        methods=["GET", "HEAD"],
        name=f"open_data_{fmt}",
        operation_id=f"open_data_{fmt}",
        dependencies=[Depends(OPEN_DATA)],
        tags=["open data"],
        summary=f"Published places ({fmt})",
        response_class=Response,
        responses={
            200: {"content": {feed.MEDIA_TYPES[fmt].split(";")[0]: {}}},
            304: {"description": "not modified since the copy named by the request"},
        },
    )
    async def places(
        request: Request,
        session: SessionDep,
        since: Annotated[
            datetime | None,
            Query(
                description="ISO 8601 with an offset: the changes after this moment "
                "(removals included) instead of the current list"
            ),
        ] = None,
    ) -> Response:
        """The published places (schema ``docs/open-data.md``), or with ``since`` the changes."""
        head = request.method == "HEAD"
        if since is not None:
            checked = _check_since(since)
            return await run_in_threadpool(_changes, request, session, fmt, checked, head)
        view = await current_view(request, session)
        status, headers, body = feed_answer(
            view,
            fmt,
            head=head,
            if_none_match=request.headers.get("if-none-match"),
            if_modified_since=request.headers.get("if-modified-since"),
            accept_encoding=request.headers.get("accept-encoding"),
            now_s=time.time(),
        )
        return _response(status, headers, body)

    @router.options(
        path,
        name=f"open_data_{fmt}_preflight",
        operation_id=f"open_data_{fmt}_preflight",
        dependencies=[Depends(OPEN_DATA)],
        tags=["open data"],
        summary="CORS preflight",
        status_code=204,
        response_class=Response,
    )
    async def preflight() -> Response:
        response = Response(status_code=204)
        response.raw_headers.extend(PREFLIGHT)
        return response


for _fmt in feed.FORMATS:
    _feed_route(_fmt)


@cache
def _outlines(city_name: str) -> bytes:
    import json

    return json.dumps(city().outlines_geojson("district"), ensure_ascii=False).encode("utf-8")


@router.get(
    OUTLINES_PATH,
    dependencies=[Depends(OPEN_DATA)],
    tags=["open data"],
    summary="District outlines (GeoJSON)",
    response_class=Response,
)
async def district_outlines() -> Response:
    """The city's district outlines as GeoJSON (``code``, ``name_ko``, ``name_en``)."""
    response = Response(content=_outlines(get_settings().city), media_type="application/geo+json")
    response.headers["Cache-Control"] = "public, max-age=86400"
    response.raw_headers.extend(CORS)
    return response


# --- the pages -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlaceItem:
    """One entry as the page shows it."""

    id: str
    district: str
    kind_key: str
    kind: str
    business_name: str | None
    road_address: str | None
    latitude: float | None
    longitude: float | None
    window: str
    disinfected: bool | None
    notes: str
    transport_line: str | None
    transport_car: str | None
    boarding: str | None
    alighting: str | None
    expires: str
    corrected: str | None
    correction_note: str | None


def _moment(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _window(fmt: Formats, start: datetime, end: datetime) -> str:
    if fmt.same_day(start, end):
        return f"{fmt.time(start)}–{fmt.clock(end)}"
    return f"{fmt.time(start)} – {fmt.time(end)}"


def _stop(fmt: Formats, stop: str | None, at: str | None) -> str | None:
    moment = _moment(at)
    if stop is None and moment is None:
        return None
    return " ".join(p for p in (stop, fmt.time(moment) if moment else None) if p)


def place_items(records: tuple[dict[str, Any], ...], fmt: Formats, t: Any) -> list[PlaceItem]:
    items = []
    for r in records:
        start, end = _moment(r["exposure_start"]), _moment(r["exposure_end"])
        assert start is not None and end is not None
        kind_key = f"disclosure.public.kind.{r['place_kind']}"
        kind = t(kind_key)
        corrected = _moment(r.get("corrected_at"))
        expires = _moment(r["expires_at"])
        items.append(
            PlaceItem(
                id=r["id"],
                district=fmt.district(r["district_code"]),
                kind_key=kind_key,
                kind=r["place_kind"] if kind == kind_key else kind,
                business_name=r.get("business_name"),
                road_address=r.get("road_address"),
                latitude=r.get("latitude"),
                longitude=r.get("longitude"),
                window=_window(fmt, start, end),
                disinfected=r.get("disinfected"),
                notes=r.get("notes") or "",
                transport_line=r.get("transport_line"),
                transport_car=r.get("transport_car"),
                boarding=_stop(fmt, r.get("boarding_stop"), r.get("boarding_at")),
                alighting=_stop(fmt, r.get("alighting_stop"), r.get("alighting_at")),
                expires=fmt.time(expires),
                corrected=fmt.time(corrected) if corrected else None,
                correction_note=r.get("correction_note"),
            )
        )
    return items


@router.get(PAGE_PATH, include_in_schema=False, dependencies=[Depends(require(Permission.PUBLIC))])
async def places_page(
    request: Request,
    session: SessionDep,
    district: Annotated[str | None, Query(max_length=10)] = None,
) -> Response:
    """The published places of the city, or of one district: a list and a map."""
    geography = city()
    codes = {a.code for a in geography.districts}
    if district == "":
        district = None
    if district is not None and district not in codes:
        raise NotFoundError(f"no district {district!r}")
    view = await current_view(request, session)
    records = tuple(r for r in view.records if district is None or r["district_code"] == district)
    from citytrace.web.i18n import Translator, negotiate

    lang = negotiate(request, get_settings().city)
    fmt = Formats(lang)
    t = Translator(lang)
    counts: dict[str, int] = {}
    for r in view.records:
        counts[r["district_code"]] = counts.get(r["district_code"], 0) + 1
    districts = [
        (a.code, a.name_ko if lang == "ko" else a.name_en, counts.get(a.code, 0))
        for a in sorted(geography.districts, key=lambda a: a.name_ko if lang == "ko" else a.name_en)
    ]
    response = render(
        request,
        "disclosure_public.html",
        {
            "items": place_items(records, fmt, t),
            "district": district,
            "district_name": fmt.district(district) if district else None,
            "districts": districts,
            "updated": fmt.time(view.modified_at) if view.modified_at else None,
            "tile_url": get_settings().map_tile_url or "",
            "center": geography.center,
            "zoom": geography.zoom,
            "outlines_url": OUTLINES_PATH,
            "time_step_min": get_settings().disclosure_time_step_min,
            "feed_paths": {fmt_: path for path, fmt_ in FEED_PATHS.items()},
        },
        page_url=PAGE_PATH,
    )
    return response
