"""`citytrace disclosure draft|review|edit|override|approve|publish|withdraw|export` on the
embedded database of the test's home, as an officer runs them."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from pathlib import Path

from citytrace.cli.disclosure import app
from citytrace.db import utcnow
from citytrace.errors import ConflictError, InputError
from tests.cli_runner import home_session, invoke
from tests.disclosure.officer import make_case, make_visit


def a_case_with_a_visit() -> int:
    visit_at = (utcnow() - timedelta(days=1)).replace(second=0, microsecond=0)
    with home_session() as session:
        case = make_case(session, onset=visit_at.date() - timedelta(days=1))
        make_visit(session, case, at=visit_at)
        make_visit(
            session, case, at=visit_at + timedelta(hours=2), kind="home", name=None, venue_id=None
        )
        return case.id


class TestCommands:
    def test_from_draft_to_open_data(self, tmp_path: Path) -> None:
        case_id = a_case_with_a_visit()
        drafted = invoke(app, "draft", str(case_id), "--json")
        assert drafted.exit_code == 0, drafted.output
        result = json.loads(drafted.output)
        (entry_id,) = result["created"]
        assert [s["reason"] for s in result["skipped"]] == ["residence"]

        review = invoke(app, "review")
        assert f"#{entry_id} [draft]" in review.output
        assert "risk blocked k=?: no population data" in review.output

        refused = invoke(app, "approve", str(entry_id))
        assert isinstance(refused.exception, ConflictError)
        assert "no population data" in str(refused.exception)
        assert isinstance(invoke(app, "publish", str(entry_id)).exception, ConflictError)

        generalised = invoke(app, "edit", str(entry_id), "--time-step-min", "60", "--hide-name")
        assert generalised.exit_code == 0, generalised.output
        assert " - | Sejong-daero 110" in generalised.output
        overridden = invoke(
            app, "override", str(entry_id), "--justification", "no records loaded in this city"
        )
        assert "risk warning" in overridden.output
        assert invoke(app, "approve", str(entry_id)).exit_code == 0
        assert "published [" in invoke(app, "publish", str(entry_id)).output

        out = tmp_path / "places.geojson"
        exported = invoke(app, "export", "--format", "geojson", "--output", str(out))
        assert exported.exit_code == 0, exported.output
        document = json.loads(out.read_bytes())
        assert document["type"] == "FeatureCollection" and len(document["features"]) == 1
        shown = set(document["features"][0]["properties"])
        assert not shown & {"case_id", "visit_id", "person_ref", "sex", "age", "order"}
        assert document["features"][0]["properties"]["business_name"] is None  # hidden
        as_csv = invoke(app, "export", "--format", "csv")
        rows = list(csv.DictReader(io.StringIO(as_csv.output)))
        assert len(rows) == 1 and "case_id" not in rows[0]

        refused = invoke(app, "withdraw", str(entry_id + 1000), "--reason", "wrong")
        assert refused.exit_code != 0
        withdrawn = invoke(app, "withdraw", str(entry_id), "--reason", "wrong place")
        assert f"#{entry_id} [withdrawn]" in withdrawn.output
        again = invoke(app, "withdraw", str(entry_id), "--reason", "again")
        assert isinstance(again.exception, ConflictError)
        assert "only a published entry can be withdrawn" in str(again.exception)
        after = json.loads(invoke(app, "export", "--format", "json").output)
        assert after["count"] == 0

    def test_bad_input_is_named(self, tmp_path: Path) -> None:
        case_id = a_case_with_a_visit()
        with home_session() as session:
            make_case(session)
        no_route = invoke(app, "draft", str(case_id + 1))
        assert isinstance(no_route.exception, InputError)
        assert "has no route" in str(no_route.exception)
        bad_format = invoke(app, "export", "--format", "xml")
        assert bad_format.exit_code == 2
        folder = invoke(app, "export", "--format", "json", "--output", str(tmp_path))
        assert isinstance(folder.exception, InputError)
        bad_step = invoke(app, "edit", "1", "--time-step-min", "0")
        assert isinstance(bad_step.exception, InputError)
        assert "time_step_min" in str(bad_step.exception)
