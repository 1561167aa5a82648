"""Samples and results: labels, tracking to the lab, results one by one and from a lab's CSV
(every bad row named, nothing half-stored), positive results opening cases, and duplicates."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citytrace.cases import service as cases
from citytrace.cases.models import Case
from citytrace.errors import ConflictError, InputError
from citytrace.screening import samples
from citytrace.screening.models import (
    BookingStatus,
    OutboxMessage,
    Outcome,
    Result,
    SampleStatus,
)
from citytrace.screening.samples import LabFileRefusedError
from tests.screening.factories import make_clinic, sampled, seoul

LATER = seoul(5, 20)


def _count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


class TestSamples:
    def test_collect_labels_and_tracks(self, session: Session) -> None:
        clinic = make_clinic(session, units=1)
        one, two = sampled(session, clinic, 0), sampled(session, clinic, 1)
        assert one.label.startswith("S200305-") and one.label != two.label
        assert one.status == SampleStatus.COLLECTED and one.booking.status == BookingStatus.SAMPLED
        svg = samples.label_svg(one, clinic)
        assert one.label in svg and "clinic-7" in svg and "Hong" not in svg
        samples.send(
            session=session,
            actor="s",
            labels=[one.label, two.label.lower()],
            lab="Seoul Lab",
            clinic_id=clinic.id,
            now=seoul(5, 12),
        )
        assert (one.status, one.lab, one.sent_at) == (SampleStatus.SENT, "Seoul Lab", seoul(5, 12))
        with pytest.raises(ConflictError, match="already sent"):
            samples.send(
                session=session, actor="s", labels=[one.label], lab="X", clinic_id=clinic.id
            )
        samples.receive(session=session, actor="lab", labels=[one.label], clinic_id=clinic.id)
        assert one.status == SampleStatus.RECEIVED and two.status == SampleStatus.SENT

    def test_unknown_or_foreign_ids_refuse_the_lot(self, session: Session) -> None:
        clinic = make_clinic(session)
        other = make_clinic(session, reference="other")
        mine, theirs = sampled(session, clinic), sampled(session, other)
        with pytest.raises(InputError, match="unknown sample ids at this clinic: S-NOPE"):
            samples.send(
                session=session,
                actor="s",
                labels=[mine.label, "S-NOPE"],
                lab="L",
                clinic_id=clinic.id,
            )
        with pytest.raises(InputError, match=theirs.label):
            samples.send(
                session=session, actor="s", labels=[theirs.label], lab="L", clinic_id=clinic.id
            )
        assert mine.status == SampleStatus.COLLECTED


class TestResults:
    def test_negative_then_the_same_again_then_a_different_one(self, session: Session) -> None:
        clinic = make_clinic(session)
        sample = sampled(session, clinic)
        first = samples.record_result(
            session=session, actor="lab", sample_id=sample.id, outcome=Outcome.NEGATIVE, now=LATER
        )
        assert first.created and first.result.case_id is None
        assert sample.status == SampleStatus.RESULTED and sample.booking.closed_at == LATER
        again = samples.record_result(
            session=session, actor="lab", sample_id=sample.id, outcome=Outcome.NEGATIVE, now=LATER
        )
        assert not again.created and again.result.id == first.result.id
        with pytest.raises(ConflictError, match="already has the result negative"):
            samples.record_result(
                session=session,
                actor="lab",
                sample_id=sample.id,
                outcome=Outcome.POSITIVE,
                now=LATER,
            )
        assert _count(session, Result) == 1 and _count(session, OutboxMessage) == 1

    def test_a_positive_result_opens_a_case(self, session: Session) -> None:
        clinic = make_clinic(session, district_code="11140")
        sample = sampled(session, clinic)
        recorded = samples.record_result(
            session=session,
            actor="lab",
            sample_id=sample.id,
            outcome=Outcome.POSITIVE,
            reported_at=seoul(6, 8),
            now=LATER + timedelta(hours=12),
        )
        case = session.get(Case, recorded.result.case_id)
        assert case is not None
        assert case.district_code == "11140"
        assert (str(case.specimen_collected_date), str(case.confirmed_date)) == (
            "2020-03-05",
            "2020-03-06",
        )
        assert sample.label in case.notes
        identity = cases.read_identity(session=session, actor="inv", case_id=case.id)
        assert identity is not None and identity.full_name == "Hong Gildong 0"
        assert identity.phone == "010-5555-0000"

    def test_impossible_times(self, session: Session) -> None:
        clinic = make_clinic(session)
        sample = sampled(session, clinic)
        with pytest.raises(InputError, match="dated before the sample was collected"):
            samples.record_result(
                session=session,
                actor="lab",
                sample_id=sample.id,
                outcome=Outcome.NEGATIVE,
                reported_at=seoul(5, 8),
                now=LATER,
            )
        with pytest.raises(InputError, match="in the future"):
            samples.record_result(
                session=session,
                actor="lab",
                sample_id=sample.id,
                outcome=Outcome.NEGATIVE,
                reported_at=LATER + timedelta(days=1),
                now=LATER,
            )
        assert _count(session, Result) == 0


def _csv(*rows: str, header: str = "sample_id,result,reported_at") -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode("utf-8")


class TestLabFile:
    def test_a_good_file(self, session: Session) -> None:
        clinic = make_clinic(session, units=1)
        s = [sampled(session, clinic, i) for i in range(3)]
        data = _csv(
            f"{s[0].label},negative,2020-03-05T18:00:00+09:00",
            f"{s[1].label.lower()},양성,2020-03-05T18:05",
            f"{s[2].label},inconclusive,",
        )
        report = samples.import_lab_csv(
            session=session, actor="lab", data=data, name="lab.csv", clinic_id=clinic.id, now=LATER
        )
        assert (report.rows, report.stored, report.positives, report.cases_opened) == (3, 3, 1, 1)
        assert report.errors == [] and report.accepted
        assert s[1].result is not None and s[1].result.reported_at == seoul(5, 18, 5)
        assert s[1].result.source == "lab.csv:3"
        assert s[2].result is not None and s[2].result.reported_at == LATER
        # The same file again: recognised, nothing new, nobody notified twice.
        again = samples.import_lab_csv(
            session=session, actor="lab", data=data, name="lab.csv", clinic_id=clinic.id, now=LATER
        )
        assert (again.stored, again.already_stored) == (0, 3)
        assert _count(session, OutboxMessage) == 3 and _count(session, Case) == 1

    def test_every_bad_row_is_named_and_nothing_is_stored(self, session: Session) -> None:
        clinic = make_clinic(session, units=1)
        other = make_clinic(session, reference="other")
        s = [sampled(session, clinic, i) for i in range(4)]
        foreign = sampled(session, other)
        samples.record_result(
            session=session, actor="lab", sample_id=s[3].id, outcome=Outcome.NEGATIVE, now=LATER
        )
        data = _csv(
            f"{s[0].label},negative,2020-03-05T18:00:00+09:00",  # line 2: good
            "S200305-NOPE99,negative,",  # 3: unknown
            f"{s[1].label},maybe,",  # 4: not a result
            f"{s[2].label},negative,yesterday",  # 5: not a time
            f"{s[2].label},negative",  # 6: too few fields
            f"{foreign.label},negative,",  # 7: another clinic's
            f"{s[3].label},positive,",  # 8: contradicts the stored result
            f"{s[0].label},positive,",  # 9: contradicts line 2
            f"{s[2].label},negative,2020-03-05T07:00:00+09:00",  # 10: before collection
        )
        with pytest.raises(LabFileRefusedError) as refused:
            samples.import_lab_csv(
                session=session,
                actor="lab",
                data=data,
                name="lab.csv",
                clinic_id=clinic.id,
                now=LATER,
            )
        report = refused.value.report
        assert not report.accepted
        assert [(e.line, e.field) for e in report.errors] == [
            (3, "sample_id"),
            (4, "result"),
            (5, "reported_at"),
            (6, None),
            (7, "sample_id"),
            (8, "result"),
            (9, "result"),
            (10, "reported_at"),
        ]
        reasons = {e.line: e.reason for e in report.errors}
        assert reasons[3] == "unknown sample id 'S200305-NOPE99'"
        assert reasons[6] == "2 fields where the header has 3"
        assert "positive here but negative on line 2" in reasons[9]
        assert "already has the result negative" in reasons[8]
        assert "line 3" in str(refused.value)
        assert _count(session, Result) == 1  # the one stored before
        assert s[0].result is None

        # Accepting the valid rows stores line 2's sample only if it is not contradicted: here
        # it is (line 9), so nothing of it is stored either.
        report = samples.import_lab_csv(
            session=session,
            actor="lab",
            data=data,
            name="lab.csv",
            clinic_id=clinic.id,
            accept_valid=True,
            now=LATER,
        )
        assert report.accepted and report.stored == 0 and len(report.errors) == 8
        good = _csv(f"{s[1].label},negative,", "S200305-NOPE99,negative,")
        report = samples.import_lab_csv(
            session=session,
            actor="lab",
            data=good,
            name="lab2.csv",
            clinic_id=clinic.id,
            accept_valid=True,
            now=LATER,
        )
        assert (report.stored, len(report.errors)) == (1, 1)

    @pytest.mark.parametrize(
        ("data", "message"),
        [
            (b"", "the file is empty"),
            (b"id,outcome\nS1,negative\n", "lacks sample_id"),
            (b"sample_id,result\n\xff\xfe,negative\n", "not UTF-8"),
            (b"sample_id,result\nS1\x00,negative\n", "NUL"),
        ],
    )
    def test_files_that_are_not_lab_files(
        self, session: Session, data: bytes, message: str
    ) -> None:
        with pytest.raises(InputError, match=message) as caught:
            samples.import_lab_csv(session=session, actor="lab", data=data, name="x.csv")
        assert caught.value.path == "x.csv"
