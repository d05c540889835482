"""Step outcomes: what DBOS records for each step, and results recorded by earlier versions."""

from __future__ import annotations

import pickle

import pytest

from returnbridge.domain.returns import ReturnStatus
from returnbridge.engine.step_records import StepOutcome


def test_an_outcome_survives_dbos_recording_it() -> None:
    outcome = StepOutcome(ReturnStatus.PLANNED, total=3884, order_id="gid://shopify/Order/1")

    assert pickle.loads(pickle.dumps(outcome)) == outcome  # DBOS's default serializer


@pytest.mark.parametrize(
    ("status", "rests"),
    [
        (ReturnStatus.NEEDS_REVIEW, True),
        (ReturnStatus.FAILED, True),
        (ReturnStatus.CANCELLED, True),
        (ReturnStatus.MATCHED, False),
        (ReturnStatus.COMPLETED, False),
    ],
)
def test_the_workflow_stops_at_a_resting_status(status: ReturnStatus, rests: bool) -> None:
    assert StepOutcome(status).rests is rests


def test_an_admitted_return_goes_on_whatever_status_it_was_found_in() -> None:
    assert StepOutcome(ReturnStatus.NEEDS_REVIEW, admitted=True).rests is False


@pytest.mark.parametrize(
    ("recorded", "expected"),
    [
        (
            {"status": "admitted", "was": "received"},
            StepOutcome(ReturnStatus.RECEIVED, admitted=True),
        ),
        ({"status": "matched", "order_id": "7"}, StepOutcome(ReturnStatus.MATCHED, order_id="7")),
        ({"status": "planned", "total": 990}, StepOutcome(ReturnStatus.PLANNED, total=990)),
        (
            {"status": "synced", "skipped": "no returns system connected"},
            StepOutcome(ReturnStatus.SYNCED, skipped="no returns system connected"),
        ),
        (
            {"status": "needs_review", "reason": "no matched order", "code": "X"},
            StepOutcome(ReturnStatus.NEEDS_REVIEW, reason="no matched order"),
        ),
    ],
)
def test_a_dict_recorded_before_the_upgrade_reads_as_the_same_outcome(
    recorded: dict[str, object], expected: StepOutcome
) -> None:
    assert StepOutcome.recorded(recorded) == expected
    assert StepOutcome.recorded(expected) is expected


def test_anything_else_recorded_is_refused() -> None:
    with pytest.raises(TypeError):
        StepOutcome.recorded("matched")
