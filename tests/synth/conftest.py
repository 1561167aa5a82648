"""A small synthetic city shared by the synth tests (generated once per module)."""

from __future__ import annotations

import pytest

from citytrace.synth import SynthCity, SynthConfig, generate

SMALL = SynthConfig(n_people=240, n_days=7, seed=11, fixes_for=24, batch_size=100)


@pytest.fixture(scope="session")
def small_city() -> SynthCity:
    return generate(SMALL)
