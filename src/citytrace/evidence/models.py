"""Evidence files attached to a case. The location data itself lives in Parquet files; the file
as uploaded is kept sealed beside them (see :mod:`citytrace.security.crypto`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from citytrace.db import Base, utcnow


class EvidenceFile(Base):
    __tablename__ = "evidence_file"
    __table_args__ = (UniqueConstraint("case_id", "sha256"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_file.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    original_name: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int]
    records_read: Mapped[int]
    records_rejected: Mapped[int]
    n_fixes: Mapped[int]
    n_observations: Mapped[int]
    # Paths relative to the evidence folder of the settings.
    fixes_path: Mapped[str | None] = mapped_column(String(400))
    observations_path: Mapped[str | None] = mapped_column(String(400))
    # The uploaded file, sealed as a stream, and the key it is under (None: not kept, e.g.
    # imported before files were kept, or removed by retention).
    raw_path: Mapped[str | None] = mapped_column(String(400))
    key_id: Mapped[str | None] = mapped_column(String(40), index=True)
    # The first issues found while reading: locations and reasons, no record content.
    issues: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)
    imported_by: Mapped[str] = mapped_column(String(120))
