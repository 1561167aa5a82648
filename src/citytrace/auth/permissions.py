"""What each role may do: the one table of roles and their permissions, and who is acting.

Every route declares one permission where it is declared (``require(Permission.X)``). Record
scope comes on top: an investigator reaches only the cases of their own district.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from citytrace.auth.models import Role


class Permission(StrEnum):
    PUBLIC = "public"
    """Anyone, signed in or not (rate-limited per client)."""
    SELF = "self"
    """One's own account: who am I, change my password, sign out."""
    CASE_READ = "case:read"
    CASE_WRITE = "case:write"
    CASE_IDENTITY = "case:identity"
    EVIDENCE_WRITE = "evidence:write"
    ROUTE_REVIEW = "route:review"
    CONTACT_READ = "contact:read"
    CONTACT_WRITE = "contact:write"
    AUDIT_READ = "audit:read"
    USER_ADMIN = "user:admin"
    STATS_READ = "stats:read"
    """Aggregates only: counts, never a record of a person."""
    DISCLOSURE_READ = "disclosure:read"
    """Drafts of the public place list and their re-identification risk (no identities)."""
    DISCLOSURE_WRITE = "disclosure:write"
    """Draft, edit, generalise and review entries of the place list."""
    DISCLOSURE_PUBLISH = "disclosure:publish"
    """Approve, publish, correct and withdraw entries of the public place list."""
    CLINIC_ADMIN = "clinic:admin"
    """The registry of screening clinics: import, add, edit, close."""
    CLINIC_OPERATE = "clinic:operate"
    """Run one's own clinic: bookings, arrival queue, check-in, samples."""
    RESULT_WRITE = "result:write"
    """Enter test results of one's own clinic's samples (one by one or a lab's CSV)."""


_INVESTIGATION = frozenset(
    {
        Permission.CASE_READ,
        Permission.CASE_WRITE,
        Permission.CASE_IDENTITY,
        Permission.EVIDENCE_WRITE,
        Permission.ROUTE_REVIEW,
        Permission.CONTACT_READ,
        Permission.CONTACT_WRITE,
    }
)
_BASE = frozenset({Permission.PUBLIC, Permission.SELF})

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMINISTRATOR: frozenset(Permission),
    # Limited to the cases of their own district (see ``reaches_case``).
    # They may see what is drafted from their cases, not publish it.
    Role.INVESTIGATOR: _BASE | _INVESTIGATION | {Permission.STATS_READ, Permission.DISCLOSURE_READ},
    # Routes of cases, to prepare the public disclosure of places; no identity, no edits.
    Role.DISCLOSURE_OFFICER: _BASE
    | {
        Permission.CASE_READ,
        Permission.STATS_READ,
        Permission.DISCLOSURE_READ,
        Permission.DISCLOSURE_WRITE,
        Permission.DISCLOSURE_PUBLISH,
    },
    # Their own clinic only (see ``Principal.clinic_ref``).
    Role.CLINIC_STAFF: _BASE | {Permission.CLINIC_OPERATE, Permission.RESULT_WRITE},
    Role.ANALYST: _BASE | {Permission.STATS_READ},
}

ANONYMOUS_PERMISSIONS: frozenset[Permission] = frozenset({Permission.PUBLIC})


def allows(role: Role | None, permission: Permission) -> bool:
    """Whether ``role`` (``None``: an anonymous visitor) has ``permission``."""
    granted = ANONYMOUS_PERMISSIONS if role is None else ROLE_PERMISSIONS[role]
    return permission in granted


@dataclass(frozen=True)
class Principal:
    """Who is acting on a request: a signed-in user, by session cookie or API token."""

    user_id: int
    username: str
    role: Role
    district_code: str | None = None
    clinic_ref: str | None = None
    via: str = "session"
    """``"session"`` (cookie) or ``"token"`` (bearer)."""
    csrf_secret: str | None = None
    login_session_id: int | None = None

    def __repr__(self) -> str:
        return f"Principal(username={self.username!r}, role={self.role}, via={self.via})"

    @property
    def permissions(self) -> frozenset[Permission]:
        return ROLE_PERMISSIONS[self.role]

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions

    def reaches_district(self, district_code: str | None) -> bool:
        """Whether records of ``district_code`` are within this user's scope."""
        if self.role == Role.INVESTIGATOR:
            return district_code is not None and district_code == self.district_code
        return True
