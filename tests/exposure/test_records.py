"""Records: checking and normalising them, their keys, and evidence tables as records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from citytrace.errors import InputError
from citytrace.exposure import (
    RECORD_SCHEMA,
    keyed_records,
    normalise_records,
    records_from_card,
    records_from_cell,
    records_from_checkins,
    records_from_fixes,
    records_from_visits,
)
from citytrace.synth import SynthConfig, generate

UTC_US = pa.timestamp("us", tz="UTC")
T0 = datetime(2020, 3, 1, 12, 0, tzinfo=UTC)


def table(**columns: object) -> pa.Table:
    base: dict[str, object] = {
        "person_id": [1, 2],
        "latitude": [37.5, 37.6],
        "longitude": [127.0, 127.1],
        "started_at": pa.array([T0, T0], UTC_US),
        "finished_at": pa.array([T0 + timedelta(hours=1)] * 2, UTC_US),
    }
    base.update(columns)
    return pa.table(base)


@pytest.fixture(scope="module")
def city():  # type: ignore[no-untyped-def]
    return generate(SynthConfig(n_people=60, n_days=2, seed=5, fixes_for=3))


class TestNormaliseRecords:
    def test_defaults_and_schema(self) -> None:
        out = normalise_records(table())
        assert out.schema == RECORD_SCHEMA
        assert out.column("kind").to_pylist() == ["record", "record"]
        assert out.column("radius_m").to_pylist() == [0.0, 0.0]

    def test_input_is_not_modified(self) -> None:
        before = table(finished_at=pa.array([None, None], UTC_US))
        copy = before.select(before.column_names)
        normalise_records(before)
        assert before.equals(copy)

    def test_point_records_get_dwell_intervals(self) -> None:
        out = normalise_records(
            table(
                person_id=[1, 2, 3, 4],
                latitude=[37.5] * 4,
                longitude=[127.0] * 4,
                started_at=pa.array([T0] * 4, UTC_US),
                finished_at=pa.array([None] * 4, UTC_US),
                kind=["card", "card", "checkin", "cell"],
                place_kind=["restaurant", "cafe", "karaoke", None],
            ),
            dwell_min={"restaurant": 60, "cafe": 40, "karaoke": 90},
        )
        starts = out.column("started_at").to_pylist()
        ends = out.column("finished_at").to_pylist()
        minutes = [((s - T0).total_seconds() / 60, (e - T0).total_seconds() / 60)
                   for s, e in zip(starts, ends, strict=True)]  # fmt: skip
        # A bill near the end; a cafe order and a check-in on arrival; a cell sighting +-5 min.
        assert minutes == [(-45, 15), (0, 40), (0, 90), (-5, 5)]

    def test_text_ids_stay_text(self) -> None:
        assert (
            normalise_records(table(person_id=["a", "b"])).column("person_id").type == pa.string()
        )

    @pytest.mark.parametrize(
        ("change", "message"),
        [
            ({"latitude": [37.5, 91.0]}, r"row 1 \(counting from 0\): latitude is outside"),
            ({"longitude": [None, 127.0]}, r"row 0 .*longitude is empty"),
            ({"latitude": [np.nan, 37.5]}, r"row 0 .*latitude is not a finite number"),
            ({"radius_m": [-1.0, 20_000.0]}, r"rows 0 and 1 .*radius_m is not within"),
            ({"person_id": [1, None]}, r"row 1 .*person_id is empty"),
            ({"started_at": pa.array([T0, None], UTC_US)}, r"row 1 .*started_at is empty"),
            (
                {"finished_at": pa.array([T0 - timedelta(seconds=1), T0], UTC_US)},
                r"row 0 .*finished_at is before started_at",
            ),
            (
                {"finished_at": pa.array([T0 + timedelta(days=32), T0], UTC_US)},
                r"row 0 .*lasts more than 31 days",
            ),
            (
                {"started_at": pa.array([datetime(1969, 1, 1, tzinfo=UTC), T0], UTC_US)},
                r"row 0 .*not between 1970 and 2099",
            ),
            ({"started_at": pa.array([T0, T0], pa.timestamp("us"))}, "has no time zone"),
            ({"latitude": ["a", "b"]}, "column 'latitude': must hold numbers"),
        ],
    )
    def test_bad_values_name_rows_or_column(self, change: dict[str, object], message: str) -> None:
        with pytest.raises(InputError, match=message):
            normalise_records(table(**change))

    def test_another_schema_is_refused(self) -> None:
        fixes = pa.table({"user_id": [1], "tracked_at": pa.array([T0], UTC_US)})
        with pytest.raises(InputError, match="column 'person_id': is missing"):
            normalise_records(fixes)

    def test_duplicates_are_named(self) -> None:
        rows = table(person_id=[1, 2, 1, 1, 2], latitude=[37.5] * 5, longitude=[127.0] * 5,
                     started_at=pa.array([T0] * 5, UTC_US),
                     finished_at=pa.array([T0 + timedelta(hours=1)] * 5, UTC_US))  # fmt: skip
        with pytest.raises(InputError, match=r"rows 2, 3 and 4 \(counting from 0\): repeats"):
            normalise_records(rows)


class TestKeyedRecords:
    def test_sorted_by_key_then_start(self) -> None:
        rows = normalise_records(
            table(
                person_id=[1, 2, 3],
                latitude=[37.5, 37.5, 37.6],
                longitude=[127.0, 127.0, 127.1],
                started_at=pa.array([T0 + timedelta(minutes=5), T0, T0], UTC_US),
                finished_at=pa.array([T0 + timedelta(hours=1)] * 3, UTC_US),
            )
        )
        keyed = keyed_records(rows)
        assert keyed.column_names[-3:] == ["level", "cell", "bucket"]
        keys = list(zip(*(keyed.column(c).to_pylist() for c in ("level", "cell", "started_at")),
                        strict=True))  # fmt: skip
        assert keys == sorted(keys)


class TestRecordsFromEvidence:
    def test_every_kind_of_evidence(self, city) -> None:  # type: ignore[no-untyped-def]
        kinds = {
            "visit": records_from_visits(city.visits),
            "card": records_from_card(city.card),
            "checkin": records_from_checkins(city.checkins),
            "cell": records_from_cell(city.cell),
            "gps": records_from_fixes(city.fixes),
        }
        for kind, records in kinds.items():
            assert records.num_rows > 0, kind
            assert pc.all(pc.equal(records.column("kind"), kind)).as_py(), kind
            duration = pc.subtract(
                records.column("finished_at").cast(pa.int64()),
                records.column("started_at").cast(pa.int64()),
            )
            assert pc.min(duration).as_py() >= 0, kind
        assert kinds["card"].num_rows == city.card.num_rows
        assert pc.max(kinds["cell"].column("radius_m")).as_py() > 100
        assert kinds["gps"].column("radius_m").unique().to_pylist() == [10.0]
