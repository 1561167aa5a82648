"""The public types of the evidence readers: kinds, results, issues, errors and table schemas."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

import pyarrow as pa

from citytrace.errors import InputError

__all__ = [
    "FIX_SCHEMA",
    "OBSERVATION_KINDS",
    "OBSERVATION_SCHEMA",
    "EvidenceFormatError",
    "EvidenceKind",
    "EvidenceRead",
    "RecordIssue",
]

_UTC_US = pa.timestamp("us", tz="UTC")

FIX_SCHEMA = pa.schema(
    [
        pa.field("tracked_at", _UTC_US, nullable=False),
        pa.field("latitude", pa.float64(), nullable=False),
        pa.field("longitude", pa.float64(), nullable=False),
        pa.field("accuracy_m", pa.float64()),
        pa.field("source_index", pa.int64(), nullable=False),
    ]
)
"""Raw position fixes, sorted by ``tracked_at``; ``source_index`` points back into the file."""

OBSERVATION_SCHEMA = pa.schema(
    [
        pa.field("kind", pa.string(), nullable=False),
        pa.field("started_at", _UTC_US, nullable=False),
        pa.field("finished_at", _UTC_US),
        pa.field("latitude", pa.float64(), nullable=False),
        pa.field("longitude", pa.float64(), nullable=False),
        pa.field("radius_m", pa.float64()),
        pa.field("place_id", pa.string()),
        pa.field("place_name", pa.string()),
        pa.field("place_kind", pa.string()),
        pa.field("address", pa.string()),
        pa.field("confidence", pa.float64()),
        pa.field("source_index", pa.int64(), nullable=False),
    ]
)
"""Presence at a place: an interval, or a point in time if ``finished_at`` is null; by start."""

OBSERVATION_KINDS = ("place_visit", "card", "cell", "checkin")
"""The values of ``OBSERVATION_SCHEMA.kind``."""


class EvidenceKind(StrEnum):
    """The evidence file formats citytrace reads (see ``docs/evidence-formats.md``)."""

    GOOGLE_RECORDS = "google_records"
    GOOGLE_SEMANTIC = "google_semantic"
    GOOGLE_TIMELINE = "google_timeline"
    GPX = "gpx"
    GEOLIFE_PLT = "geolife_plt"
    CARD = "card"
    CELL = "cell"
    CHECKIN = "checkin"


@dataclass(frozen=True)
class RecordIssue:
    """A problem with one record (``error``: the record was skipped) or a note (``warning``).

    ``location`` is a line (``"line 12"``) or a JSON/XML path (``"locations[3].timestamp"``).
    Messages never quote the record's values, which may be personal data.
    """

    path: str
    location: str
    reason: str
    severity: Literal["error", "warning"]


@dataclass(frozen=True)
class EvidenceRead:
    """What a reader got from one file.

    Every record read ends up as a fix, an observation, a dropped exact duplicate fix, or a
    rejection: ``records_read == fixes.num_rows + observations.num_rows + duplicates +
    records_rejected``, where the duplicates are counted in a warning issue.
    """

    path: str
    kind: EvidenceKind
    fixes: pa.Table
    observations: pa.Table
    issues: tuple[RecordIssue, ...]
    records_read: int
    records_rejected: int


class EvidenceFormatError(InputError):
    """The whole file is refused: it names the file, the position (if any) and the reason.

    ``issues`` are the bad records met before the refusal (empty when the file as a whole is
    wrong), so that a caller can report each row.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        location: str | None = None,
        issues: tuple[RecordIssue, ...] = (),
    ) -> None:
        super().__init__(message, path=path, location=location)
        self.issues = issues
