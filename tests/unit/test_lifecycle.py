"""The lifecycle transition table (DESIGN.md §3)."""

from __future__ import annotations

import itertools

import pytest

from returnbridge.domain.errors import DomainError
from returnbridge.domain.lifecycle import (
    MAIN_PATH,
    TERMINAL,
    TRANSITIONS,
    can_transition,
    check_transition,
)
from returnbridge.domain.returns import ReturnStatus as S


def test_main_path_moves_one_step_at_a_time() -> None:
    for here, nxt in itertools.pairwise(MAIN_PATH):
        assert can_transition(here, nxt)
    assert not can_transition(S.RECEIVED, S.PLANNED)
    assert not can_transition(S.PLANNED, S.MATCHED)


def test_completed_and_cancelled_are_terminal() -> None:
    assert {S.COMPLETED, S.CANCELLED} == TERMINAL
    assert TRANSITIONS[S.COMPLETED] == frozenset()


@pytest.mark.parametrize("state", [S.RECEIVED, S.MATCHED, S.PLANNED])
def test_cancel_only_before_money_moves(state: S) -> None:
    assert can_transition(state, S.CANCELLED)


@pytest.mark.parametrize("state", [S.REFUNDED, S.RESTOCKED, S.NEEDS_REVIEW, S.FAILED])
def test_no_cancel_once_money_may_have_moved(state: S) -> None:
    assert not can_transition(state, S.CANCELLED)


def test_every_unfinished_state_can_fall_to_review_or_failure() -> None:
    for state in MAIN_PATH[:-1]:
        assert can_transition(state, S.NEEDS_REVIEW)
        assert can_transition(state, S.FAILED)


def test_review_resumes_and_failure_restarts() -> None:
    assert can_transition(S.NEEDS_REVIEW, S.MATCHED)
    assert can_transition(S.FAILED, S.RECEIVED)
    assert not can_transition(S.FAILED, S.REFUNDED)


def test_check_transition_names_both_states() -> None:
    with pytest.raises(DomainError, match="completed to received") as caught:
        check_transition("completed", "received")
    assert caught.value.code == "INVALID_TRANSITION"
