"""Key rotation without downtime: re-seal every identity and stored file under the current key,
in batches, each batch its own transaction.

Readers never stop working: every ciphertext names its key and the keyring keeps the old keys
until nothing uses them, so a row or file is readable before, during and after its batch. An
interrupted rotation loses nothing (a batch either commits whole or not at all; a file is
replaced by a rename only once its new copy is complete) and running it again resumes with what
is still under an old key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TypeVar

from sqlalchemy.orm import Session

from citytrace.audit import service as audit
from citytrace.cases import service as cases
from citytrace.evidence import service as evidence
from citytrace.security.crypto import Keyring

R = TypeVar("R")


@dataclass(frozen=True)
class KeyUse:
    key_id: str
    in_keyring: bool
    current: bool
    identities: int
    files: int


@dataclass
class RotationResult:
    key_id: str
    identities: int = 0
    files: int = 0
    batches: int = 0
    still_old: dict[str, int] = field(default_factory=dict)


def status(*, session: Session, keyring: Keyring) -> list[KeyUse]:
    """How much data is under each key: the keyring's keys (current first), then any key that
    data names but the keyring does not hold (that data cannot be read)."""
    from collections import Counter

    from citytrace.screening import booking as screening_bookings

    # Sealed identities: of cases, and of people booked for screening.
    identities = Counter(cases.identity_key_counts(session=session))
    identities.update(screening_bookings.booking_key_counts(session=session))
    files = evidence.raw_key_counts(session=session)
    ids = list(keyring.ids) + sorted((set(identities) | set(files)) - set(keyring.ids))
    return [
        KeyUse(
            key_id=key_id,
            in_keyring=key_id in keyring.ids,
            current=key_id == keyring.current_id,
            identities=identities.get(key_id, 0),
            files=files.get(key_id, 0),
        )
        for key_id in ids
    ]


def pending(*, session: Session, keyring: Keyring) -> int:
    """How many identities and files are not under the current key yet."""
    return sum(
        u.identities + u.files for u in status(session=session, keyring=keyring) if not u.current
    )


def rotate(
    *,
    session: Session,
    keyring: Keyring,
    actor: str,
    batch_size: int = 200,
    evidence_dir: Path | None = None,
    on_batch: Callable[[RotationResult], None] | None = None,
) -> RotationResult:
    """Re-seal all data that is not under ``keyring``'s current key.

    ``session`` must not be inside a ``begin()`` block: each batch commits, with an audit event
    (counts only). ``on_batch`` is told the progress after each commit.
    """
    result = RotationResult(key_id=keyring.current_id)

    def batches(step: Callable[[], int], kind: str) -> None:
        while True:
            done = _batch(
                session,
                step,
                lambda n: n,
                actor=actor,
                action="keys.rotate",
                key=keyring.current_id,
                kind=kind,
            )
            if not done:
                return
            setattr(result, kind, getattr(result, kind) + done)
            result.batches += 1
            if on_batch is not None:
                on_batch(result)

    batches(
        lambda: cases.reseal_identities(session=session, keyring=keyring, limit=batch_size),
        "identities",
    )
    from citytrace.screening import booking as screening_bookings

    batches(
        lambda: screening_bookings.reseal_bookings(
            session=session, keyring=keyring, limit=batch_size
        ),
        "identities",
    )
    batches(
        lambda: evidence.reseal_raw_files(
            session=session, keyring=keyring, limit=batch_size, evidence_dir=evidence_dir
        ),
        "files",
    )
    result.still_old = {
        u.key_id: u.identities + u.files
        for u in status(session=session, keyring=keyring)
        if not u.current and u.identities + u.files
    }
    session.commit()
    return result


@dataclass
class RehashResult:
    identities: int = 0  # read
    bookings: int = 0
    changed: int = 0  # hashes made again
    batches: int = 0


def rehash(
    *,
    session: Session,
    keyring: Keyring,
    actor: str,
    batch_size: int = 200,
    on_batch: Callable[[RehashResult], None] | None = None,
) -> RehashResult:
    """Make every stored keyed hash that can be made again (the phone and resident numbers of
    cases, the phone numbers of bookings: each read from its sealed field) with ``keyring``'s
    current hash key, in batches, each its own transaction (with an audit event of counts).

    Lookups recognise the old hash keys meanwhile (:meth:`Keyring.keyed_hashes`), so nothing is
    unfindable at any moment, and an interrupted run loses nothing; running it again redoes what
    is left. Access codes, kept only as hashes, are made again one by one as they are used.
    """
    from citytrace.screening import booking as screening_bookings

    result = RehashResult()
    steps: list[tuple[str, Callable[..., tuple[int, int, int]]]] = [
        ("identities", cases.rehash_identities),
        ("bookings", screening_bookings.rehash_bookings),
    ]
    for kind, step in steps:
        after = 0
        while True:
            after, read, changed = _batch(
                session,
                partial(step, session=session, keyring=keyring, after_id=after, limit=batch_size),
                lambda done: done[2],
                actor=actor,
                action="keys.rehash",
                key="hash",
                kind=kind,
            )
            if not read:
                break
            setattr(result, kind, getattr(result, kind) + read)
            result.changed += changed
            result.batches += 1
            if on_batch is not None:
                on_batch(result)
    return result


def _batch(
    session: Session,
    step: Callable[[], R],
    changed: Callable[[R], int],
    *,
    actor: str,
    action: str,
    key: str,
    kind: str,
) -> R:
    """One batch of a rotation in a transaction of its own: ``step``, an audit event of how many
    ``kind`` it ``changed`` (when any), and the commit; all rolled back if any part fails."""
    try:
        done = step()
        if count := changed(done):
            audit.record(
                session=session,
                actor=actor,
                action=action,
                entity="key",
                entity_id=key,
                detail={kind: count},
            )
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return done
