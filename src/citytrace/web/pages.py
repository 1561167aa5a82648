"""Rendering of the workspace's pages: templates, language, times in the city's zone, errors.

The routes live in :mod:`citytrace.web.router`; the app's error handlers use :func:`error_page`
and :func:`to_login` for requests of pages (anything outside ``/api/``).
"""

from __future__ import annotations

from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import xstatic.pkg.leaflet as xstatic_leaflet
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from citytrace.auth.permissions import Permission, Principal
from citytrace.config import get_settings
from citytrace.geo import CityGeography, load_city
from citytrace.web.i18n import LANG_COOKIE, LANGUAGES, Translator, negotiate

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
LEAFLET_DIR = Path(xstatic_leaflet.BASE_DIR)
# Paths that are not pages: the JSON API and its description.
_NOT_PAGES = ("/api/", "/openapi.json", "/docs")


@cache
def templates() -> Jinja2Templates:
    """The workspace's templates (autoescaped; an unknown name in a template is an error)."""
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return Jinja2Templates(env=env)


def city() -> CityGeography:
    return load_city(get_settings().city)


def is_page(request: Request) -> bool:
    """Whether the request is for a page of the workspace (HTML errors, login redirects)."""
    return not request.url.path.startswith(_NOT_PAGES)


class Formats:
    """Times in the city's zone and names of districts, in the page's language."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.zone = ZoneInfo(get_settings().timezone)

    def time(self, value: datetime | None) -> str:
        """``2020-03-03 10:05`` in the city's zone."""
        return "" if value is None else value.astimezone(self.zone).strftime("%Y-%m-%d %H:%M")

    def clock(self, value: datetime) -> str:
        return value.astimezone(self.zone).strftime("%H:%M")

    def day(self, value: date | datetime | None) -> str:
        if value is None:
            return "—"
        if isinstance(value, datetime):
            value = value.astimezone(self.zone).date()
        return value.isoformat()

    def same_day(self, a: datetime, b: datetime) -> bool:
        return a.astimezone(self.zone).date() == b.astimezone(self.zone).date()

    def input_time(self, value: datetime) -> str:
        """The value of a ``datetime-local`` input: local time without seconds."""
        return value.astimezone(self.zone).strftime("%Y-%m-%dT%H:%M")

    def district(self, code: str | None) -> str:
        if not code:
            return "—"
        try:
            area = city().area(code)
        except Exception:  # an unknown code is shown as it is
            return code
        return area.name_ko if self.lang == "ko" else area.name_en


def render(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    principal: Principal | None = None,
    status_code: int = 200,
    page_url: str | None = None,
) -> HTMLResponse:
    """A page in the request's language; a ``?lang=`` choice is kept in the ``lang`` cookie.

    ``page_url`` is the page's own address (for the language links), when the request was a
    form's POST.
    """
    settings = get_settings()
    lang = negotiate(request, settings.city)
    t = Translator(lang)
    geography = city()
    base = {
        "t": t,
        "lang": lang,
        "languages": LANGUAGES,
        "fmt": Formats(lang),
        "principal": principal,
        "can": (lambda p: principal is not None and principal.can(Permission(p))),
        "csrf_token": (principal.csrf_secret if principal else None) or "",
        "page_url": page_url or request.url.path,
        "city_name": geography.display_name_ko if lang == "ko" else geography.display_name_en,
        "timezone": settings.timezone,
    }
    response = templates().TemplateResponse(
        request, template, {**base, **context}, status_code=status_code
    )
    response.headers["Cache-Control"] = "no-store"
    chosen = request.query_params.get("lang")
    if chosen in LANGUAGES and request.cookies.get(LANG_COOKIE) != chosen:
        response.set_cookie(
            LANG_COOKIE, str(chosen), max_age=365 * 24 * 3600, samesite="lax", path="/"
        )
    return response


def redirect(url: str) -> RedirectResponse:
    """See other: the answer to a form's POST."""
    return RedirectResponse(url, status_code=303)


def to_login(request: Request) -> RedirectResponse:
    """Anonymous at a page: to the login page, and back here afterwards (GET pages only)."""
    target = request.url.path
    if request.url.query:
        target += "?" + request.url.query
    if request.method != "GET" or target in ("/", "/login"):
        return redirect("/login")
    return redirect("/login?next=" + quote(target, safe=""))


def error_page(
    request: Request, status: int, headers: dict[str, str] | None = None
) -> HTMLResponse:
    """An error as a page: what happened in the user's language, never the error's details."""
    key = f"error.{status}" if status in (403, 404, 429) else "error.other"
    principal = getattr(request.state, "principal", None)
    response = render(
        request,
        "error.html",
        {"status": status, "message_key": key},
        principal=principal,
        status_code=status,
    )
    response.headers.update(headers or {})
    return response
