"""A case's route: visits proposed from the evidence, then reviewed by an investigator."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from citytrace.db import Base, str_enum, utcnow


class VisitStatus(StrEnum):
    PROPOSED = "proposed"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"


class Visit(Base):
    __tablename__ = "visit"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_file.id", ondelete="CASCADE"), index=True)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime]
    latitude: Mapped[float]
    longitude: Mapped[float]
    radius_m: Mapped[float]
    district_code: Mapped[str | None] = mapped_column(String(10))
    neighbourhood_code: Mapped[str | None] = mapped_column(String(12))
    venue_id: Mapped[str | None] = mapped_column(String(80))
    venue_name: Mapped[str | None] = mapped_column(String(200))
    venue_kind: Mapped[str | None] = mapped_column(String(40))
    address: Mapped[str | None] = mapped_column(String(400))
    evidence_kinds: Mapped[list[str]] = mapped_column(JSON, default=list)
    evidence_count: Mapped[int]
    confidence: Mapped[float]
    status: Mapped[VisitStatus] = mapped_column(str_enum(VisitStatus), default=VisitStatus.PROPOSED)
    edited: Mapped[bool] = mapped_column(default=False)
    review_note: Mapped[str] = mapped_column(Text, default="")
    reviewed_by: Mapped[str | None] = mapped_column(String(120))
    reviewed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
