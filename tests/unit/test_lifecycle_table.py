"""The whole lifecycle table, written out by hand from docs/architecture.md ("Lifecycle").

received -> matched -> planned -> refunded -> restocked -> synced -> notified -> completed
   any state before completed  --> needs_review | failed
   received, matched, planned  --> cancelled
   needs_review --> received | matched | planned | refunded | failed
   failed       --> received
"""

from __future__ import annotations

import pytest

from returnbridge.domain import lifecycle
from returnbridge.domain.errors import DomainError
from returnbridge.domain.lifecycle import TERMINAL, TRANSITIONS, can_transition, check_transition
from returnbridge.domain.returns import ReturnStatus as S

_PARKED = {S.NEEDS_REVIEW, S.FAILED}

EXPECTED: dict[S, frozenset[S]] = {
    S.RECEIVED: frozenset({S.MATCHED, S.CANCELLED} | _PARKED),
    S.MATCHED: frozenset({S.PLANNED, S.CANCELLED} | _PARKED),
    S.PLANNED: frozenset({S.REFUNDED, S.CANCELLED} | _PARKED),
    S.REFUNDED: frozenset({S.RESTOCKED} | _PARKED),
    S.RESTOCKED: frozenset({S.SYNCED} | _PARKED),
    S.SYNCED: frozenset({S.NOTIFIED} | _PARKED),
    S.NOTIFIED: frozenset({S.COMPLETED} | _PARKED),
    S.COMPLETED: frozenset(),
    S.NEEDS_REVIEW: frozenset(
        {S.RECEIVED, S.MATCHED, S.PLANNED, S.REFUNDED, S.RESTOCKED, S.FAILED}
    ),
    S.FAILED: frozenset({S.RECEIVED}),
    S.CANCELLED: frozenset(),
}


def test_the_published_table_is_exactly_the_documented_one() -> None:
    assert dict(TRANSITIONS) == EXPECTED
    assert frozenset({S.COMPLETED, S.CANCELLED}) == TERMINAL


def test_building_the_table_gives_exactly_the_documented_one() -> None:
    # TRANSITIONS is built once, when the module is imported; building it again here checks
    # the construction itself (every state present, sets of targets, nothing lost or added).
    built = lifecycle._table()
    assert built == EXPECTED
    assert all(isinstance(targets, frozenset) for targets in built.values())


@pytest.mark.parametrize("current", list(S))
@pytest.mark.parametrize("target", list(S))
def test_every_pair_of_states_is_allowed_exactly_when_the_table_says(current: S, target: S) -> None:
    allowed = target in EXPECTED[current]
    assert can_transition(current.value, target.value) is allowed
    if allowed:
        check_transition(current, target)
    else:
        with pytest.raises(DomainError) as caught:
            check_transition(current, target)
        assert caught.value.code == "INVALID_TRANSITION"
        assert caught.value.message == f"a return cannot go from {current} to {target}"


def test_the_table_is_read_only() -> None:
    with pytest.raises(TypeError):
        TRANSITIONS[S.COMPLETED] = frozenset({S.RECEIVED})  # type: ignore[index]
