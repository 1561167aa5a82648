"""The open-data feed of published places: its documents, and the snapshot it is served from.

Formats (schema :data:`SCHEMA_VERSION`, documented in ``docs/open-data.md``): GeoJSON (RFC 7946:
a FeatureCollection of Points in longitude, latitude order, no ``crs`` member; an entry coarsened
to its district has a ``null`` geometry), CSV (RFC 4180, UTF-8, a header row, one entry a row)
and JSON. Every entry carries ``expires_at``; times are ISO 8601 in the city's zone with their
offset. Nothing in a document names a case, a person or an order of visits: the fields are the
public columns of :class:`~citytrace.disclosure.models.DisclosureEntry` and nothing else.

The snapshot. Serving must be fast (the feed is read far more than it changes) and must never
show a half-written or uncommitted state, with any number of service processes. So the current
published set lives in one JSON file under ``CITYTRACE_HOME/disclosure/``, replaced atomically
(written to a temporary file, synced, then ``os.replace``), and each process keeps the documents
rendered from it in memory (:class:`FeedCache`), reloading when the file changes. The file is
written only after the transaction that changed the entries has committed, from a fresh read of
the database, under a file lock (:func:`rebuild`): so a publish that fails before its commit
leaves the previous feed in place, and of two concurrent publishes the later writer has read both.
Should a process die between a commit and the write, every process compares the database's
fingerprint of public entries with the snapshot's now and then (:meth:`FeedCache.verify`) and
rebuilds it. Entries whose ``expires_at`` has come leave the served documents at that moment,
even before the expiry job has run.
"""

from __future__ import annotations

import csv
import fcntl
import gzip
import hashlib
import io
import json
import logging
import os
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from typing import Any, Literal, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citytrace.config import get_settings
from citytrace.disclosure.models import DisclosureEntry, EntryStatus
from citytrace.geo import CityGeography, load_city

__all__ = [
    "FEED_MAX_AGE_S",
    "FIELDS",
    "FORMATS",
    "MEDIA_TYPES",
    "SCHEMA_VERSION",
    "FeedCache",
    "FeedView",
    "Snapshot",
    "change_record",
    "public_record",
    "rebuild",
    "refresh",
    "render",
    "render_changes",
    "render_records",
    "snapshot_path",
]

log = logging.getLogger(__name__)

SCHEMA_VERSION = "1.0"
"""Version of the feed's schema: the minor grows with added fields, the major on any change a
consumer would notice (a field renamed, removed or given another meaning)."""

Format = Literal["geojson", "csv", "json"]
FORMATS: tuple[Format, ...] = ("geojson", "csv", "json")
MEDIA_TYPES: dict[str, str] = {
    "geojson": "application/geo+json",
    "csv": "text/csv; charset=utf-8; header=present",
    "json": "application/json",
}
FIELDS: tuple[str, ...] = (
    "id",
    "version",
    "status",
    "district_code",
    "district_name_ko",
    "district_name_en",
    "place_kind",
    "business_name",
    "road_address",
    "latitude",
    "longitude",
    "exposure_start",
    "exposure_end",
    "disinfected",
    "notes",
    "transport_line",
    "transport_car",
    "boarding_stop",
    "boarding_at",
    "alighting_stop",
    "alighting_at",
    "published_at",
    "corrected_at",
    "correction_note",
    "expires_at",
)
"""The public fields of an entry, in the order of the CSV columns."""
CHANGE_FIELDS: tuple[str, ...] = ("change", "changed_at", "withdrawal_reason", *FIELDS)
"""Columns of the change feed's CSV: the kind of change, when, and the entry (ids only for a
removal)."""
FEED_MAX_AGE_S = 60
"""How long a client or cache may reuse a copy of the feed without asking again (less when an
entry expires sooner)."""
STAT_INTERVAL_S = 0.25
"""How often a process looks whether another one replaced the snapshot file."""
VERIFY_INTERVAL_S = 30.0
"""How often each process compares the database's public entries with the snapshot."""
COORDINATE_DIGITS = 6  # about 0.1 m: RFC 7946 recommends no more
_SNAPSHOT_NAME = "feed.json"


class EntryLike(Protocol):
    """What the feed reads of an entry (a :class:`DisclosureEntry`, or any object alike)."""

    @property
    def public_id(self) -> str: ...
    @property
    def version(self) -> int: ...
    @property
    def status(self) -> EntryStatus: ...
    @property
    def district_code(self) -> str: ...
    @property
    def place_kind(self) -> str: ...
    @property
    def business_name(self) -> str | None: ...
    @property
    def road_address(self) -> str | None: ...
    @property
    def latitude(self) -> float | None: ...
    @property
    def longitude(self) -> float | None: ...
    @property
    def exposure_start(self) -> datetime: ...
    @property
    def exposure_end(self) -> datetime: ...
    @property
    def disinfected(self) -> bool | None: ...
    @property
    def notes(self) -> str: ...
    @property
    def transport_line(self) -> str | None: ...
    @property
    def transport_car(self) -> str | None: ...
    @property
    def boarding_stop(self) -> str | None: ...
    @property
    def boarding_at(self) -> datetime | None: ...
    @property
    def alighting_stop(self) -> str | None: ...
    @property
    def alighting_at(self) -> datetime | None: ...
    @property
    def published_at(self) -> datetime | None: ...
    @property
    def corrected_at(self) -> datetime | None: ...
    @property
    def correction_note(self) -> str | None: ...
    @property
    def withdrawal_reason(self) -> str | None: ...
    @property
    def expires_at(self) -> datetime: ...
    @property
    def updated_at(self) -> datetime: ...


# --- documents ---------------------------------------------------------------------------------


class _Context:
    """The city's zone and district names, read once per rendering."""

    def __init__(self) -> None:
        settings = get_settings()
        self.zone = ZoneInfo(settings.timezone)
        self.geography: CityGeography = load_city(settings.city)

    def time(self, value: datetime | None) -> str | None:
        return None if value is None else value.astimezone(self.zone).isoformat()

    def names(self, code: str) -> tuple[str | None, str | None]:
        try:
            area = self.geography.area(code)
        except Exception:  # a code the city does not know is published as it is
            return None, None
        return area.name_ko, area.name_en


def _coordinate(value: float | None) -> float | None:
    return None if value is None else round(float(value), COORDINATE_DIGITS)


def public_record(entry: EntryLike, context: _Context | None = None) -> dict[str, Any]:
    """The public fields of ``entry`` (:data:`FIELDS`, in order) as JSON values."""
    c = context or _Context()
    name_ko, name_en = c.names(entry.district_code)
    return {
        "id": entry.public_id,
        "version": entry.version,
        "status": EntryStatus.PUBLISHED.value,
        "district_code": entry.district_code,
        "district_name_ko": name_ko,
        "district_name_en": name_en,
        "place_kind": entry.place_kind,
        "business_name": entry.business_name,
        "road_address": entry.road_address,
        "latitude": _coordinate(entry.latitude),
        "longitude": _coordinate(entry.longitude),
        "exposure_start": c.time(entry.exposure_start),
        "exposure_end": c.time(entry.exposure_end),
        "disinfected": entry.disinfected,
        "notes": entry.notes or "",
        "transport_line": entry.transport_line,
        "transport_car": entry.transport_car,
        "boarding_stop": entry.boarding_stop,
        "boarding_at": c.time(entry.boarding_at),
        "alighting_stop": entry.alighting_stop,
        "alighting_at": c.time(entry.alighting_at),
        "published_at": c.time(entry.published_at),
        "corrected_at": c.time(entry.corrected_at),
        "correction_note": entry.correction_note,
        "expires_at": c.time(entry.expires_at),
    }


def change_record(
    entry: EntryLike, now: datetime, context: _Context | None = None
) -> dict[str, Any]:
    """One item of the change feed: ``upsert`` with the entry's public fields while it is
    published and unexpired, otherwise ``remove`` with its id, version and status only (and the
    reason of a withdrawal), so that nothing is shown again after it ended."""
    c = context or _Context()
    status, changed_at = entry.status, entry.updated_at
    if status == EntryStatus.PUBLISHED and entry.expires_at <= now:
        # Due, and the expiry job has not run yet: it ended at its expiry.
        status, changed_at = EntryStatus.EXPIRED, max(entry.updated_at, entry.expires_at)
    if status == EntryStatus.PUBLISHED:
        return {
            "change": "upsert",
            "changed_at": c.time(changed_at),
            "withdrawal_reason": None,
            **public_record(entry, c),
        }
    removal: dict[str, Any] = dict.fromkeys(FIELDS)
    removal.update(id=entry.public_id, version=entry.version, status=status.value)
    return {
        "change": "remove",
        "changed_at": c.time(changed_at),
        "withdrawal_reason": entry.withdrawal_reason if status == EntryStatus.WITHDRAWN else None,
        **removal,
    }


def _json_bytes(document: Any) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _feature(record: dict[str, Any]) -> dict[str, Any]:
    lat, lon = record.get("latitude"), record.get("longitude")
    geometry = None
    if lat is not None and lon is not None:
        geometry = {"type": "Point", "coordinates": [lon, lat]}
    return {"type": "Feature", "id": record["id"], "geometry": geometry, "properties": record}


def _csv_bytes(columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_csv_value(row.get(name)) for name in columns])
    return out.getvalue().encode("utf-8")


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def render_records(
    records: Sequence[dict[str, Any]], fmt: str, *, modified_at: datetime | None
) -> bytes:
    """The feed document of ``records`` (from :func:`public_record`) in ``fmt``."""
    meta = {
        "schema_version": SCHEMA_VERSION,
        "modified_at": None if modified_at is None else modified_at.astimezone(UTC).isoformat(),
        "count": len(records),
    }
    if fmt == "geojson":
        return _json_bytes(
            {"type": "FeatureCollection", **meta, "features": [_feature(r) for r in records]}
        )
    if fmt == "json":
        return _json_bytes({**meta, "entries": list(records)})
    if fmt == "csv":
        columns = ("schema_version", *FIELDS)
        return _csv_bytes(columns, ({"schema_version": SCHEMA_VERSION, **r} for r in records))
    raise ValueError(f"unknown feed format {fmt!r}: one of {', '.join(FORMATS)}")


def render(entries: Iterable[EntryLike], fmt: str) -> bytes:
    """The feed document of ``entries`` in ``fmt`` (``geojson``, ``csv`` or ``json``)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown feed format {fmt!r}: one of {', '.join(FORMATS)}")
    listed = list(entries)
    context = _Context()
    modified = max((e.updated_at for e in listed), default=None)
    return render_records([public_record(e, context) for e in listed], fmt, modified_at=modified)


def render_changes(
    entries: Iterable[EntryLike], fmt: str, *, since: datetime, until: datetime, now: datetime
) -> bytes:
    """The change feed: what changed after ``since`` (see :func:`change_record`); ``until``
    is the ``since`` of the next request."""
    context = _Context()
    changes = [change_record(e, now, context) for e in entries]
    meta = {
        "schema_version": SCHEMA_VERSION,
        "since": since.astimezone(UTC).isoformat(),
        "until": until.astimezone(UTC).isoformat(),
        "count": len(changes),
    }
    if fmt == "geojson":
        features = [_feature(change) for change in changes]
        return _json_bytes({"type": "FeatureCollection", **meta, "features": features})
    if fmt == "json":
        return _json_bytes({**meta, "changes": changes})
    if fmt == "csv":
        columns = ("schema_version", *CHANGE_FIELDS)
        return _csv_bytes(columns, ({"schema_version": SCHEMA_VERSION, **c} for c in changes))
    raise ValueError(f"unknown feed format {fmt!r}: one of {', '.join(FORMATS)}")


# --- the snapshot ------------------------------------------------------------------------------


def snapshot_path() -> Path:
    """Where the snapshot of the published set is kept (``CITYTRACE_HOME/disclosure``)."""
    return get_settings().home / "disclosure" / _SNAPSHOT_NAME


@dataclass(frozen=True)
class Snapshot:
    """The published set as stored: records with their expiry, and what identifies the state
    of the database they were read from."""

    records: tuple[dict[str, Any], ...]
    expires: tuple[float, ...]  # POSIX seconds, one per record
    modified_at: datetime | None
    fingerprint: str

    def to_bytes(self) -> bytes:
        return _json_bytes(
            {
                "schema_version": SCHEMA_VERSION,
                "fingerprint": self.fingerprint,
                "modified_at": None if self.modified_at is None else self.modified_at.isoformat(),
                "records": list(self.records),
            }
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> Snapshot:
        document = json.loads(data)
        if document.get("schema_version") != SCHEMA_VERSION:
            raise ValueError("snapshot of another schema version")
        records = tuple(document["records"])
        modified = document.get("modified_at")
        return cls(
            records=records,
            expires=tuple(datetime.fromisoformat(r["expires_at"]).timestamp() for r in records),
            modified_at=None if modified is None else datetime.fromisoformat(modified),
            fingerprint=str(document["fingerprint"]),
        )


def fingerprint(session: Session) -> tuple[str, datetime | None]:
    """What identifies the public state of the database: the number of entries ever published
    and their latest change (every change of such an entry moves its ``updated_at``)."""
    count, latest = session.execute(
        select(func.count(DisclosureEntry.id), func.max(DisclosureEntry.updated_at)).where(
            DisclosureEntry.published_at.is_not(None)
        )
    ).one()
    if latest is not None and latest.tzinfo is None:  # SQLite's aggregate bypasses the column type
        latest = latest.replace(tzinfo=UTC)
    elif isinstance(latest, str):
        latest = datetime.fromisoformat(latest).replace(tzinfo=UTC)
    return f"{count}:{latest.isoformat() if latest else '-'}", latest


def _read(session: Session, now: datetime) -> Snapshot:
    from citytrace.disclosure.service import published_entries

    state, latest = fingerprint(session)
    entries = published_entries(session, now)
    context = _Context()
    records = tuple(public_record(e, context) for e in entries)
    return Snapshot(
        records=records,
        expires=tuple(e.expires_at.timestamp() for e in entries),
        modified_at=latest,
        fingerprint=state,
    )


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "a+b") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def _load(path: Path) -> Snapshot | None:
    try:
        return Snapshot.from_bytes(path.read_bytes())
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError):  # unreadable: replaced by the next write
        return None


_writes = 0
"""Snapshots written by this process: a cache of this process looks at the file again at once
after one (others within :data:`STAT_INTERVAL_S`)."""


def _write_atomically(path: Path, data: bytes) -> None:
    global _writes
    descriptor, temporary = tempfile.mkstemp(prefix=".feed-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
    _writes += 1


def refresh(session: Session, now: datetime) -> bool:
    """Read the published set through ``session`` and store it as the snapshot now, under the
    snapshot's lock; True if the stored snapshot changed."""
    path = snapshot_path()
    with _locked(path):
        fresh = _read(session, now)
        current = _load(path)
        if current is not None and current.records == fresh.records:
            if current.fingerprint == fresh.fingerprint:
                return False
            fresh = Snapshot(fresh.records, fresh.expires, current.modified_at, fresh.fingerprint)
        elif (
            current is not None
            and current.modified_at is not None
            and (fresh.modified_at is None or fresh.modified_at <= current.modified_at)
        ):
            # The set changed, but no remaining row says when (a row was purged): Last-Modified
            # must still move forward.
            moved = max(current.modified_at + timedelta(seconds=1), now.astimezone(UTC))
            fresh = Snapshot(fresh.records, fresh.expires, moved, fresh.fingerprint)
        _write_atomically(path, fresh.to_bytes())
        return True


_PENDING = "citytrace.disclosure.feed.pending"


def rebuild(session: Session, now: datetime) -> None:
    """Bring the snapshot up to the published set once ``session``'s transaction commits.

    Called inside the transaction that publishes, corrects, withdraws or ends entries: nothing
    is written before the commit (a rollback leaves the previous snapshot), and the snapshot is
    then read afresh, so that it holds what is committed. Outside a transaction it is written
    at once.
    """
    from sqlalchemy import event

    if not session.in_transaction():
        refresh(session, now)
        return
    pending: datetime | None = session.info.get(_PENDING)
    session.info[_PENDING] = now if pending is None else max(pending, now)
    if not event.contains(session, "after_commit", _after_commit):
        event.listen(session, "after_commit", _after_commit)
        event.listen(session, "after_rollback", _after_rollback)


def _after_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint was released: the outer transaction has not committed yet
    now: datetime | None = session.info.pop(_PENDING, None)
    if now is None:
        return
    try:
        with Session(bind=session.get_bind()) as fresh, fresh.begin():
            refresh(fresh, now)
    except Exception as exc:  # the commit stands; the periodic check writes the snapshot
        log.error("the feed snapshot was not written after a commit (%s)", type(exc).__name__)


def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)


# --- serving -----------------------------------------------------------------------------------


def http_date(moment: datetime | None) -> str | None:
    return None if moment is None else format_datetime(moment.astimezone(UTC), usegmt=True)


def parse_http_date(value: str) -> float | None:
    """POSIX seconds of an HTTP-date, or None when it is not one."""
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def accepts_gzip(header: str | None) -> bool:
    """Whether an ``Accept-Encoding`` value accepts gzip (named, with a q-value above 0)."""
    if not header:
        return False
    for part in header.split(","):
        name, _, params = part.partition(";")
        if name.strip().lower() != "gzip":
            continue
        for param in params.split(";"):
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    return float(value) > 0
                except ValueError:
                    return False
        return True
    return False


def etag_matches(header: str, etag: str) -> bool:
    """Whether an ``If-None-Match`` value names ``etag`` (weak comparison, RFC 9110 13.1.2)."""
    if header.strip() == "*":
        return True
    bare = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == bare for tag in header.split(","))


@dataclass
class FeedView:
    """The documents of the published set as seen from one moment to the next expiry."""

    records: tuple[dict[str, Any], ...]
    modified_at: datetime | None
    valid_until: float  # POSIX seconds: the next expiry among the records (inf: none)
    bodies: dict[str, bytes] = field(default_factory=dict)
    etags: dict[str, str] = field(default_factory=dict)
    gzipped: dict[str, bytes] = field(default_factory=dict)
    memo: dict[Any, Any] = field(default_factory=dict)  # what the HTTP layer derives once

    @property
    def last_modified(self) -> str | None:
        return http_date(self.modified_at)

    @property
    def modified_s(self) -> float | None:
        return None if self.modified_at is None else float(int(self.modified_at.timestamp()))

    def body(self, fmt: str) -> bytes:
        found = self.bodies.get(fmt)
        if found is None:
            found = render_records(self.records, fmt, modified_at=self.modified_at)
            self.bodies[fmt] = found
            self.etags[fmt] = '"' + hashlib.sha256(found).hexdigest()[:32] + '"'
        return found

    def etag(self, fmt: str) -> str:
        self.body(fmt)
        return self.etags[fmt]

    def body_gzip(self, fmt: str) -> bytes:
        """The document compressed once (``mtime=0``: the same bytes in every process)."""
        found = self.gzipped.get(fmt)
        if found is None:
            found = gzip.compress(self.body(fmt), compresslevel=6, mtime=0)
            self.gzipped[fmt] = found
        return found

    def etag_gzip(self, fmt: str) -> str:
        """The ETag of the compressed representation (another one than the plain's)."""
        return self.etag(fmt)[:-1] + '.gz"'

    def max_age(self, now_s: float) -> int:
        """Seconds a copy may be reused: :data:`FEED_MAX_AGE_S`, less before an expiry."""
        return int(max(0.0, min(float(FEED_MAX_AGE_S), self.valid_until - now_s)))


class FeedCache:
    """One process's copy of the snapshot and of the documents rendered from it.

    Used from the event loop only (the handlers that use it are ``async``), so it needs no
    lock; the database work (a missing snapshot, the periodic check) runs in a worker thread
    through :meth:`verify`.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or snapshot_path()
        self._stamp: tuple[int, int, int] | None = None
        self._snapshot: Snapshot | None = None
        self._view: FeedView | None = None
        self._next_verify = 0.0  # monotonic seconds
        self._verifying = False
        self._next_stat = 0.0  # monotonic seconds
        self._seen_writes = -1

    def _reload(self) -> Snapshot | None:
        now = time.monotonic()
        if _writes == self._seen_writes and now < self._next_stat:
            return self._snapshot
        self._seen_writes, self._next_stat = _writes, now + STAT_INTERVAL_S
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            self._stamp, self._snapshot, self._view = None, None, None
            return None
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        if stamp != self._stamp:
            snapshot = _load(self.path)
            self._stamp = stamp if snapshot is not None else None
            self._snapshot, self._view = snapshot, None
        return self._snapshot

    def view(self, now_s: float | None = None) -> FeedView | None:
        """The documents at ``now_s`` (POSIX seconds), or None when there is no snapshot yet."""
        now_s = time.time() if now_s is None else now_s
        snapshot = self._reload()
        if snapshot is None:
            return None
        view = self._view
        if view is None or now_s >= view.valid_until:
            view = _view_of(snapshot, now_s)
            self._view = view
        return view

    def due(self) -> bool:
        """Whether the snapshot should be compared with the database now (at most every
        :data:`VERIFY_INTERVAL_S`, by one request at a time)."""
        return not self._verifying and time.monotonic() >= self._next_verify

    def claim(self) -> bool:
        """Take the periodic comparison on for this request, if it is due."""
        if self.due():
            self._verifying = True
            return True
        return False

    def verify(self, session: Session, now: datetime) -> None:
        """Rebuild the snapshot when it is missing or the database moved on (in a thread)."""
        try:
            snapshot = _load(self.path)
            current, _ = fingerprint(session)
            if snapshot is None or snapshot.fingerprint != current:
                refresh(session, now)
        finally:
            self._next_verify = time.monotonic() + VERIFY_INTERVAL_S
            self._verifying = False


def _view_of(snapshot: Snapshot, now_s: float) -> FeedView:
    keep = [i for i, expires in enumerate(snapshot.expires) if expires > now_s]
    gone = [expires for expires in snapshot.expires if expires <= now_s]
    modified = snapshot.modified_at
    if gone:
        expired_at = datetime.fromtimestamp(max(gone), UTC)
        modified = expired_at if modified is None else max(modified, expired_at)
    return FeedView(
        records=tuple(snapshot.records[i] for i in keep),
        modified_at=modified,
        valid_until=min((snapshot.expires[i] for i in keep), default=float("inf")),
    )
