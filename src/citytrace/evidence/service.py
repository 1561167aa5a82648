"""Attaching evidence files to a case: read, validate, store as Parquet, record, audit.

An import is one unit of work: the Parquet files are content-addressed (named by the file's
SHA-256), so an import that fails after writing them leaves nothing that a later import would not
write identically, and importing the same file again changes nothing.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import select
from sqlalchemy.orm import Session

from citytrace.audit import service as audit
from citytrace.cases import service as cases
from citytrace.config import get_settings
from citytrace.errors import InputError
from citytrace.evidence.models import EvidenceFile
from citytrace.evidence.readers import (
    FIX_SCHEMA,
    OBSERVATION_SCHEMA,
    EvidenceKind,
    EvidenceRead,
    read_evidence,
)

MAX_STORED_ISSUES = 200


@dataclass(frozen=True)
class AttachResult:
    evidence: EvidenceFile
    created: bool  # False when the same file was already attached to the case
    read: EvidenceRead | None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_atomic(table: pa.Table, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
    os.close(fd)
    try:
        pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def list_(*, session: Session, case_id: int) -> Sequence[EvidenceFile]:
    return session.scalars(
        select(EvidenceFile).where(EvidenceFile.case_id == case_id).order_by(EvidenceFile.id)
    ).all()


def attach(
    *,
    session: Session,
    actor: str,
    case_id: int,
    path: Path,
    original_name: str | None = None,
    kind: EvidenceKind | None = None,
    assume_tz: str | None = None,
    evidence_dir: Path | None = None,
) -> AttachResult:
    """Read ``path`` and attach what it holds to the case; a file already attached is skipped."""
    case = cases.get_or_raise(session=session, case_id=case_id)
    limit_mb = get_settings().max_evidence_mb
    size = path.stat().st_size
    if size > limit_mb * 1024 * 1024:
        raise InputError(
            f"the file is {size / 2**20:,.0f} MB, more than the {limit_mb:,} MB an import may be "
            "(CITYTRACE_MAX_EVIDENCE_MB); split the export by period and import the parts",
            path=original_name or path.name,
        )
    digest = sha256_of(path)
    existing = session.scalar(
        select(EvidenceFile).where(EvidenceFile.case_id == case.id, EvidenceFile.sha256 == digest)
    )
    if existing is not None:
        return AttachResult(evidence=existing, created=False, read=None)
    read = read_evidence(path, kind, assume_tz=assume_tz)
    root = evidence_dir or get_settings().evidence_dir
    folder = Path(f"case-{case.id}")
    fixes_path = observations_path = None
    if read.fixes.num_rows:
        fixes_path = folder / f"{digest}.fixes.parquet"
        _write_atomic(read.fixes, root / fixes_path)
    if read.observations.num_rows:
        observations_path = folder / f"{digest}.observations.parquet"
        _write_atomic(read.observations, root / observations_path)
    evidence = EvidenceFile(
        case_id=case.id,
        kind=str(read.kind),
        original_name=(original_name or path.name)[:255],
        sha256=digest,
        size_bytes=path.stat().st_size,
        records_read=read.records_read,
        records_rejected=read.records_rejected,
        n_fixes=read.fixes.num_rows,
        n_observations=read.observations.num_rows,
        fixes_path=None if fixes_path is None else fixes_path.as_posix(),
        observations_path=None if observations_path is None else observations_path.as_posix(),
        issues=[
            {"location": i.location, "reason": i.reason, "severity": i.severity}
            for i in read.issues[:MAX_STORED_ISSUES]
        ],
        imported_by=actor,
    )
    session.add(evidence)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="evidence.attach",
        entity="case",
        entity_id=case.id,
        detail={
            "evidence_id": evidence.id,
            "kind": evidence.kind,
            "fixes": evidence.n_fixes,
            "observations": evidence.n_observations,
            "rejected": evidence.records_rejected,
        },
    )
    return AttachResult(evidence=evidence, created=True, read=read)


def load(
    evidence: Sequence[EvidenceFile], *, evidence_dir: Path | None = None
) -> tuple[pa.Table, pa.Table]:
    """All fixes and all observations of these evidence files, each as one table."""
    root = evidence_dir or get_settings().evidence_dir
    fixes = [pq.read_table(root / e.fixes_path) for e in evidence if e.fixes_path]
    observations = [
        pq.read_table(root / e.observations_path) for e in evidence if e.observations_path
    ]
    return (
        pa.concat_tables(fixes) if fixes else FIX_SCHEMA.empty_table(),
        pa.concat_tables(observations) if observations else OBSERVATION_SCHEMA.empty_table(),
    )


def delete_files_of_case(*, case_id: int, evidence_dir: Path | None = None) -> None:
    """Remove the stored location data of a case (used when a case is purged)."""
    root = evidence_dir or get_settings().evidence_dir
    shutil.rmtree(root / f"case-{case_id}", ignore_errors=True)
