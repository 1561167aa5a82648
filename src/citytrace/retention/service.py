"""The purge: each policy's due records removed in batches, each batch its own transaction with
its audit event (counts only); files deleted after the commit; counts kept for statistics first.

The built-in purgers cover the investigation store: a closed case's evidence and route, venue
check-ins, and contacts whose follow-up has ended. Statistics (cases confirmed, visits, contacts
identified per local day and district) are added to ``statistics_daily`` in the same transaction
that removes the records they were counted from, so they are never lost nor counted twice.

Two purges at once (the scheduler and a command) do not both count a batch: on PostgreSQL each
batch that keeps statistics takes a transaction-level advisory lock before it selects its rows;
on SQLite the second writer's transaction fails and rolls back. (Cutting check-ins keeps no
statistics: done twice, it writes the same file twice.)
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from functools import partial
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

import pyarrow.compute as pc
from sqlalchemy import CursorResult, Delete, Select, delete, exists, func, or_, select, text, update
from sqlalchemy.orm import Session

from citytrace.cases.models import Case, CaseStatus
from citytrace.config import Settings, get_settings
from citytrace.contacts.models import Contact, ContactState
from citytrace.errors import CitytraceError
from citytrace.evidence.models import EvidenceFile
from citytrace.exposure.store import RecordStore
from citytrace.investigation.models import Visit
from citytrace.retention.models import UNKNOWN_DISTRICT, DailyStatistics
from citytrace.retention.policies import (
    POLICIES,
    Counts,
    PurgeContext,
    get_purger,
    register_purger,
)

__all__ = ["DailyCount", "PurgeError", "daily_statistics", "purge"]

log = logging.getLogger(__name__)

_LOCK_CLASS = 0x72657465  # "rete"
Key = tuple[date, str]


def purge(
    *,
    session: Session,
    now: datetime,
    dry_run: bool = False,
    actor: str = "retention",
    settings: Settings | None = None,
    evidence_dir: Path | None = None,
) -> dict[str, Counts | None]:
    """Remove every record that its policy says is due at ``now``; counts per policy.

    ``session`` must not be inside a ``begin()`` block: each batch commits. With ``dry_run``
    nothing changes and the counts are what would be removed. A policy whose purger is not
    registered yet (``published_places`` before the disclosure module) gives ``None``.

    A policy that fails does not stop the others (its batch is rolled back; the batches before
    it stay committed); :class:`PurgeError` names the failed policies once all have run.
    """
    settings = settings or get_settings()
    results: dict[str, Counts | None] = {}
    failed: list[str] = []
    for policy in POLICIES:
        purger = get_purger(policy.name)
        if purger is None:
            results[policy.name] = None
            continue
        context = PurgeContext(
            session=session,
            policy=policy,
            now=now,
            cutoff=policy.cutoff(settings, now),
            dry_run=dry_run,
            batch_size=settings.retention_batch_size,
            evidence_dir=evidence_dir or settings.evidence_dir,
            actor=actor,
        )
        try:
            results[policy.name] = purger(context)
        except Exception as exc:
            session.rollback()
            log.exception("retention policy %s failed", policy.name)
            failed.append(f"{policy.name} ({type(exc).__name__})")
    results["orphan_files"] = _sweep_orphan_files(
        session=session,
        evidence_dir=evidence_dir or settings.evidence_dir,
        dry_run=dry_run,
        actor=actor,
    )
    if failed:
        raise PurgeError(
            f"retention policies failed: {', '.join(failed)}; the others ran (see the log)"
        )
    return results


class PurgeError(CitytraceError):
    """One or more policies failed during a purge; the others ran."""


# Statistics --------------------------------------------------------------------------------


@dataclass(frozen=True)
class DailyCount:
    stat_date: date
    district_code: str
    cases_confirmed: int
    visits: int
    contacts_identified: int


def _local_date(at: datetime, zone: ZoneInfo) -> date:
    return at.astimezone(zone).date()


def _district(code: str | None) -> str:
    return code or UNKNOWN_DISTRICT


def _add_statistics(session: Session, column: str, counts: Counter[Key]) -> None:
    """Add ``counts`` to ``column`` of ``statistics_daily`` (inside the batch's transaction)."""
    if not counts:
        return
    days = {d for d, _ in counts}
    existing = {
        (row.stat_date, row.district_code): row
        for row in session.scalars(
            select(DailyStatistics).where(DailyStatistics.stat_date.in_(days))
        )
    }
    for key, n in sorted(counts.items()):
        row = existing.get(key)
        if row is None:
            row = DailyStatistics(
                stat_date=key[0],
                district_code=key[1],
                cases_confirmed=0,
                visits=0,
                contacts_identified=0,
            )
            session.add(row)
            existing[key] = row
        setattr(row, column, getattr(row, column) + n)
    session.flush()


def daily_statistics(
    *, session: Session, since_date: date | None = None, until_date: date | None = None
) -> list[DailyCount]:
    """Per local day and district: cases confirmed, visits and contacts identified, counting
    both the records still held and those that retention removed (the totals stay the same
    across a purge). ``until_date`` is inclusive."""
    zone = ZoneInfo(get_settings().timezone)
    totals: dict[Key, Counter[str]] = {}

    def add(key: Key, column: str, n: int = 1) -> None:
        if (since_date is None or key[0] >= since_date) and (
            until_date is None or key[0] <= until_date
        ):
            totals.setdefault(key, Counter())[column] += n

    for row in session.scalars(select(DailyStatistics)):
        key = (row.stat_date, row.district_code)
        add(key, "cases_confirmed", row.cases_confirmed)
        add(key, "visits", row.visits)
        add(key, "contacts_identified", row.contacts_identified)
    for confirmed, district in session.execute(
        select(Case.confirmed_date, Case.district_code).where(Case.traces_purged_at.is_(None))
    ):
        add((confirmed, _district(district)), "cases_confirmed")
    for started, district in session.execute(select(Visit.started_at, Visit.district_code)):
        add((_local_date(started, zone), _district(district)), "visits")
    for identified, district in session.execute(
        select(Contact.identified_at, Case.district_code).join(Case, Case.id == Contact.case_id)
    ):
        add((_local_date(identified, zone), _district(district)), "contacts_identified")
    return [
        DailyCount(
            stat_date=key[0],
            district_code=key[1],
            cases_confirmed=c["cases_confirmed"],
            visits=c["visits"],
            contacts_identified=c["contacts_identified"],
        )
        for key, c in sorted(totals.items())
    ]


# Housekeeping ------------------------------------------------------------------------------

ORPHAN_MIN_AGE_S = 3600.0


def _sweep_orphan_files(
    *, session: Session, evidence_dir: Path, dry_run: bool, actor: str
) -> Counts:
    """Delete files of the evidence folder that no evidence row refers to: left by an import
    that failed after writing them, or by a purge interrupted between its commit and its file
    deletions. Only files that have not changed for an hour (by the file system's clock, not
    the purge's ``now``) are touched, so that an import still running keeps its files."""
    from citytrace.audit import service as audit

    if not evidence_dir.is_dir():
        return {"files": 0}
    referenced: set[str] = set()
    for row in session.execute(
        select(EvidenceFile.fixes_path, EvidenceFile.observations_path, EvidenceFile.raw_path)
    ):
        referenced.update(p for p in row if p)
    settled_before = time.time() - ORPHAN_MIN_AGE_S
    orphans = [
        path
        for path in evidence_dir.glob("case-*/*")
        if path.is_file()
        and path.relative_to(evidence_dir).as_posix() not in referenced
        and path.stat().st_mtime < settled_before
    ]
    if orphans and not dry_run:
        audit.record(
            session=session,
            actor=actor,
            action="retention.sweep",
            entity="retention",
            entity_id="orphan_files",
            detail={"files": len(orphans)},
        )
        session.commit()
        for path in orphans:
            path.unlink(missing_ok=True)
    return {"files": len(orphans)}


# Purgers -----------------------------------------------------------------------------------


def _lock(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(:cls, hashtext(current_schema()))"),
            {"cls": _LOCK_CLASS},
        )


def _unlink(root: Path, relative: Iterable[str | None]) -> None:
    for path in relative:
        if path:
            (root / path).unlink(missing_ok=True)


def _remove_files(root: Path, relative: list[str | None], folders: list[Path]) -> None:
    _unlink(root, relative)
    for folder in folders:
        # Not empty (files of records still held) or already gone: leave it.
        with contextlib.suppress(OSError):
            folder.rmdir()


def _count(session: Session, query: Select[int]) -> int:
    return session.scalar(query) or 0


def _delete(session: Session, statement: Delete) -> int:
    result = cast(CursorResult[Any], session.execute(statement))
    return result.rowcount


def _purge_evidence_and_traces(ctx: PurgeContext) -> Counts:
    """A closed case's evidence (rows, Parquet, sealed uploads) and its route, ``days`` after
    the case was closed. The case itself and its identity are kept; ``traces_purged_at`` says
    when its traces went."""
    session = ctx.session
    has_evidence = exists().where(EvidenceFile.case_id == Case.id)
    has_visits = exists().where(Visit.case_id == Case.id)
    due = (
        select(Case.id)
        .where(
            Case.status == CaseStatus.CLOSED,
            Case.closed_at <= ctx.cutoff,
            or_(Case.traces_purged_at.is_(None), has_evidence, has_visits),
        )
        .order_by(Case.id)
    )
    if ctx.dry_run:
        ids = session.scalars(due).all()
        files_of = select(func.count()).where(EvidenceFile.case_id.in_(ids))
        visits_of = select(func.count()).where(Visit.case_id.in_(ids))
        return {
            "cases": len(ids),
            "evidence_files": _count(session, files_of.select_from(EvidenceFile)),
            "visits": _count(session, visits_of.select_from(Visit)),
        }
    zone = ZoneInfo(get_settings().timezone)
    totals: Counter[str] = Counter({"cases": 0, "evidence_files": 0, "visits": 0})
    while True:
        _lock(session)
        ids = list(session.scalars(due.limit(ctx.batch_size)))
        if not ids:
            break
        cases = session.scalars(select(Case).where(Case.id.in_(ids))).all()
        first_time = Counter(
            (c.confirmed_date, _district(c.district_code))
            for c in cases
            if c.traces_purged_at is None
        )
        visits = Counter(
            (_local_date(started, zone), _district(district))
            for started, district in session.execute(
                select(Visit.started_at, Visit.district_code).where(Visit.case_id.in_(ids))
            )
        )
        _add_statistics(session, "cases_confirmed", first_time)
        _add_statistics(session, "visits", visits)
        paths: list[str | None] = []
        for row in session.execute(
            select(
                EvidenceFile.fixes_path, EvidenceFile.observations_path, EvidenceFile.raw_path
            ).where(EvidenceFile.case_id.in_(ids))
        ):
            paths.extend(row)
        n_visits = _delete(session, delete(Visit).where(Visit.case_id.in_(ids)))
        n_files = _delete(session, delete(EvidenceFile).where(EvidenceFile.case_id.in_(ids)))
        session.execute(update(Case).where(Case.id.in_(ids)).values(traces_purged_at=ctx.now))
        folders = [ctx.evidence_dir / f"case-{case_id}" for case_id in ids]
        ctx.after_commit(partial(_remove_files, ctx.evidence_dir, paths, folders))
        counts: Counts = {"cases": len(ids), "evidence_files": n_files, "visits": n_visits}
        ctx.commit_batch(counts)
        totals.update(counts)
    return dict(totals)


def _purge_check_ins(ctx: PurgeContext) -> Counts:
    """Venue check-ins, ``days`` after each check-in (KI-Pass kept them 4 weeks).

    The due rows are cut out of the check-in file's Parquet, which is rewritten (atomically)
    after the commit: if that is interrupted, the next purge finds the rows again. The uploaded
    file they came in holds them too and is deleted at the first cut. The evidence row stays,
    even when empty, so that importing the same file again does not bring the check-ins back.
    """
    from citytrace.evidence.service import (
        SEALED_SUFFIX,
        read_part,
        seal_part_file,
        sealed_part_path,
    )
    from citytrace.security.keys import get_keyring

    session = ctx.session
    keyring = get_keyring()
    candidates = session.scalars(
        select(EvidenceFile)
        .where(EvidenceFile.kind == "checkin", EvidenceFile.observations_path.is_not(None))
        .order_by(EvidenceFile.id)
    ).all()
    totals: Counter[str] = Counter({"check_ins": 0, "files": 0})
    batch: Counter[str] = Counter()

    def commit() -> None:
        if not ctx.dry_run:
            session.flush()
            ctx.commit_batch(dict(batch))
        totals.update(batch)
        batch.clear()

    for evidence in candidates:
        assert evidence.observations_path is not None
        path = ctx.evidence_dir / evidence.observations_path
        if not path.exists():
            continue
        table = read_part(evidence, "observations", ctx.evidence_dir, keyring)
        assert table is not None
        keep = table.filter(pc.greater(table.column("started_at"), ctx.cutoff))
        if keep.num_rows == table.num_rows:
            continue
        batch["check_ins"] += table.num_rows - keep.num_rows
        batch["files"] += 1
        if not ctx.dry_run:
            if evidence.observations_path.endswith(SEALED_SUFFIX):
                # Rewritten after the commit: if that is interrupted, the next purge finds the
                # due rows again.
                ctx.after_commit(
                    partial(seal_part_file, evidence, "observations", keep, path, keyring)
                )
            else:
                # Stored before parts were sealed: sealed now, beside it, and the plain file
                # removed once the row points to the sealed one.
                sealed = sealed_part_path(evidence, "observations")
                seal_part_file(evidence, "observations", keep, ctx.evidence_dir / sealed, keyring)
                ctx.after_commit(partial(_unlink, ctx.evidence_dir, [evidence.observations_path]))
                evidence.observations_path = sealed
            ctx.after_commit(partial(_unlink, ctx.evidence_dir, [evidence.raw_path]))
            evidence.raw_path = None
            evidence.n_observations = keep.num_rows
        if batch["files"] >= ctx.batch_size:
            commit()
    if batch:
        commit()
    return dict(totals)


def _purge_contacts(ctx: PurgeContext) -> Counts:
    """Contacts, ``days`` after their follow-up ended (released)."""
    session = ctx.session
    due = (
        select(Contact.id)
        .where(Contact.state == ContactState.RELEASED, Contact.released_at <= ctx.cutoff)
        .order_by(Contact.id)
    )
    if ctx.dry_run:
        return {"contacts": _count(session, select(func.count()).select_from(due.subquery()))}
    zone = ZoneInfo(get_settings().timezone)
    total = 0
    while True:
        _lock(session)
        ids = list(session.scalars(due.limit(ctx.batch_size)))
        if not ids:
            break
        identified = Counter(
            (_local_date(at, zone), _district(district))
            for at, district in session.execute(
                select(Contact.identified_at, Case.district_code)
                .join(Case, Case.id == Contact.case_id)
                .where(Contact.id.in_(ids))
            )
        )
        _add_statistics(session, "contacts_identified", identified)
        session.execute(delete(Contact).where(Contact.id.in_(ids)))
        ctx.commit_batch({"contacts": len(ids)})
        total += len(ids)
    return {"contacts": total}


def _delete_day(store: RecordStore, day: date) -> None:
    store.delete_day(day)


def _purge_city_records(ctx: PurgeContext) -> Counts:
    """The city's record store (check-ins, payments, cell records, stays of everyone, kept for
    the exposure search): each day file once its whole day is due, ``days`` after its end.

    Files only: a day is removed after the batch's audit event has committed; a purge
    interrupted before that finds the day again."""
    root = get_settings().records_dir
    if not (root / "store.json").is_file():
        return {"days": 0, "records": 0}
    store = RecordStore.open(root)
    cutoff_us = int(ctx.cutoff.timestamp() * 1_000_000)
    due = [day for day in store.days() if store.day_bounds_us(day)[1] <= cutoff_us]
    total: Counter[str] = Counter({"days": 0, "records": 0})
    for start in range(0, len(due), ctx.batch_size):
        batch = due[start : start + ctx.batch_size]
        counts = {"days": len(batch), "records": sum(store.stats(day).rows for day in batch)}
        if not ctx.dry_run:
            for day in batch:
                ctx.after_commit(partial(_delete_day, store, day))
            ctx.commit_batch(counts)
        total.update(counts)
    return dict(total)


register_purger("evidence_and_traces", _purge_evidence_and_traces)
register_purger("city_records", _purge_city_records)
register_purger("check_ins", _purge_check_ins)
register_purger("contacts", _purge_contacts)
