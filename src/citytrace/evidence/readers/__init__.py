"""Evidence readers: a case's location evidence files as position fixes and observations.

A pure library (no ORM, no web). :func:`read_evidence` streams one file of a format listed in
``docs/evidence-formats.md`` and returns Arrow tables of :data:`FIX_SCHEMA` (raw positions) and
:data:`OBSERVATION_SCHEMA` (presence at a place), with an issue for each bad record. A file that
is not what it claims to be raises :class:`EvidenceFormatError`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from . import geolife, google, gpx, tabular
from ._collect import Collector
from ._detect import detect_kind
from ._io import HEAD_BYTES, is_blank, read_head
from ._model import (
    FIX_SCHEMA,
    OBSERVATION_SCHEMA,
    EvidenceFormatError,
    EvidenceKind,
    EvidenceRead,
    RecordIssue,
)

__all__ = [
    "FIX_SCHEMA",
    "OBSERVATION_SCHEMA",
    "EvidenceFormatError",
    "EvidenceKind",
    "EvidenceRead",
    "RecordIssue",
    "detect_kind",
    "read_evidence",
]

_Reader = Callable[[Path, Collector], None]

# Each format's reader, and where its records are expected (for the "no records" refusal).
_READERS: dict[EvidenceKind, tuple[_Reader, str]] = {
    EvidenceKind.GOOGLE_RECORDS: (google.read_records, "expected locations[]"),
    EvidenceKind.GOOGLE_SEMANTIC: (
        google.read_semantic,
        "expected timelineObjects[] with placeVisit or activitySegment",
    ),
    EvidenceKind.GOOGLE_TIMELINE: (
        google.read_timeline,
        "expected semanticSegments[] or rawSignals[] positions, or a top-level array of segments",
    ),
    EvidenceKind.GPX: (gpx.read_gpx, "expected trkpt, rtept or wpt elements with a <time>"),
    EvidenceKind.GEOLIFE_PLT: (geolife.read_plt, "expected data lines after the 6-line header"),
    EvidenceKind.CARD: (tabular.read_csv, "expected data rows after the header"),
    EvidenceKind.CELL: (tabular.read_csv, "expected data rows after the header"),
    EvidenceKind.CHECKIN: (tabular.read_csv, "expected data rows after the header"),
}


def read_evidence(
    path: Path,
    kind: EvidenceKind | None = None,
    *,
    assume_tz: str | None = None,
    max_issues: int = 1000,
) -> EvidenceRead:
    """Read one evidence file into position fixes and observations.

    Parameters
    ----------
    path
        The file. It is streamed, never loaded whole.
    kind
        Its format; detected from the content (:func:`detect_kind`) when None.
    assume_tz
        IANA zone (``"Asia/Seoul"``) for times written without a UTC offset. Without it such
        a time is a record error. GPX and GeoLife times are UTC by definition and ignore it.
    max_issues
        Refuse the file once more than this many records are bad (``0``: any bad record).

    Returns
    -------
    EvidenceRead
        Fixes sorted by time without exact duplicates, observations sorted by start, the issues
        (``error``: record skipped; ``warning``: a note) and the record counts.

    Raises
    ------
    EvidenceFormatError
        The file is empty, unreadable, not of ``kind``, broken (truncated or invalid JSON/XML,
        with the byte, line or path), has more than ``max_issues`` bad records, or has no valid
        record at all; also for an unknown ``assume_tz``.
    ValueError
        ``max_issues`` is negative or ``kind`` is not an :class:`EvidenceKind` value.
    """
    path = Path(path)
    if max_issues < 0:
        raise ValueError("max_issues must be >= 0")
    naive_tz = None
    if assume_tz is not None:
        try:
            naive_tz = ZoneInfo(assume_tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise EvidenceFormatError(
                f"unknown time zone {assume_tz!r}", path=str(path), location="assume_tz"
            ) from None
    if kind is None:
        kind = detect_kind(path)
    else:
        kind = EvidenceKind(kind)
        if is_blank(read_head(path, HEAD_BYTES)):
            raise EvidenceFormatError("file is empty", path=str(path))
    reader, records_where = _READERS[kind]
    collector = Collector(
        path=str(path),
        kind=kind,
        naive_tz=naive_tz,
        max_issues=max_issues,
        records_where=records_where,
    )
    reader(path, collector)
    return collector.finish()
