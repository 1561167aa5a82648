"""Every domain's models, imported together so that metadata and migrations see all tables."""

from citytrace.audit.models import AuditEvent
from citytrace.auth.models import ApiToken, LoginSession, User
from citytrace.cases.models import Case, CaseIdentity
from citytrace.contacts.models import Contact
from citytrace.evidence.models import EvidenceFile
from citytrace.investigation.models import Visit
from citytrace.retention.models import DailyStatistics

__all__ = [
    "ApiToken",
    "AuditEvent",
    "Case",
    "CaseIdentity",
    "Contact",
    "DailyStatistics",
    "EvidenceFile",
    "LoginSession",
    "User",
    "Visit",
]
