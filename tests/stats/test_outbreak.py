"""The outbreak picture: the epidemic curve, clusters linked by transmission, and the time from a
case's registration to its first published place; counts only, through the API for analysts."""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from citytrace.api.app import create_app
from citytrace.api.deps import get_session
from citytrace.audit import service as audit
from citytrace.auth.models import Role
from citytrace.cases import service as cases
from citytrace.cases.models import Case
from citytrace.cases.schemas import CaseCreate
from citytrace.cli.stats import app
from citytrace.contacts import service as contacts
from citytrace.contacts import transmission
from citytrace.disclosure.models import DisclosureSource
from citytrace.errors import InputError
from citytrace.stats import service
from tests.auth.factories import bearer, make_user
from tests.cli_runner import home_session, invoke
from tests.disclosure.public_fixtures import publish
from tests.factories import contact_row


def make(session: Session, confirmed: date, person: str, district: str | None = "11140",
         onset: date | None = None) -> Case:  # fmt: skip
    case = cases.create(
        session=session,
        actor="t",
        data=CaseCreate(confirmed_date=confirmed, symptom_onset_date=onset, district_code=district),
    )
    case.person_ref = person
    session.flush()
    return case


def link(session: Session, source: Case, person: str, day: date) -> None:
    """``person`` was a contact of ``source`` on ``day`` (noon UTC)."""
    start = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    session.add(contact_row(source.id, person, start=start))
    session.flush()


def published(session: Session, case: Case, at: datetime) -> None:
    """A place drawn from the case's route, published at ``at``."""
    entry = publish(session, now=at)
    session.add(
        DisclosureSource(
            entry_id=entry.id,
            case_id=case.id,
            started_at=entry.exposure_start,
            finished_at=entry.exposure_end,
            latitude=37.5,
            longitude=127.0,
        )
    )
    session.flush()


class TestEpidemicCurve:
    def test_every_day_with_a_seven_day_mean(self, session: Session) -> None:
        make(session, date(2020, 3, 2), "a", onset=date(2020, 2, 28))
        make(session, date(2020, 3, 2), "b")
        make(session, date(2020, 3, 5), "c", district="11110", onset=date(2020, 3, 1))
        curve = service.epidemic_curve(session=session)
        assert [(d.day.isoformat(), d.cases) for d in curve] == [
            ("2020-03-02", 2), ("2020-03-03", 0), ("2020-03-04", 0), ("2020-03-05", 1)
        ]  # fmt: skip
        assert [round(d.mean_7d, 3) for d in curve] == [0.286, 0.286, 0.286, 0.429]
        onset = service.epidemic_curve(session=session, by="onset")
        assert [d.cases for d in onset] == [1, 0, 1]  # 28 Feb .. 1 Mar; no onset left out
        jongno = service.epidemic_curve(
            session=session, district_code="11110", start=date(2020, 3, 4), end=date(2020, 3, 6)
        )
        assert [d.cases for d in jongno] == [0, 1, 0]
        assert service.epidemic_curve(session=session, district_code="99999") == []

    def test_a_date_far_off_is_refused_not_spread_over_days(self, session: Session) -> None:
        make(session, date(2020, 3, 2), "a")
        make(session, date(1920, 3, 2), "b")  # a mistyped year
        with pytest.raises(InputError, match=r"36,526 days, from 1920-03-02 to 2020-03-02"):
            service.epidemic_curve(session=session)
        recent = service.epidemic_curve(session=session, last_days=7)
        assert [d.day for d in recent][::6] == [date(2020, 2, 25), date(2020, 3, 2)]
        assert [d.cases for d in recent] == [0] * 6 + [1]
        window = service.epidemic_curve(
            session=session, start=date(1920, 3, 1), end=date(1920, 3, 3)
        )
        assert [d.cases for d in window] == [0, 1, 0]


class TestClusters:
    def test_cases_linked_by_their_contacts(self, session: Session) -> None:
        a = make(session, date(2020, 3, 2), "pa")
        b = make(session, date(2020, 3, 5), "pb", district="11110")
        make(session, date(2020, 3, 8), "pc")
        d = make(session, date(2020, 3, 9), "pd")
        lone = make(session, date(2020, 3, 3), "pe")
        link(session, a, "pb", date(2020, 3, 3))  # a -> b -> c, and a -> d
        link(session, b, "pc", date(2020, 3, 6))
        link(session, a, "pd", date(2020, 3, 3))
        link(session, lone, "pz", date(2020, 3, 3))  # a contact never confirmed
        link(session, d, "pa", date(2020, 3, 9))  # confirmed before that contact: no link
        (cluster,) = service.clusters(session=session)
        assert (cluster.cases, cluster.links, cluster.generations) == (4, 3, 3)
        assert (cluster.first_confirmed, cluster.last_confirmed) == (
            date(2020, 3, 2),
            date(2020, 3, 9),
        )
        assert cluster.districts == {"11110": 1, "11140": 3}
        assert service.clusters(session=session, min_cases=5) == []

    def test_the_day_of_contact_is_seouls(self, session: Session) -> None:
        a = make(session, date(2020, 3, 1), "pa")
        make(session, date(2020, 3, 4), "pb")  # confirmed before the contact's day in Seoul
        make(session, date(2020, 3, 5), "pc")
        late = datetime(2020, 3, 4, 16, 0, tzinfo=UTC)  # 5 March, 01:00 in Seoul
        session.add_all([contact_row(a.id, "pb", start=late), contact_row(a.id, "pc", start=late)])
        session.flush()
        (cluster,) = service.clusters(session=session)
        assert (cluster.cases, cluster.last_confirmed) == (2, date(2020, 3, 5))

    def test_long_chains_and_loops(self) -> None:
        n = 5000  # a chain far longer than Python's recursion allows
        day = {c: date(2020, 3, 1) + timedelta(days=c // 100) for c in range(n)}
        chain = {(c, c + 1) for c in range(n - 1)}
        assert max(transmission.generations(range(n), chain, day).values()) == n
        loop = {(0, 1), (1, 2), (2, 0)}  # odd data: a loop ends the chain
        places = transmission.generations([0, 1, 2], loop, {c: date(2020, 3, 1) for c in range(3)})
        assert places == {0: 1, 1: 2, 2: 3}


class TestTimeliness:
    def test_hours_from_registration_to_first_place(self, session: Session) -> None:
        fast = make(session, date(2020, 3, 2), "a")
        slow = make(session, date(2020, 3, 2), "b", district="11110")
        make(session, date(2020, 3, 2), "c")  # nothing published
        for case, hours in ((fast, [6, 30]), (slow, [48])):
            registered = case.created_at
            for h in hours:
                published(session, case, registered + timedelta(hours=h))
        rows = {t.district_code: t for t in service.timeliness(session=session)}
        assert (rows[None].cases, rows[None].median_hours) == (2, 27.0)
        assert (rows["11140"].cases, rows["11140"].median_hours) == (1, 6.0)
        assert rows["11110"].p90_hours == 48.0


@pytest.fixture
def client(engine: Engine, session: Session) -> Iterator[TestClient]:
    app = create_app(engine)
    app.dependency_overrides[get_session] = lambda: session
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


class TestApi:
    def test_analysts_read_counts_only(self, client: TestClient, session: Session) -> None:
        a = make(session, date(2020, 3, 2), "pa")
        make(session, date(2020, 3, 4), "pb")
        link(session, a, "pb", date(2020, 3, 3))
        analyst = bearer(session, make_user(session, Role.ANALYST, username="analyst"))
        curve = client.get(
            "/api/stats/epidemic-curve", params={"from": "2020-03-01"}, headers=analyst
        )
        assert curve.status_code == 200, curve.text
        assert [d["cases"] for d in curve.json()] == [0, 1, 0, 1]
        (cluster,) = client.get("/api/stats/clusters", headers=analyst).json()
        assert cluster == {
            "cases": 2,
            "links": 1,
            "generations": 2,
            "first_confirmed": "2020-03-02",
            "last_confirmed": "2020-03-04",
            "districts": {"11140": 2},
        }  # no case, person or place in it
        assert client.get("/api/stats/timeliness", headers=analyst).json() == []
        bad = client.get(
            "/api/stats/epidemic-curve",
            params={"from": "2020-03-05", "to": "2020-03-01"},
            headers=analyst,
        )
        assert bad.status_code == 422 and "'to' is before 'from'" in bad.text
        make(session, date(1920, 3, 2), "pc")  # a mistyped year
        far = client.get("/api/stats/epidemic-curve", headers=analyst)
        assert far.status_code == 422 and "36,528 days, from 1920-03-02" in far.text
        one = client.get("/api/stats/clusters", params={"min_cases": 1}, headers=analyst)
        assert one.status_code == 422
        clinic = bearer(session, make_user(session, Role.CLINIC_STAFF, username="clinic"))
        assert client.get("/api/stats/clusters", headers=clinic).status_code == 403

    def test_the_same_figures_as_csv(self, client: TestClient, session: Session) -> None:
        a = make(session, date(2020, 3, 2), "pa", district=None)
        b = make(session, date(2020, 3, 4), "pb")
        link(session, a, "pb", date(2020, 3, 3))
        published(session, b, b.created_at + timedelta(hours=5))
        analyst = bearer(session, make_user(session, Role.ANALYST, username="analyst"))

        def table(path: str, **params: str) -> list[dict[str, str]]:
            got = client.get(path, params={**params, "format": "csv"}, headers=analyst)
            assert got.status_code == 200, got.text
            assert got.headers["content-type"].startswith("text/csv")
            assert got.headers["content-disposition"].startswith("attachment; filename=")
            return list(csv.DictReader(io.StringIO(got.text)))

        curve = table("/api/stats/epidemic-curve")
        as_json = client.get("/api/stats/epidemic-curve", headers=analyst).json()
        assert [(r["day"], int(r["cases"])) for r in curve] == [
            (d["day"], d["cases"]) for d in as_json
        ]
        assert [float(r["mean_7d"]) for r in curve] == pytest.approx(
            [d["mean_7d"] for d in as_json], abs=1e-3
        )
        assert table("/api/stats/clusters") == [
            {
                "cases": "2",
                "links": "1",
                "generations": "2",
                "first_confirmed": "2020-03-02",
                "last_confirmed": "2020-03-04",
                "districts": "none:1;11140:1",
            }
        ]
        rows = table("/api/stats/timeliness")
        assert [(r["district_code"], r["cases"], r["median_hours"]) for r in rows] == [
            ("all", "1", "5.0"),
            ("11140", "1", "5.0"),
        ]
        bad = client.get("/api/stats/clusters", params={"format": "xlsx"}, headers=analyst)
        assert bad.status_code == 422 and "query.format" in bad.text


class TestCommands:
    def test_curve_clusters_timeliness(self) -> None:
        with home_session() as session:
            a = make(session, date(2020, 3, 2), "pa")
            make(session, date(2020, 3, 4), "pb")
            link(session, a, "pb", date(2020, 3, 3))
        shown = invoke(app, "curve")
        assert shown.exit_code == 0, shown.output
        assert shown.output.splitlines()[0].split()[:2] == ["2020-03-02", "1"]
        assert len(shown.output.splitlines()) == 3
        assert "2 cases, 1 links, 2 generations" in invoke(app, "clusters").output
        assert "no case has a published place yet" in invoke(app, "timeliness").output
        curve_csv = invoke(app, "curve", "--csv").output.splitlines()
        assert curve_csv[0] == "day,cases,mean_7d" and curve_csv[1].startswith("2020-03-02,1,")
        assert invoke(app, "clusters", "--csv").output.splitlines() == [
            "cases,links,generations,first_confirmed,last_confirmed,districts",
            "2,1,2,2020-03-02,2020-03-04,11140:2",
        ]
        assert invoke(app, "timeliness", "--csv").output == (
            "district_code,cases,median_hours,p90_hours\n"
        )
        refused = invoke(app, "curve", "--from", "2020-03-05", "--to", "2020-03-01")
        assert refused.exit_code != 0 and "--to is before --from" in str(refused.exception)


class TestCaseLinks:
    def test_infected_by_and_infected(self, session: Session, client: TestClient) -> None:
        a = make(session, date(2020, 3, 2), "pa")
        b = make(session, date(2020, 3, 5), "pb", district="11110")
        c = make(session, date(2020, 3, 8), "pc")
        link(session, a, "pb", date(2020, 3, 3))
        link(session, b, "pc", date(2020, 3, 6))
        link(session, b, "pz", date(2020, 3, 6))  # never confirmed
        link(session, c, "pa", date(2020, 3, 9))  # a was confirmed before: no link
        sources, infected = contacts.transmission_links(session=session, actor="t", case_id=b.id)
        assert [x.reference for x in sources] == [a.reference]
        assert [x.reference for x in infected] == [c.reference]
        assert sources[0].first_contact_at == datetime(2020, 3, 3, 12, tzinfo=UTC)
        first, after = contacts.transmission_links(session=session, actor="t", case_id=a.id)
        assert not first and [x.case_id for x in after] == [b.id]
        (event,) = [e for e in audit.list_(session=session, entity="case", entity_id=b.id)
                    if e.action == "case.links"]  # fmt: skip
        assert event.detail == {"from": 1, "to": 1}

        admin = bearer(session, make_user(session, Role.ADMINISTRATOR, username="admin"))
        got = client.get(f"/api/cases/{b.id}/links", headers=admin)
        assert got.status_code == 200, got.text
        body = got.json()
        assert [x["reference"] for x in body["infected_by"]] == [a.reference]
        assert [x["district_code"] for x in body["infected"]] == ["11140"]
        outsider = bearer(
            session, make_user(session, Role.INVESTIGATOR, username="inv", district_code="11140")
        )
        assert client.get(f"/api/cases/{b.id}/links", headers=outsider).status_code == 403


class TestCaseChain:
    @staticmethod
    def outbreak(session: Session) -> tuple[Case, Case, Case, Case]:
        """a -> b -> c and a -> d; b in another district; a contact never confirmed."""
        a = make(session, date(2020, 3, 2), "pa")
        b = make(session, date(2020, 3, 5), "pb", district="11110")
        c = make(session, date(2020, 3, 8), "pc")
        d = make(session, date(2020, 3, 9), "pd")
        link(session, a, "pb", date(2020, 3, 3))
        link(session, b, "pc", date(2020, 3, 6))
        link(session, a, "pd", date(2020, 3, 4))
        link(session, d, "pz", date(2020, 3, 9))
        return a, b, c, d

    def test_every_case_of_the_cluster_by_generation(self, session: Session) -> None:
        a, b, c, d = self.outbreak(session)
        lone = make(session, date(2020, 3, 3), "pe")
        chain = contacts.transmission_chain(session=session, actor="t", case_id=c.id)
        assert [(m.case_id, m.generation, m.infected_by) for m in chain.cases] == [
            (a.id, 1, ()),
            (b.id, 2, (a.id,)),
            (d.id, 2, (a.id,)),  # same generation: by confirmation
            (c.id, 3, (b.id,)),
        ]
        assert (chain.links, chain.generations) == (3, 3)
        assert chain.references()[b.id] == b.reference and chain.cases[1].district_code == "11110"
        same = contacts.transmission_chain(session=session, actor="t", case_id=d.id)
        assert same.cases == chain.cases  # the same chain from any of its cases
        (cluster,) = service.clusters(session=session)
        assert (cluster.cases, cluster.links, cluster.generations) == (4, 3, 3)

        alone = contacts.transmission_chain(session=session, actor="t", case_id=lone.id)
        assert [(m.case_id, m.generation) for m in alone.cases] == [(lone.id, 1)]
        assert (alone.links, alone.generations) == (0, 1)
        (event,) = [e for e in audit.list_(session=session, entity="case", entity_id=c.id)
                    if e.action == "case.chain"]  # fmt: skip
        assert event.detail == {"cases": 4, "links": 3}

    def test_followed_step_by_step_within_its_own_cluster(
        self, session: Session, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(transmission, "_IN_LIST", 2)  # several IN lists a step
        chain = [make(session, date(2020, 3, 2 + i), f"p{i}") for i in range(6)]
        for source, case in itertools.pairwise(chain):
            link(session, source, case.person_ref or "", source.confirmed_date)
        spread = [make(session, date(2020, 3, 9), f"q{i}") for i in range(5)]
        for case in spread:  # five cases infected by the chain's third
            link(session, chain[2], case.person_ref or "", date(2020, 3, 5))
        other = make(session, date(2020, 3, 3), "x1")
        apart = make(session, date(2020, 3, 6), "x2")
        link(session, other, "x2", date(2020, 3, 4))  # a cluster of its own
        found = transmission.links_around(session=session, case_id=chain[-1].id)
        assert len(found) == 5 + 5 and (other.id, apart.id) not in found
        members = contacts.transmission_chain(session=session, actor="t", case_id=spread[0].id)
        assert {m.case_id for m in members.cases} == {c.id for c in chain + spread}
        assert members.generations == 6 and members.links == 10
        assert transmission.links_around(session=session, case_id=apart.id) == {
            (other.id, apart.id)
        }

    def test_two_possible_sources(self, session: Session) -> None:
        a = make(session, date(2020, 3, 2), "pa")
        b = make(session, date(2020, 3, 4), "pb")
        c = make(session, date(2020, 3, 7), "pc")
        link(session, a, "pb", date(2020, 3, 3))
        link(session, a, "pc", date(2020, 3, 5))
        link(session, b, "pc", date(2020, 3, 5))
        chain = contacts.transmission_chain(session=session, actor="t", case_id=a.id)
        # c may have been infected by a or by b: its generation is that of the longer chain
        assert [(m.case_id, m.generation, m.infected_by) for m in chain.cases] == [
            (a.id, 1, ()),
            (b.id, 2, (a.id,)),
            (c.id, 3, (a.id, b.id)),
        ]

    def test_api_in_the_investigators_scope(self, session: Session, client: TestClient) -> None:
        a, b, c, _ = self.outbreak(session)
        admin = bearer(session, make_user(session, Role.ADMINISTRATOR, username="admin"))
        got = client.get(f"/api/cases/{c.id}/chain", headers=admin)
        assert got.status_code == 200, got.text
        body = got.json()
        assert (body["links"], body["generations"]) == (3, 3)
        assert [(m["reference"], m["generation"]) for m in body["cases"]][:2] == [
            (a.reference, 1),
            (b.reference, 2),
        ]
        assert body["cases"][-1]["infected_by"] == [b.id]
        assert body["cases"][0]["confirmed_date"] == "2020-03-02"
        inside = bearer(
            session, make_user(session, Role.INVESTIGATOR, username="inv", district_code="11140")
        )
        assert client.get(f"/api/cases/{c.id}/chain", headers=inside).status_code == 200
        assert client.get(f"/api/cases/{b.id}/chain", headers=inside).status_code == 403
        assert client.get("/api/cases/999999/chain", headers=admin).status_code == 404
        analyst = bearer(session, make_user(session, Role.ANALYST, username="analyst"))
        assert client.get(f"/api/cases/{c.id}/chain", headers=analyst).status_code == 403


class TestChainCommand:
    def test_chain_printed_and_as_json(self) -> None:
        from citytrace.cli.cases import app as case_app

        with home_session() as session:
            a, b, c, _ = TestCaseChain.outbreak(session)
            ids = (a.id, b.id, c.id)
            refs = (a.reference, b.reference, c.reference)
        shown = invoke(case_app, "chain", str(ids[2]))
        assert shown.exit_code == 0, shown.output
        lines = shown.output.splitlines()
        assert lines[0] == "4 cases, 3 links, 3 generations"
        assert lines[-1].startswith("* generation   3") and f"infected by {refs[1]}" in lines[-1]
        assert lines[1].startswith("  generation   1") and "infected by -" in lines[1]
        as_json = json.loads(invoke(case_app, "chain", str(ids[0]), "--json").output)
        assert [m["case_id"] for m in as_json["cases"]][:2] == [ids[0], ids[1]]
        missing = invoke(case_app, "chain", "999999")
        assert missing.exit_code != 0 and "999999" in (missing.output + str(missing.exception))


class TestGenerations:
    def test_links_followed_in_order_of_confirmation(self) -> None:
        day = {1: date(2020, 3, 5), 2: date(2020, 3, 5), 3: date(2020, 3, 7), 4: date(2020, 3, 4)}
        # 2 -> 1 on one day (registered the other way round), 1 -> 3; 3 -> 4 goes back in time
        places = transmission.generations(day, {(2, 1), (1, 3), (3, 4)}, day)
        assert places == {2: 1, 1: 2, 3: 3, 4: 1}

    def test_mutual_contacts_on_one_day(self) -> None:
        day = {c: date(2020, 3, 5) for c in range(1, 7)}
        links = {(1, 2), (2, 1), (3, 4), (4, 3), (2, 3), (5, 6), (6, 5)}
        places = transmission.generations(day, links, day)
        assert places == {1: 1, 2: 2, 3: 3, 4: 4, 5: 1, 6: 2}
        many = {c: date(2020, 3, 5) for c in range(4000)}  # 2,000 loops of two: no quadratic work
        pairs = {(c, c ^ 1) for c in many}
        assert max(transmission.generations(many, pairs, many).values()) == 2
