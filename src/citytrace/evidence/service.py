"""Attaching evidence files to a case: read, validate, store as Parquet, keep the file sealed,
record, audit.

Everything stored is sealed: the uploaded file and the Parquet of the fixes and observations read
from it (``*.parquet.sealed``, each bound to its case, content and part, so that one cannot be
passed off as another). Files stored before they were sealed (``*.parquet``) are sealed by
migration 0007 and by the key rotation; :func:`read_part` reads either.

An import is one unit of work: the files it writes are content-addressed (named by the file's
SHA-256), so an import that fails after writing them leaves nothing that a later import would not
write again in its place, and importing the same file again changes nothing. The uploaded file is
kept sealed (AES-256-GCM in chunks, :meth:`citytrace.security.crypto.Keyring.encryptor`) and read
back only through :func:`read_raw`, which is audited.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import and_, case, event, func, or_, select
from sqlalchemy.orm import Session

from citytrace.audit import service as audit
from citytrace.cases import service as cases
from citytrace.config import get_settings
from citytrace.errors import InputError, NotFoundError
from citytrace.evidence.models import EvidenceFile
from citytrace.evidence.readers import (
    FIX_SCHEMA,
    OBSERVATION_SCHEMA,
    EvidenceKind,
    EvidenceRead,
    read_evidence,
)
from citytrace.security.crypto import CHUNK_BYTES, Keyring, stream_key_id
from citytrace.security.keys import get_keyring

MAX_STORED_ISSUES = 200
UNSEALED = "unsealed"
"""The key id reported for stored parts from before parts were sealed."""


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


def _write_file_atomic(target: Path, write: Callable[[BinaryIO], object]) -> None:
    """Write ``target`` through ``write`` under a temporary name, flush it to disk and rename it
    into place, so that a reader sees the old file or the new one, never a part."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_parquet_atomic(table: pa.Table, target: Path) -> None:
    """Write ``table`` to ``target`` as zstd Parquet, atomically."""
    _write_file_atomic(target, lambda out: pq.write_table(table, out, compression="zstd"))


def _raw_context(evidence: EvidenceFile) -> bytes:
    # Binds the sealed file to its case and content: a file moved to another case does not open.
    return f"evidence_file:{evidence.case_id}:{evidence.sha256}".encode()


PARTS = ("fixes", "observations")
SEALED_SUFFIX = ".parquet.sealed"


def _part_context(evidence: EvidenceFile, part: str) -> bytes:
    return f"evidence_file:{evidence.case_id}:{evidence.sha256}:{part}".encode()


def part_path(evidence: EvidenceFile, part: str) -> str | None:
    """Where the Parquet of ``part`` ("fixes" or "observations") is stored, relative."""
    path: str | None = getattr(evidence, f"{part}_path")
    return path


def write_part(
    evidence: EvidenceFile, part: str, table: pa.Table, root: Path, keyring: Keyring
) -> str:
    """Seal ``table`` as the ``part`` of ``evidence`` under the current key, atomically; the
    relative path (also set on ``evidence``)."""
    relative = sealed_part_path(evidence, part)
    seal_part_file(evidence, part, table, root / relative, keyring)
    setattr(evidence, f"{part}_path", relative)
    return relative


def sealed_part_path(evidence: EvidenceFile, part: str) -> str:
    return f"case-{evidence.case_id}/{evidence.sha256}.{part}{SEALED_SUFFIX}"


def seal_part_file(
    evidence: EvidenceFile, part: str, table: pa.Table, target: Path, keyring: Keyring
) -> None:
    """Write ``table`` sealed as the ``part`` of ``evidence`` to ``target``, atomically."""
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd")
    buffer.seek(0)
    context = _part_context(evidence, part)
    _write_file_atomic(target, lambda out: keyring.encrypt_stream(buffer, out, context=context))


def read_part(evidence: EvidenceFile, part: str, root: Path, keyring: Keyring) -> pa.Table | None:
    """The stored table of ``part`` (``None`` when there is none); sealed or, from before files
    were sealed, plain Parquet."""
    relative = part_path(evidence, part)
    if relative is None:
        return None
    path = root / relative
    if not relative.endswith(SEALED_SUFFIX):
        return pq.read_table(path)
    with path.open("rb") as handle:
        plain = b"".join(keyring.decrypt_stream(handle, context=_part_context(evidence, part)))
    return pq.read_table(io.BytesIO(plain))


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
    raw_path = folder / f"{digest}.raw.sealed"
    keyring = get_keyring()
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
        raw_path=raw_path.as_posix(),
        key_id=keyring.current_id,
        issues=[
            {"location": i.location, "reason": i.reason, "severity": i.severity}
            for i in read.issues[:MAX_STORED_ISSUES]
        ],
        imported_by=actor,
    )
    for part, table in (("fixes", read.fixes), ("observations", read.observations)):
        if table.num_rows:
            write_part(evidence, part, table, root, keyring)
    with path.open("rb") as source:
        _write_file_atomic(
            root / raw_path,
            lambda out: keyring.encrypt_stream(source, out, context=_raw_context(evidence)),
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
    keyring = get_keyring()
    tables = {
        part: [t for e in evidence if (t := read_part(e, part, root, keyring)) is not None]
        for part in PARTS
    }
    fixes, observations = tables["fixes"], tables["observations"]
    return (
        pa.concat_tables(fixes) if fixes else FIX_SCHEMA.empty_table(),
        pa.concat_tables(observations) if observations else OBSERVATION_SCHEMA.empty_table(),
    )


def get_or_raise(*, session: Session, evidence_id: int) -> EvidenceFile:
    evidence = session.get(EvidenceFile, evidence_id)
    if evidence is None:
        raise NotFoundError(f"evidence {evidence_id} does not exist")
    return evidence


def read_raw(
    *, session: Session, actor: str, evidence_id: int, evidence_dir: Path | None = None
) -> Iterator[bytes]:
    """The file as it was uploaded, decrypted chunk by chunk, for an investigator.

    The read is audited when this is called (not when the chunks are consumed). Each chunk is
    authenticated before it is given; a file cut short or altered raises
    :class:`citytrace.security.crypto.DecryptionError`, so a consumer writing the chunks out must
    discard what it wrote on an error.
    """
    evidence = get_or_raise(session=session, evidence_id=evidence_id)
    if evidence.raw_path is None:
        raise NotFoundError(
            f"evidence {evidence.id} has no stored file (imported before files were kept, or "
            "removed by retention)"
        )
    path = (evidence_dir or get_settings().evidence_dir) / evidence.raw_path
    keyring = get_keyring()
    context = _raw_context(evidence)
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        raise NotFoundError(f"the stored file of evidence {evidence.id} is missing") from None
    audit.record(
        session=session,
        actor=actor,
        action="evidence.raw.read",
        entity="case",
        entity_id=evidence.case_id,
        detail={"evidence_id": evidence.id},
    )

    def chunks() -> Iterator[bytes]:
        with handle:
            yield from keyring.decrypt_stream(handle, context=context)

    return chunks()


def _needs_sealing(keyring: Keyring) -> Any:
    """Rows with a file stored under an older key, or a part stored before parts were sealed."""
    stored = or_(
        EvidenceFile.raw_path.is_not(None),
        EvidenceFile.fixes_path.is_not(None),
        EvidenceFile.observations_path.is_not(None),
    )
    old_key = or_(EvidenceFile.key_id.is_(None), EvidenceFile.key_id != keyring.current_id)
    plain = or_(
        EvidenceFile.fixes_path.like("%.parquet"), EvidenceFile.observations_path.like("%.parquet")
    )
    return and_(stored, or_(old_key, plain))


def seal_stored_files(*, keyring: Keyring, evidence: EvidenceFile, root: Path) -> list[Path]:
    """Seal every stored file of ``evidence`` under the current key: the uploaded file and the
    parts; a part stored as plain Parquet is sealed beside it. Each file is replaced atomically.
    The plain files that are no longer referenced once the caller commits are returned, for the
    caller to remove after its commit."""
    leftovers: list[Path] = []
    if evidence.raw_path is not None:
        path = root / evidence.raw_path
        if not path.exists():
            raise NotFoundError(
                f"the stored file of evidence {evidence.id} is missing ({evidence.raw_path})"
            )
        _reseal_file(keyring, path, _raw_context(evidence))
    for part in PARTS:
        relative = part_path(evidence, part)
        if relative is None:
            continue
        if relative.endswith(SEALED_SUFFIX):
            _reseal_file(keyring, root / relative, _part_context(evidence, part))
        else:
            table = read_part(evidence, part, root, keyring)
            assert table is not None
            write_part(evidence, part, table, root, keyring)
            leftovers.append(root / relative)
    evidence.key_id = keyring.current_id
    return leftovers


def _reseal_file(keyring: Keyring, path: Path, context: bytes) -> None:
    with path.open("rb") as handle:
        if stream_key_id(handle) == keyring.current_id:
            return  # replaced before an interruption: only the row was left to update

    def reseal(out: BinaryIO) -> None:
        encryptor = keyring.encryptor(out, context=context, chunk_bytes=CHUNK_BYTES)
        with path.open("rb") as handle:
            for chunk in keyring.decrypt_stream(handle, context=context):
                encryptor.update(chunk)
        encryptor.finalize()

    _write_file_atomic(path, reseal)


def reseal_raw_files(
    *, session: Session, keyring: Keyring, limit: int, evidence_dir: Path | None = None
) -> int:
    """Re-seal the stored files of up to ``limit`` evidence rows that are not all under the
    current key (or have parts from before parts were sealed); how many rows.

    Part of a key rotation: each file is decrypted and sealed again into a temporary file that
    replaces it atomically, so readers always find a whole file under a key the keyring holds.
    The file's header names its key, so a file replaced before an interruption (and before the
    caller committed its new ``key_id``) is recognised and only its row is updated on the next
    run. Plain files that were sealed are removed once the batch is committed.
    """
    root = evidence_dir or get_settings().evidence_dir
    rows = session.scalars(
        select(EvidenceFile)
        .where(_needs_sealing(keyring))
        .order_by(EvidenceFile.id)
        .limit(limit)
        .with_for_update()
    ).all()
    leftovers: list[Path] = []
    for evidence in rows:
        leftovers += seal_stored_files(keyring=keyring, evidence=evidence, root=root)
    session.flush()
    if leftovers:

        def remove(_session: Session) -> None:
            for path in leftovers:
                path.unlink(missing_ok=True)

        event.listen(session, "after_commit", remove, once=True)
    return len(rows)


def raw_key_counts(*, session: Session) -> dict[str, int]:
    """How many evidence rows have their stored files under each key id (a row with a part
    from before parts were sealed counts under ``"unsealed"``)."""
    stored = or_(
        EvidenceFile.raw_path.is_not(None),
        EvidenceFile.fixes_path.is_not(None),
        EvidenceFile.observations_path.is_not(None),
    )
    plain = or_(
        EvidenceFile.fixes_path.like("%.parquet"), EvidenceFile.observations_path.like("%.parquet")
    )
    label = case((plain, UNSEALED), else_=func.coalesce(EvidenceFile.key_id, UNSEALED))
    rows = session.execute(select(label, func.count()).where(stored).group_by(label)).all()
    return {str(key_id): count for key_id, count in rows}


def delete_files_of_case(*, case_id: int, evidence_dir: Path | None = None) -> None:
    """Remove the stored location data of a case (used when a case is purged)."""
    root = evidence_dir or get_settings().evidence_dir
    shutil.rmtree(root / f"case-{case_id}", ignore_errors=True)
