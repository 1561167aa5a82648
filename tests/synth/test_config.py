"""SynthConfig: validation and its JSON form."""

from __future__ import annotations

from datetime import date

import pytest

from citytrace.errors import InputError
from citytrace.synth import EvidenceRates, SynthConfig


class TestSynthConfig:
    def test_json_round_trip(self) -> None:
        config = SynthConfig(
            n_people=10,
            n_days=3,
            seed=4,
            start_date=date(2020, 6, 1),
            fixes_for=(1, 3),
            rates=EvidenceRates(checkin_from_date=date(2020, 6, 10), fix_jump_rate=0.0),
        )
        assert SynthConfig.from_json(config.to_json()) == config

    @pytest.mark.parametrize(
        "kwargs",
        [{"n_people": 0}, {"n_days": 0}, {"seed": -1}, {"seed": 2**32}, {"batch_size": 0}],
    )
    def test_refuses_bad_values(self, kwargs: dict[str, int]) -> None:
        with pytest.raises(InputError):
            SynthConfig(**kwargs)  # type: ignore[arg-type]

    def test_refuses_bad_rates(self) -> None:
        with pytest.raises(InputError, match="checkin"):
            EvidenceRates(checkin=1.5)
        with pytest.raises(InputError, match="fix_accuracy_m"):
            EvidenceRates(fix_accuracy_m=(30.0, 5.0))

    def test_fixes_for_a_count_or_ids(self) -> None:
        assert SynthConfig(n_people=5, fixes_for=3).fix_ids() == [0, 1, 2]
        assert SynthConfig(n_people=5, fixes_for=(4, 9, 1)).fix_ids() == [1, 4]
        assert SynthConfig(n_people=5, fixes_for=(4,)).has_fixes(4)
