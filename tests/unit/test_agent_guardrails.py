"""The MCP gateway's guardrail decisions: what is refused, what is held for a person."""

from __future__ import annotations

import pytest

from returnbridge.mcp_gateway.tools import guardrail_hold, guardrail_refusal
from returnbridge.store.guardrails import Limits, Usage

NONE_USED = Usage(last_hour=0, last_day=0)


def test_no_limits_refuse_and_hold_nothing() -> None:
    busy = Usage(last_hour=10**6, last_day=10**6)
    assert guardrail_refusal(Limits(), busy, (10**9, "USD")) is None
    assert guardrail_hold(Limits(), (10**9, "USD")) is None
    assert guardrail_hold(Limits(), None) is None


def test_calculate_only_refuses_before_anything_else() -> None:
    refusal = guardrail_refusal(Limits(calculate_only=True), NONE_USED, (1, "USD"))
    assert refusal is not None
    assert "calculate only" in refusal


@pytest.mark.parametrize(
    ("limits", "usage", "refused"),
    [
        (Limits(returns_per_hour=2), Usage(1, 1), None),
        (Limits(returns_per_hour=2), Usage(2, 2), "2 returns per hour"),
        (Limits(returns_per_day=5), Usage(0, 4), None),
        (Limits(returns_per_day=5), Usage(0, 5), "5 returns per day"),
        (Limits(returns_per_hour=0), NONE_USED, "0 returns per hour"),
    ],
)
def test_caps_count_returns_already_filed(
    limits: Limits, usage: Usage, refused: str | None
) -> None:
    answer = guardrail_refusal(limits, usage, (100, "USD"))
    if refused is None:
        assert answer is None
    else:
        assert answer is not None
        assert refused in answer


def test_the_maximum_is_per_currency_and_inclusive() -> None:
    limits = Limits(max_refund_per_return={"USD": 1000, "JPY": 5000})
    assert guardrail_refusal(limits, NONE_USED, (1000, "USD")) is None
    over = guardrail_refusal(limits, NONE_USED, (1001, "USD"))
    assert over == (
        "the refund 10.01 USD is above the agents' maximum of 10.00 USD per return; "
        "a person must file it"
    )
    assert guardrail_refusal(limits, NONE_USED, (5001, "JPY")) is not None
    assert "5001 JPY" in (guardrail_refusal(limits, NONE_USED, (5001, "JPY")) or "")
    assert guardrail_refusal(limits, NONE_USED, (10**9, "EUR")) is None  # no maximum for EUR
    assert guardrail_refusal(limits, NONE_USED, None) is None  # unpriced: held instead, not refused


def test_a_return_above_the_threshold_or_unpriced_is_held() -> None:
    limits = Limits(review_above={"USD": 500})
    assert guardrail_hold(limits, (500, "USD")) is None
    held = guardrail_hold(limits, (501, "USD"))
    assert held is not None
    assert "5.01 USD is above 5.00 USD" in held
    assert guardrail_hold(limits, (10**6, "EUR")) is None
    unpriced = guardrail_hold(limits, None)
    assert unpriced is not None
    assert "could not be priced" in unpriced
    assert guardrail_hold(Limits(max_refund_per_return={"USD": 1}), None) is not None
