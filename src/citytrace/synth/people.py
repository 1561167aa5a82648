"""Residents: who they are, where they live and work, and the places they return to."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from citytrace.synth.kinds import CODE
from citytrace.synth.rng import normal_from_uniform
from citytrace.synth.world import World

OFFICE_WORKER, STUDENT, AT_HOME = 0, 1, 2
OCCUPATIONS = ("office_worker", "student", "at_home")
MODES = ("subway", "bus")

# Fields of a person's own block of uniforms (the first numbers of their stream).
P_SEX, P_AGE, P_OCC, P_DISTRICT, P_HOME = 0, 1, 2, 3, 4  # P_HOME uses 4, 5, 6
P_MODE, P_WORK_SCOPE, P_WORK = 7, 8, 9
P_GYM, P_CHURCH, P_GAMER, P_KARAOKE, P_CHRONIC = 10, 11, 12, 13, 14
P_LEAVE_Z, P_END_Z = 15, 17  # pairs of uniforms for normal numbers
P_FAV = 19

FAVOURITES: tuple[tuple[str, str, int], ...] = (
    ("restaurant", "work", 3),
    ("cafe", "work", 2),
    ("pc_bang", "work", 1),
    ("karaoke", "work", 1),
    ("restaurant", "home", 2),
    ("cafe", "home", 1),
    ("gym", "home", 1),
    ("pc_bang", "home", 1),
    ("karaoke", "home", 1),
    ("church", "home", 1),
    ("hospital", "home", 1),
    ("pharmacy", "home", 1),
    ("mart", "home", 1),
)
"""Regular places per person: (kind, near which anchor, how many)."""

FAV_SLICE: dict[tuple[str, str], tuple[int, int]] = {}
_offset = 0
for _kind, _anchor, _count in FAVOURITES:
    FAV_SLICE[(_kind, _anchor)] = (_offset, _count)
    _offset += _count
N_FAVOURITES = _offset
PERSON_FIELDS = P_FAV + N_FAVOURITES + 4  # a few spare numbers, so fields can be added later


@dataclass(frozen=True)
class Population:
    """Attributes of a batch of people (arrays of one row per person)."""

    person_id: NDArray[np.int64]
    female: NDArray[np.bool_]
    age: NDArray[np.int64]
    occupation: NDArray[np.int64]
    home_district: NDArray[np.int64]
    home_neighbourhood: NDArray[np.int64]
    home_lat: NDArray[np.float64]
    home_lon: NDArray[np.float64]
    mode: NDArray[np.int64]  # preferred transit: 0 subway, 1 bus
    work: NDArray[np.int64]  # office or school venue, -1 for none
    anchor_district: NDArray[np.int64]  # of the workplace, else of home
    anchor_neighbourhood: NDArray[np.int64]
    gym_member: NDArray[np.bool_]
    churchgoer: NDArray[np.bool_]
    gamer: NDArray[np.bool_]
    karaoke_lover: NDArray[np.bool_]
    chronic_patient: NDArray[np.bool_]
    leave_z: NDArray[np.float64]  # habitual earliness (negative) or lateness, in sd units
    end_z: NDArray[np.float64]
    favourites: NDArray[np.int64]  # (people, N_FAVOURITES) venue ids

    def table(self, world: World) -> pa.Table:
        """The ``people`` table."""
        d_codes = np.array([a.code for a in world.geo.districts], dtype=object)
        nb_codes = np.array([a.code for a in world.geo.neighbourhoods] + [None], dtype=object)
        return pa.table(
            {
                "person_id": pa.array(self.person_id, pa.int64()),
                "sex": pa.array(np.where(self.female, "F", "M"), pa.string()),
                "age_years": pa.array(self.age, pa.int32()),
                "occupation": pa.array(np.array(OCCUPATIONS)[self.occupation], pa.string()),
                "home_district_code": pa.array(d_codes[self.home_district].tolist(), pa.string()),
                "home_neighbourhood_code": pa.array(
                    nb_codes[self.home_neighbourhood].tolist(), pa.string()
                ),
                "home_latitude": pa.array(self.home_lat, pa.float64()),
                "home_longitude": pa.array(self.home_lon, pa.float64()),
                "work_venue_id": pa.array(self.work, pa.int64(), mask=self.work < 0),
                "transit_mode": pa.array(np.array(MODES)[self.mode], pa.string()),
            }
        )


def make_population(
    world: World, person_ids: NDArray[np.int64], u: NDArray[np.float64]
) -> Population:
    """People from their uniforms ``u`` (one row of at least :data:`PERSON_FIELDS` per person)."""
    n = person_ids.size
    occ = np.select([u[:, P_OCC] < 0.5, u[:, P_OCC] < 0.68], [OFFICE_WORKER, STUDENT], AT_HOME)
    age = np.select(
        [occ == OFFICE_WORKER, occ == STUDENT],
        [23 + (u[:, P_AGE] * 42).astype(np.int64), 7 + (u[:, P_AGE] * 18).astype(np.int64)],
        25 + (u[:, P_AGE] * 66).astype(np.int64),
    )
    cum = np.cumsum(world.district_share)
    district = np.minimum(
        np.searchsorted(cum, u[:, P_DISTRICT] * cum[-1], side="right"), cum.size - 1
    )
    d_codes = np.array([a.code for a in world.geo.districts], dtype=object)
    lat, lon = world.geo.points_from_uniform(d_codes[district], u[:, P_HOME : P_HOME + 3])
    _, nb_codes = world.geo.locate(lat, lon)
    nb_index = {a.code: i for i, a in enumerate(world.geo.neighbourhoods)}
    neighbourhood = np.array([nb_index.get(c, -1) if c else -1 for c in nb_codes], dtype=np.int64)
    mode = (u[:, P_MODE] >= 0.65).astype(np.int64)

    office = world.choose(
        CODE["office"], np.where(u[:, P_WORK_SCOPE] < 0.4, district, -1), None, u[:, P_WORK]
    )
    school = world.choose(CODE["school"], district, neighbourhood, u[:, P_WORK])
    work = np.select([occ == OFFICE_WORKER, occ == STUDENT], [office, school], -1)
    has_work = work >= 0
    anchor_district = np.where(has_work, world.district[np.maximum(work, 0)], district)
    anchor_neighbourhood = np.where(
        has_work, world.neighbourhood[np.maximum(work, 0)], neighbourhood
    )

    favourites = np.empty((n, N_FAVOURITES), dtype=np.int64)
    for (kind, anchor), (start, count) in FAV_SLICE.items():
        dist, nb = (
            (anchor_district, anchor_neighbourhood)
            if anchor == "work"
            else (district, neighbourhood)
        )
        for j in range(start, start + count):
            favourites[:, j] = world.choose(CODE[kind], dist, nb, u[:, P_FAV + j])

    young = age < 30
    return Population(
        person_id=person_ids,
        female=u[:, P_SEX] < 0.5,
        age=age,
        occupation=occ,
        home_district=district,
        home_neighbourhood=neighbourhood,
        home_lat=lat,
        home_lon=lon,
        mode=mode,
        work=work,
        anchor_district=anchor_district,
        anchor_neighbourhood=anchor_neighbourhood,
        gym_member=(u[:, P_GYM] < 0.2) & (age >= 15) & (age < 70),
        churchgoer=u[:, P_CHURCH] < 0.25,
        gamer=u[:, P_GAMER] < np.select([young, age < 45], [0.45, 0.1], 0.02),
        karaoke_lover=(u[:, P_KARAOKE] < 0.15) & (age >= 13) & (age < 60),
        chronic_patient=u[:, P_CHRONIC] < np.where(age >= 65, 0.4, 0.05),
        leave_z=normal_from_uniform(u[:, P_LEAVE_Z], u[:, P_LEAVE_Z + 1]),
        end_z=normal_from_uniform(u[:, P_END_Z], u[:, P_END_Z + 1]),
        favourites=favourites,
    )
