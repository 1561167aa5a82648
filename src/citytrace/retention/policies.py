"""The retention policies, and the registry of purgers through which each domain removes its
records when they are due.

A policy says how many days after which moment a kind of record is kept. A record is due when
``moment + days <= now``: the purge computes ``cutoff = now - days`` and each purger removes the
records whose moment is at or before the cutoff. ``now`` is always passed in (never read from the
clock here), so that tests can set it to a second before and after a due time.

A domain that holds personal records registers a purger for its policy with
:func:`register_purger`; the disclosure module does so for ``published_places`` (until it exists
that policy has no purger and the purge reports it as such).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from citytrace.config import Settings

__all__ = [
    "POLICIES",
    "Counts",
    "Policy",
    "PurgeContext",
    "Purger",
    "get_purger",
    "register_purger",
    "registered_purger",
    "unregister_purger",
]

Counts = dict[str, int]


@dataclass(frozen=True)
class Policy:
    """How long one kind of record is kept: ``days`` (from the settings) after ``after``."""

    name: str
    setting: str
    after: str
    covers: str

    def days(self, settings: Settings) -> int:
        value: int = getattr(settings, self.setting)
        return value

    def cutoff(self, settings: Settings, now: datetime) -> datetime:
        """Records whose moment is at or before this are due."""
        if now.tzinfo is None:
            raise ValueError("the purge's `now` must be timezone-aware")
        return now - timedelta(days=self.days(settings))


POLICIES: tuple[Policy, ...] = (
    Policy(
        name="evidence_and_traces",
        setting="retention_evidence_days",
        after="the case is closed",
        covers="evidence files (Parquet and sealed uploads), their records, and route visits",
    ),
    Policy(
        name="check_ins",
        setting="retention_checkin_days",
        after="the check-in",
        covers="venue check-in observations (and the uploaded file they came in)",
    ),
    Policy(
        name="city_records",
        setting="retention_city_record_days",
        after="the day of the record",
        covers="the city's records for the exposure search (check-ins, card payments, cell "
        "records, stays), a day file at a time, once the whole day is due",
    ),
    Policy(
        name="contacts",
        setting="retention_contact_days",
        after="the contact's follow-up ends (release)",
        covers="contacts of cases",
    ),
    Policy(
        name="published_places",
        setting="retention_published_place_days",
        after="the last contact at the place",
        covers="entries of the public list of places",
    ),
    Policy(
        name="screening",
        setting="retention_screening_days",
        after="the booking closed (cancelled, no-show, or its result stored and notified)",
        covers="screening bookings (the person's sealed name, phone and e-mail) with their slot, "
        "queue entry, sample, result and notifications",
    ),
)


@dataclass
class PurgeContext:
    """What a purger gets: the session (each batch is its own transaction), the cutoff, and
    whether to only count."""

    session: Session
    policy: Policy
    now: datetime
    cutoff: datetime
    dry_run: bool
    batch_size: int
    evidence_dir: Path
    actor: str
    _after_commit: list[Callable[[], None]] = field(default_factory=list)

    def after_commit(self, action: Callable[[], None]) -> None:
        """Run ``action`` (e.g. delete a file) once the current batch has committed."""
        self._after_commit.append(action)

    def commit_batch(self, counts: Counts) -> None:
        """Audit the batch (counts only), commit it, then run its after-commit actions."""
        from citytrace.audit import service as audit

        audit.record(
            session=self.session,
            actor=self.actor,
            action="retention.purge",
            entity="retention",
            entity_id=self.policy.name,
            detail={"cutoff": self.cutoff.isoformat(), **counts},
        )
        self.session.commit()
        actions, self._after_commit = self._after_commit, []
        for action in actions:
            action()


Purger = Callable[[PurgeContext], Counts]
"""Removes (or with ``dry_run`` only counts) the records at or before ``cutoff``, in batches
committed through :meth:`PurgeContext.commit_batch`; returns counts by kind of record."""

_PURGERS: dict[str, Purger] = {}


def _policy(name: str) -> Policy:
    for policy in POLICIES:
        if policy.name == name:
            return policy
    raise KeyError(f"no retention policy {name!r}; the policies are {[p.name for p in POLICIES]}")


def register_purger(policy_name: str, purger: Purger) -> None:
    """Make ``purger`` the one that removes the records of ``policy_name``."""
    _policy(policy_name)
    _PURGERS[policy_name] = purger


def unregister_purger(policy_name: str) -> None:
    _PURGERS.pop(policy_name, None)


def get_purger(policy_name: str) -> Purger | None:
    return _PURGERS.get(policy_name)


@contextmanager
def registered_purger(policy_name: str, purger: Purger) -> Iterator[None]:
    """Register ``purger`` for the duration of the block (the one before comes back after)."""
    before = _PURGERS.get(policy_name)
    register_purger(policy_name, purger)
    try:
        yield
    finally:
        if before is None:
            unregister_purger(policy_name)
        else:
            _PURGERS[policy_name] = before
