"""Generate a synthetic city in memory, or stream it to Parquet at city scale."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from numpy.typing import ArrayLike, NDArray
from tqdm import tqdm

from citytrace.errors import InputError, NotFoundError
from citytrace.synth import rng as streams
from citytrace.synth.config import SynthConfig
from citytrace.synth.evidence import (
    CARD_SCHEMA,
    CELL_SCHEMA,
    CHECKINS_SCHEMA,
    FIXES_SCHEMA,
    VISITS_SCHEMA,
    card_table,
    cell_table,
    checkins_table,
    fixes_table,
    visits_table,
)
from citytrace.synth.people import PERSON_FIELDS, make_population
from citytrace.synth.schedule import (
    N_SLOTS,
    SLOT_FIELDS,
    VisitRows,
    day_types,
    place_in_time,
    plan_days,
)
from citytrace.synth.world import World, build_world

PEOPLE_SCHEMA = pa.schema(
    [
        ("person_id", pa.int64()),
        ("sex", pa.string()),
        ("age_years", pa.int32()),
        ("occupation", pa.string()),
        ("home_district_code", pa.string()),
        ("home_neighbourhood_code", pa.string()),
        ("home_latitude", pa.float64()),
        ("home_longitude", pa.float64()),
        ("work_venue_id", pa.int64()),
        ("transit_mode", pa.string()),
    ]
)
CASES_SCHEMA = pa.schema(
    [
        ("person_id", pa.int64()),
        ("symptom_onset_date", pa.date32()),
        ("specimen_date", pa.date32()),
        ("isolation_date", pa.date32()),
    ]
)
TABLES = ("people", "visits", "fixes", "card", "cell", "checkins")


@dataclass(frozen=True)
class SynthCity:
    """A generated city: the world (venues), its people, their true visits and their evidence.

    pyarrow Tables, ordered by ``person_id`` then time; times are UTC (``timestamp[us, UTC]``).

    - ``venues``: venue_id, kind, name_ko, name_en, address, district_code, neighbourhood_code,
      latitude, longitude, dwell_minutes, merchant_id (paying kinds), route (subway line, bus
      number), requires_checkin.
    - ``people``: person_id, sex, age_years, occupation, home_district_code,
      home_neighbourhood_code, home_latitude, home_longitude, work_venue_id, transit_mode.
    - ``visits`` (ground truth): person_id, place_kind, venue_id (null at home), to_venue_id
      (alighting stop of a subway or bus leg, whose position is the boarding stop), latitude,
      longitude, started_at, finished_at.
    - ``fixes``: person_id, tracked_at, latitude, longitude, accuracy_m (``fixes_for`` only).
    - ``card``, ``cell``, ``checkins``: the columns of ``docs/evidence-formats.md`` plus
      person_id.
    """

    config: SynthConfig
    venues: pa.Table
    people: pa.Table
    visits: pa.Table
    fixes: pa.Table
    card: pa.Table
    cell: pa.Table
    checkins: pa.Table

    def cases(self, n: int) -> pa.Table:
        """``n`` people picked as confirmed cases, with dates inside the generated span.

        People with phone fixes are picked first. About one case in five is asymptomatic
        (``symptom_onset_date`` null): the specimen date then opens the disclosure window. The
        pick depends on the seed only.

        Returns
        -------
        pyarrow.Table
            ``person_id``, ``symptom_onset_date``, ``specimen_date``, ``isolation_date``.
        """
        ids = np.asarray(self.people.column("person_id").to_numpy(), dtype=np.int64)
        if not 0 <= n <= ids.size:
            raise InputError(f"cannot pick {n} cases among {ids.size} people")
        rng = streams.city_generator(self.config.seed, streams.CASES_STREAM)
        with_fixes = np.unique(
            np.asarray(self.fixes.column("person_id").to_numpy(), dtype=np.int64)
        )
        others = np.setdiff1d(ids, with_fixes)
        pool = np.concatenate([rng.permutation(with_fixes), rng.permutation(others)])
        chosen = np.sort(pool[:n])
        days = self.config.n_days
        start = self.config.start_date
        # Onset at least two days in (the window opens two days before it) and isolation
        # by the last day.
        first, last = min(2, days - 1), max(min(2, days - 1), days - 3)
        onset = rng.integers(first, last + 1, size=n)
        to_specimen = rng.integers(0, 3, size=n)
        specimen = np.minimum(onset + to_specimen, days - 1)
        isolation = np.minimum(specimen + 1, days - 1)
        asymptomatic = rng.random(n) < 0.2

        def dates(offsets: NDArray[np.int64]) -> list[date]:
            return [start + timedelta(days=int(d)) for d in offsets]

        return pa.table(
            {
                "person_id": pa.array(chosen, pa.int64()),
                "symptom_onset_date": pa.array(dates(onset), pa.date32(), mask=asymptomatic),
                "specimen_date": pa.array(dates(specimen), pa.date32()),
                "isolation_date": pa.array(dates(isolation), pa.date32()),
            },
            schema=CASES_SCHEMA,
        )


def midnights_s(timezone: str, start_date: date, n_days: int) -> NDArray[np.int64]:
    """Epoch seconds of local midnight at the start of each day, and after the last."""
    zone = ZoneInfo(timezone)
    return np.array(
        [
            int(datetime.combine(start_date + timedelta(days=d), time(0), tzinfo=zone).timestamp())
            for d in range(n_days + 1)
        ],
        dtype=np.int64,
    )


def _subset(v: VisitRows, mask: NDArray[np.bool_]) -> VisitRows:
    return VisitRows(**{f.name: getattr(v, f.name)[mask] for f in dataclasses.fields(VisitRows)})


def _simulate(
    config: SynthConfig, person_ids: NDArray[np.int64], fixes_for_all: bool
) -> dict[str, pa.Table]:
    """All tables for a batch of people; every number comes from the people's own streams."""
    world = build_world(config.city, config.seed, config.n_people)
    n_days = config.n_days
    u = streams.person_uniforms(
        config.seed, person_ids, PERSON_FIELDS + n_days * N_SLOTS * SLOT_FIELDS
    )
    pop = make_population(world, person_ids, u[:, :PERSON_FIELDS])
    slot_u = u[:, PERSON_FIELDS:].reshape(person_ids.size, n_days, N_SLOTS, SLOT_FIELDS)
    mid = midnights_s(world.geo.timezone, config.start_date, n_days)
    plan = plan_days(world, pop, day_types(config.start_date, n_days), slot_u)
    visits = place_in_time(world, pop, plan, slot_u, mid)
    ev_u = slot_u.reshape(-1, SLOT_FIELDS)[visits.slot_ref]
    rates = config.rates
    from_s = None
    if rates.checkin_from_date is not None:
        from_s = int(midnights_s(world.geo.timezone, rates.checkin_from_date, 0)[0])
    if fixes_for_all:
        fix_mask = np.ones(visits.person_id.size, dtype=bool)
    else:
        fix_mask = np.isin(visits.person_id, np.array(config.fix_ids(), dtype=np.int64))
    return {
        "people": pop.table(world),
        "visits": visits_table(visits),
        "fixes": fixes_table(world, _subset(visits, fix_mask), config.seed, rates, mid),
        "card": card_table(world, visits, ev_u, rates),
        "cell": cell_table(world, visits, ev_u, rates),
        "checkins": checkins_table(world, visits, ev_u, rates, from_s),
    }


def _check_ids(config: SynthConfig, person_ids: ArrayLike) -> NDArray[np.int64]:
    ids = np.asarray(person_ids, dtype=np.int64).ravel()
    bad = ids[(ids < 0) | (ids >= config.n_people)]
    if bad.size:
        raise NotFoundError(f"no person {int(bad[0])}: the city has ids 0 .. {config.n_people - 1}")
    return ids


def _world(config: SynthConfig) -> World:
    return build_world(config.city, config.seed, config.n_people)


def generate_people(
    config: SynthConfig, person_ids: ArrayLike, *, all_fixes: bool = False
) -> SynthCity:
    """Some people of the city, exactly as they are in the whole city.

    Parameters
    ----------
    config
        The city.
    person_ids
        Ids to generate, in the order wanted.
    all_fixes
        Generate fixes for all of them, not only those in ``config.fixes_for``.
    """
    ids = _check_ids(config, person_ids)
    parts: dict[str, list[pa.Table]] = {name: [] for name in TABLES}
    for s in range(0, ids.size, config.batch_size):
        batch = _simulate(config, ids[s : s + config.batch_size], all_fixes)
        for name in TABLES:
            parts[name].append(batch[name])
    schemas = {
        "people": PEOPLE_SCHEMA,
        "visits": VISITS_SCHEMA,
        "fixes": FIXES_SCHEMA,
        "card": CARD_SCHEMA,
        "cell": CELL_SCHEMA,
        "checkins": CHECKINS_SCHEMA,
    }
    tables = {
        name: pa.concat_tables(parts[name]).combine_chunks()
        if parts[name]
        else schemas[name].empty_table()
        for name in TABLES
    }
    return SynthCity(config=config, venues=_world(config).venues, **tables)


def generate(config: SynthConfig) -> SynthCity:
    """The whole city in memory (for demos and tests: thousands of people)."""
    return generate_people(config, np.arange(config.n_people, dtype=np.int64))


def write_city(
    config: SynthConfig, out_dir: Path | str, *, progress: bool = True
) -> dict[str, int]:
    """Stream the city to Parquet, a batch of people at a time, at any scale.

    Writes ``venues.parquet``, ``people.parquet``, ``visits/part-NNNNN.parquet`` (one per batch),
    ``card.parquet``, ``cell.parquet``, ``checkins.parquet``, ``fixes.parquet`` (only for
    ``config.fixes_for``) and ``config.json`` (to regenerate any person later). Memory is bounded
    by the batch size, not the population.

    Returns
    -------
    dict
        Rows written per table.
    """
    out = Path(out_dir)
    (out / "visits").mkdir(parents=True, exist_ok=True)
    for old in (out / "visits").glob("part-*.parquet"):
        old.unlink()  # parts of an earlier, larger run would otherwise remain
    (out / "config.json").write_text(config.to_json() + "\n", encoding="utf-8")
    world = _world(config)
    options = {"compression": "zstd"}
    pq.write_table(world.venues, out / "venues.parquet", **options)
    counts = {"venues": world.venues.num_rows} | dict.fromkeys(TABLES, 0)
    schemas = {
        "people": PEOPLE_SCHEMA,
        "fixes": FIXES_SCHEMA,
        "card": CARD_SCHEMA,
        "cell": CELL_SCHEMA,
        "checkins": CHECKINS_SCHEMA,
    }
    writers = {
        name: pq.ParquetWriter(out / f"{name}.parquet", schema, **options)
        for name, schema in schemas.items()
    }
    try:
        with tqdm(total=config.n_people, unit="people", disable=not progress, desc="synth") as bar:
            for part, s in enumerate(range(0, config.n_people, config.batch_size)):
                ids = np.arange(s, min(s + config.batch_size, config.n_people), dtype=np.int64)
                batch = _simulate(config, ids, False)
                pq.write_table(
                    batch["visits"], out / "visits" / f"part-{part:05d}.parquet", **options
                )
                for name, writer in writers.items():
                    writer.write_table(batch[name])
                for name in TABLES:
                    counts[name] += batch[name].num_rows
                bar.update(ids.size)
    finally:
        for writer in writers.values():
            writer.close()
    return counts
