"""Every domain's models, imported together so that metadata and migrations see all tables."""

from citytrace.audit.models import AuditEvent
from citytrace.auth.models import ApiToken, LoginSession, User
from citytrace.cases.models import Case, CaseIdentity
from citytrace.contacts.models import Contact
from citytrace.disclosure.models import DisclosureEntry, DisclosureSource
from citytrace.evidence.models import EvidenceFile
from citytrace.investigation.models import Visit
from citytrace.retention.models import DailyStatistics
from citytrace.screening.models import (
    Booking,
    Clinic,
    OutboxMessage,
    QueueEntry,
    Result,
    Sample,
    SlotClaim,
    Unit,
)

__all__ = [
    "ApiToken",
    "AuditEvent",
    "Booking",
    "Case",
    "CaseIdentity",
    "Clinic",
    "Contact",
    "DailyStatistics",
    "DisclosureEntry",
    "DisclosureSource",
    "EvidenceFile",
    "LoginSession",
    "OutboxMessage",
    "QueueEntry",
    "Result",
    "Sample",
    "SlotClaim",
    "Unit",
    "User",
    "Visit",
]
