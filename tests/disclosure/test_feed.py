"""The open-data feed: its documents in three formats, the snapshot written only at commit, the
change feed, conditional GET and cache headers, open CORS, no per-client limit and no log of
who downloads it."""

from __future__ import annotations

import csv
import io
import json
import logging
import os
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from citytrace.audit.models import AuditEvent
from citytrace.auth.ratelimit import RateLimits
from citytrace.disclosure import feed
from citytrace.disclosure.models import DisclosureEntry, EntryStatus, Precision
from citytrace.disclosure.public import FEED_PATHS, PublicAccessLogFilter, feed_cache
from tests.disclosure.public_fixtures import (  # noqa: F401
    CAFE,
    FAR,
    public_app_fixture,
    public_client_fixture,
    publish,
)

PRIVATE = ("sex", "age", "birth_year", "nationality", "country", "patient", "case", "person")


SECURITY_HEADERS = (
    "content-security-policy",
    "x-frame-options",
    "x-content-type-options",
    "referrer-policy",
    "cross-origin-opener-policy",
)


def _no_private_keys(keys: set[str]) -> None:
    for key in keys:
        assert not any(word in key for word in PRIVATE), key
    assert not keys & {"risk_k", "risk_reason", "risk_level", "override_justification"}


class TestRender:
    def test_geojson_is_rfc_7946(self, session: Session) -> None:
        place = publish(session)
        coarse = publish(
            session,
            business_name=None,
            road_address=None,
            latitude=None,
            longitude=None,
            precision=Precision.DISTRICT,
        )
        doc = json.loads(feed.render([place, coarse], "geojson"))
        assert doc["type"] == "FeatureCollection"
        assert "crs" not in doc
        assert doc["schema_version"] == feed.SCHEMA_VERSION
        assert doc["count"] == 2
        by_id = {f["id"]: f for f in doc["features"]}
        point = by_id[place.public_id]
        assert point["type"] == "Feature"
        assert point["geometry"] == {"type": "Point", "coordinates": [CAFE[1], CAFE[0]]}
        assert by_id[coarse.public_id]["geometry"] is None
        props = point["properties"]
        assert list(props) == list(feed.FIELDS)
        assert props["expires_at"] == FAR.astimezone(feed._Context().zone).isoformat()
        assert props["exposure_start"] == "2020-03-03T10:00:00+09:00"
        assert props["district_name_en"] == "Jung-gu"
        _no_private_keys(set(props) | set(doc))

    def test_csv_has_a_header_and_a_row_per_entry(self, session: Session) -> None:
        entries = [publish(session, notes='line one, "quoted"\nline two'), publish(session)]
        text = feed.render(entries, "csv").decode("utf-8")
        rows = list(csv.DictReader(io.StringIO(text, newline="")))
        assert len(rows) == 2
        assert list(rows[0]) == ["schema_version", *feed.FIELDS]
        assert rows[0]["schema_version"] == feed.SCHEMA_VERSION
        assert rows[0]["notes"] == 'line one, "quoted"\nline two'
        assert rows[0]["disinfected"] == "true"
        assert rows[0]["expires_at"]
        assert float(rows[1]["latitude"]) == CAFE[0]

    def test_json_lists_entries(self, session: Session) -> None:
        entry = publish(session, transport_line="Line 2", transport_car="7", place_kind="subway")
        doc = json.loads(feed.render([entry], "json"))
        assert doc["schema_version"] == feed.SCHEMA_VERSION
        assert [e["id"] for e in doc["entries"]] == [entry.public_id]
        assert doc["entries"][0]["transport_line"] == "Line 2"
        assert all(e["expires_at"] for e in doc["entries"])

    def test_an_unknown_format_is_refused(self) -> None:
        with pytest.raises(ValueError, match="unknown feed format 'xml'"):
            feed.render([], "xml")

    def test_an_empty_snapshot_is_served(self, session: Session) -> None:
        feed.refresh(session, datetime.now(UTC))
        view = feed.FeedCache().view()
        assert view is not None and view.records == ()
        assert view.max_age(datetime.now(UTC).timestamp()) == feed.FEED_MAX_AGE_S
        assert json.loads(view.body("json"))["entries"] == []

    def test_an_empty_list_is_a_valid_document(self) -> None:
        assert json.loads(feed.render([], "geojson"))["features"] == []
        assert feed.render([], "csv").decode().splitlines() == [
            ",".join(("schema_version", *feed.FIELDS))
        ]


class TestChanges:
    def test_removals_carry_no_content(self, session: Session) -> None:
        now = datetime.now(UTC)
        live = publish(session)
        withdrawn = publish(
            session,
            status=EntryStatus.WITHDRAWN,
            withdrawal_reason="wrong place",
            withdrawn_at=now,
        )
        due = publish(session, now=now - timedelta(days=1), expires_at=now - timedelta(minutes=1))
        suppressed = publish(session, status=EntryStatus.SUPPRESSED)
        doc = json.loads(
            feed.render_changes(
                [live, withdrawn, due, suppressed],
                "json",
                since=now - timedelta(days=1),
                until=now,
                now=now,
            )
        )
        changes = {c["id"]: c for c in doc["changes"]}
        assert changes[live.public_id]["change"] == "upsert"
        assert changes[live.public_id]["business_name"] == "Blue Cup"
        for entry, status in (
            (withdrawn, "withdrawn"),
            (due, "expired"),
            (suppressed, "suppressed"),
        ):
            change = changes[entry.public_id]
            assert change["change"] == "remove"
            assert change["status"] == status
            assert change["business_name"] is None
            assert change["latitude"] is None
            assert change["exposure_start"] is None
        assert changes[withdrawn.public_id]["withdrawal_reason"] == "wrong place"
        assert changes[due.public_id]["changed_at"] == (
            due.expires_at.astimezone(feed._Context().zone).isoformat()
        )

    def test_geojson_removals_have_no_geometry(self, session: Session) -> None:
        now = datetime.now(UTC)
        gone = publish(session, status=EntryStatus.EXPIRED)
        doc = json.loads(feed.render_changes([gone], "geojson", since=now, until=now, now=now))
        assert doc["features"][0]["geometry"] is None
        assert doc["features"][0]["properties"]["change"] == "remove"


class TestSnapshot:
    def test_written_only_when_the_transaction_commits(self, session: Session) -> None:
        path = feed.snapshot_path()
        first = publish(session)
        session.commit()
        feed.rebuild(session, datetime.now(UTC))  # outside a transaction: at once
        session.commit()
        before = path.read_bytes()
        assert first.public_id.encode() in before

        # A publish that fails before its commit leaves the previous snapshot.
        session.begin()
        second = publish(session)
        feed.rebuild(session, datetime.now(UTC))
        assert path.read_bytes() == before
        session.rollback()
        assert path.read_bytes() == before
        assert second.public_id.encode() not in path.read_bytes()

        # The same publish, committed: the snapshot holds it afterwards.
        session.begin()
        third = publish(session)
        feed.rebuild(session, datetime.now(UTC))
        assert path.read_bytes() == before
        session.commit()
        after = path.read_bytes()
        assert third.public_id.encode() in after
        assert first.public_id.encode() in after
        assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]

    def test_an_unchanged_set_is_not_rewritten(self, session: Session) -> None:
        publish(session)
        now = datetime.now(UTC)
        assert feed.refresh(session, now) is True
        stamp = os.stat(feed.snapshot_path()).st_ino
        assert feed.refresh(session, now) is False
        assert os.stat(feed.snapshot_path()).st_ino == stamp

    def test_last_modified_moves_when_an_entry_leaves(self, session: Session) -> None:
        now = datetime.now(UTC)
        entry = publish(session, updated_at=now - timedelta(hours=2))
        feed.refresh(session, now)
        cache = feed.FeedCache()
        view = cache.view(now.timestamp())
        assert view is not None and view.modified_at == now - timedelta(hours=2)
        entry.status = EntryStatus.WITHDRAWN
        entry.updated_at = now
        session.flush()
        feed.refresh(session, now)
        view = cache.view(now.timestamp())
        assert view is not None and view.records == ()
        assert view.modified_at == now

    def test_an_entry_leaves_the_served_feed_at_its_expiry(self, session: Session) -> None:
        now = datetime.now(UTC)
        expires = now + timedelta(minutes=5)
        soon = publish(session, expires_at=expires)
        later = publish(session)
        feed.refresh(session, now)
        cache = feed.FeedCache()
        before = cache.view(expires.timestamp() - 1)
        assert before is not None
        assert {r["id"] for r in before.records} == {soon.public_id, later.public_id}
        assert before.max_age(expires.timestamp() - 1) == 1
        etag = before.etag("geojson")
        after = cache.view(expires.timestamp())
        assert after is not None
        assert {r["id"] for r in after.records} == {later.public_id}
        assert soon.public_id.encode() not in after.body("geojson")
        assert after.etag("geojson") != etag
        assert after.modified_at is not None and after.modified_at >= expires.replace(microsecond=0)

    def test_a_snapshot_out_of_step_with_the_database_is_rebuilt(self, session: Session) -> None:
        now = datetime.now(UTC)
        publish(session)
        feed.refresh(session, now)
        missed = publish(session)  # committed, but the process died before writing
        cache = feed.FeedCache()
        assert cache.claim()
        cache.verify(session, now)
        view = cache.view()
        assert view is not None and missed.public_id in {r["id"] for r in view.records}
        assert not cache.claim()  # not due again until the interval has passed


class TestWithTheWorkflow:
    def test_publish_and_withdraw_reach_the_feed_at_their_commit(self, session: Session) -> None:
        from citytrace.disclosure import service
        from tests.disclosure.officer import NOW, crowd, make_case, make_visit

        case = make_case(session)
        make_visit(session, case)
        service.draft_from_case(
            session=session, actor="o", case_id=case.id, now=NOW, records=crowd(9)
        )
        (entry,) = service.list_(session=session)
        service.approve(session=session, actor="o", entry_ids=[entry.id], now=NOW, records=crowd(9))
        session.commit()
        path = feed.snapshot_path()

        def listed() -> set[str]:
            view = feed.FeedCache().view(NOW.timestamp())
            return set() if view is None else {r["id"] for r in view.records}

        # Interrupted: published in a transaction that never commits.
        service.publish(session=session, actor="o", entry_ids=[entry.id], now=NOW, records=crowd(9))
        assert entry.status == EntryStatus.PUBLISHED
        assert entry.public_id not in listed()
        session.rollback()
        assert entry.public_id not in listed()
        assert not path.exists() or entry.public_id.encode() not in path.read_bytes()

        service.publish(session=session, actor="o", entry_ids=[entry.id], now=NOW, records=crowd(9))
        assert entry.public_id not in listed()  # not before the commit
        session.commit()
        assert listed() == {entry.public_id}

        later = NOW + timedelta(hours=1)
        service.withdraw(
            session=session, actor="o", entry_id=entry.id, reason="wrong place", now=later
        )
        assert listed() == {entry.public_id}
        session.commit()
        assert listed() == set()
        changes = json.loads(
            feed.render_changes(
                service.changes_since(session, NOW - timedelta(days=1)),
                "json",
                since=NOW - timedelta(days=1),
                until=later,
                now=later,
            )
        )["changes"]
        assert [(c["id"], c["change"], c["withdrawal_reason"]) for c in changes] == [
            (entry.public_id, "remove", "wrong place")
        ]


# --- over HTTP ---------------------------------------------------------------------------------


@pytest.fixture
def entries(session: Session) -> list[DisclosureEntry]:
    now = datetime.now(UTC) - timedelta(minutes=5)
    return [
        publish(session, now=now),
        publish(session, now=now, district_code="11110", business_name="Gwanghwamun Books"),
    ]


class TestHttp:
    @pytest.mark.parametrize("fmt", feed.FORMATS)
    def test_the_feed_with_its_headers(
        self, public_client: TestClient, entries: list[DisclosureEntry], fmt: str
    ) -> None:
        path = f"/api/public/places.{fmt}"
        first = public_client.get(path)  # made from the database, through the route
        second = public_client.get(path)  # from memory, through the fast path
        for resp in (first, second):
            assert resp.status_code == 200, resp.text
            assert resp.headers["content-type"].startswith(feed.MEDIA_TYPES[fmt].split(";")[0])
            assert resp.headers["access-control-allow-origin"] == "*"
            assert resp.headers["cache-control"].startswith("public, max-age=")
            assert resp.headers["etag"].startswith('"')
            assert resp.headers["last-modified"].endswith("GMT")
            assert resp.headers["x-content-type-options"] == "nosniff"
        assert first.content == second.content
        # The fast path sends what the route (behind the security middleware) sends.
        assert {k: v for k, v in first.headers.items() if k != "date"} == {
            k: v for k, v in second.headers.items() if k != "date"
        }
        page = public_client.get("/places")
        for name in SECURITY_HEADERS:
            assert second.headers[name] == page.headers[name], name
        assert "strict-transport-security" not in second.headers
        over_tls = public_client.get(f"https://testserver{path}")
        assert over_tls.headers["strict-transport-security"].startswith("max-age=")
        for entry in entries:
            assert entry.public_id in first.text

    def test_conditional_get(
        self, public_client: TestClient, entries: list[DisclosureEntry]
    ) -> None:
        path = FEED_PATHS_BY_FORMAT["geojson"]
        for _ in range(2):  # the route, then the fast path
            resp = public_client.get(path)
            etag, modified = resp.headers["etag"], resp.headers["last-modified"]
            same = public_client.get(path, headers={"If-None-Match": etag})
            assert same.status_code == 304
            assert same.content == b""
            assert same.headers["etag"] == etag
            assert (
                public_client.get(path, headers={"If-None-Match": '"other", ' + etag}).status_code
                == 304
            )
            assert public_client.get(path, headers={"If-None-Match": '"other"'}).status_code == 200
            assert (
                public_client.get(path, headers={"If-Modified-Since": modified}).status_code == 304
            )
            earlier = format_datetime(entries[0].updated_at - timedelta(hours=1), usegmt=True)
            assert (
                public_client.get(path, headers={"If-Modified-Since": earlier}).status_code == 200
            )
            # If-None-Match decides when both are sent.
            both = {"If-None-Match": '"other"', "If-Modified-Since": modified}
            assert public_client.get(path, headers=both).status_code == 200
            assert (
                public_client.get(path, headers={"If-Modified-Since": "yesterday"}).status_code
                == 200
            )

    def test_head_has_the_headers_and_no_body(
        self, public_client: TestClient, entries: list[DisclosureEntry]
    ) -> None:
        path = FEED_PATHS_BY_FORMAT["csv"]
        plain = {"Accept-Encoding": "identity"}
        full = public_client.get(path, headers=plain)
        assert "content-encoding" not in full.headers
        for _ in range(2):
            head = public_client.head(path, headers=plain)
            assert head.status_code == 200
            assert head.content == b""
            assert head.headers["etag"] == full.headers["etag"]
            assert int(head.headers["content-length"]) == len(full.content)

    def test_gzip_when_accepted(
        self, public_client: TestClient, entries: list[DisclosureEntry]
    ) -> None:
        path = FEED_PATHS_BY_FORMAT["geojson"]
        plain = public_client.get(path, headers={"Accept-Encoding": "identity"})
        for _ in range(2):
            packed = public_client.get(path, headers={"Accept-Encoding": "br, gzip;q=0.8"})
            assert packed.headers["content-encoding"] == "gzip"
            assert packed.headers["vary"] == "Accept-Encoding"
            assert int(packed.headers["content-length"]) < len(plain.content)
            assert packed.content == plain.content  # as decoded by the client
            assert packed.headers["etag"] != plain.headers["etag"]
            refused = public_client.get(path, headers={"Accept-Encoding": "gzip;q=0"})
            assert "content-encoding" not in refused.headers
            again = public_client.get(
                path,
                headers={"Accept-Encoding": "gzip", "If-None-Match": packed.headers["etag"]},
            )
            assert again.status_code == 304

    def test_cors_preflight(self, public_client: TestClient) -> None:
        resp = public_client.options(
            FEED_PATHS_BY_FORMAT["json"],
            headers={"Origin": "https://map.example", "Access-Control-Request-Method": "GET"},
        )
        assert resp.status_code == 204
        assert resp.headers["access-control-allow-origin"] == "*"
        assert "If-None-Match" in resp.headers["access-control-allow-headers"]

    def test_change_feed(
        self, public_client: TestClient, session: Session, entries: list[DisclosureEntry]
    ) -> None:
        since = datetime.now(UTC) - timedelta(hours=1)
        entries[1].status = EntryStatus.WITHDRAWN
        entries[1].withdrawal_reason = "published by mistake"
        entries[1].updated_at = datetime.now(UTC) - timedelta(minutes=2)
        session.flush()
        resp = public_client.get(FEED_PATHS_BY_FORMAT["json"], params={"since": since.isoformat()})
        assert resp.status_code == 200, resp.text
        doc = resp.json()
        assert doc["since"] == since.isoformat()
        assert datetime.fromisoformat(doc["until"]) <= datetime.now(UTC)
        kinds = {c["id"]: (c["change"], c["status"]) for c in doc["changes"]}
        assert kinds == {
            entries[0].public_id: ("upsert", "published"),
            entries[1].public_id: ("remove", "withdrawn"),
        }
        later = public_client.get(
            FEED_PATHS_BY_FORMAT["csv"], params={"since": datetime.now(UTC).isoformat()}
        )
        assert later.status_code == 200
        assert len(later.text.strip().splitlines()) == 1  # the header only
        etag = resp.headers["etag"]
        again = public_client.get(
            FEED_PATHS_BY_FORMAT["json"],
            params={"since": since.isoformat()},
            headers={"If-None-Match": etag},
        )
        assert again.status_code == 304

    @pytest.mark.parametrize("since", ["2020-03-05T10:00:00", "yesterday", "2020-13-45T00:00Z"])
    def test_a_bad_since_is_a_clear_422(self, public_client: TestClient, since: str) -> None:
        resp = public_client.get(FEED_PATHS_BY_FORMAT["geojson"], params={"since": since})
        assert resp.status_code == 422
        assert "since" in resp.text
        assert resp.headers["access-control-allow-origin"] == "*"  # another site reads why

    def test_a_limited_change_feed_tells_another_site_when_to_come_back(
        self, public_app: FastAPI, public_client: TestClient, entries: list[DisclosureEntry]
    ) -> None:
        public_app.state.rate_limits = RateLimits(
            login_per_client_per_min=1, login_per_username_per_min=1, public_per_client_per_min=1
        )
        since = {"since": (datetime.now(UTC) - timedelta(hours=1)).isoformat()}
        assert public_client.get(FEED_PATHS_BY_FORMAT["json"], params=since).status_code == 200
        resp = public_client.get(FEED_PATHS_BY_FORMAT["json"], params=since)
        assert resp.status_code == 429 and int(resp.headers["retry-after"]) >= 1
        assert resp.headers["access-control-allow-origin"] == "*"
        assert "Retry-After" in resp.headers["access-control-expose-headers"]

    def test_the_feed_has_no_per_client_limit(
        self, public_app: FastAPI, public_client: TestClient, entries: list[DisclosureEntry]
    ) -> None:
        public_app.state.rate_limits = RateLimits(
            login_per_client_per_min=1, login_per_username_per_min=1, public_per_client_per_min=1
        )
        statuses = {
            public_client.get(FEED_PATHS_BY_FORMAT["geojson"]).status_code for _ in range(20)
        }
        assert statuses == {200}
        assert public_client.get("/places").status_code == 200
        assert public_client.get("/places").status_code == 429  # pages are limited per client

    def test_nobody_is_recorded_downloading(
        self,
        public_client: TestClient,
        session: Session,
        entries: list[DisclosureEntry],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        events_before = session.scalar(select(AuditEvent.id).order_by(AuditEvent.id.desc()))
        with caplog.at_level(logging.DEBUG):
            for path in FEED_PATHS:
                public_client.get(path, headers={"X-Forwarded-For": "203.0.113.9"})
        assert "testclient" not in caplog.text
        assert "203.0.113.9" not in caplog.text
        events_after = session.scalar(select(AuditEvent.id).order_by(AuditEvent.id.desc()))
        assert events_after == events_before

    def test_the_access_log_leaves_the_public_side_out(self) -> None:
        keep = PublicAccessLogFilter()

        def line(path: str) -> logging.LogRecord:
            return logging.LogRecord(
                "uvicorn.access",
                logging.INFO,
                __file__,
                1,
                '%s - "%s %s HTTP/%s" %d',
                ("203.0.113.9:5000", "GET", path, "1.1", 200),
                None,
            )

        assert not keep.filter(line("/api/public/places.geojson"))
        assert not keep.filter(line("/api/public/places.csv?since=2020-03-01T00:00:00Z"))
        assert not keep.filter(line("/places?district=11140"))
        assert keep.filter(line("/api/cases"))

    def test_a_failed_check_serves_the_snapshot_there_is(
        self,
        public_app: FastAPI,
        public_client: TestClient,
        entries: list[DisclosureEntry],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        path = FEED_PATHS_BY_FORMAT["json"]
        first = public_client.get(path)

        def busy(session: Session) -> None:
            raise RuntimeError("database is locked")

        monkeypatch.setattr(feed, "fingerprint", busy)
        feed_cache(public_app)._next_verify = 0.0  # the check is due
        again = public_client.get(path)
        assert again.status_code == 200
        assert again.content == first.content

    def test_the_feed_survives_an_unreadable_snapshot(
        self, public_app: FastAPI, public_client: TestClient, entries: list[DisclosureEntry]
    ) -> None:
        path = feed.snapshot_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b'{"schema_version": "0.1"')
        resp = public_client.get(FEED_PATHS_BY_FORMAT["json"])
        assert resp.status_code == 200
        assert {e["id"] for e in resp.json()["entries"]} == {e.public_id for e in entries}
        assert feed_cache(public_app).view() is not None


FEED_PATHS_BY_FORMAT = {fmt: path for path, fmt in FEED_PATHS.items()}
