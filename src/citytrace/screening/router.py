"""HTTP routes (JSON API) of the screening domain.

Public (rate-limited, no sign-in): the clinic list, the finder, free slots, booking, and a
citizen's own booking and result behind its reference and access code (sent in the body, never
in a URL). Clinic staff: their own clinic's bookings, arrival queue, samples and results.
Administrators: the registry and its import, and the outbox.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Header, Query, UploadFile
from fastapi.responses import JSONResponse, Response
from sqlalchemy import select

from citytrace.api.deps import RecordId, SessionDep, UnitOfWorkRoute
from citytrace.auth.dependencies import require
from citytrace.auth.permissions import Permission, Principal
from citytrace.db import utcnow
from citytrace.errors import InputError
from citytrace.screening import booking as bookings
from citytrace.screening import clinics, finder, outbox, queue, samples
from citytrace.screening.deps import booking_for, clinic_for, entry_for, sample_for
from citytrace.screening.models import (
    Booking,
    BookingStatus,
    Clinic,
    ClinicKind,
    OutboxStatus,
    QueueEntry,
    Sample,
    SampleStatus,
)
from citytrace.screening.schemas import (
    AccessIn,
    BookingCreated,
    BookingIn,
    BookingOut,
    CheckInIn,
    ClinicCreate,
    ClinicOut,
    ClinicQueueOut,
    ClinicUpdate,
    ImportIssueOut,
    ImportReportOut,
    LabImportOut,
    MergedOut,
    MyBookingOut,
    NearbyClinicOut,
    OutboxOut,
    PersonOut,
    QueueEntryOut,
    ReceiveIn,
    RescheduleIn,
    ResultIn,
    ResultOut,
    RowErrorOut,
    SampleOut,
    SendIn,
    SlotOut,
    StaffRescheduleIn,
    UnitQueueOut,
    WalkInIn,
)

router = APIRouter(prefix="/api/screening", tags=["screening"], route_class=UnitOfWorkRoute)

Public = Depends(require(Permission.PUBLIC))
Operator = Annotated[Clinic, Depends(clinic_for(Permission.CLINIC_OPERATE))]
ResultWriter = Annotated[Clinic, Depends(clinic_for(Permission.RESULT_WRITE))]
Admin = Annotated[Principal, Depends(require(Permission.CLINIC_ADMIN))]
BookingOperator = Annotated[Booking, Depends(booking_for(Permission.CLINIC_OPERATE))]
EntryOperator = Annotated[QueueEntry, Depends(entry_for(Permission.CLINIC_OPERATE))]
SampleOperator = Annotated[Sample, Depends(sample_for(Permission.CLINIC_OPERATE))]
SampleResultWriter = Annotated[Sample, Depends(sample_for(Permission.RESULT_WRITE))]
OperatorPrincipal = Annotated[Principal, Depends(require(Permission.CLINIC_OPERATE))]
ResultPrincipal = Annotated[Principal, Depends(require(Permission.RESULT_WRITE))]
MAX_UPLOAD_BYTES = 20 * 1024 * 1024


def clinic_out(clinic: Clinic) -> ClinicOut:
    return ClinicOut.model_validate(clinic)


def booking_out(booking: Booking) -> BookingOut:
    return BookingOut.model_validate(booking)


def _created(result: bookings.BookingResult) -> BookingCreated:
    return BookingCreated(
        **booking_out(result.booking).model_dump(),
        access_code=result.access_code,
        replayed=result.replayed,
        checkin_payload=queue.checkin_payload(result.booking),
    )


def _entry_out(
    entry: QueueEntry, reference: str, slot: datetime | None = None, wait: float | None = None
) -> QueueEntryOut:
    return QueueEntryOut(
        id=entry.id,
        ticket=entry.ticket,
        booking_reference=reference,
        unit_id=entry.unit_id,
        status=entry.status,
        arrived_at=entry.arrived_at,
        called_at=entry.called_at,
        finished_at=entry.finished_at,
        slot_starts_at=slot,
        estimated_wait_min=wait,
    )


def _entry(entry: QueueEntry) -> QueueEntryOut:
    return _entry_out(entry, entry.booking.reference, entry.booking.slot_starts_at)


async def _read_upload(file: UploadFile) -> bytes:
    data = await file.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise InputError(
            f"the file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB", path=file.filename
        )
    return data


# --- clinics (public) ----------------------------------------------------------------------


@router.get("/clinics", dependencies=[Public])
def list_clinics(
    session: SessionDep,
    province: Annotated[str | None, Query(max_length=40)] = None,
    district_code: Annotated[str | None, Query(max_length=10)] = None,
    kind: ClinicKind | None = None,
    q: Annotated[str | None, Query(max_length=100, description="Part of the name.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[ClinicOut]:
    """Active clinics, by province and name."""
    return [
        clinic_out(c)
        for c in clinics.list_(
            session=session,
            province=province,
            district_code=district_code,
            kind=kind,
            active=True,
            name_contains=q,
            limit=limit,
            offset=offset,
        )
    ]


@router.get("/clinics/nearest", dependencies=[Public])
def nearest_clinics(
    session: SessionDep,
    latitude: Annotated[float, Query(ge=-90, le=90)],
    longitude: Annotated[float, Query(ge=-180, le=180)],
    limit: Annotated[int, Query(ge=1, le=20)] = 5,
    open_now: bool = False,
    kind: ClinicKind | None = None,
    max_distance_m: Annotated[float | None, Query(gt=0, le=1_000_000)] = None,
) -> list[NearbyClinicOut]:
    """The nearest clinics to a point, with kind, whether open, current wait and next free
    slot. Distances to clinics placed by their district only are ``approximate``."""
    return [
        NearbyClinicOut(
            clinic=clinic_out(n.clinic),
            distance_m=n.distance_m,
            approximate=n.approximate,
            open_now=n.open_now,
            current_wait_min=n.current_wait_min,
            next_free_slot=n.next_free_slot,
        )
        for n in finder.nearest(
            session=session,
            latitude=latitude,
            longitude=longitude,
            limit=limit,
            open_now=open_now,
            kind=kind,
            max_distance_m=max_distance_m,
        )
    ]


@router.get("/clinics/{clinic_id}", dependencies=[Public])
def get_clinic(clinic_id: RecordId, session: SessionDep) -> ClinicOut:
    return clinic_out(clinics.get_or_raise(session=session, clinic_id=clinic_id))


@router.get("/clinics/{clinic_id}/slots", dependencies=[Public])
def list_slots(
    clinic_id: RecordId,
    session: SessionDep,
    day: Annotated[date | None, Query(description="Local date; today by default.")] = None,
) -> list[SlotOut]:
    """The free slots of a day that are still ahead."""
    clinic = clinics.get_or_raise(session=session, clinic_id=clinic_id)
    now = utcnow()
    today = clinics.local_date(now)
    day = day or today
    horizon = timedelta(days=bookings.BOOKING_HORIZON_DAYS)
    if not today - timedelta(days=1) <= day <= today + horizon:
        raise InputError(
            f"give a day within {bookings.BOOKING_HORIZON_DAYS} days from today", location="day"
        )
    return [
        SlotOut(starts_at=s.starts_at, ends_at=s.ends_at, free_units=s.free_units)
        for s in bookings.free_slots(session=session, clinic=clinic, day=day, now=now)
    ]


# --- clinics (administrators) --------------------------------------------------------------


@router.post("/clinics", status_code=201)
def create_clinic(data: ClinicCreate, session: SessionDep, principal: Admin) -> ClinicOut:
    """Register a clinic; unset service time, turnover and units take the kind's defaults."""
    return clinic_out(clinics.create(session=session, actor=principal.username, data=data))


@router.patch("/clinics/{clinic_id}")
def update_clinic(
    clinic: Annotated[Clinic, Depends(clinic_for(Permission.CLINIC_ADMIN))],
    data: ClinicUpdate,
    session: SessionDep,
    principal: Admin,
) -> ClinicOut:
    """Change a clinic: hours, service time, turnover, units, position, or close it."""
    return clinic_out(
        clinics.update(session=session, actor=principal.username, clinic_id=clinic.id, data=data)
    )


@router.post("/clinics/import")
async def import_clinics(
    files: Annotated[list[UploadFile], File(description="Clinic list CSV files")],
    session: SessionDep,
    principal: Admin,
) -> ImportReportOut:
    """Import clinic lists (information and region files, paired by their clinic names); a
    file named ``drive_through...`` lists drive-through clinics."""
    import tempfile
    from pathlib import Path

    names = [Path(f.filename or f"file-{i}.csv").name for i, f in enumerate(files)]
    with tempfile.TemporaryDirectory(prefix="citytrace-clinics-") as tmp:
        paths = []
        for i, upload in enumerate(files):
            path = Path(tmp) / f"{i}.csv"
            path.write_bytes(await _read_upload(upload))
            paths.append(path)
        report = clinics.import_files(
            session=session,
            actor=principal.username,
            paths=paths,
            display_names=names,
        )
    return ImportReportOut(
        files=report.files,
        rows_read=report.rows_read,
        clinics=report.clinics,
        created=report.created,
        updated=report.updated,
        unchanged=report.unchanged,
        by_kind=report.by_kind,
        placed_by_district=report.placed_by_district,
        location_unknown=report.location_unknown,
        location_unknown_by_province=report.location_unknown_by_province,
        kept_own_location=report.kept_own_location,
        merged=[MergedOut(name=m.name, lines=list(m.lines)) for m in report.merged],
        rejected=[
            ImportIssueOut(file=i.file, line=i.line, reason=i.reason) for i in report.rejected
        ],
        notes=[ImportIssueOut(file=i.file, line=i.line, reason=i.reason) for i in report.notes],
    )


# --- booking (citizens) --------------------------------------------------------------------


@router.post("/bookings", status_code=201, dependencies=[Public])
def create_booking(
    data: BookingIn,
    session: SessionDep,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            min_length=8,
            max_length=100,
            pattern=r"^[A-Za-z0-9\-_.:]+$",
        ),
    ] = None,
) -> BookingCreated:
    """Book a slot (``starts_at``), or the earliest free one of ``day`` or from now. The
    answer holds the access code, shown only here. Send an idempotency key (header or body) to
    retry safely: the same key books once."""
    if idempotency_key and data.idempotency_key and idempotency_key != data.idempotency_key:
        raise InputError("two different idempotency keys", location="idempotency_key")
    result = bookings.book(
        session=session,
        actor=bookings.CITIZEN,
        clinic_id=data.clinic_id,
        person=data.person,
        starts_at=data.starts_at,
        day=data.day,
        idempotency_key=data.idempotency_key or idempotency_key,
    )
    return _created(result)


@router.post("/my/booking", dependencies=[Public])
def my_booking(data: AccessIn, session: SessionDep) -> MyBookingOut:
    """A citizen's booking, and its result when there is one (reference and access code)."""
    from citytrace.audit import service as audit

    booking = bookings.verify_access(session=session, reference=data.reference, code=data.code)
    clinic = clinics.get_or_raise(session=session, clinic_id=booking.clinic_id)
    sample = session.scalars(select(Sample).where(Sample.booking_id == booking.id)).first()
    result = None if sample is None else sample.result
    audit.record(
        session=session,
        actor=bookings.CITIZEN,
        action="screening.booking.citizen_read",
        entity="booking",
        entity_id=booking.id,
        detail={"result": result is not None},
    )
    return MyBookingOut(
        booking=booking_out(booking),
        clinic_name=clinic.name,
        clinic_address=clinic.address,
        checkin_payload=queue.checkin_payload(booking),
        result=None if result is None else result.outcome,
        result_reported_at=None if result is None else result.reported_at,
    )


@router.post("/my/cancel", dependencies=[Public])
def my_cancel(data: AccessIn, session: SessionDep) -> BookingOut:
    """Cancel one's own booking (reference and access code)."""
    booking = bookings.verify_access(session=session, reference=data.reference, code=data.code)
    return booking_out(
        bookings.cancel(session=session, actor=bookings.CITIZEN, booking_id=booking.id)
    )


@router.post("/my/reschedule", dependencies=[Public])
def my_reschedule(data: RescheduleIn, session: SessionDep) -> BookingOut:
    """Move one's own booking to another slot of the same clinic."""
    booking = bookings.verify_access(session=session, reference=data.reference, code=data.code)
    return booking_out(
        bookings.reschedule(
            session=session,
            actor=bookings.CITIZEN,
            booking_id=booking.id,
            starts_at=data.starts_at,
        )
    )


# --- bookings (clinic staff) ---------------------------------------------------------------


@router.get("/clinics/{clinic_id}/bookings")
def list_bookings(
    clinic: Operator,
    session: SessionDep,
    day: date | None = None,
    status: BookingStatus | None = None,
) -> list[BookingOut]:
    """The clinic's bookings of a day (today by default), by slot."""
    day = day or clinics.local_date(utcnow())
    return [
        booking_out(b)
        for b in bookings.list_for_clinic(
            session=session, clinic_id=clinic.id, day=day, status=status
        )
    ]


@router.post("/clinics/{clinic_id}/walk-ins", status_code=201)
def walk_in(
    clinic: Operator, data: WalkInIn, session: SessionDep, principal: OperatorPrincipal
) -> BookingCreated:
    """Register someone without a booking; they join the queue at once."""
    return _created(
        bookings.walk_in(
            session=session, actor=principal.username, clinic_id=clinic.id, person=data.person
        )
    )


@router.get("/bookings/{booking_id}")
def get_booking(booking: BookingOperator) -> BookingOut:
    return booking_out(booking)


@router.get("/bookings/{booking_id}/identity")
def get_booking_identity(
    booking: BookingOperator, session: SessionDep, principal: OperatorPrincipal
) -> PersonOut:
    """The booked person's name, phone and e-mail; every read is audited."""
    return bookings.read_identity(session=session, actor=principal.username, booking_id=booking.id)


@router.get("/bookings/{booking_id}/qr.svg", response_class=Response)
def booking_qr(booking: BookingOperator) -> Response:
    """The booking's check-in QR code (SVG)."""
    svg = queue.checkin_qr_svg(booking)
    document = svg.replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1)
    return Response(content=document, media_type="image/svg+xml")


@router.post("/bookings/{booking_id}/cancel")
def cancel_booking(
    booking: BookingOperator, session: SessionDep, principal: OperatorPrincipal
) -> BookingOut:
    return booking_out(
        bookings.cancel(session=session, actor=principal.username, booking_id=booking.id)
    )


@router.post("/bookings/{booking_id}/reschedule")
def reschedule_booking(
    booking: BookingOperator,
    data: StaffRescheduleIn,
    session: SessionDep,
    principal: OperatorPrincipal,
) -> BookingOut:
    return booking_out(
        bookings.reschedule(
            session=session,
            actor=principal.username,
            booking_id=booking.id,
            starts_at=data.starts_at,
        )
    )


@router.post("/bookings/{booking_id}/no-show")
def no_show(
    booking: BookingOperator, session: SessionDep, principal: OperatorPrincipal
) -> BookingOut:
    return booking_out(
        bookings.mark_no_show(session=session, actor=principal.username, booking_id=booking.id)
    )


@router.post("/bookings/{booking_id}/access-code")
def new_access_code(
    booking: BookingOperator, session: SessionDep, principal: OperatorPrincipal
) -> dict[str, str]:
    """A new access code for the booking (the old one stops working); shown once."""
    code = bookings.new_access_code(
        session=session, actor=principal.username, booking_id=booking.id
    )
    return {"reference": booking.reference, "access_code": code}


# --- the queue -----------------------------------------------------------------------------


@router.post("/clinics/{clinic_id}/check-ins", status_code=201)
def check_in(
    clinic: Operator, data: CheckInIn, session: SessionDep, principal: OperatorPrincipal
) -> QueueEntryOut:
    """Check in an arrival by the QR code of their booking (or its reference)."""
    entry = queue.check_in(session=session, actor=principal.username, clinic=clinic, code=data.code)
    return _entry(entry)


@router.get("/clinics/{clinic_id}/queue")
def live_queue(clinic: Operator, session: SessionDep) -> ClinicQueueOut:
    """Today's queue, lane by lane or booth by booth, with estimated waits."""
    state = queue.live_queue(session=session, clinic=clinic)
    return ClinicQueueOut(
        clinic_id=state.clinic_id,
        service_date=state.service_date,
        units=[
            UnitQueueOut(
                unit_id=u.unit_id,
                number=u.number,
                label=u.label,
                in_service=(
                    None
                    if u.in_service is None or u.in_service_reference is None
                    else _entry_out(u.in_service, u.in_service_reference)
                ),
                waiting=[
                    _entry_out(w.entry, w.reference, w.slot_starts_at, w.estimated_wait_min)
                    for w in u.waiting
                ],
                ready_at=u.ready_at,
                mean_service_min=u.mean_service_min,
                estimated_wait_min=u.estimated_wait_min,
            )
            for u in state.units
        ],
        estimated_wait_min=state.estimated_wait_min,
        waiting=state.waiting,
        done_today=state.done_today,
    )


@router.post("/clinics/{clinic_id}/units/{unit_id}/call-next")
def call_next(
    clinic: Operator, unit_id: RecordId, session: SessionDep, principal: OperatorPrincipal
) -> QueueEntryOut | None:
    """Call the next person waiting at a lane or booth (``null`` when nobody waits)."""
    entry = queue.call_next(
        session=session, actor=principal.username, clinic=clinic, unit_id=unit_id
    )
    return None if entry is None else _entry(entry)


@router.post("/queue/{queue_entry_id}/call")
def call(entry: EntryOperator, session: SessionDep, principal: OperatorPrincipal) -> QueueEntryOut:
    return _entry(queue.call(session=session, actor=principal.username, entry_id=entry.id))


@router.post("/queue/{queue_entry_id}/leave")
def leave(entry: EntryOperator, session: SessionDep, principal: OperatorPrincipal) -> QueueEntryOut:
    """Someone left without being tested (their booking becomes a no-show)."""
    return _entry(queue.leave(session=session, actor=principal.username, entry_id=entry.id))


@router.post("/queue/{queue_entry_id}/sample", status_code=201)
def collect_sample(
    entry: EntryOperator, session: SessionDep, principal: OperatorPrincipal
) -> SampleOut:
    """Take the sample: labelled, the service ends and the booth's turnover begins."""
    return SampleOut.model_validate(
        samples.collect(session=session, actor=principal.username, entry_id=entry.id)
    )


# --- samples and results -------------------------------------------------------------------


@router.get("/clinics/{clinic_id}/samples")
def list_samples(
    clinic: Operator,
    session: SessionDep,
    status: SampleStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> list[SampleOut]:
    return [
        SampleOut.model_validate(s)
        for s in samples.list_(session=session, clinic_id=clinic.id, status=status, limit=limit)
    ]


@router.get("/samples/{sample_id}/label.svg", response_class=Response)
def sample_label(sample: SampleOperator, session: SessionDep) -> Response:
    """The sample's printable label (QR code and text; no name)."""
    clinic = clinics.get_or_raise(session=session, clinic_id=sample.clinic_id)
    return Response(content=samples.label_svg(sample, clinic), media_type="image/svg+xml")


@router.post("/clinics/{clinic_id}/samples/send")
def send_samples(
    clinic: Operator, data: SendIn, session: SessionDep, principal: OperatorPrincipal
) -> list[SampleOut]:
    """Samples leave for a lab (all or none)."""
    return [
        SampleOut.model_validate(s)
        for s in samples.send(
            session=session,
            actor=principal.username,
            labels=data.labels,
            lab=data.lab,
            clinic_id=clinic.id,
        )
    ]


@router.post("/clinics/{clinic_id}/samples/receive")
def receive_samples(
    clinic: Operator, data: ReceiveIn, session: SessionDep, principal: OperatorPrincipal
) -> list[SampleOut]:
    """The lab received samples (all or none)."""
    return [
        SampleOut.model_validate(s)
        for s in samples.receive(
            session=session, actor=principal.username, labels=data.labels, clinic_id=clinic.id
        )
    ]


@router.post("/samples/{sample_id}/result")
def enter_result(
    sample: SampleResultWriter, data: ResultIn, session: SessionDep, principal: ResultPrincipal
) -> JSONResponse:
    """Enter a sample's result (201; the same result again: 200, nothing changes). A positive
    result opens a case; the notification goes to the outbox."""
    recorded = samples.record_result(
        session=session,
        actor=principal.username,
        sample_id=sample.id,
        outcome=data.outcome,
        reported_at=data.reported_at,
    )
    out = ResultOut.model_validate(recorded.result).model_copy(update={"created": recorded.created})
    return JSONResponse(
        status_code=201 if recorded.created else 200, content=out.model_dump(mode="json")
    )


def _lab_out(report: samples.LabImportReport) -> LabImportOut:
    return LabImportOut(
        file=report.file,
        rows=report.rows,
        stored=report.stored,
        already_stored=report.already_stored,
        positives=report.positives,
        cases_opened=report.cases_opened,
        errors=[RowErrorOut(line=e.line, field=e.field, reason=e.reason) for e in report.errors],
        accepted=report.accepted,
    )


@router.post(
    "/clinics/{clinic_id}/results/import",
    responses={422: {"description": "Bad rows: nothing stored; every bad row is listed."}},
)
async def import_results(
    clinic: ResultWriter,
    file: Annotated[UploadFile, File(description="A lab's CSV: sample_id,result[,reported_at]")],
    session: SessionDep,
    principal: ResultPrincipal,
    accept_valid: Annotated[bool, Form()] = False,
) -> LabImportOut:
    """Results from a lab's CSV. A file with bad rows is refused whole (422, every bad row
    listed), unless ``accept_valid``: then the good rows are stored and the bad ones listed."""
    from pathlib import Path

    data = await _read_upload(file)
    name = Path(file.filename or "results.csv").name
    try:
        report = samples.import_lab_csv(
            session=session,
            actor=principal.username,
            data=data,
            name=name,
            clinic_id=clinic.id,
            accept_valid=accept_valid,
        )
    except samples.LabFileRefusedError as refused:
        return JSONResponse(  # type: ignore[return-value]
            status_code=422,
            content={"error": str(refused), **_lab_out(refused.report).model_dump(mode="json")},
        )
    return _lab_out(report)


# --- the outbox (administrators) -----------------------------------------------------------


@router.get("/outbox")
def list_outbox(
    session: SessionDep,
    principal: Admin,
    status: OutboxStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[OutboxOut]:
    """Result notifications, newest first (no text, no address)."""
    return [
        OutboxOut.model_validate(m)
        for m in outbox.list_(session=session, status=status, limit=limit)
    ]


@router.post("/outbox/{message_id}/retry")
def retry_message(message_id: RecordId, session: SessionDep, principal: Admin) -> OutboxOut:
    """Put a failed notification back in the queue."""
    return OutboxOut.model_validate(
        outbox.retry(session=session, actor=principal.username, message_id=message_id)
    )
