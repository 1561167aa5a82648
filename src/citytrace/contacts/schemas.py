"""API shapes of contacts and their follow-up."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from citytrace.contacts.models import ContactState, RiskClass
from citytrace.contacts.service import Due, FollowUp


class ContactOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    case_id: int
    person_ref: str
    first_contact_at: datetime
    last_contact_at: datetime
    max_overlap_min: float
    min_distance_m: float
    n_contacts: int
    evidence_kinds: list[str]
    risk_class: RiskClass
    state: ContactState
    quarantine_until_date: date
    identified_at: datetime
    notified_at: datetime | None
    tested_at: datetime | None
    test_result: str | None
    quarantined_at: datetime | None
    released_at: datetime | None
    note: str


class SearchIn(BaseModel):
    distance_m: float = Field(default=20.0, gt=0, le=5000)
    min_overlap_min: float = Field(default=15.0, ge=0, le=24 * 60)


class SearchOut(BaseModel):
    found: int
    new: int
    updated: int
    engine: str | None = Field(
        default=None,
        description="what searched: index (the city's records in memory) or duckdb (read from "
        "the record store, while the index catches up); none without records",
    )
    search_ms: float = Field(description="milliseconds the search itself took")


class TransitionIn(BaseModel):
    state: ContactState
    test_result: str | None = Field(default=None, pattern=r"^(positive|negative|inconclusive)$")
    note: str | None = Field(default=None, max_length=2000)
    override_reason: str | None = Field(
        default=None, max_length=2000, description="Why a rule (release date) is overridden."
    )


class DueOut(BaseModel):
    """A contact whose follow-up needs an action."""

    action: FollowUp = Field(
        description="register_case (tested positive, no case of the person yet), notify, "
        "quarantine (told or tested negative, not in quarantine while it runs) or release "
        "(quarantine over)"
    )
    since: date = Field(description="the local day the action fell due")
    waiting_days: int = Field(description="days waited since (0: due today)")
    case_reference: str
    district_code: str | None
    contact: ContactOut

    @classmethod
    def of(cls, due: Due) -> DueOut:
        return cls(
            action=due.action,
            since=due.since,
            waiting_days=due.waiting_days,
            case_reference=due.case_reference,
            district_code=due.district_code,
            contact=ContactOut.model_validate(due.contact),
        )


class LinkOut(BaseModel):
    """A case linked by transmission."""

    model_config = ConfigDict(from_attributes=True)

    case_id: int
    reference: str
    district_code: str | None
    first_contact_at: datetime


class LinksOut(BaseModel):
    infected_by: list[LinkOut] = Field(
        description="cases whose contact this case's person was, before its confirmation"
    )
    infected: list[LinkOut] = Field(
        description="cases whose persons were this case's contacts, confirmed afterwards"
    )


class ChainCaseOut(BaseModel):
    """A case of a transmission chain."""

    model_config = ConfigDict(from_attributes=True)

    case_id: int
    reference: str
    district_code: str | None
    confirmed_date: date
    generation: int = Field(description="its place in the longest chain of links leading to it")
    infected_by: list[int] = Field(description="cases of the chain it may have been infected by")


class ChainOut(BaseModel):
    """The cluster a case belongs to, case by case (the case alone when it has no link)."""

    links: int = Field(description="contacts of one case of the chain confirmed as another")
    generations: int = Field(description="cases in the longest chain of links")
    cases: list[ChainCaseOut] = Field(description="by generation, then confirmation, then id")
