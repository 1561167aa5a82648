"""Tables of the disclosure domain: the public list of places, and (apart) what it came from.

Contract (read by the open-data feed and the public pages):

* :class:`DisclosureEntry` (table ``disclosure_entry``) is the **public store**. It holds no case
  id, person id, sex, age, nationality, residence or per-person order, and nothing from which one
  entry can be joined to another of the same person. Every column may be shown publicly once the
  entry is published, except the officer's working fields named below (``risk_*``,
  ``override_justification``, ``mass_exposure``, ``time_step_min``, ``precision``,
  ``suppression_reason``), which the feed may leave out.
* ``public_id`` is random (uuid4 hex), stable across corrections; ``version`` starts at 1 and
  grows by one on each published correction (``correction_note``, ``corrected_at``).
* Times are UTC. ``exposure_start``/``exposure_end`` are already generalised (floored/ceiled to
  ``time_step_min``). ``expires_at`` is ``last_contact_at`` plus the published-place retention
  (14 days by default); the scheduler turns a published entry ``expired`` at that moment.
* ``disinfected`` is None when no disinfection note is needed (the exposure ended more than 7 days
  before the entry was drafted), else whether the place was disinfected.
* ``latitude``/``longitude``/``road_address`` are None when the officer coarsened the entry to its
  district (``precision == "district"``); ``business_name`` is None when dropped or when the
  business was already named in an earlier entry (named once, for the first linked case).
* Only ``status == published`` entries are public. ``withdrawn``, ``expired`` and ``suppressed``
  entries stay in the table (with ``updated_at`` moved) so that the change feed can tell consumers
  to remove them; see :func:`citytrace.disclosure.service.published_entries` and
  :func:`citytrace.disclosure.service.changes_since`.

:class:`DisclosureSource` (table ``disclosure_source``) is the **investigation plane**: which
visits of which cases an entry was drawn from. It is never exposed publicly.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from citytrace.db import Base, str_enum, utcnow


class EntryStatus(StrEnum):
    DRAFT = "draft"
    APPROVED = "approved"
    PUBLISHED = "published"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"
    SUPPRESSED = "suppressed"


class RiskLevel(StrEnum):
    """The re-identification risk of an entry as last checked."""

    OK = "ok"
    WARNING = "warning"  # shown to the officer; does not block
    BLOCKED = "blocked"  # refused until generalised or overridden with a justification


class Precision(StrEnum):
    """How precisely an entry says where: the place itself, or only its district."""

    PLACE = "place"
    DISTRICT = "district"


class DisclosureEntry(Base):
    """One place and time window of the public list (see the module's contract)."""

    __tablename__ = "disclosure_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    version: Mapped[int] = mapped_column(default=1)
    status: Mapped[EntryStatus] = mapped_column(
        str_enum(EntryStatus), default=EntryStatus.DRAFT, index=True
    )

    district_code: Mapped[str] = mapped_column(String(10), index=True)
    place_kind: Mapped[str] = mapped_column(String(40))
    business_name: Mapped[str | None] = mapped_column(String(200))
    road_address: Mapped[str | None] = mapped_column(String(400))
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]
    exposure_start: Mapped[datetime]
    exposure_end: Mapped[datetime]
    disinfected: Mapped[bool | None]
    notes: Mapped[str] = mapped_column(Text, default="")

    # Public transport: line or route, car, and where and when the ride began and ended.
    transport_line: Mapped[str | None] = mapped_column(String(80))
    transport_car: Mapped[str | None] = mapped_column(String(20))
    boarding_stop: Mapped[str | None] = mapped_column(String(200))
    boarding_at: Mapped[datetime | None]
    alighting_stop: Mapped[str | None] = mapped_column(String(200))
    alighting_at: Mapped[datetime | None]

    last_contact_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)

    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    approved_at: Mapped[datetime | None]
    published_at: Mapped[datetime | None]
    withdrawn_at: Mapped[datetime | None]
    withdrawal_reason: Mapped[str | None] = mapped_column(Text)
    corrected_at: Mapped[datetime | None]
    correction_note: Mapped[str | None] = mapped_column(Text)
    suppressed_at: Mapped[datetime | None]
    suppression_reason: Mapped[str | None] = mapped_column(Text)

    # The officer's working fields.
    mass_exposure: Mapped[bool] = mapped_column(default=False)
    time_step_min: Mapped[int] = mapped_column(default=30)
    precision: Mapped[Precision] = mapped_column(str_enum(Precision), default=Precision.PLACE)
    risk_k: Mapped[int | None]
    risk_level: Mapped[RiskLevel] = mapped_column(str_enum(RiskLevel), default=RiskLevel.OK)
    risk_reason: Mapped[str] = mapped_column(Text, default="")
    risk_checked_at: Mapped[datetime | None]
    override_justification: Mapped[str | None] = mapped_column(Text)

    sources: Mapped[list[DisclosureSource]] = relationship(
        back_populates="entry", cascade="all, delete-orphan"
    )

    def __repr__(self) -> str:
        return f"DisclosureEntry(id={self.id}, status={self.status.value})"


class DisclosureSource(Base):
    """Which visit of which case an entry was drawn from (investigation plane, never public).

    The visit's times and place are copied so that an entry can be generalised again after the
    visit itself has been purged by retention.
    """

    __tablename__ = "disclosure_source"
    __table_args__ = (UniqueConstraint("entry_id", "visit_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(
        ForeignKey("disclosure_entry.id", ondelete="CASCADE"), index=True
    )
    case_id: Mapped[int] = mapped_column(ForeignKey("case_file.id", ondelete="CASCADE"), index=True)
    visit_id: Mapped[int | None] = mapped_column(
        ForeignKey("visit.id", ondelete="SET NULL"), index=True
    )
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime]
    latitude: Mapped[float]
    longitude: Mapped[float]
    district_code: Mapped[str | None] = mapped_column(String(10))
    venue_id: Mapped[str | None] = mapped_column(String(80))
    venue_name: Mapped[str | None] = mapped_column(String(200))
    venue_kind: Mapped[str | None] = mapped_column(String(40))
    address: Mapped[str | None] = mapped_column(String(400))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    entry: Mapped[DisclosureEntry] = relationship(back_populates="sources")
