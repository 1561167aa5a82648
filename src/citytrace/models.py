"""Every domain's models, imported together so that metadata and migrations see all tables."""

from citytrace.audit.models import AuditEvent
from citytrace.cases.models import Case, CaseIdentity
from citytrace.contacts.models import Contact
from citytrace.evidence.models import EvidenceFile
from citytrace.investigation.models import Visit

__all__ = ["AuditEvent", "Case", "CaseIdentity", "Contact", "EvidenceFile", "Visit"]
