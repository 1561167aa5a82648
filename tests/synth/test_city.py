"""generate / generate_people / write_city: determinism, plausibility, scale mode."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from citytrace.errors import NotFoundError
from citytrace.geo import haversine_m, load_city
from citytrace.synth import (
    CHECKIN_KINDS,
    PAYING_KINDS,
    VENUE_KINDS,
    SynthCity,
    SynthConfig,
    generate,
    generate_people,
    write_city,
)
from tests.synth.conftest import SMALL

TABLES = ("people", "visits", "fixes", "card", "cell", "checkins")
TINY = SynthConfig(n_people=40, n_days=3, seed=3, fixes_for=5, batch_size=16)


def _of(table: pa.Table, person_id: int) -> pa.Table:
    return table.filter(pc.equal(table["person_id"], person_id))


def _seconds(column: pa.ChunkedArray) -> np.ndarray:
    return np.asarray(
        column.to_numpy(zero_copy_only=False).astype("datetime64[s]").astype(np.int64)
    )


class TestDeterminism:
    def test_same_seed_same_tables(self) -> None:
        a, b = generate(TINY), generate(TINY)
        for name in ("venues", *TABLES):
            assert getattr(a, name).equals(getattr(b, name)), name

    def test_another_seed_another_city(self) -> None:
        a = generate(TINY)
        b = generate(SynthConfig(n_people=40, n_days=3, seed=4, fixes_for=5))
        assert not a.visits.equals(b.visits)
        assert not a.venues.equals(b.venues)

    def test_batch_size_does_not_matter(self) -> None:
        a = generate(TINY)
        b = generate(SynthConfig(n_people=40, n_days=3, seed=3, fixes_for=5, batch_size=40))
        for name in TABLES:
            assert getattr(a, name).equals(getattr(b, name)), name

    @pytest.mark.parametrize("person_id", [0, 117, 239])
    def test_a_person_alone_equals_the_person_in_the_city(
        self, small_city: SynthCity, person_id: int
    ) -> None:
        alone = generate_people(SMALL, [person_id])
        for name in TABLES:
            assert _of(getattr(small_city, name), person_id).equals(getattr(alone, name)), name

    def test_a_longer_span_keeps_the_first_days(self) -> None:
        short = generate_people(TINY, [0, 1, 2])
        longer = generate_people(SynthConfig(n_people=40, n_days=5, seed=3), [0, 1, 2])
        for person in (0, 1, 2):
            head = _of(short.visits, person)
            # All but the last visit, the night at home that the longer span prolongs.
            head = head.slice(0, head.num_rows - 1)
            assert _of(longer.visits, person).slice(0, head.num_rows).equals(head)

    def test_unknown_person(self) -> None:
        with pytest.raises(NotFoundError):
            generate_people(TINY, [40])


class TestVenues:
    def test_every_kind_inside_its_district(self, small_city: SynthCity) -> None:
        venues = small_city.venues
        assert set(venues["kind"].to_pylist()) == set(VENUE_KINDS)
        assert "home" not in VENUE_KINDS
        district, hood = load_city().locate(
            venues["latitude"].to_numpy(), venues["longitude"].to_numpy()
        )
        assert list(district) == venues["district_code"].to_pylist()
        assert np.mean([h is not None for h in hood]) > 0.99

    def test_names_addresses_and_dwell(self, small_city: SynthCity) -> None:
        venues = small_city.venues.to_pylist()
        assert all(v["name_ko"] and v["name_en"] for v in venues)
        assert all(v["address"].startswith("서울특별시 ") for v in venues)
        assert all(v["dwell_minutes"] > 0 for v in venues)
        paying = {v["kind"] for v in venues if v["merchant_id"] is not None}
        assert paying == set(PAYING_KINDS)
        assert {v["kind"] for v in venues if v["route"] is not None} == {"subway", "bus"}
        assert {v["kind"] for v in venues if v["requires_checkin"]} == set(CHECKIN_KINDS)


class TestPeopleAndVisits:
    def test_homes_inside_seoul(self, small_city: SynthCity) -> None:
        people = small_city.people
        district, _ = load_city().locate(
            people["home_latitude"].to_numpy(), people["home_longitude"].to_numpy()
        )
        assert list(district) == people["home_district_code"].to_pylist()

    def test_visits_ordered_without_overlap_and_cover_the_span(self, small_city: SynthCity) -> None:
        visits = small_city.visits
        person = visits["person_id"].to_numpy()
        start, end = _seconds(visits["started_at"]), _seconds(visits["finished_at"])
        assert (end > start).all()
        same = person[1:] == person[:-1]
        assert (start[1:][same] >= end[:-1][same]).all()
        assert (np.diff(person) >= 0).all()
        # Each person's record starts and ends at home, at local midnight.
        first = np.r_[True, ~same]
        last = np.r_[~same, True]
        kinds = np.array(visits["place_kind"].to_pylist())
        assert set(kinds[first]) == set(kinds[last]) == {"home"}
        midnight = int(datetime.fromisoformat("2020-03-01T00:00:00+09:00").timestamp())
        assert set(start[first]) == {midnight}
        assert set(end[last]) == {midnight + 7 * 86400}
        assert np.unique(person).size == SMALL.n_people

    def test_visits_inside_seoul_and_home_is_no_venue(self, small_city: SynthCity) -> None:
        visits = small_city.visits
        district, _ = load_city().locate(
            visits["latitude"].to_numpy(), visits["longitude"].to_numpy()
        )
        assert all(d is not None for d in district)
        home = pc.equal(visits["place_kind"], "home").to_numpy(zero_copy_only=False)
        assert visits["venue_id"].is_null().to_numpy(zero_copy_only=False).tolist() == list(home)

    def test_visit_kinds_match_their_venues(self, small_city: SynthCity) -> None:
        visits = small_city.visits.filter(pc.invert(pc.is_null(small_city.visits["venue_id"])))
        venue_kind = small_city.venues["kind"].take(visits["venue_id"])
        assert venue_kind.to_pylist() == visits["place_kind"].to_pylist()
        transit = pc.is_in(visits["place_kind"], pa.array(["subway", "bus"]))
        assert visits["to_venue_id"].is_valid().equals(transit)

    def test_routines_look_like_a_city(self, small_city: SynthCity) -> None:
        visits = small_city.visits
        per_day = visits.num_rows / SMALL.n_people / SMALL.n_days
        assert 3.0 < per_day < 8.0
        kinds = set(visits["place_kind"].to_pylist())
        assert {"home", "office", "school", "restaurant", "cafe", "subway", "bus"} <= kinds
        local = pc.hour(pc.cast(visits["started_at"], pa.timestamp("s", tz="Asia/Seoul")))
        office = pc.equal(visits["place_kind"], "office")
        morning = pc.and_(office, pc.less(local, 11))
        assert pc.sum(morning).as_py() > 0.3 * pc.sum(office).as_py()
        # Churches are visited on Sundays (2020-03-01 and 03-08 are outside this span's Sunday
        # count only for the 8th) and Wednesday evenings.
        church = visits.filter(pc.equal(visits["place_kind"], "church"))
        weekday = pc.day_of_week(pc.cast(church["started_at"], pa.timestamp("s", tz="Asia/Seoul")))
        assert set(weekday.to_pylist()) <= {2, 6}


class TestEvidence:
    def test_checkins_only_at_checkin_kinds_during_a_visit(self, small_city: SynthCity) -> None:
        checkins = small_city.checkins
        assert checkins.num_rows > 0
        assert set(checkins["venue_kind"].to_pylist()) <= set(CHECKIN_KINDS)
        self._inside_visits(small_city, checkins, "checked_in_at", "venue_id")
        out = checkins.filter(pc.is_valid(checkins["checked_out_at"]))
        assert 0 < out.num_rows < checkins.num_rows
        assert pc.all(pc.greater_equal(out["checked_out_at"], out["checked_in_at"])).as_py()

    def test_card_only_at_paying_venues_during_a_visit(self, small_city: SynthCity) -> None:
        card = small_city.card
        assert card.num_rows > 0
        assert set(card["merchant_category"].to_pylist()) <= set(PAYING_KINDS)
        merchants = dict(
            zip(
                small_city.venues["merchant_id"].to_pylist(),
                small_city.venues["venue_id"].to_pylist(),
                strict=True,
            )
        )
        with_venue = card.append_column(
            "venue_id", pa.array([merchants[m] for m in card["merchant_id"].to_pylist()])
        )
        self._inside_visits(small_city, with_venue, "transacted_at", "venue_id")
        fares = card.filter(pc.is_in(card["merchant_category"], pa.array(["subway", "bus"])))
        assert set(fares["amount_krw"].to_pylist()) <= {1250, 1200}

    @staticmethod
    def _inside_visits(city: SynthCity, table: pa.Table, at: str, venue: str) -> None:
        visits = city.visits.filter(pc.is_valid(city.visits["venue_id"])).to_pylist()
        by_key: dict[tuple[int, int], list[tuple[object, object]]] = {}
        for v in visits:
            by_key.setdefault((v["person_id"], v["venue_id"]), []).append(
                (v["started_at"], v["finished_at"])
            )
        for row in table.to_pylist():
            spans = by_key[(row["person_id"], row[venue])]
            assert any(s <= row[at] <= f for s, f in spans), row  # type: ignore[operator]

    def test_cell_sightings_cover_the_true_position(self, small_city: SynthCity) -> None:
        cell = small_city.cell
        assert cell.num_rows > small_city.visits.num_rows
        radius = set(cell["radius_m"].to_pylist())
        assert min(radius) >= 300 and max(radius) <= 2000
        single = pc.sum(pc.is_null(cell["finished_at"])).as_py()
        assert 0 < single < cell.num_rows / 5
        # A stay's sightings name cells whose radius covers the place.
        visits = small_city.visits
        person = visits["person_id"].to_numpy()
        start, end = _seconds(visits["started_at"]), _seconds(visits["finished_at"])
        key = person * 10**10 + start
        c_key = cell["person_id"].to_numpy() * 10**10 + _seconds(cell["started_at"])
        i = np.searchsorted(key, c_key, side="right") - 1
        stay = np.array(visits["place_kind"].to_pylist())[i]
        inside = (c_key - key[i]) <= (end[i] - start[i])
        keep = inside & ~np.isin(stay, ["subway", "bus"])
        d = haversine_m(
            cell["latitude"].to_numpy()[keep],
            cell["longitude"].to_numpy()[keep],
            visits["latitude"].to_numpy()[i[keep]],
            visits["longitude"].to_numpy()[i[keep]],
        )
        assert (d <= cell["radius_m"].to_numpy()[keep] + 1).all()

    def test_fixes_near_the_true_places_during_stays(self, small_city: SynthCity) -> None:
        fixes = small_city.fixes
        assert set(fixes["person_id"].to_pylist()) <= set(range(SMALL.fixes_for))  # type: ignore[arg-type]
        assert fixes.num_rows > 1000
        visits = small_city.visits
        stays = visits.filter(
            pc.invert(pc.is_in(visits["place_kind"], pa.array(["subway", "bus"])))
        )
        s_person = stays["person_id"].to_numpy()
        s_start, s_end = _seconds(stays["started_at"]), _seconds(stays["finished_at"])
        key = s_person * 10**10 + s_start
        f_person = fixes["person_id"].to_numpy()
        f_t = _seconds(fixes["tracked_at"])
        i = np.searchsorted(key, f_person * 10**10 + f_t, side="right") - 1
        during = (s_person[i] == f_person) & (f_t <= s_end[i])
        assert during.mean() > 0.5
        d = haversine_m(
            fixes["latitude"].to_numpy()[during],
            fixes["longitude"].to_numpy()[during],
            stays["latitude"].to_numpy()[i[during]],
            stays["longitude"].to_numpy()[i[during]],
        )
        assert np.mean(d <= 100) > 0.95
        assert np.mean(d <= 50) > 0.9
        assert 0 < np.mean(d > 150) < 0.03  # the occasional jump
        accuracy = fixes["accuracy_m"].to_numpy()
        assert accuracy.min() >= 5 and accuracy.max() <= 30

    def test_fixes_are_denser_while_moving(self, small_city: SynthCity) -> None:
        fixes = small_city.fixes
        person = fixes["person_id"].to_numpy()
        t = _seconds(fixes["tracked_at"])
        gap = np.diff(t)[person[1:] == person[:-1]]
        assert (gap >= 0).all()
        assert np.median(gap) < 20 * 60
        assert np.percentile(gap, 10) < 4 * 60
        assert gap.max() > 60 * 60  # nights and spells with the phone off


class TestCases:
    def test_cases_inside_the_span(self, small_city: SynthCity) -> None:
        cases = small_city.cases(10)
        assert cases.num_rows == 10
        assert small_city.cases(10).equals(cases)
        rows = cases.to_pylist()
        start = SMALL.start_date
        for row in rows:
            onset = row["symptom_onset_date"] or row["specimen_date"]
            assert start <= onset <= row["specimen_date"] <= row["isolation_date"]
            assert (row["isolation_date"] - start).days < SMALL.n_days
        # People with phone fixes come first, for the demo.
        assert all(row["person_id"] < SMALL.fixes_for for row in rows)  # type: ignore[operator]


class TestWriteCity:
    def test_streams_the_same_city_to_parquet(self, tmp_path: Path) -> None:
        counts = write_city(TINY, tmp_path / "a", progress=False)
        city = generate(TINY)
        for name in TABLES:
            assert counts[name] == getattr(city, name).num_rows, name
        visits = pa.concat_tables(
            pq.read_table(p) for p in sorted((tmp_path / "a" / "visits").glob("*.parquet"))
        )
        assert len(list((tmp_path / "a" / "visits").glob("*.parquet"))) == 3
        assert visits.equals(city.visits)
        assert pq.read_table(tmp_path / "a" / "card.parquet").equals(city.card)
        assert pq.read_table(tmp_path / "a" / "venues.parquet").equals(city.venues)
        config = SynthConfig.from_json((tmp_path / "a" / "config.json").read_text())
        assert config == TINY

    def test_same_seed_same_bytes(self, tmp_path: Path) -> None:
        write_city(TINY, tmp_path / "a", progress=False)
        write_city(TINY, tmp_path / "b", progress=False)
        files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.*"))
        assert len(files) == 10  # 6 tables, 3 parts of visits, config.json
        for f in files:
            assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f
