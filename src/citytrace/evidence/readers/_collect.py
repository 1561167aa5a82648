"""The collector every reader fills: validated records, issues, counts and the refusal rules."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import tzinfo
from itertools import islice

from ._columns import FixColumns, ObservationColumns
from ._model import EvidenceFormatError, EvidenceKind, EvidenceRead, RecordIssue
from ._values import check_interval, check_position, optional_metres, optional_unit

__all__ = ["Collector", "summarise"]

_SUMMARY_ISSUES = 3


def summarise(issues: Iterable[RecordIssue], limit: int = _SUMMARY_ISSUES) -> str:
    """The first ``limit`` issues as one line: ``"line 2: reason; line 5: reason"``."""
    parts = [f"{issue.location}: {issue.reason}" for issue in islice(issues, limit)]
    return "; ".join(parts)


class Collector:
    """Accumulates one file's fixes, observations and issues, and applies the refusal rules.

    Each record the reader meets ends in exactly one call of :meth:`add_fix`,
    :meth:`add_observation` or :meth:`reject`. The readers validate each field under its own
    name; the first two check again, as the last guard of the table invariants, and raise
    :class:`RecordError` for the reader to turn into :meth:`reject`.

    Parameters
    ----------
    path
        The file, as it will appear in issues and errors.
    kind
        The format being read.
    naive_tz
        Zone for times without a UTC offset where the format allows them (``assume_tz``).
    max_issues
        Refuse the file as soon as there are more record errors than this.
    records_where
        Where records are expected in the file, for the message when there are none.
    """

    def __init__(
        self,
        *,
        path: str,
        kind: EvidenceKind,
        naive_tz: tzinfo | None,
        max_issues: int,
        records_where: str,
    ) -> None:
        self.path = path
        self.kind = kind
        self.naive_tz = naive_tz
        self.max_issues = max_issues
        self.records_where = records_where
        self.fixes = FixColumns()
        self.observations = ObservationColumns()
        self.records_read = 0
        self.records_rejected = 0
        self._errors: list[RecordIssue] = []
        self._warnings: list[RecordIssue] = []
        self._warnings_dropped = 0

    def add_fix(
        self,
        tracked_at_us: int,
        latitude: float,
        longitude: float,
        accuracy_m: float | None,
        source_index: int,
    ) -> None:
        """Validate and keep one position fix."""
        latitude, longitude = check_position(latitude, longitude)
        accuracy_m = optional_metres(accuracy_m, "accuracy_m")
        self.records_read += 1
        self.fixes.append(tracked_at_us, latitude, longitude, accuracy_m, source_index)

    def add_observation(
        self,
        *,
        kind: str,
        started_at_us: int,
        finished_at_us: int | None,
        latitude: float,
        longitude: float,
        source_index: int,
        radius_m: float | None = None,
        place_id: str | None = None,
        place_name: str | None = None,
        place_kind: str | None = None,
        address: str | None = None,
        confidence: float | None = None,
    ) -> None:
        """Validate and keep one observation (``finished_at_us`` None: a point in time)."""
        latitude, longitude = check_position(latitude, longitude)
        check_interval(started_at_us, finished_at_us, None)
        radius_m = optional_metres(radius_m, "radius_m")
        confidence = optional_unit(confidence, "confidence")
        self.records_read += 1
        self.observations.append(
            kind=kind,
            started_at_us=started_at_us,
            finished_at_us=finished_at_us,
            latitude=latitude,
            longitude=longitude,
            radius_m=radius_m,
            place_id=place_id,
            place_name=place_name,
            place_kind=place_kind,
            address=address,
            confidence=confidence,
            source_index=source_index,
        )

    def reject(self, location: str, reason: str) -> None:
        """Count one record as read and rejected; refuse the file past ``max_issues`` errors."""
        self.records_read += 1
        self.records_rejected += 1
        issue = RecordIssue(self.path, location, reason, "error")
        if self.records_rejected > self.max_issues:
            raise EvidenceFormatError(
                f"more than {self.max_issues} bad records; first: "
                f"{summarise([*self._errors, issue])}",
                path=self.path,
                issues=(*self._errors, issue),
            )
        self._errors.append(issue)

    def warn(self, location: str, reason: str) -> None:
        """Note something that did not stop a record from being read."""
        if len(self._warnings) < self.max_issues:
            self._warnings.append(RecordIssue(self.path, location, reason, "warning"))
        else:
            self._warnings_dropped += 1

    def refuse(self, reason: str, location: str | None = None) -> EvidenceFormatError:
        """The error refusing this file (for the reader to raise), with the bad records so far."""
        return EvidenceFormatError(
            reason, path=self.path, location=location, issues=(*self._errors, *self._warnings)
        )

    def finish(self) -> EvidenceRead:
        """The result; refuses the file if it gave no valid record at all."""
        if not len(self.fixes) and not len(self.observations):
            issues = [*self._errors, *self._warnings]
            if self.records_rejected:
                reason = f"no valid record ({self.records_rejected} rejected)"
            else:
                reason = f"no records found ({self.records_where})"
            raise self.refuse(f"{reason}; {summarise(issues)}" if issues else reason)
        fixes = self.fixes.build()
        # File-wide notes go first and are never dropped by the cap on warnings.
        notes: list[tuple[str, str]] = []
        if fixes.out_of_order:
            notes.append(
                (
                    "fixes",
                    f"{fixes.out_of_order} fixes were earlier than the fix before them; "
                    "all fixes are sorted by time",
                )
            )
        if fixes.duplicates:
            notes.append(
                (
                    "fixes",
                    f"{fixes.duplicates} exact duplicate fixes (same time and position) dropped",
                )
            )
        if self._warnings_dropped:
            notes.append(("file", f"{self._warnings_dropped} more warnings not listed"))
        warnings = [
            *(RecordIssue(self.path, where, note, "warning") for where, note in notes),
            *self._warnings,
        ]
        return EvidenceRead(
            path=self.path,
            kind=self.kind,
            fixes=fixes.table,
            observations=self.observations.build(),
            issues=(*self._errors, *warnings),
            records_read=self.records_read,
            records_rejected=self.records_rejected,
        )
