"""Contacts of a confirmed case, found by the exposure search and followed until release."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from citytrace.db import Base, str_enum, utcnow


class ContactState(StrEnum):
    IDENTIFIED = "identified"
    NOTIFIED = "notified"
    TESTED = "tested"
    IN_QUARANTINE = "in_quarantine"
    RELEASED = "released"


class RiskClass(StrEnum):
    CLOSE = "close"
    CASUAL = "casual"


class Contact(Base):
    __tablename__ = "contact"
    __table_args__ = (UniqueConstraint("case_id", "person_ref"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_file.id", ondelete="CASCADE"), index=True)
    # The person's pseudonymous id in the city's records; identity stays with the record holders.
    person_ref: Mapped[str] = mapped_column(String(64), index=True)
    first_contact_at: Mapped[datetime]
    last_contact_at: Mapped[datetime]
    max_overlap_min: Mapped[float]
    min_distance_m: Mapped[float]
    n_contacts: Mapped[int]
    evidence_kinds: Mapped[list[str]] = mapped_column(JSON, default=list)
    risk_class: Mapped[RiskClass] = mapped_column(str_enum(RiskClass))
    state: Mapped[ContactState] = mapped_column(
        str_enum(ContactState), default=ContactState.IDENTIFIED, index=True
    )
    quarantine_until_date: Mapped[date]
    identified_at: Mapped[datetime] = mapped_column(default=utcnow)
    notified_at: Mapped[datetime | None]
    tested_at: Mapped[datetime | None]
    test_result: Mapped[str | None] = mapped_column(String(20))
    quarantined_at: Mapped[datetime | None]
    released_at: Mapped[datetime | None]
    note: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
