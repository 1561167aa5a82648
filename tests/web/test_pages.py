"""The workspace's pages as allowed and refused roles: status codes, CSRF, uploads, review."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pyarrow as pa
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citytrace.audit.models import AuditEvent
from citytrace.auth.models import Role
from citytrace.cases.models import Case
from citytrace.config import get_settings
from citytrace.contacts.models import Contact, ContactState
from citytrace.evidence.models import EvidenceFile
from citytrace.investigation.models import Visit, VisitStatus
from citytrace.web.i18n import CATALOGUES
from tests.auth.factories import DISTRICT, OTHER_DISTRICT, make_user
from tests.factories import contact_row
from tests.web.conftest import BAD_CSV, CHECKIN_CSV, make_case, sign_in

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
INLINE_STYLE = re.compile(r"<style|\sstyle=", re.IGNORECASE)


def _no_inline_code(html: str) -> None:
    assert not INLINE_SCRIPT.search(html)
    assert not INLINE_STYLE.search(html)


def _labelled(html: str) -> None:
    """Every visible form field has a label naming it."""
    ids = re.findall(r'<(?:input|select|textarea)(?![^>]*type="hidden")[^>]*\sid="([^"]+)"', html)
    fields = re.findall(r'<(?:input|select|textarea)(?![^>]*type="hidden")[^>]*>', html)
    assert len(ids) == len(fields)
    for field_id in ids:
        assert f'for="{field_id}"' in html, field_id


def _upload(client: TestClient, case_id: int, csrf: str, name: str, text: str):  # type: ignore[no-untyped-def]
    return client.post(
        f"/cases/{case_id}/evidence",
        data={"csrf_token": csrf},
        files={"file": (name, text.encode())},
        follow_redirects=False,
    )


class TestCatalogue:
    def test_every_key_in_every_language(self) -> None:
        assert set(CATALOGUES["ko"]) == set(CATALOGUES["en"])


class TestLogin:
    def test_anonymous_is_sent_to_the_login_page(self, client: TestClient) -> None:
        resp = client.get("/cases", follow_redirects=False)
        assert resp.status_code == 303
        assert resp.headers["location"] == "/login?next=%2Fcases"
        assert client.get("/", follow_redirects=False).headers["location"] == "/login"

    def test_login_page_in_korean_by_default_english_on_request(self, client: TestClient) -> None:
        page = client.get("/login")
        assert page.status_code == 200 and '<html lang="ko">' in page.text
        assert "로그인" in page.text
        _labelled(page.text)
        _no_inline_code(page.text)
        english = client.get("/login?lang=en")
        assert '<html lang="en">' in english.text and "Sign in" in english.text
        assert english.cookies.get("lang") == "en"
        # The cookie keeps the choice; Accept-Language counts only without one.
        assert '<html lang="en">' in client.get("/login").text
        client.cookies.clear()
        browser = client.get("/login", headers={"Accept-Language": "en-US,en;q=0.9"})
        assert '<html lang="en">' in browser.text

    def test_sign_in_and_out(self, client: TestClient, investigator: str) -> None:
        csrf = sign_in(client, investigator)
        assert client.get("/cases").status_code == 200
        refused = client.post("/logout", data={}, follow_redirects=False)
        assert refused.status_code == 403
        out = client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
        assert out.status_code == 303
        assert client.get("/cases", follow_redirects=False).status_code == 303

    def test_wrong_password_and_forged_form(self, client: TestClient, investigator: str) -> None:
        form = client.get("/login")
        token = re.search(r'name="login_token" value="([^"]+)"', form.text)
        assert token
        wrong = client.post(
            "/login",
            data={"username": investigator, "password": "nope", "login_token": token.group(1)},
        )
        assert wrong.status_code == 401 and 'role="alert"' in wrong.text
        client.cookies.clear()
        forged = client.post(
            "/login", data={"username": investigator, "password": "x", "login_token": "guess"}
        )
        assert forged.status_code == 422

    def test_next_stays_on_this_site(self, client: TestClient, investigator: str) -> None:
        form = client.get("/login?next=//evil.example/")
        assert 'name="next" value="/cases"' in form.text


class TestCases:
    def test_investigator_sees_their_district_only(
        self, client: TestClient, session: Session, investigator: str
    ) -> None:
        mine = make_case(session, reference="MINE-1")
        make_case(session, OTHER_DISTRICT, reference="OTHER-1")
        sign_in(client, investigator)
        page = client.get("/cases")
        assert page.status_code == 200
        assert "MINE-1" in page.text and "OTHER-1" not in page.text
        assert f'href="/cases/{mine.id}"' in page.text
        _no_inline_code(page.text)

    def test_administrator_sees_all(self, client: TestClient, session: Session) -> None:
        make_case(session, reference="MINE-1")
        make_case(session, OTHER_DISTRICT, reference="OTHER-1")
        sign_in(client, make_user(session, Role.ADMINISTRATOR).username)
        page = client.get("/cases")
        assert "MINE-1" in page.text and "OTHER-1" in page.text

    def test_analyst_is_refused_with_a_page(self, client: TestClient, session: Session) -> None:
        sign_in(client, make_user(session, Role.ANALYST).username)
        assert client.get("/", follow_redirects=False).status_code == 200
        page = client.get("/cases")
        assert page.status_code == 403
        assert "text/html" in page.headers["content-type"]

    def test_register_a_case(self, client: TestClient, session: Session, investigator: str) -> None:
        csrf = sign_in(client, investigator)
        form = client.get("/cases/new")
        _labelled(form.text)
        bad = client.post(
            "/cases/new",
            data={
                "csrf_token": csrf,
                "confirmed_date": "2020-03-01",
                "symptom_onset_date": "2020-03-04",
            },
        )
        assert bad.status_code == 422 and 'role="alert"' in bad.text
        resp = client.post(
            "/cases/new",
            data={"csrf_token": csrf, "confirmed_date": "2020-03-05", "district_code": DISTRICT},
            follow_redirects=False,
        )
        assert resp.status_code == 303
        assert client.get(resp.headers["location"]).status_code == 200
        other = client.post(
            "/cases/new",
            data={
                "csrf_token": csrf,
                "confirmed_date": "2020-03-05",
                "district_code": OTHER_DISTRICT,
            },
        )
        assert other.status_code == 403


class TestCasePage:
    def test_other_district_is_refused_and_audited(
        self, client: TestClient, session: Session, outsider: str
    ) -> None:
        case = make_case(session)
        sign_in(client, outsider)
        page = client.get(f"/cases/{case.id}")
        assert page.status_code == 403
        denied = session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "access.denied", AuditEvent.entity_id == str(case.id)
            )
        ).all()
        assert [e.actor for e in denied] == [outsider]
        assert client.get(f"/cases/{case.id}/contacts").status_code == 403
        assert client.get("/cases/999999").status_code == 404

    def test_opening_a_case_or_its_contacts_is_audited(
        self, client: TestClient, session: Session, investigator: str
    ) -> None:
        case = make_case(session)
        sign_in(client, investigator)
        assert client.get(f"/cases/{case.id}").status_code == 200
        assert client.get(f"/cases/{case.id}/contacts").status_code == 200
        reads = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.entity == "case", AuditEvent.entity_id == str(case.id))
            .where(AuditEvent.action.in_(["route.read", "contact.list"]))
            .order_by(AuditEvent.id)
        ).all()
        assert [(e.action, e.actor) for e in reads] == [
            ("route.read", investigator),
            ("contact.list", investigator),
        ]

    def test_upload_builds_the_route(
        self, client: TestClient, session: Session, investigator: str
    ) -> None:
        case = make_case(session)
        csrf = sign_in(client, investigator)
        page = client.get(f"/cases/{case.id}")
        assert page.status_code == 200
        _labelled(page.text)
        _no_inline_code(page.text)
        with_bad_row = CHECKIN_CSV + "2020-03-03T20:00:00,,V-4,Bar,bar,37.56,126.99\n"
        resp = _upload(client, case.id, csrf, "checkins.csv", with_bad_row)
        assert resp.status_code == 303, resp.text
        page = client.get(resp.headers["location"])
        assert page.text.count('class="visit status-proposed"') == 3
        assert 'id="route-map"' in page.text and "Cafe Namsan" in page.text
        # The report of this import names the bad row.
        report = page.text.split('id="import-report"')[1].split("</div>")[0]
        assert "line 5" in report
        # Times are shown in the city's zone.
        assert "10:00–10:50" in page.text
        again = _upload(client, case.id, csrf, "checkins.csv", with_bad_row)
        assert "again=1" in again.headers["location"]

    def test_a_refused_file_shows_its_rows_and_stores_nothing(
        self, client: TestClient, session: Session, investigator: str
    ) -> None:
        case = make_case(session)
        csrf = sign_in(client, investigator)
        resp = _upload(client, case.id, csrf, "bad.csv", BAD_CSV)
        assert resp.status_code == 422
        report = resp.text.split('id="import-report"')[1].split("</table>")[0]
        assert "line 2" in report and "line 3" in report
        assert "bad.csv" in report
        assert str(get_settings().home) not in resp.text  # no server paths in the report
        assert session.scalar(select(func.count()).select_from(EvidenceFile)) == 0
        assert session.scalar(select(func.count()).select_from(Visit)) == 0
        evidence_dir = get_settings().evidence_dir
        assert not evidence_dir.exists() or not any(evidence_dir.rglob("*.*"))

    def test_upload_without_csrf_is_refused(
        self, client: TestClient, session: Session, investigator: str
    ) -> None:
        case = make_case(session)
        sign_in(client, investigator)
        resp = _upload(client, case.id, "forged", "checkins.csv", CHECKIN_CSV)
        assert resp.status_code == 403
        assert session.scalar(select(func.count()).select_from(EvidenceFile)) == 0

    def test_disclosure_officer_reads_without_controls(
        self, client: TestClient, session: Session
    ) -> None:
        case = make_case(session)
        _visits(session, case.id)
        sign_in(client, make_user(session, Role.DISCLOSURE_OFFICER).username)
        page = client.get(f"/cases/{case.id}")
        assert page.status_code == 200
        assert "upload-form" not in page.text and "/confirm" not in page.text
        assert client.get(f"/cases/{case.id}/contacts").status_code == 403


def _visits(session: Session, case_id: int, n: int = 3) -> list[Visit]:
    start = datetime(2020, 3, 3, 1, 0, tzinfo=UTC)
    visits = [
        Visit(
            case_id=case_id,
            started_at=start + timedelta(hours=3 * i),
            finished_at=start + timedelta(hours=3 * i, minutes=40),
            latitude=37.5636,
            longitude=126.9976 + 0.01 * i,
            radius_m=30.0,
            evidence_count=1,
            confidence=0.9,
            venue_name=f"Place {i}",
        )
        for i in range(n)
    ]
    session.add_all(visits)
    session.flush()
    return visits


class TestReview:
    def test_confirm_reject_edit(
        self, client: TestClient, session: Session, investigator: str
    ) -> None:
        case = make_case(session)
        first, second, third = _visits(session, case.id)
        csrf = sign_in(client, investigator)
        ok = client.post(
            f"/visits/{first.id}/confirm", data={"csrf_token": csrf}, follow_redirects=False
        )
        assert ok.status_code == 303
        assert ok.headers["location"].endswith(f"#visit-{first.id}")
        assert (
            client.post(f"/visits/{third.id}/reject", data={"csrf_token": csrf}).status_code == 200
        )
        edited = client.post(
            f"/visits/{second.id}/edit",
            data={
                "csrf_token": csrf,
                "started_at": "2020-03-03T13:00",  # Seoul time: 04:00 UTC
                "finished_at": "2020-03-03T14:30",
                "venue_name": "Corrected Place",
                "note": "card receipt",
            },
        )
        assert edited.status_code == 200
        for visit in (first, second, third):
            session.refresh(visit)
        assert first.status == VisitStatus.CONFIRMED
        assert third.status == VisitStatus.REJECTED
        assert second.status == VisitStatus.CONFIRMED and second.edited
        assert second.started_at == datetime(2020, 3, 3, 4, 0, tzinfo=UTC)
        assert second.venue_name == "Corrected Place" and second.review_note == "card receipt"
        assert "Corrected Place" in edited.text

    def test_bad_edit_is_shown_and_changes_nothing(
        self, client: TestClient, session: Session, investigator: str
    ) -> None:
        case = make_case(session)
        visit = _visits(session, case.id, 1)[0]
        csrf = sign_in(client, investigator)
        resp = client.post(
            f"/visits/{visit.id}/edit",
            data={
                "csrf_token": csrf,
                "started_at": "2020-03-03T15:00",
                "finished_at": "2020-03-03T14:00",
            },
        )
        assert resp.status_code == 422 and 'id="page-error"' in resp.text
        session.refresh(visit)
        assert visit.status == VisitStatus.PROPOSED

    def test_review_needs_csrf_and_the_district(
        self, client: TestClient, session: Session, outsider: str
    ) -> None:
        case = make_case(session)
        visit = _visits(session, case.id, 1)[0]
        csrf = sign_in(client, outsider)
        assert client.post(f"/visits/{visit.id}/confirm", data={}).status_code == 403
        assert (
            client.post(f"/visits/{visit.id}/confirm", data={"csrf_token": csrf}).status_code == 403
        )
        session.refresh(visit)
        assert visit.status == VisitStatus.PROPOSED


class TestContacts:
    def test_search_without_records_finds_none(
        self, client: TestClient, session: Session, investigator: str
    ) -> None:
        case = make_case(session)
        _visits(session, case.id)
        csrf = sign_in(client, investigator)
        page = client.get(f"/cases/{case.id}/contacts")
        assert page.status_code == 200 and 'id="no-contacts"' in page.text
        _labelled(page.text)
        resp = client.post(
            f"/cases/{case.id}/contacts/search",
            data={"csrf_token": csrf, "distance_m": "20", "min_overlap_min": "15"},
            follow_redirects=False,
        )
        assert resp.status_code == 303, resp.text
        page = client.get(resp.headers["location"])
        assert 'id="search-result"' in page.text and 'id="no-contacts"' in page.text
        bad = client.post(
            f"/cases/{case.id}/contacts/search",
            data={"csrf_token": csrf, "distance_m": "-5", "min_overlap_min": "15"},
        )
        assert bad.status_code == 422

    def test_the_search_says_what_searched_and_how_long(
        self, client: TestClient, session: Session, investigator: str
    ) -> None:
        """With the city's records stored, the message names the engine and the milliseconds:
        the store read directly while the service's index is built, then the index."""
        from citytrace.contacts.service import record_index, record_store

        case = make_case(session)
        _visits(session, case.id)
        store = record_store()
        assert store is not None
        visit = session.scalars(select(Visit).where(Visit.case_id == case.id)).first()
        assert visit is not None
        ts = pa.timestamp("us", tz="UTC")
        store.append_day(
            pa.table(
                {
                    "person_id": pa.array([77], pa.int64()),
                    "latitude": [visit.latitude],
                    "longitude": [visit.longitude],
                    "started_at": pa.array([visit.started_at], ts),
                    "finished_at": pa.array([visit.finished_at], ts),
                }
            )
        )
        csrf = sign_in(client, investigator)
        form = {"csrf_token": csrf, "distance_m": "20", "min_overlap_min": "15"}
        ko = CATALOGUES["ko"]
        read, in_memory = (
            ko[f"contacts.searched_{engine}"].split("{ms}")[0] for engine in ("duckdb", "index")
        )
        first = client.post(f"/cases/{case.id}/contacts/search", data=form)
        assert read in first.text or in_memory in first.text
        live = record_index(store)
        assert live is not None
        live.refresh()
        again = client.post(f"/cases/{case.id}/contacts/search", data=form)
        assert again.status_code == 200
        assert re.search(re.escape(in_memory) + r"[\d.,]+ ms", again.text)
        assert "77" in again.text
        assert client.get(f"/cases/{case.id}/contacts?found=1&engine=bogus").status_code == 422

    def test_search_without_a_route_says_so(
        self, client: TestClient, session: Session, investigator: str
    ) -> None:
        case = make_case(session)
        csrf = sign_in(client, investigator)
        resp = client.post(f"/cases/{case.id}/contacts/search", data={"csrf_token": csrf})
        assert resp.status_code == 422 and 'id="page-error"' in resp.text

    def test_transitions(self, client: TestClient, session: Session, investigator: str) -> None:
        case = make_case(session)
        start = datetime(2020, 3, 3, 1, 0, tzinfo=UTC)
        contact = contact_row(case.id, "P-17", start=start)
        session.add(contact)
        session.flush()
        csrf = sign_in(client, investigator)
        page = client.get(f"/cases/{case.id}/contacts")
        assert "P-17" in page.text
        ok = client.post(
            f"/contacts/{contact.id}/transition",
            data={"csrf_token": csrf, "state": "notified"},
            follow_redirects=False,
        )
        assert ok.status_code == 303
        session.refresh(contact)
        assert contact.state == ContactState.NOTIFIED
        wrong = client.post(
            f"/contacts/{contact.id}/transition", data={"csrf_token": csrf, "state": "identified"}
        )
        assert wrong.status_code == 422 and 'id="page-error"' in wrong.text
        session.refresh(contact)
        assert contact.state == ContactState.NOTIFIED


class TestContactsDue:
    def test_worklist_of_my_district_most_urgent_first(
        self, client: TestClient, session: Session, investigator: str
    ) -> None:
        start = datetime(2020, 3, 3, 1, 0, tzinfo=UTC)

        def contact(case_id: int, person: str, state: ContactState, until: date) -> Contact:
            row = contact_row(
                case_id,
                person,
                start=start,
                state=state,
                quarantine_until=until,
                notified_at=None if state == ContactState.IDENTIFIED else start,
                quarantined_at=start if state == ContactState.IN_QUARANTINE else None,
            )
            session.add(row)
            session.flush()
            return row

        mine = make_case(session, reference="MINE-1")
        other = make_case(session, OTHER_DISTRICT, reference="OTHER-1")
        ended = contact(mine.id, "P-1", ContactState.IN_QUARANTINE, date(2020, 3, 17))
        new = contact(mine.id, "P-2", ContactState.IDENTIFIED, date(2020, 3, 17))
        contact(mine.id, "P-3", ContactState.IN_QUARANTINE, date(2020, 3, 30))
        contact(other.id, "P-4", ContactState.IDENTIFIED, date(2020, 3, 17))
        sign_in(client, investigator)
        page = client.get("/contacts/due", params={"on": "2020-03-20", "lang": "en"})
        assert page.status_code == 200
        ids = re.findall(r'<tr id="due-(\d+)"', page.text)
        assert ids == [str(new.id), str(ended.id)]  # notify before release; P-3 not due
        assert "OTHER-1" not in page.text and "P-4" not in page.text
        assert f'href="/cases/{mine.id}/contacts#contact-{new.id}"' in page.text
        assert "notify" in page.text and "release" in page.text
        assert "2 d overdue" in page.text  # quarantine ended on the 17th: release due the 18th
        assert 'href="/contacts/due"' in page.text  # in the navigation
        assert 'value="2020-03-20"' in page.text  # the day asked, in its form
        _no_inline_code(page.text)
        _labelled(page.text)
        quiet = client.get("/contacts/due", params={"on": "2020-03-10"})
        assert 'id="no-due"' not in quiet.text  # the new contact is still to be told
        assert client.get("/contacts/due", params={"on": "someday"}).status_code == 422

    def test_roles_without_contacts_are_refused(self, client: TestClient, session: Session) -> None:
        make_user(session, Role.CLINIC_STAFF, username="clinic")
        sign_in(client, "clinic")
        assert client.get("/contacts/due").status_code == 403


def _person_case(
    session: Session, reference: str, person: str, confirmed: date | None = None
) -> Case:
    """A case of the city's person ``person`` (confirmed on ``confirmed``, if given)."""
    case = make_case(session, reference=reference)
    case.person_ref = person
    if confirmed is not None:
        case.confirmed_date = confirmed
    return case


class TestOutbreak:
    def test_counts_for_those_who_read_statistics(
        self, client: TestClient, session: Session
    ) -> None:
        first = make_case(session, reference="OUT-1")
        first.person_ref = "p1"
        second = make_case(session, OTHER_DISTRICT, reference="OUT-2")
        second.person_ref = "p2"
        session.add(contact_row(first.id, "p2", start=datetime(2020, 3, 4, 1, 0, tzinfo=UTC)))
        session.flush()
        make_user(session, Role.ANALYST, username="analyst")
        sign_in(client, "analyst")
        page = client.get("/outbreak", params={"lang": "en"})
        assert page.status_code == 200
        assert 'id="curve"' in page.text and page.text.count('class="bar"') == 1  # one day
        assert "Clusters linked by transmission" in page.text
        assert 'id="cluster-list"' in page.text and 'id="no-timeliness"' in page.text
        assert "OUT-1" not in page.text and "p2" not in page.text  # counts only
        assert 'href="/outbreak"' in page.text  # in the navigation
        assert 'id="curve-csv" href="/api/stats/epidemic-curve?by=confirmed&amp;format=csv"' in (
            page.text
        )
        assert 'id="clusters-csv"' in page.text and 'id="timeliness-csv"' not in page.text
        download = client.get("/api/stats/clusters", params={"format": "csv"})  # by the cookie
        assert download.status_code == 200 and download.text.startswith("cases,links,")
        _no_inline_code(page.text)
        typo = make_case(session, reference="OUT-0")
        typo.confirmed_date = date(1920, 3, 4)  # a mistyped year: the page shows the last weeks
        session.flush()
        weeks = client.get("/outbreak", params={"lang": "en"})
        assert weeks.status_code == 200 and weeks.text.count('class="bar"') == 56
        onset = client.get("/outbreak", params={"by": "onset"})
        assert onset.status_code == 200 and 'id="curve"' in onset.text
        assert client.get("/outbreak", params={"by": "weekday"}).status_code == 422

    def test_a_case_page_shows_its_transmission(
        self, client: TestClient, session: Session, investigator: str
    ) -> None:
        source = _person_case(session, "SRC-1", "p1")
        later = _person_case(session, "LATER-1", "p2", date(2020, 3, 9))
        session.add(contact_row(source.id, "p2", start=datetime(2020, 3, 4, 1, 0, tzinfo=UTC)))
        session.flush()
        sign_in(client, investigator)
        page = client.get(f"/cases/{source.id}", params={"lang": "en"})
        assert page.status_code == 200 and 'id="links"' in page.text
        assert f'href="/cases/{later.id}">LATER-1</a>' in page.text and "Infected (" in page.text
        other = client.get(f"/cases/{later.id}", params={"lang": "en"})
        assert f'href="/cases/{source.id}">SRC-1</a>' in other.text and "Infected by" in other.text
        _no_inline_code(page.text)
        alone = make_case(session, reference="ALONE-1")
        assert 'id="links"' not in client.get(f"/cases/{alone.id}").text

    def test_a_case_page_shows_its_chain(
        self, client: TestClient, session: Session, investigator: str
    ) -> None:
        first = _person_case(session, "CH-1", "p1")
        second = _person_case(session, "CH-2", "p2", date(2020, 3, 6))
        third = _person_case(session, "CH-3", "p3", date(2020, 3, 9))
        session.add(contact_row(first.id, "p2", start=datetime(2020, 3, 4, 1, 0, tzinfo=UTC)))
        session.add(contact_row(second.id, "p3", start=datetime(2020, 3, 7, 1, 0, tzinfo=UTC)))
        session.flush()
        sign_in(client, investigator)
        page = client.get(f"/cases/{third.id}", params={"lang": "en"})
        assert page.status_code == 200 and 'id="chain"' in page.text
        assert "3 cases, 2 links, 3 generations" in page.text
        chain = page.text.split('id="chain-list"')[1].split("</table>")[0]
        rows = chain.split("<tr")[2:]  # after the header
        assert len(rows) == 3
        assert all(ref in r for r, ref in zip(rows, ("CH-1", "CH-2", "CH-3"), strict=True))
        assert "CH-1" in rows[1] and "CH-3" not in rows[1]  # CH-2, infected by CH-1
        assert f'href="/cases/{first.id}">CH-1</a>' in rows[0]  # two links away
        assert 'aria-current="true"' in rows[2] and "<strong>CH-3</strong>" in rows[2]
        assert f'href="/cases/{second.id}">CH-2</a>' in rows[1] and "CH-2" in rows[2]
        _no_inline_code(page.text)
        alone = make_case(session, reference="ALONE-2")
        assert 'id="chain"' not in client.get(f"/cases/{alone.id}").text

    def test_roles_without_statistics_are_refused(
        self, client: TestClient, session: Session
    ) -> None:
        make_user(session, Role.CLINIC_STAFF, username="clinic")
        sign_in(client, "clinic")
        assert client.get("/outbreak").status_code == 403


class TestMapData:
    def test_outlines_for_signed_in_users_only(self, client: TestClient, investigator: str) -> None:
        assert client.get("/map/districts.json", follow_redirects=False).status_code == 303
        sign_in(client, investigator)
        outlines = client.get("/map/districts.json").json()
        assert outlines["type"] == "FeatureCollection" and len(outlines["features"]) == 25

    def test_leaflet_is_served_from_the_package(self, client: TestClient) -> None:
        assert client.get("/static/leaflet/leaflet.js").status_code == 200
        assert client.get("/static/workspace.js").status_code == 200
