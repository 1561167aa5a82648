"""What to generate: population, span, seed, and how much evidence people leave."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from citytrace.errors import InputError


@dataclass(frozen=True)
class EvidenceRates:
    """How much evidence a person leaves; probabilities are per visit unless noted.

    Card probabilities per kind of place are in :mod:`citytrace.synth.kinds`; ``card`` scales
    them all.
    """

    card: float = 1.0
    checkin: float = 0.85
    checkout: float = 0.3
    checkin_from_date: date | None = None  # KI-Pass began on 2020-06-10; None: check-ins throughout
    cell: float = 0.9
    cell_transit: float = 0.8
    fix_moving_interval_s: tuple[float, float] = (60.0, 300.0)
    fix_stay_interval_s: tuple[float, float] = (600.0, 1800.0)
    fix_accuracy_m: tuple[float, float] = (5.0, 30.0)
    fix_jump_rate: float = 0.01  # per fix
    fix_jump_m: tuple[float, float] = (200.0, 800.0)
    phone_off_rate: float = 0.15  # per day: one gap of 1-4 hours
    phone_off_night_rate: float = 0.3  # per night: off while asleep
    indoor_loss: float = 0.5  # share of fixes lost at indoor kinds (PC bang, karaoke, mart, gym)
    subway_loss: float = 0.8  # share of fixes lost underground on the subway

    def __post_init__(self) -> None:
        if self.card < 0:
            raise InputError(f"card must not be negative, not {self.card}")
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name in _PROBABILITIES and not 0.0 <= value <= 1.0:
                raise InputError(f"{f.name} must be within 0..1, not {value}")
            if isinstance(value, tuple) and not 0.0 < value[0] <= value[1]:
                raise InputError(f"{f.name} must be a positive (low, high) range, not {value}")


_PROBABILITIES = {
    "checkin",
    "checkout",
    "cell",
    "cell_transit",
    "fix_jump_rate",
    "phone_off_rate",
    "phone_off_night_rate",
    "indoor_loss",
    "subway_loss",
}


@dataclass(frozen=True)
class SynthConfig:
    """A synthetic city: everything generated derives from these values.

    Attributes
    ----------
    n_people
        Residents, with ids ``0 .. n_people - 1``.
    n_days
        Days simulated, from ``start_date`` (local midnight in the city's time zone).
    seed
        Seed of the city; a person's stream is ``SeedSequence([seed, person_id])``.
    city
        Packaged city name or folder, as for :func:`citytrace.geo.load_city`.
    fixes_for
        Whose phone fixes to generate: a count (the first ``k`` ids) or explicit ids. Fixes for a
        whole city would be billions of rows.
    batch_size
        People simulated together; changes speed and memory, never the output.
    """

    n_people: int = 1000
    n_days: int = 14
    seed: int = 0
    start_date: date = date(2020, 3, 1)
    city: str = "seoul"
    fixes_for: int | tuple[int, ...] = 100
    batch_size: int = 4096
    rates: EvidenceRates = field(default_factory=EvidenceRates)

    def __post_init__(self) -> None:
        if self.n_people < 1:
            raise InputError(f"n_people must be at least 1, not {self.n_people}")
        if self.n_days < 1:
            raise InputError(f"n_days must be at least 1, not {self.n_days}")
        # Below 2**32 both, so that (seed, person_id) pairs map to distinct seed sequences.
        if not 0 <= self.seed < 2**32:
            raise InputError(f"seed must be within 0 .. 2**32 - 1, not {self.seed}")
        if self.n_people > 2**32:
            raise InputError(f"n_people must be at most 2**32, not {self.n_people}")
        if self.batch_size < 1:
            raise InputError(f"batch_size must be at least 1, not {self.batch_size}")
        if isinstance(self.fixes_for, int) and self.fixes_for < 0:
            raise InputError(f"fixes_for must not be negative, not {self.fixes_for}")

    def has_fixes(self, person_id: int) -> bool:
        """Whether fixes are generated for this person."""
        if isinstance(self.fixes_for, int):
            return 0 <= person_id < self.fixes_for
        return person_id in self.fixes_for

    def fix_ids(self) -> list[int]:
        """The ids, within the population, whose fixes are generated, ascending."""
        if isinstance(self.fixes_for, int):
            return list(range(min(self.fixes_for, self.n_people)))
        return sorted({i for i in self.fixes_for if 0 <= i < self.n_people})

    def to_json(self) -> str:
        """The configuration as JSON, to regenerate the same city later."""

        def encode(value: Any) -> Any:
            if isinstance(value, date):
                return value.isoformat()
            if isinstance(value, tuple):
                return list(value)
            return value

        data = {f.name: encode(getattr(self, f.name)) for f in dataclasses.fields(self)}
        data["rates"] = {
            f.name: encode(getattr(self.rates, f.name)) for f in dataclasses.fields(self.rates)
        }
        return json.dumps(data, indent=2, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> SynthConfig:
        """The inverse of :meth:`to_json`."""
        data = json.loads(text)
        rates = dict(data.pop("rates", {}))
        for key, value in rates.items():
            if isinstance(value, list):
                rates[key] = tuple(value)
        if rates.get("checkin_from_date"):
            rates["checkin_from_date"] = date.fromisoformat(rates["checkin_from_date"])
        data["start_date"] = date.fromisoformat(data["start_date"])
        if isinstance(data.get("fixes_for"), list):
            data["fixes_for"] = tuple(data["fixes_for"])
        return cls(**data, rates=EvidenceRates(**rates))
