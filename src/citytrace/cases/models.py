"""Confirmed cases. Identity is kept in its own table, apart from the case and its route, and
only as ciphertext (see :mod:`citytrace.cases.service` and :mod:`citytrace.security.crypto`)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from citytrace.db import Base, str_enum, utcnow


class CaseStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class Case(Base):
    __tablename__ = "case_file"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(40), unique=True)
    district_code: Mapped[str | None] = mapped_column(String(10), index=True)
    status: Mapped[CaseStatus] = mapped_column(str_enum(CaseStatus), default=CaseStatus.OPEN)
    symptom_onset_date: Mapped[date | None]
    specimen_collected_date: Mapped[date | None]
    confirmed_date: Mapped[date]
    isolated_date: Mapped[date | None]
    notes: Mapped[str] = mapped_column(Text, default="")
    # The case's own pseudonymous id in the city's records, so that the exposure search does
    # not list the case as its own contact.
    person_ref: Mapped[str | None] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # Set when the status becomes closed (cleared on reopening): retention counts from here.
    closed_at: Mapped[datetime | None]
    # When retention removed the case's evidence and route (its statistics were kept).
    traces_purged_at: Mapped[datetime | None]

    identity: Mapped[CaseIdentity | None] = relationship(
        back_populates="case", cascade="all, delete-orphan", uselist=False
    )


class CaseIdentity(Base):
    """Who the patient is: read only when an investigation needs it, and audited when read.

    Every field is sealed with AES-256-GCM and bound to its column and case; phone and resident
    number also have a keyed hash (HMAC-SHA256 of the digits) for exact-match search.
    """

    __tablename__ = "case_identity"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(
        ForeignKey("case_file.id", ondelete="CASCADE"), unique=True
    )
    # The key every sealed field of the row is under (rotation re-seals rows one by one).
    key_id: Mapped[str] = mapped_column(String(40), index=True)
    full_name_enc: Mapped[bytes] = mapped_column(LargeBinary)
    phone_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    resident_number_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    address_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    phone_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    resident_number_hash: Mapped[str | None] = mapped_column(String(64), index=True)

    case: Mapped[Case] = relationship(back_populates="identity")

    def __repr__(self) -> str:
        return f"CaseIdentity(case_id={self.case_id})"
