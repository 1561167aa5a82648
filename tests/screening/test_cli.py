"""The `citytrace screening` commands, in process, on the test's own embedded database."""

from __future__ import annotations

import json
import re
from pathlib import Path

from citytrace.cli.screening import app
from citytrace.screening import clinics, queue, samples
from citytrace.screening.models import Sample
from tests.cli_runner import home_session, invoke


def test_import_and_list_the_clinics() -> None:
    first = invoke(app, "clinics", "import")
    assert first.exit_code == 0, first.output
    assert "clinics: 615 (conventional 566, drive_through 49)" in first.output
    assert "placed by district (seoul outlines): 68" in first.output
    assert "duplicates merged: 49" in first.output
    assert "screening_clinics_info.csv, line 613: " in first.output
    again = json.loads(invoke(app, "clinics", "import", "--json").output)
    assert (again["created"], again["unchanged"]) == (0, 615)
    listed = invoke(app, "clinics", "list", "--province", "서울", "--kind", "drive_through")
    assert listed.output.strip().endswith("3 clinics")
    bad = invoke(app, "clinics", "list", "--kind", "boat")
    assert bad.exit_code != 0 and "unknown kind 'boat'" in str(bad.exception)


def test_import_names_the_bad_file(tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("a,b\n", encoding="utf-8")
    result = invoke(app, "clinics", "import", str(wrong))
    assert result.exit_code != 0
    assert f"{wrong}: not a clinic list" in str(result.exception)


def test_book_check_in_result_and_notify(tmp_path: Path) -> None:
    setup = invoke(app, "clinics", "import")
    assert setup.exit_code == 0
    ref = "KR-DEMO"
    with home_session() as session:
        from citytrace.screening.models import ClinicKind
        from citytrace.screening.schemas import ClinicCreate

        clinics.create(
            session=session,
            actor="t",
            data=ClinicCreate(
                reference=ref,
                name="Round the clock",
                kind=ClinicKind.DRIVE_THROUGH,
                weekday_hours="00:00-24:00",
                saturday_hours="00:00-24:00",
                holiday_hours="00:00-24:00",
                latitude=37.5663,
                longitude=126.9779,
            ),
        )
    assert "slots with a free unit" in invoke(app, "slots", ref).output
    booked = invoke(app, "book", ref, "--name", "Hong Gildong", "--phone", "010-1234-5678")
    assert booked.exit_code == 0, booked.output
    match = re.search(r"booking (B\w+) at .*; access code (\w{4}-\w{4})", booked.output)
    assert match, booked.output
    reference = match.group(1)
    assert invoke(app, "check-in", ref, reference).output.startswith("ticket 1 ")
    shown = invoke(app, "queue", ref, "--json")
    assert json.loads(shown.output)["units"][0]["waiting"] == [reference]
    with home_session() as session:
        clinic = clinics.get_by_reference_or_raise(session=session, reference=ref)
        entry = queue.live_queue(session=session, clinic=clinic).units[0].waiting[0].entry
        label = samples.collect(session=session, actor="t", entry_id=entry.id).label
    lab = tmp_path / "lab.csv"
    lab.write_text(f"sample_id,result\n{label},negative\nS-NONE,negative\nbroken\n")
    refused = invoke(app, "results", "import", str(lab))
    assert refused.exit_code == 1
    assert "the file was refused, nothing stored" in refused.output
    assert "line 3, sample_id: unknown sample id 'S-NONE'" in refused.output
    assert "line 4: 1 fields where the header has 2" in refused.output
    with home_session() as session:
        sample = session.query(Sample).filter_by(label=label).one()
        assert sample.result is None
    lab.write_text(f"sample_id,result\n{label},negative\n")
    stored = invoke(app, "results", "import", str(lab))
    assert stored.exit_code == 0 and "1 results stored" in stored.output
    assert "was stored already" in invoke(app, "results", "enter", label, "negative").output
    sent = invoke(app, "outbox", "send")
    assert sent.output.startswith("sent 1, to retry 0, failed 0"), sent.output
    assert invoke(app, "outbox", "send").output.startswith("sent 0,")
    found = invoke(app, "find", "--lat", "37.5663", "--lon", "126.9779", "--limit", "2")
    assert "Round the clock (KR-DEMO)" in found.output.splitlines()[0]
