"""Samples and results: each sample labelled at collection and tracked to the lab; results
entered one by one or from a lab's CSV; a positive result opens a case in the investigation
workspace; every new result queues its notification in the outbox (same transaction).

A result is unique per sample: the same result again changes nothing (and notifies nobody
again), a different one is refused. A lab file is one transaction: by default a file with any
bad row stores nothing and every bad row is reported (fix and send the whole file again; rows
stored before are recognised); with ``accept_valid`` the good rows are stored and the bad ones
reported.

Lab CSV: a header line naming at least ``sample_id`` and ``result`` (``positive``,
``negative``, ``inconclusive``; or 양성, 음성, 미결정), optionally ``reported_at`` (ISO 8601;
without an offset it is read in the configured zone; empty: the time of import); other columns
are ignored.
"""

from __future__ import annotations

import csv
import io
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import segno
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from citytrace.audit import service as audit
from citytrace.db import utcnow
from citytrace.errors import ConflictError, InputError, NotFoundError
from citytrace.screening import clinics, outbox
from citytrace.screening.models import (
    Booking,
    BookingStatus,
    Clinic,
    Outcome,
    QueueEntry,
    Result,
    Sample,
    SampleStatus,
)

__all__ = [
    "LabFileRefusedError",
    "LabImportReport",
    "ResultRecorded",
    "RowError",
    "collect",
    "get",
    "get_by_label",
    "get_or_raise",
    "import_lab_csv",
    "label_svg",
    "list_",
    "receive",
    "record_result",
    "send",
]

MAX_LAB_ROWS = 100_000
_LABEL_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
OUTCOME_WORDS = {
    "positive": Outcome.POSITIVE,
    "pos": Outcome.POSITIVE,
    "양성": Outcome.POSITIVE,
    "negative": Outcome.NEGATIVE,
    "neg": Outcome.NEGATIVE,
    "음성": Outcome.NEGATIVE,
    "inconclusive": Outcome.INCONCLUSIVE,
    "미결정": Outcome.INCONCLUSIVE,
    "재검": Outcome.INCONCLUSIVE,
}
_COLUMNS = {
    "sample_id": ("sample_id", "sample", "sample_label", "label", "검체번호"),
    "result": ("result", "outcome", "결과"),
    "reported_at": ("reported_at", "resulted_at", "result_time", "결과일시"),
}


# --- samples -------------------------------------------------------------------------------


def get(*, session: Session, sample_id: int) -> Sample | None:
    return session.get(Sample, sample_id)


def get_or_raise(*, session: Session, sample_id: int) -> Sample:
    sample = get(session=session, sample_id=sample_id)
    if sample is None:
        raise NotFoundError(f"sample {sample_id} does not exist")
    return sample


def get_by_label(*, session: Session, label: str) -> Sample | None:
    return session.scalar(select(Sample).where(Sample.label == label.strip().upper()))


def list_(
    *,
    session: Session,
    clinic_id: int,
    status: SampleStatus | None = None,
    limit: int = 500,
) -> Sequence[Sample]:
    query = select(Sample).where(Sample.clinic_id == clinic_id)
    if status is not None:
        query = query.where(Sample.status == status)
    return session.scalars(query.order_by(Sample.collected_at.desc()).limit(limit)).all()


def _new_label(now: datetime) -> str:
    day = now.astimezone(clinics.zone()).strftime("%y%m%d")
    return f"S{day}-{''.join(secrets.choice(_LABEL_ALPHABET) for _ in range(6))}"


def collect(*, session: Session, actor: str, entry_id: int, now: datetime | None = None) -> Sample:
    """Take the sample of the person at ``entry_id``: a labelled sample, the service ended
    (the booth's turnover begins), the booking sampled.

    Raises
    ------
    ConflictError
        The person is not waiting or in service, or was sampled already.
    """
    from citytrace.screening import queue

    now = now or utcnow()
    with session.begin_nested():
        entry = session.get(QueueEntry, entry_id)
        if entry is None:
            raise NotFoundError(f"queue entry {entry_id} does not exist")
        booking = session.get(Booking, entry.booking_id)
        assert booking is not None
        if booking.status != BookingStatus.CHECKED_IN:
            raise ConflictError(f"booking {booking.reference} is {booking.status}, not checked in")
        queue.finish(session, entry, now)
        booking.status = BookingStatus.SAMPLED
        sample = None
        for _ in range(5):
            try:
                with session.begin_nested():
                    sample = Sample(
                        label=_new_label(now),
                        clinic_id=entry.clinic_id,
                        booking_id=booking.id,
                        status=SampleStatus.COLLECTED,
                        collected_at=now,
                        collected_by=actor[:64],
                    )
                    session.add(sample)
                    session.flush()
                break
            except IntegrityError:
                sample = None
        if sample is None:  # pragma: no cover - five label collisions in a row
            raise ConflictError("could not make a unique sample label: try again")
        audit.record(
            session=session,
            actor=actor,
            action="screening.sample.collect",
            entity="booking",
            entity_id=booking.id,
            detail={"sample_id": sample.id, "label": sample.label},
        )
    return sample


def label_svg(sample: Sample, clinic: Clinic | None = None) -> str:
    """A printable label: the sample id as a QR code and as text (no name on it)."""
    qr = segno.make(sample.label, error="m")
    size = qr.symbol_size(scale=3)[0]
    code = qr.svg_inline(scale=3, dark="#000", light="#fff")
    when = sample.collected_at.astimezone(clinics.zone()).strftime("%Y-%m-%d %H:%M")
    where = "" if clinic is None else clinic.reference
    width = size + 220
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{max(size, 60)}" '
        f'viewBox="0 0 {width} {max(size, 60)}" role="img" aria-label="sample {sample.label}">'
        f"{code}"
        f'<text x="{size + 8}" y="20" font-family="monospace" font-size="16">{sample.label}</text>'
        f'<text x="{size + 8}" y="40" font-family="monospace" font-size="11">{when}</text>'
        f'<text x="{size + 8}" y="56" font-family="monospace" font-size="11">{where}</text>'
        "</svg>"
    )


def _by_labels(session: Session, clinic_id: int | None, labels: Sequence[str]) -> list[Sample]:
    wanted = [label.strip().upper() for label in labels]
    found = {
        s.label: s for s in session.scalars(select(Sample).where(Sample.label.in_(wanted))).all()
    }
    unknown = [
        label
        for label in wanted
        if label not in found or (clinic_id is not None and found[label].clinic_id != clinic_id)
    ]
    if unknown:
        raise InputError(
            f"unknown sample ids at this clinic: {', '.join(unknown[:20])}"
            + (" ..." if len(unknown) > 20 else ""),
            location="labels",
        )
    return [found[label] for label in dict.fromkeys(wanted)]


def send(
    *,
    session: Session,
    actor: str,
    labels: Sequence[str],
    lab: str,
    clinic_id: int | None = None,
    now: datetime | None = None,
) -> list[Sample]:
    """Record that samples left for ``lab``. All or none: an unknown id refuses the lot.

    Raises
    ------
    InputError
        Unknown ids (or of another clinic).
    ConflictError
        A sample that is already at a lab or has its result.
    """
    now = now or utcnow()
    with session.begin_nested():
        samples = _by_labels(session, clinic_id, labels)
        late = [s.label for s in samples if s.status not in (SampleStatus.COLLECTED,)]
        if late:
            raise ConflictError(f"already sent or resulted: {', '.join(late[:20])}")
        for sample in samples:
            sample.status = SampleStatus.SENT
            sample.lab = lab
            sample.sent_at = now
        session.flush()
        audit.record(
            session=session,
            actor=actor,
            action="screening.sample.send",
            entity="sample",
            detail={"samples": len(samples), "lab": lab, "clinic_id": clinic_id},
        )
    return samples


def receive(
    *,
    session: Session,
    actor: str,
    labels: Sequence[str],
    clinic_id: int | None = None,
    now: datetime | None = None,
) -> list[Sample]:
    """Record that the lab received samples. All or none."""
    now = now or utcnow()
    with session.begin_nested():
        samples = _by_labels(session, clinic_id, labels)
        late = [s.label for s in samples if s.status == SampleStatus.RESULTED]
        if late:
            raise ConflictError(f"already resulted: {', '.join(late[:20])}")
        for sample in samples:
            if sample.status in (SampleStatus.COLLECTED, SampleStatus.SENT):
                sample.status = SampleStatus.RECEIVED
                sample.received_at = now
        session.flush()
        audit.record(
            session=session,
            actor=actor,
            action="screening.sample.receive",
            entity="sample",
            detail={"samples": len(samples), "clinic_id": clinic_id},
        )
    return samples


# --- results -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResultRecorded:
    result: Result
    created: bool
    """False when the same result was stored already (nothing changed)."""


def _open_case(session: Session, actor: str, sample: Sample, result: Result) -> int:
    from citytrace.cases import service as cases
    from citytrace.cases.schemas import CaseCreate, IdentityIn
    from citytrace.screening.booking import open_person

    booking = session.get(Booking, sample.booking_id)
    clinic = session.get(Clinic, sample.clinic_id)
    assert booking is not None and clinic is not None
    person = open_person(booking)
    audit.record(
        session=session,
        actor=actor,
        action="screening.booking.identity.read",
        entity="booking",
        entity_id=booking.id,
        detail={"purpose": "open a case of a positive result"},
    )
    case = cases.create(
        session=session,
        actor=actor,
        data=CaseCreate(
            district_code=clinic.district_code,
            specimen_collected_date=clinics.local_date(sample.collected_at),
            confirmed_date=clinics.local_date(result.reported_at),
            notes=f"opened from the positive result of sample {sample.label} "
            f"(clinic {clinic.reference}, booking {booking.reference})",
            identity=IdentityIn(full_name=person.full_name, phone=person.phone),
        ),
    )
    return case.id


def record_result(
    *,
    session: Session,
    actor: str,
    sample_id: int,
    outcome: Outcome,
    reported_at: datetime | None = None,
    source: str = "manual",
    now: datetime | None = None,
) -> ResultRecorded:
    """Store the result of a sample, queue its notification, and open a case if positive.

    Raises
    ------
    ConflictError
        The sample has a different result already.
    InputError
        A result time before the sample was collected, or in the future.
    """
    now = now or utcnow()
    reported_at = reported_at or now
    with session.begin_nested():
        sample = get_or_raise(session=session, sample_id=sample_id)
        if sample.result is not None:
            return _same_or_refused(sample, sample.result, outcome)
        if reported_at < sample.collected_at - timedelta(minutes=1):
            raise InputError(
                f"the result of {sample.label} is dated before the sample was collected",
                location="reported_at",
            )
        if reported_at > now + timedelta(minutes=5):
            raise InputError(
                f"the result of {sample.label} is dated in the future", location="reported_at"
            )
        result = Result(
            sample_id=sample.id,
            outcome=outcome,
            reported_at=reported_at,
            entered_at=now,
            entered_by=actor[:64],
            source=source[:300],
        )
        try:
            with session.begin_nested():
                session.add(result)
                session.flush()
        except IntegrityError:
            # Stored by someone else meanwhile: the same result is fine, another is refused.
            session.expire(sample)
            stored = session.scalar(select(Result).where(Result.sample_id == sample.id))
            if stored is None:  # pragma: no cover - the constraint named another row
                raise
            return _same_or_refused(sample, stored, outcome)
        # The sample's ``result`` may have been read as None before: read it again when asked.
        session.expire(sample, ["result"])
        sample.status = SampleStatus.RESULTED
        sample.resulted_at = reported_at
        if sample.received_at is None:
            sample.received_at = reported_at
        booking = session.get(Booking, sample.booking_id)
        assert booking is not None
        booking.closed_at = now
        if outcome == Outcome.POSITIVE:
            result.case_id = _open_case(session, actor, sample, result)
        session.flush()
        outbox.enqueue_for_result(session=session, result=result, now=now)
        audit.record(
            session=session,
            actor=actor,
            action="screening.result.create",
            entity="booking",
            entity_id=sample.booking_id,
            detail={
                "sample_id": sample.id,
                "outcome": str(outcome),
                "case_id": result.case_id,
                "source": source[:120],
            },
        )
    return ResultRecorded(result=result, created=True)


def _same_or_refused(sample: Sample, stored: Result, outcome: Outcome) -> ResultRecorded:
    if stored.outcome == outcome:
        return ResultRecorded(result=stored, created=False)
    raise ConflictError(
        f"sample {sample.label} already has the result {stored.outcome} "
        f"(entered {stored.entered_at:%Y-%m-%d %H:%M} UTC): a different result is refused"
    )


# --- a lab's file --------------------------------------------------------------------------


@dataclass(frozen=True)
class RowError:
    line: int
    field: str | None
    reason: str

    def __str__(self) -> str:
        where = f"line {self.line}" + (f", {self.field}" if self.field else "")
        return f"{where}: {self.reason}"


@dataclass
class LabImportReport:
    file: str
    rows: int = 0
    stored: int = 0
    already_stored: int = 0
    positives: int = 0
    cases_opened: int = 0
    errors: list[RowError] = field(default_factory=list)
    accepted: bool = True
    """False when the file was refused as a whole (nothing stored)."""

    def summary(self) -> str:
        head = (
            f"{self.file}: {self.rows} rows, {self.stored} results stored, "
            f"{self.already_stored} already stored, {self.positives} positive "
            f"({self.cases_opened} cases opened), {len(self.errors)} bad rows"
        )
        if not self.accepted:
            head += ": the file was refused, nothing stored (fix the rows and send it again)"
        return "\n".join([head, *(f"  {e}" for e in self.errors)])


class LabFileRefusedError(InputError):
    """A lab file with bad rows, refused as a whole; ``report`` lists every bad row."""

    def __init__(self, report: LabImportReport) -> None:
        self.report = report
        super().__init__(
            f"{len(report.errors)} bad rows; nothing stored (first: {report.errors[0]})",
            path=report.file,
        )


@dataclass(frozen=True)
class _LabRow:
    line: int
    label: str
    outcome: Outcome
    reported_at: datetime | None


def _header(fields: list[str], name: str) -> dict[str, int]:
    lowered = [f.strip().lower() for f in fields]
    index: dict[str, int] = {}
    for key, aliases in _COLUMNS.items():
        for alias in aliases:
            if alias in lowered:
                index[key] = lowered.index(alias)
                break
    missing = [k for k in ("sample_id", "result") if k not in index]
    if missing:
        raise InputError(
            f"the header (line 1) lacks {' and '.join(missing)}: a lab file needs the columns "
            "sample_id and result (reported_at optional)",
            path=name,
        )
    return index


def _parse_time(text: str) -> datetime:
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=clinics.zone())
    return value


def _read_lab_rows(text: str, name: str, report: LabImportReport) -> list[_LabRow]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise InputError("the file is empty", path=name) from None
    except csv.Error as exc:
        raise InputError(f"line 1: not CSV ({exc})", path=name) from None
    index = _header(header, name)
    rows: list[_LabRow] = []
    line = 1
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            report.errors.append(RowError(reader.line_num, None, f"not CSV: {exc}"))
            break
        line = reader.line_num
        if not fields or all(not f.strip() for f in fields):
            continue
        report.rows += 1
        if report.rows > MAX_LAB_ROWS:
            raise InputError(f"more than {MAX_LAB_ROWS} rows: split the file", path=name)
        if len(fields) != len(header):
            report.errors.append(
                RowError(line, None, f"{len(fields)} fields where the header has {len(header)}")
            )
            continue
        label = fields[index["sample_id"]].strip().upper()
        if not label:
            report.errors.append(RowError(line, "sample_id", "empty"))
            continue
        word = fields[index["result"]].strip().lower()
        outcome = OUTCOME_WORDS.get(word)
        if outcome is None:
            report.errors.append(
                RowError(
                    line,
                    "result",
                    f"{word[:30]!r} is not a result (positive, negative or inconclusive)",
                )
            )
            continue
        reported_at = None
        if "reported_at" in index and fields[index["reported_at"]].strip():
            try:
                reported_at = _parse_time(fields[index["reported_at"]])
            except ValueError:
                report.errors.append(
                    RowError(line, "reported_at", "not an ISO 8601 time (2020-03-05T14:30+09:00)")
                )
                continue
        rows.append(_LabRow(line, label, outcome, reported_at))
    return rows


def import_lab_csv(
    *,
    session: Session,
    actor: str,
    data: bytes,
    name: str,
    clinic_id: int | None = None,
    accept_valid: bool = False,
    now: datetime | None = None,
) -> LabImportReport:
    """Store the results of a lab's CSV (``data``, the file's bytes; ``name`` for messages), for
    the samples of ``clinic_id`` (all clinics when ``None``).

    Each row is checked: CSV shape, a known sample id (of the clinic), a result word, a time,
    no two different results for one sample, none different from a stored one. By default any
    bad row refuses the file (:class:`LabFileRefusedError`, nothing stored); with ``accept_valid``
    the good rows are stored and the report lists the bad ones.

    Raises
    ------
    InputError
        A file that is not a lab file (not UTF-8, no header with sample_id and result).
    LabFileRefusedError
        Bad rows, without ``accept_valid``.
    """
    now = now or utcnow()
    report = LabImportReport(file=name)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text (byte {exc.start})", path=name) from None
    if "\x00" in text:
        raise InputError("not a text file (it holds NUL bytes)", path=name)
    rows = _read_lab_rows(text, name, report)
    found = {
        s.label: s
        for s in session.scalars(
            select(Sample).where(Sample.label.in_({r.label for r in rows}))
        ).all()
    }
    first_of: dict[str, _LabRow] = {}
    contradicted: set[str] = set()
    for row in rows:
        before = first_of.setdefault(row.label, row)
        if before is not row and before.outcome != row.outcome:
            contradicted.add(row.label)
            report.errors.append(
                RowError(
                    row.line,
                    "result",
                    f"{row.label} is {row.outcome} here but {before.outcome} on line {before.line}",
                )
            )
    good: list[tuple[_LabRow, Sample]] = []
    for row in rows:
        if row.label in contradicted:
            continue
        if first_of[row.label] is not row:
            report.already_stored += 1  # the same result twice in the file
            continue
        sample = found.get(row.label)
        if sample is None or (clinic_id is not None and sample.clinic_id != clinic_id):
            report.errors.append(
                RowError(row.line, "sample_id", f"unknown sample id {row.label[:32]!r}")
            )
            continue
        if sample.result is not None and sample.result.outcome != row.outcome:
            report.errors.append(
                RowError(
                    row.line,
                    "result",
                    f"{row.label} already has the result {sample.result.outcome}: "
                    "a different one is refused",
                )
            )
            continue
        when = row.reported_at or now
        if when < sample.collected_at - timedelta(minutes=1) or when > now + timedelta(minutes=5):
            report.errors.append(
                RowError(
                    row.line, "reported_at", "before the sample was collected, or in the future"
                )
            )
            continue
        good.append((row, sample))
    report.errors.sort(key=lambda e: e.line)
    if report.errors and not accept_valid:
        report.accepted = False
        raise LabFileRefusedError(report)
    with session.begin_nested():
        for row, sample in good:
            recorded = record_result(
                session=session,
                actor=actor,
                sample_id=sample.id,
                outcome=row.outcome,
                reported_at=row.reported_at,
                source=f"{name}:{row.line}",
                now=now,
            )
            if recorded.created:
                report.stored += 1
                if recorded.result.outcome == Outcome.POSITIVE:
                    report.positives += 1
                    report.cases_opened += recorded.result.case_id is not None
            else:
                report.already_stored += 1
        audit.record(
            session=session,
            actor=actor,
            action="screening.results.import",
            entity="sample",
            detail={
                "file": name[:120],
                "rows": report.rows,
                "stored": report.stored,
                "already": report.already_stored,
                "errors": len(report.errors),
                "clinic_id": clinic_id,
            },
        )
    return report


def import_lab_file(
    *,
    session: Session,
    actor: str,
    path: Path,
    clinic_id: int | None = None,
    accept_valid: bool = False,
    now: datetime | None = None,
) -> LabImportReport:
    """:func:`import_lab_csv` of a file on disk."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read the file ({exc.strerror})", path=str(path)) from None
    return import_lab_csv(
        session=session,
        actor=actor,
        data=data,
        name=path.name,
        clinic_id=clinic_id,
        accept_valid=accept_valid,
        now=now,
    )
