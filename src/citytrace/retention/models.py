"""Counts kept for statistics when retention removes the records they were counted from."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from citytrace.db import Base, utcnow

UNKNOWN_DISTRICT = "unknown"


class DailyStatistics(Base):
    """Per local day and district, the counts of records that retention has removed.

    Totals are these plus the records still held: see
    :func:`citytrace.retention.service.daily_statistics`. Counts only, never a record of a
    person.
    """

    __tablename__ = "statistics_daily"
    __table_args__ = (UniqueConstraint("stat_date", "district_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    stat_date: Mapped[date]
    district_code: Mapped[str] = mapped_column(String(10))
    cases_confirmed: Mapped[int] = mapped_column(default=0)
    visits: Mapped[int] = mapped_column(default=0)
    contacts_identified: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
