"""Scope of clinic staff: each reaches only their own clinic (``Principal.clinic_ref`` names the
clinic's ``reference``). Loaders in the manner of ``case_for``: the record of the path (404 if
absent), the permission, and the clinic's scope (403, audited)."""

# No ``from __future__ import annotations``: FastAPI reads the loaders' annotations, which name
# the permission of their enclosing factory and must be evaluated in place.
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends
from sqlalchemy.orm import Session

from citytrace.api.deps import RecordId, SessionDep
from citytrace.auth.dependencies import deny, require, shared_loader
from citytrace.auth.models import Role
from citytrace.auth.permissions import Permission, Principal
from citytrace.screening import booking as bookings
from citytrace.screening import clinics, queue, samples
from citytrace.screening.models import Booking, Clinic, QueueEntry, Sample

__all__ = [
    "booking_for",
    "check_clinic",
    "clinic_for",
    "entry_for",
    "reaches_clinic",
    "sample_for",
]


def reaches_clinic(principal: Principal, clinic: Clinic) -> bool:
    """Whether ``clinic`` is within the principal's scope: clinic staff their own only."""
    if principal.role == Role.CLINIC_STAFF:
        return principal.clinic_ref is not None and principal.clinic_ref == clinic.reference
    return True


def check_clinic(
    *,
    session: Session,
    principal: Principal,
    permission: Permission,
    clinic: Clinic,
    entity: str = "clinic",
    entity_id: int | None = None,
) -> Clinic:
    """``clinic`` if within scope; otherwise 403 (audited)."""
    if not reaches_clinic(principal, clinic):
        raise deny(
            session=session,
            principal=principal,
            permission=permission,
            reason="scope",
            entity=entity,
            entity_id=clinic.id if entity_id is None else entity_id,
        )
    return clinic


def clinic_for(permission: Permission) -> Callable[..., Clinic]:
    """A dependency giving the path's clinic: 404 if absent, 403 if not the staff's own."""

    def load_clinic(
        clinic_id: RecordId,
        session: SessionDep,
        principal: Annotated[Principal, Depends(require(permission))],
    ) -> Clinic:
        clinic = clinics.get_or_raise(session=session, clinic_id=clinic_id)
        return check_clinic(
            session=session, principal=principal, permission=permission, clinic=clinic
        )

    return shared_loader("clinic", permission, load_clinic)


def booking_for(permission: Permission) -> Callable[..., Booking]:
    """A dependency giving the path's booking: 404 if absent, 403 if of another clinic."""

    def load_booking(
        booking_id: RecordId,
        session: SessionDep,
        principal: Annotated[Principal, Depends(require(permission))],
    ) -> Booking:
        booking = bookings.get_or_raise(session=session, booking_id=booking_id)
        _check_owner(session, principal, permission, booking.clinic_id, "booking", booking.id)
        return booking

    return shared_loader("booking", permission, load_booking)


def sample_for(permission: Permission) -> Callable[..., Sample]:
    """A dependency giving the path's sample: 404 if absent, 403 if of another clinic."""

    def load_sample(
        sample_id: RecordId,
        session: SessionDep,
        principal: Annotated[Principal, Depends(require(permission))],
    ) -> Sample:
        sample = samples.get_or_raise(session=session, sample_id=sample_id)
        _check_owner(session, principal, permission, sample.clinic_id, "sample", sample.id)
        return sample

    return shared_loader("sample", permission, load_sample)


def entry_for(permission: Permission) -> Callable[..., QueueEntry]:
    """A dependency giving the path's queue entry: 404 if absent, 403 if of another clinic."""

    def load_entry(
        queue_entry_id: RecordId,
        session: SessionDep,
        principal: Annotated[Principal, Depends(require(permission))],
    ) -> QueueEntry:
        entry = queue.get_entry_or_raise(session=session, entry_id=queue_entry_id)
        _check_owner(session, principal, permission, entry.clinic_id, "queue_entry", entry.id)
        return entry

    return shared_loader("entry", permission, load_entry)


def _check_owner(
    session: Session,
    principal: Principal,
    permission: Permission,
    clinic_id: int,
    entity: str,
    entity_id: int,
) -> None:
    # A record of a clinic (booking, sample, queue entry): 403 (audited) unless its clinic is
    # within the principal's scope; the denial names the record, not the clinic.
    clinic = clinics.get_or_raise(session=session, clinic_id=clinic_id)
    check_clinic(
        session=session,
        principal=principal,
        permission=permission,
        clinic=clinic,
        entity=entity,
        entity_id=entity_id,
    )
