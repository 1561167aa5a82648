"""The clinic registry: opening hours, clinics and units, and the import of Korea's published
clinic list with its report."""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citytrace.audit.models import AuditEvent
from citytrace.config import get_settings
from citytrace.errors import ConflictError, InputError
from citytrace.geo import load_city
from citytrace.screening import clinics
from citytrace.screening.clinics import CLOSED, DayHours, parse_hours, read_source_hours
from citytrace.screening.models import Clinic, ClinicKind, LocationPrecision
from citytrace.screening.schemas import ClinicUpdate
from tests.screening.factories import make_clinic, seoul

PACKAGED = {p.name: p for p in clinics.packaged_files()}


class TestHours:
    @pytest.mark.parametrize(
        ("text", "stored", "noted"),
        [
            ("09:00 ~ 18:00", "09:00-18:00", False),
            ("9:0 ~ 18:0", "09:00-18:00", False),
            ("8:30 ~ 12:0", "08:30-12:00", False),
            ("00:00 ~ 24:00", "00:00-24:00", False),
            ("0:0 ~ 24:0", "00:00-24:00", False),
            ("09:00 ~ 09:00", "00:00-24:00", True),
            ("24:00 ~ 24:00", "00:00-24:00", True),
            ("18:00 ~ 09:00", "18:00-09:00", True),
            ("09:18 ~ 00:00", "09:18-24:00", False),
            ("미운영", CLOSED, False),
            (": ~ :", None, True),
            ("-", None, True),
            ("9:75 ~ 18:00", None, True),
            ("soon", None, True),
        ],
    )
    def test_published_forms(self, text: str, stored: str | None, noted: bool) -> None:
        read = read_source_hours(text)
        assert read.stored == stored
        assert (read.note is not None) == noted

    def test_stored_forms(self) -> None:
        assert parse_hours("09:00-18:00") == DayHours(540, 1080)
        assert parse_hours("18:00-09:00") == DayHours(1080, 1440 + 540)
        assert parse_hours("00:00-24:00") == DayHours(0, 1440)
        assert parse_hours("closed") == CLOSED
        assert parse_hours(None) is None
        with pytest.raises(InputError, match="HH:MM-HH:MM"):
            parse_hours("9-18")
        with pytest.raises(InputError, match="not a pair of times"):
            parse_hours("25:00-26:00")

    @given(
        opens=st.integers(0, 1439),
        length=st.integers(1, 1440),
    )
    def test_stored_form_round_trips(self, opens: int, length: int) -> None:
        hours = DayHours(opens, opens + length)
        again = parse_hours(hours.text)
        assert isinstance(again, DayHours)
        # 24 h from any time is stored as round the clock from midnight.
        assert again == (DayHours(0, 1440) if length == 1440 else hours)

    def test_day_kinds_and_overnight_opening(self, session: Session) -> None:
        clinic = make_clinic(session, weekday_hours="18:00-09:00", saturday_hours="09:00-13:00")
        # Thursday evening to Friday morning; Saturday morning; Sunday closed.
        assert clinics.opening_window(clinic, date(2020, 3, 5)) == (seoul(5, 18), seoul(6, 9))
        assert clinics.is_open(clinic, seoul(6, 8, 59))
        assert not clinics.is_open(clinic, seoul(6, 9))
        assert clinics.is_open(clinic, seoul(7, 12))
        assert not clinics.is_open(clinic, seoul(8, 10))
        # Friday's overnight opening runs into Saturday morning, past Saturday's own.
        assert clinics.is_open(clinic, seoul(7, 2))
        clinic.active = False
        assert not clinics.is_open(clinic, seoul(7, 12))


class TestPublicHolidays:
    def test_holidays_take_the_holiday_hours(
        self, session: Session, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Korea's public holidays (Children's Day, Chuseok, the 2020 election day: weekdays)
        take a clinic's holiday hours, like Sundays; another country's, or none, do not."""
        clinic = make_clinic(session, reference="hol")
        clinic.weekday_hours, clinic.holiday_hours = "09:00-18:00", "10:00-14:00"
        for day in (date(2020, 5, 5), date(2020, 10, 1), date(2020, 4, 15), date(2020, 3, 1)):
            assert clinics.hours_on(clinic, day) == "10:00-14:00", day
        assert clinics.hours_on(clinic, date(2020, 5, 6)) == "09:00-18:00"
        assert not clinics.is_open(clinic, seoul(5, 9) + timedelta(days=61))  # 5 May, 09:00
        monkeypatch.setenv("CITYTRACE_HOLIDAYS", "")
        get_settings.cache_clear()
        assert clinics.hours_on(clinic, date(2020, 5, 5)) == "09:00-18:00"
        monkeypatch.setenv("CITYTRACE_HOLIDAYS", "us")  # Independence Day, not Chuseok
        get_settings.cache_clear()
        assert clinics.hours_on(clinic, date(2020, 7, 3)) == "10:00-14:00"
        assert clinics.hours_on(clinic, date(2020, 10, 1)) == "09:00-18:00"


class TestRegistry:
    def test_create_takes_the_kinds_defaults(self, session: Session) -> None:
        walk = make_clinic(session, reference="walk-1", kind=ClinicKind.WALK_THROUGH, units=3)
        assert (walk.service_time_min, walk.ventilation_min, walk.disinfection_min) == (7, 5, 1)
        assert walk.slot_interval_min == 13
        assert [u.label for u in walk.units] == ["Booth 1", "Booth 2", "Booth 3"]
        drive = make_clinic(session, reference="drive-1")
        assert drive.slot_interval_min == 10
        assert drive.location_precision == LocationPrecision.UNKNOWN
        with pytest.raises(ConflictError, match="already exists"):
            make_clinic(session, reference="walk-1")
        with pytest.raises(InputError, match="unknown district"):
            make_clinic(session, reference="x-1", district_code="99999")

    def test_update_units_hours_and_position(self, session: Session) -> None:
        clinic = make_clinic(session, units=3)
        clinics.update(
            session=session,
            actor="admin",
            clinic_id=clinic.id,
            data=ClinicUpdate(units=1, weekday_hours="08:00-12:00", latitude=37.5, longitude=127.0),
        )
        assert clinic.unit_count == 1
        assert [u.active for u in clinic.units] == [True, False, False]
        assert clinic.weekday_hours == "08:00-12:00"
        assert clinic.location_precision == LocationPrecision.ADDRESS
        with pytest.raises(InputError, match="both latitude and longitude"):
            clinics.update(
                session=session,
                actor="admin",
                clinic_id=clinic.id,
                data=ClinicUpdate(latitude=37.6),
            )
        events = session.scalars(
            select(AuditEvent.action).where(AuditEvent.entity == "clinic")
        ).all()
        assert "screening.clinic.update" in events


class TestImportOfThePackagedList:
    def test_report(self, session: Session) -> None:
        report = clinics.import_packaged(session=session, actor="admin")
        # 615 lines in the screening list, 49 in the drive-through list: 48 of them the same
        # clinics by name and address, one by address and phone under another name.
        assert report.rows_read == 615 + 49
        assert report.clinics == 615 == report.created
        assert len(report.merged) == 49
        assert report.by_kind == {"conventional": 566, "drive_through": 49}
        assert report.rejected == []
        # Seoul's 68 are placed by their district; the others have no outline to go by.
        assert report.placed_by_district == 68
        assert report.location_unknown == 547
        assert report.location_unknown_by_province["경기"] == 109
        notes = {(n.file, n.line) for n in report.notes}
        assert ("screening_clinics_info.csv", 100) in notes  # Saturday ': ~ :'
        assert ("screening_clinics_info.csv", 613) in notes  # '-' every day
        assert session.scalar(select(func.count()).select_from(Clinic)) == 615
        # One clinic has no hours at all: listed, not bookable; 614 can be booked.
        unbookable = [n for n in report.notes if "not bookable" in n.reason]
        assert [(n.file, n.line) for n in unbookable] == [("screening_clinics_info.csv", 613)]
        text = report.summary()
        assert "placed by district" in text and "duplicates merged: 49" in text

    def test_clinics_are_placed_inside_their_district(self, session: Session) -> None:
        clinics.import_packaged(session=session, actor="admin")
        city = load_city("seoul")
        seoul_clinics = clinics.list_(session=session, province="서울")
        assert len(seoul_clinics) == 68
        for clinic in seoul_clinics:
            assert clinic.location_precision == LocationPrecision.DISTRICT
            districts, _ = city.locate([clinic.latitude or 0.0], [clinic.longitude or 0.0])
            assert districts[0] == clinic.district_code, clinic.name
            assert city.area(clinic.district_code or "").name_ko == clinic.district_name
        elsewhere = clinics.list_(session=session, province="부산")
        assert elsewhere and all(c.latitude is None for c in elsewhere)
        assert {c.location_precision for c in elsewhere} == {LocationPrecision.UNKNOWN}

    def test_merged_and_odd_rows(self, session: Session) -> None:
        clinics.import_packaged(session=session, actor="admin")
        ewha = clinics.list_(session=session, name_contains="이화여자대학교 서울병원")
        assert len(ewha) == 1 and ewha[0].kind == ClinicKind.DRIVE_THROUGH
        assert "drive_through_clinics_info.csv:1" in ewha[0].source
        # Same name, another city: two clinics.
        # The drive-through list's 한일병원 in Jinju is the screening list's 경남한일병원 (same
        # address and phone); Seoul's 한일병원 is another clinic.
        hanil = clinics.list_(session=session, name_contains="한일병원")
        assert sorted((c.name, c.kind) for c in hanil) == [
            ("경남한일병원", ClinicKind.DRIVE_THROUGH),
            ("한일병원", ClinicKind.CONVENTIONAL),
        ]
        severance = clinics.list_(session=session, name_contains="세브란스병원")
        assert any(c.weekday_hours == "00:00-24:00" for c in severance)
        unknown = clinics.list_(session=session, name_contains="중앙병원", province="제주")[0]
        assert (unknown.weekday_hours, unknown.saturday_hours) == (None, None)

    def test_importing_again_changes_nothing(self, session: Session) -> None:
        first = clinics.import_packaged(session=session, actor="admin")
        clinic = clinics.list_(session=session, name_contains="강남구보건소")[0]
        reference = clinic.reference
        clinics.update(
            session=session,
            actor="admin",
            clinic_id=clinic.id,
            data=ClinicUpdate(units=4, latitude=37.5163, longitude=127.0475),
        )
        again = clinics.import_packaged(session=session, actor="admin")
        assert (again.created, again.updated, again.unchanged) == (0, 0, first.clinics)
        assert again.kept_own_location == 1
        assert clinic.reference == reference and clinic.unit_count == 4
        assert clinic.location_precision == LocationPrecision.ADDRESS
        assert session.scalar(select(func.count()).select_from(Clinic)) == 615


def _copy(tmp_path: Path, *names: str) -> list[Path]:
    out = []
    for name in names:
        target = tmp_path / name
        shutil.copy(PACKAGED[name], target)
        out.append(target)
    return out


class TestBadFiles:
    def test_bad_rows_are_rejected_with_their_lines(self, session: Session, tmp_path: Path) -> None:
        info, region = _copy(
            tmp_path, "drive_through_clinics_info.csv", "drive_through_clinics_region.csv"
        )
        lines = info.read_text(encoding="utf-8-sig").splitlines()
        lines[1] = "희명병원,서울특별시 금천구 시흥대로 244,00:00 ~ 24:00"  # 3 fields
        lines[2] = ",용산구 대사관로 59,08:30 ~ 17:00,미운영,미운영,02-709-9114"  # no name
        info.write_text("\n".join(lines) + "\n", encoding="utf-8")
        regions = region.read_text(encoding="utf-8-sig").splitlines()
        regions[3] = "부산,강서구,다른병원"
        region.write_text("\n".join(regions) + "\n", encoding="utf-8")
        report = clinics.import_files(session=session, actor="admin", paths=[info, region])
        assert [(r.line, r.reason.split(",")[0]) for r in report.rejected] == [
            (2, "expected 6 fields"),
            (3, "no clinic name"),
            (4, "drive_through_clinics_region.csv line 4 names another clinic ('다른병원')"),
        ]
        assert report.clinics == 46 and report.by_kind == {"drive_through": 46}

    def test_a_file_that_is_not_a_clinic_list_stores_nothing(
        self, session: Session, tmp_path: Path
    ) -> None:
        info, region = _copy(
            tmp_path, "drive_through_clinics_info.csv", "drive_through_clinics_region.csv"
        )
        latin = tmp_path / "other.csv"
        latin.write_bytes("name,addr\nCaf\xe9,1\n".encode("latin-1"))
        with pytest.raises(InputError, match="not UTF-8") as caught:
            clinics.import_files(session=session, actor="admin", paths=[info, region, latin])
        assert caught.value.path == str(latin)
        wrong = tmp_path / "wrong.csv"
        wrong.write_text("a,b\nc,d\n", encoding="utf-8")
        with pytest.raises(InputError, match="not a clinic list: most lines have 2 fields"):
            clinics.import_files(session=session, actor="admin", paths=[wrong])
        with pytest.raises(InputError, match="without its information file"):
            clinics.import_files(session=session, actor="admin", paths=[region])
        assert session.scalar(select(func.count()).select_from(Clinic)) == 0


@pytest.mark.realdata
def test_the_packaged_copy_is_the_shared_data(data_dir: Path) -> None:
    for name, path in PACKAGED.items():
        assert path.read_bytes() == (data_dir / "clinics" / name).read_bytes(), name


@pytest.mark.realdata
def test_import_from_the_shared_data(session: Session, data_dir: Path) -> None:
    folder = data_dir / "clinics"
    report = clinics.import_files(
        session=session, actor="admin", paths=sorted(folder.glob("*.csv"))
    )
    assert report.clinics == 615 and report.by_kind["drive_through"] == 49
    assert len(report.merged) == 49 and report.rejected == []
    # A clinic's wait is a day away when it is closed: Sunday hours of a Seoul health office.
    gangnam = clinics.list_(session=session, name_contains="강남구보건소")[0]
    assert clinics.hours_on(gangnam, date(2020, 3, 8)) == "09:00-19:00"
    assert clinics.opening_window(gangnam, date(2020, 3, 8) - timedelta(days=0)) is not None
