"""Cases: every change goes through here and is audited in the caller's transaction.

A patient's identity is stored sealed (AES-256-GCM, each field bound to its column and case) and
is opened only by :func:`read_identity`, which is audited. Phone and resident numbers are found
by exact match through keyed hashes (:func:`find_by_phone`, :func:`find_by_resident_number`),
without opening any row.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citytrace.audit import service as audit
from citytrace.cases.models import Case, CaseIdentity, CaseStatus
from citytrace.cases.schemas import CaseCreate, CaseDates, CaseUpdate, IdentityIn, IdentityOut
from citytrace.config import get_settings
from citytrace.db import utcnow
from citytrace.errors import ConflictError, InputError, NotFoundError, from_validation
from citytrace.investigation.route import DisclosureWindow
from citytrace.security.crypto import Keyring
from citytrace.security.keys import get_keyring

IDENTITY_FIELDS = ("full_name", "phone", "resident_number", "address")
_NOT_DIGIT = re.compile(r"\D")


def get(*, session: Session, case_id: int) -> Case | None:
    return session.get(Case, case_id)


def get_or_raise(*, session: Session, case_id: int) -> Case:
    case = get(session=session, case_id=case_id)
    if case is None:
        raise NotFoundError(f"case {case_id} does not exist")
    return case


def list_(
    *, session: Session, district_code: str | None = None, status: CaseStatus | None = None
) -> Sequence[Case]:
    query = select(Case).order_by(Case.confirmed_date.desc(), Case.id.desc())
    if district_code is not None:
        query = query.where(Case.district_code == district_code)
    if status is not None:
        query = query.where(Case.status == status)
    return session.scalars(query).all()


def _next_reference(session: Session, data: CaseCreate) -> str:
    prefix = f"C{data.confirmed_date:%Y%m%d}-"
    count = session.scalar(select(func.count()).where(Case.reference.like(f"{prefix}%"))) or 0
    return f"{prefix}{count + 1:04d}"


def _check_district(code: str | None) -> None:
    if code is None:
        return
    from citytrace.geo import load_city

    city = load_city(get_settings().city)
    if code not in {d.code for d in city.districts}:
        raise InputError(f"unknown district code {code!r}", location="district_code")


def create(*, session: Session, actor: str, data: CaseCreate) -> Case:
    """Register a confirmed case; its identity, if given, goes to a table of its own."""
    _check_district(data.district_code)
    reference = data.reference or _next_reference(session, data)
    if session.scalar(select(Case.id).where(Case.reference == reference)) is not None:
        raise ConflictError(f"a case with reference {reference!r} already exists")
    case = Case(
        reference=reference,
        district_code=data.district_code,
        symptom_onset_date=data.symptom_onset_date,
        specimen_collected_date=data.specimen_collected_date,
        confirmed_date=data.confirmed_date,
        isolated_date=data.isolated_date,
        notes=data.notes,
    )
    session.add(case)
    session.flush()
    if data.identity is not None:
        # Sealed after the flush: each field is bound to the case's id.
        identity = CaseIdentity(case_id=case.id)
        _seal_identity(identity, data.identity, get_keyring())
        case.identity = identity
        session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="case.create",
        entity="case",
        entity_id=case.id,
        detail={"identity": data.identity is not None},
    )
    return case


def update(*, session: Session, actor: str, case_id: int, data: CaseUpdate) -> Case:
    case = get_or_raise(session=session, case_id=case_id)
    changes: dict[str, Any] = data.model_dump(exclude_unset=True)
    if "district_code" in changes:
        _check_district(changes["district_code"])
    merged = {
        "symptom_onset_date": case.symptom_onset_date,
        "specimen_collected_date": case.specimen_collected_date,
        "confirmed_date": case.confirmed_date,
        "isolated_date": case.isolated_date,
    }
    merged.update({k: v for k, v in changes.items() if k in merged})
    try:
        CaseDates(**merged)
    except ValueError as exc:
        raise from_validation(exc) from None
    if "status" in changes and changes["status"] != case.status:
        case.closed_at = utcnow() if changes["status"] == CaseStatus.CLOSED else None
    for key, value in changes.items():
        setattr(case, key, value)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="case.update",
        entity="case",
        entity_id=case.id,
        detail={"fields": sorted(changes)},
    )
    return case


def read_identity(*, session: Session, actor: str, case_id: int) -> IdentityOut | None:
    """The patient's identity, opened; the read itself is audited."""
    case = get_or_raise(session=session, case_id=case_id)
    audit.record(
        session=session, actor=actor, action="case.identity.read", entity="case", entity_id=case.id
    )
    return None if case.identity is None else _open_identity(case.identity, get_keyring())


def find_by_phone(*, session: Session, actor: str, phone: str) -> Sequence[Case]:
    """The cases whose patient has this phone number (exact match of its digits; ``+82`` is
    read as the domestic ``0``). The search is audited, without the number."""
    return _find(session, actor, "phone", normalise_phone(phone))


def find_by_resident_number(
    *, session: Session, actor: str, resident_number: str
) -> Sequence[Case]:
    """The cases whose patient has this resident registration number (exact match of its
    digits). The search is audited, without the number."""
    return _find(session, actor, "resident_number", normalise_digits(resident_number))


def normalise_digits(value: str) -> str:
    """The digits of ``value``, in order: ``900101-1234567`` and ``9001011234567`` are one."""
    return _NOT_DIGIT.sub("", value)


def normalise_phone(value: str) -> str:
    """The digits of a phone number, with Korea's country code ``+82`` read as the leading ``0``
    of a domestic number, so ``+82 10-1234-5678`` and ``010-1234-5678`` are one."""
    digits = normalise_digits(value)
    if value.strip().startswith("+82") and digits.startswith("82"):
        return "0" + digits[2:]
    return digits


def _find(session: Session, actor: str, by: str, normalised: str) -> Sequence[Case]:
    if not normalised:
        raise InputError("the number has no digits", location=by)
    digests = get_keyring().keyed_hashes(by, normalised)  # old hash keys too, mid-rotation
    column = CaseIdentity.phone_hash if by == "phone" else CaseIdentity.resident_number_hash
    found = session.scalars(
        select(Case).join(CaseIdentity, CaseIdentity.case_id == Case.id).where(column.in_(digests))
    ).all()
    audit.record(
        session=session,
        actor=actor,
        action="case.search",
        entity="case",
        detail={"by": by, "found": len(found), "case_ids": sorted(c.id for c in found)},
    )
    return sorted(found, key=lambda c: c.id)


def _context(case_id: int, field: str) -> bytes:
    return f"case_identity.{field}:{case_id}".encode()


def seal_identity_values(
    keyring: Keyring, case_id: int, values: Mapping[str, str | None]
) -> dict[str, Any]:
    """The stored columns of an identity: each field sealed under the current key and bound to
    its column and case, and the keyed hashes of phone and resident number (used by
    :func:`create`, key rotation and migration 0004)."""
    columns: dict[str, Any] = {"key_id": keyring.current_id}
    for field in IDENTITY_FIELDS:
        columns[f"{field}_enc"] = keyring.seal_text(
            values.get(field), context=_context(case_id, field)
        )
    columns["phone_hash"], columns["resident_number_hash"] = _identity_hashes(
        keyring, values.get("phone"), values.get("resident_number")
    )
    return columns


def _identity_hashes(
    keyring: Keyring, phone: str | None, resident_number: str | None
) -> tuple[str | None, str | None]:
    """The keyed hashes (current hash key) of a phone number and a resident number."""
    digits = normalise_phone(phone or "")
    number = normalise_digits(resident_number or "")
    return (
        keyring.keyed_hash("phone", digits) if digits else None,
        keyring.keyed_hash("resident_number", number) if number else None,
    )


def _seal_identity(row: CaseIdentity, data: IdentityIn, keyring: Keyring) -> None:
    """Seal every field of ``data`` into ``row`` under the current key, with the keyed hashes."""
    for column, value in seal_identity_values(keyring, row.case_id, data.model_dump()).items():
        setattr(row, column, value)


def _open_identity(row: CaseIdentity, keyring: Keyring) -> IdentityOut:
    def open_(field: str) -> str | None:
        sealed = getattr(row, f"{field}_enc")
        return keyring.open_text(sealed, context=_context(row.case_id, field))

    # Validated when it was stored; built as is so that an older row always opens.
    return IdentityOut.model_construct(
        full_name=open_("full_name") or "",
        phone=open_("phone"),
        resident_number=open_("resident_number"),
        address=open_("address"),
    )


def reseal_identities(*, session: Session, keyring: Keyring, limit: int) -> int:
    """Re-seal up to ``limit`` identities that are not under the current key; how many.

    Part of a key rotation (:mod:`citytrace.security.rotation`): the caller commits each batch.
    """
    rows = session.scalars(
        select(CaseIdentity)
        .where(CaseIdentity.key_id != keyring.current_id)
        .order_by(CaseIdentity.id)
        .limit(limit)
        .with_for_update()
    ).all()
    for row in rows:
        _seal_identity(row, _open_identity(row, keyring), keyring)
    session.flush()
    return len(rows)


def rehash_identities(
    *, session: Session, keyring: Keyring, after_id: int, limit: int
) -> tuple[int, int, int]:
    """Make the keyed hashes of up to ``limit`` identities after ``after_id`` (in id order) with
    the current hash key: the last id read, how many were read and how many changed.

    Part of a rotation of the hash key (:func:`citytrace.security.rotation.rehash`): the caller
    commits each batch.
    """
    rows = session.scalars(
        select(CaseIdentity)
        .where(CaseIdentity.id > after_id)
        .order_by(CaseIdentity.id)
        .limit(limit)
        .with_for_update()
    ).all()
    changed = 0
    for row in rows:
        values = _open_identity(row, keyring)
        hashes = _identity_hashes(keyring, values.phone, values.resident_number)
        if hashes != (row.phone_hash, row.resident_number_hash):
            row.phone_hash, row.resident_number_hash = hashes
            changed += 1
    session.flush()
    return (rows[-1].id if rows else after_id), len(rows), changed


def identity_key_counts(*, session: Session) -> dict[str, int]:
    """How many identities are sealed under each key id."""
    rows = session.execute(
        select(CaseIdentity.key_id, func.count()).group_by(CaseIdentity.key_id)
    ).all()
    return {str(key_id): int(count) for key_id, count in rows}


def window(case: Case) -> DisclosureWindow:
    """The case's disclosure window in the configured time zone."""
    settings = get_settings()
    return DisclosureWindow.for_case(
        symptom_onset_date=case.symptom_onset_date,
        specimen_collected_date=case.specimen_collected_date,
        confirmed_date=case.confirmed_date,
        isolated_date=case.isolated_date,
        timezone=settings.timezone,
        days_before=settings.window_days_before_onset,
    )
