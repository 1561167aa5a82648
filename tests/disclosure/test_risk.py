"""The re-identification risk check as a pure library: k-anonymity, linkability, uniqueness of
what is shown, overrides and the list's summary."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from citytrace.disclosure.risk import Code, EntryFacts, Level, Reason, RiskPolicy, assess, summarise


def entry(
    key: int,
    *,
    cases: set[int] | None = None,
    k: int | None = 20,
    named: bool = False,
    window_min: float = 60,
    overridden: bool = False,
) -> EntryFacts:
    return EntryFacts(
        key=key,
        case_keys=frozenset(cases or {key}),
        k=k,
        business_named=named,
        window_min=window_min,
        overridden=overridden,
    )


def codes(result: object) -> list[str]:
    return [r.code.value for r in result.reasons]  # type: ignore[attr-defined]


class TestK:
    def test_below_min_k_blocks(self) -> None:
        (low,) = assess([entry(1, k=4)], RiskPolicy(min_k=5))
        assert low.level is Level.BLOCKED and codes(low) == ["low_k"]
        assert low.reasons[0].params == {"k": 4, "min_k": 5}
        (enough,) = assess([entry(1, k=5)], RiskPolicy(min_k=5))
        assert enough.level is Level.OK and enough.reasons == ()

    def test_unknown_population_blocks(self) -> None:
        (unknown,) = assess([entry(1, k=None)])
        assert unknown.level is Level.BLOCKED and codes(unknown) == ["no_population"]

    def test_an_override_turns_a_block_into_a_warning(self) -> None:
        (result,) = assess([entry(1, k=1, overridden=True)])
        assert result.level is Level.WARNING and codes(result) == ["low_k", "overridden"]

    @given(k=st.integers(0, 100), min_k=st.integers(1, 50))
    def test_blocked_exactly_below_min_k(self, k: int, min_k: int) -> None:
        (result,) = assess([entry(1, k=k, window_min=600)], RiskPolicy(min_k=min_k))
        assert result.blocked == (k < min_k)


class TestLinkability:
    def test_four_entries_of_one_case_alone_warn(self) -> None:
        entries = [entry(i, cases={7}) for i in range(4)] + [entry(9, cases={7, 8})]
        results = assess(entries, RiskPolicy(link_points=4))
        assert [codes(r) for r in results[:4]] == [["linkable"]] * 4
        assert results[4].level is Level.OK  # shared by two cases: not one person's route
        assert results[0].reasons[0].params == {"points": 4, "limit": 4}

    def test_three_do_not(self) -> None:
        results = assess([entry(i, cases={7}) for i in range(3)])
        assert all(r.level is Level.OK for r in results)


class TestUniqueness:
    def test_a_named_business_with_a_narrow_window_and_few_people(self) -> None:
        (narrow,) = assess([entry(1, k=6, named=True, window_min=30)], RiskPolicy(min_k=5))
        assert codes(narrow) == ["unique_fields"] and narrow.level is Level.WARNING
        (wide,) = assess([entry(1, k=6, named=True, window_min=120)], RiskPolicy(min_k=5))
        assert wide.level is Level.OK
        (crowded,) = assess([entry(1, k=50, named=True, window_min=30)], RiskPolicy(min_k=5))
        assert crowded.level is Level.OK


class TestSummary:
    def test_the_list_as_a_whole(self) -> None:
        entries = [entry(1, k=2), entry(2, k=None), entry(3, k=30)] + [
            entry(10 + i, cases={5}, k=9) for i in range(4)
        ]
        summary = summarise(assess(entries), entries)
        assert (summary.entries, summary.blocked, summary.unknown_k) == (7, 2, 1)
        assert summary.min_k == 2 and summary.linkable_cases == 1 and summary.warnings == 4


class TestReasons:
    def test_round_trip_and_text(self) -> None:
        reason = Reason(Code.LOW_K, blocking=True, params={"k": 3, "min_k": 5})
        assert Reason.from_dict(reason.as_dict()) == reason
        assert "only 3 people" in reason.text() and "at least 5" in reason.text()

    def test_bad_policy(self) -> None:
        with pytest.raises(ValueError):
            RiskPolicy(min_k=0)
