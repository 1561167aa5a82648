"""The validation on DS4C: reading its files, the measures, citytrace's rules on the routes, and
on the real data the invariants of what citytrace would publish."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from citytrace.disclosure import ds4c, feed
from citytrace.errors import InputError

INFO_HEADER = (
    "patient_id,global_num,sex,birth_year,age,country,province,city,disease,infection_case,"
    "infection_order,infected_by,contact_number,symptom_onset_date,confirmed_date,released_date,"
    "deceased_date,state\n"
)
ROUTE_HEADER = "patient_id,global_num,date,province,city,type,latitude,longitude\n"
# Fields of a published place (and of its time) that entries may share: nothing else.
PLACE_FIELDS = {
    "version",
    "status",
    "district_code",
    "district_name_ko",
    "district_name_en",
    "place_kind",
    "business_name",
    "road_address",
    "latitude",
    "longitude",
    "exposure_start",
    "exposure_end",
    "disinfected",
    "notes",
    "transport_line",
    "transport_car",
    "boarding_stop",
    "boarding_at",
    "alighting_stop",
    "alighting_at",
    "published_at",
    "corrected_at",
    "correction_note",
    "expires_at",
}
PERSONAL_WORDS = ("sex", "age", "birth", "nationality", "country", "patient", "case", "person")


def _info_row(
    pid: str, *, onset: str = "", confirmed: str = "2020-03-05", city: str = "Jung-gu"
) -> str:
    return f"{pid},,female,1990,30s,Korea,Seoul,{city},,etc,,,,{onset},{confirmed},,,isolated\n"


def _write(folder: Path, info: str, route: str) -> Path:
    (folder / "ds4c").mkdir()
    (folder / "ds4c" / "PatientInfo.csv").write_text(INFO_HEADER + info)
    (folder / "ds4c" / "PatientRoute.csv").write_text(ROUTE_HEADER + route)
    return folder


class TestLoad:
    def test_a_bad_date_names_the_file_and_line(self, tmp_path: Path) -> None:
        folder = _write(tmp_path, _info_row("1") + _info_row("2", confirmed="2020-03-32"), "")
        with pytest.raises(InputError) as caught:
            ds4c.load(folder)
        assert "PatientInfo.csv" in str(caught.value)
        assert "line 3" in str(caught.value)
        assert "confirmed_date" in str(caught.value)

    def test_a_route_of_an_unknown_patient_is_refused(self, tmp_path: Path) -> None:
        folder = _write(tmp_path, _info_row("1"), "9,,2020-03-04,Seoul,Jung-gu,cafe,37.56,126.97\n")
        with pytest.raises(InputError, match=r"PatientRoute.csv, line 2: patient '9'"):
            ds4c.load(folder)

    def test_missing_columns(self, tmp_path: Path) -> None:
        (tmp_path / "PatientInfo.csv").write_text("patient_id,sex\n1,male\n")
        (tmp_path / "PatientRoute.csv").write_text(ROUTE_HEADER)
        with pytest.raises(InputError, match="missing columns birth_year"):
            ds4c.load(tmp_path)

    def test_a_missing_file(self, tmp_path: Path) -> None:
        with pytest.raises(InputError, match="file not found"):
            ds4c.load(tmp_path)


class TestMeasures:
    def test_classes(self) -> None:
        patients = [
            ds4c.Patient(str(i), sex, "30s", "", "Korea", "Seoul", city, None, None)
            for i, (sex, city) in enumerate(
                [("male", "A"), ("male", "A"), ("female", "A"), ("female", "B")]
            )
        ]
        stats = ds4c.classes(patients, ("sex", "city"))
        assert (stats.records, stats.unique, stats.below_5) == (4, 2, 4)

    def test_route_points_single_people_out(self, tmp_path: Path) -> None:
        route = (
            "1,,2020-03-03,Seoul,Jung-gu,cafe,37.5,127.0\n"
            "1,,2020-03-04,Seoul,Jung-gu,mart,37.6,127.1\n"
            "2,,2020-03-03,Seoul,Jung-gu,cafe,37.5,127.0\n"
            "2,,2020-03-04,Seoul,Jung-gu,gym,37.7,127.2\n"
        )
        data = ds4c.load(_write(tmp_path, _info_row("1") + _info_row("2"), route))
        one = ds4c.route_uniqueness(data.patients, data.routes, points=1, attributes=())
        two = ds4c.route_uniqueness(data.patients, data.routes, points=2, attributes=())
        assert one.records == 2 and 0 <= one.unique <= 2
        assert (two.records, two.unique) == (2, 2)  # both points together: each is alone


class TestRules:
    def test_merges_suppresses_and_dates(self, tmp_path: Path) -> None:
        info = (
            _info_row("1", onset="2020-03-03", confirmed="2020-03-05")
            + _info_row("2", confirmed="2020-03-05")
            + _info_row("3", confirmed="2020-04-01")
        )
        route = (
            # Both patients at one cafe on one day: one entry.
            "1,,2020-03-03,Seoul,Jung-gu,cafe,37.56630,126.97790\n"
            "2,,2020-03-03,Seoul,Jung-gu,cafe,37.56631,126.97791\n"
            # Before the window (onset 03-03: it opens 03-01), after isolation (03-05).
            "1,,2020-02-20,Seoul,Jung-gu,cafe,37.5,126.9\n"
            "1,,2020-03-07,Seoul,Jung-gu,hospital,37.57,126.99\n"
            # Patient 3, no onset known: the window opens 2 days before confirmation (03-30).
            "3,,2020-03-01,Seoul,Jung-gu,store,37.55,126.98\n"
            "3,,2020-03-31,Seoul,Jongno-gu,store,37.57,126.98\n"
        )
        run = ds4c.run_rules(ds4c.load(_write(tmp_path, info, route)))
        assert run.skipped["outside the case's disclosure window"] == 3
        assert sum(run.skipped.values()) == 3
        assert len(run.entries) == 2
        cafe = next(e for e in run.entries if e.place_kind == "cafe")
        assert len(cafe.case_keys) == 2
        assert cafe.district_code == "11140"
        assert cafe.exposure_start == datetime(2020, 3, 2, 15, 0, tzinfo=UTC)  # 00:00 KST
        assert cafe.exposure_end - cafe.exposure_start == timedelta(days=1)
        assert cafe.expires_at == cafe.last_contact_at + timedelta(days=14)

    def test_a_place_past_the_retention_is_not_drafted(self, tmp_path: Path) -> None:
        info = _info_row("1", onset="2020-03-01", confirmed="2020-03-25")
        route = "1,,2020-03-01,Seoul,Jung-gu,cafe,37.5,126.9\n"
        run = ds4c.run_rules(ds4c.load(_write(tmp_path, info, route)))
        assert run.entries == []
        assert list(run.skipped.values()) == [1]
        assert "retention" in next(iter(run.skipped))


# --- on the real data ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real(data_dir: Path) -> tuple[ds4c.Ds4cData, ds4c.Run]:
    if not (data_dir / "ds4c" / "PatientRoute.csv").exists():
        pytest.fail(f"{data_dir}/ds4c/PatientRoute.csv is missing")
    data = ds4c.load(data_dir)
    return data, ds4c.run_rules(data)


@pytest.mark.realdata
class TestOnTheRealData:
    def test_the_original_singles_people_out(self, real: tuple[ds4c.Ds4cData, ds4c.Run]) -> None:
        data, _ = real
        assert len(data.patients) == 3388 and len(data.routes) == 6714
        base = ds4c.classes(data.patients, ds4c.QUASI_IDENTIFIERS["sex, age (decade), district"])
        with_route = ds4c.route_uniqueness(
            data.patients,
            data.routes,
            points=4,
            attributes=ds4c.QUASI_IDENTIFIERS["sex, age (decade), district"],
        )
        assert 0 < base.unique_share < with_route.unique_share <= 1

    def test_no_personal_attribute_in_the_output(
        self, real: tuple[ds4c.Ds4cData, ds4c.Run]
    ) -> None:
        data, run = real
        records = ds4c.feed_records(run.entries)
        assert records
        for record in records:
            assert set(record) == set(feed.FIELDS)
        for name in feed.FIELDS:
            assert not any(word in name for word in PERSONAL_WORDS), name
        documents = {
            fmt: feed.render_records(records, fmt, modified_at=None) for fmt in feed.FORMATS
        }
        text = "\n".join(d.decode("utf-8") for d in documents.values())
        for patient in data.patients:
            assert patient.patient_id not in text
        personal = set()
        for p in data.patients:
            personal |= {p.sex, p.age, p.birth_year, p.country, p.patient_id} - {""}
        for record in records:
            for name, value in record.items():
                if isinstance(value, str):
                    assert value not in personal, (name, value)
        rows = list(csv.DictReader(io.StringIO(documents["csv"].decode("utf-8"))))
        assert len(rows) == len(records)
        geo = json.loads(documents["geojson"])
        assert all("crs" not in f and f["geometry"]["type"] == "Point" for f in geo["features"])

    def test_nothing_past_its_expiry(self, real: tuple[ds4c.Ds4cData, ds4c.Run]) -> None:
        _, run = real
        for entry in run.entries:
            assert entry.expires_at == entry.last_contact_at + timedelta(days=14)
            assert entry.published_at < entry.expires_at  # never published once expired
        for moment in (ds4c.SNAPSHOT, datetime(2020, 3, 15, tzinfo=UTC)):
            shown = run.visible_at(moment)
            assert shown
            assert all(e.expires_at > moment >= e.published_at for e in shown)
            gone = {e.public_id for e in run.entries if e.expires_at <= moment}
            assert not gone & {e.public_id for e in shown}

    def test_no_entry_linkable_to_another(self, real: tuple[ds4c.Ds4cData, ds4c.Run]) -> None:
        _, run = real
        records = ds4c.feed_records(run.entries)
        ids = [r["id"] for r in records]
        assert len(set(ids)) == len(ids)
        assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)
        # Only the place and its time may be shared by two entries: no other field is.
        for name in set(feed.FIELDS) - PLACE_FIELDS:
            values = [r[name] for r in records if r[name] is not None]
            assert len(values) == len(set(values)), name
        # Not in any one person's order: by district, then time, kind and id.
        keys = [
            (r["district_code"], r["exposure_start"], r["place_kind"], r["id"]) for r in records
        ]
        assert keys == sorted(keys)
        # The checks above bite: several patients have more than one entry.
        by_case: dict[int, list[dict[str, object]]] = {}
        for entry, record in zip(run.entries, records, strict=True):
            for case in entry.case_keys:
                by_case.setdefault(case, []).append(record)
        assert any(len(v) > 1 for v in by_case.values())

    def test_the_report(self, real: tuple[ds4c.Ds4cData, ds4c.Run], tmp_path: Path) -> None:
        data, run = real
        text = ds4c.report(data)
        assert "| sex, age (decade), district | 3,388 |" in text
        assert f"{len(run.entries):,} entries ever listed" in text
        assert "dates only, no times" in text
        for patient in data.patients[:50]:
            assert patient.patient_id not in text
