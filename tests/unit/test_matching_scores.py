"""Scored order matching: points and reasons per clue, the threshold and the near-tie rule.

docs/matching.md is the table these tests hold the code to.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from returnbridge.domain.errors import DomainError
from returnbridge.domain.matching import (
    MatchClues,
    MatchPolicy,
    decide_match,
    order_name_variants,
    order_number_core,
    score_candidate,
)
from returnbridge.domain.orders import OrderSummary
from returnbridge.domain.returns import OrderReference

EU = MatchPolicy(name_prefixes=("EU-",), name_suffixes=("-A",))
REQUESTED = datetime(2026, 2, 1, tzinfo=UTC)


def _order(order_id: str = "o1", **fields: object) -> OrderSummary:
    return OrderSummary.model_validate({"id": order_id, **fields})


# --- points per clue ----------------------------------------------------------------------------


def test_an_exact_name_scores_60_and_says_so() -> None:
    scored = score_candidate(OrderReference(order_number="1001"), _order(name="#1001"))
    assert scored.score == 60
    assert [str(r) for r in scored.reasons] == ["+60 order name #1001 is the reference 1001"]


def test_a_name_with_the_store_prefix_and_suffix_scores_55() -> None:
    scored = score_candidate(
        OrderReference(order_number="#1001"), _order(name="EU-1001-A"), policy=EU
    )
    assert scored.score == 55
    assert scored.viable


def test_without_the_prefix_setting_a_prefixed_name_is_ruled_out() -> None:
    scored = score_candidate(OrderReference(order_number="1001"), _order(name="EU-1001"))
    assert scored.ruled_out == "name"
    assert scored.score == 0


def test_a_suffix_does_not_let_a_longer_number_match() -> None:
    # Shopify's name search ignores suffixes ('#1-A' finds '#12-A'): the exact check refuses.
    scored = score_candidate(OrderReference(order_number="1-A"), _order(name="#12-A"), policy=EU)
    assert scored.ruled_out == "name"


def test_email_phone_postal_and_skus_add_up() -> None:
    reference = OrderReference(
        customer_email="Sam@Example.com", customer_phone="+1 (555) 010-0199", postal_code="SW1A 1AA"
    )
    order = _order(
        email="sam@example.com",
        phone="555-010-0199",
        postal_code="sw1a1aa",
        skus=("TEE", "CAP"),
    )
    scored = score_candidate(reference, order, clues=MatchClues(skus=("TEE", "MUG")))
    assert [r.points for r in scored.reasons] == [40, 30, 15, 15]
    assert scored.score == 100


def test_a_different_phone_or_postal_code_costs_points_but_does_not_rule_out() -> None:
    reference = OrderReference(customer_email="a@x.com", customer_phone="555 0100", postal_code="1")
    scored = score_candidate(reference, _order(email="a@x.com", phone="555 0199", postal_code="2"))
    assert scored.viable
    assert scored.score == 40 - 20 - 10
    assert "-20 phone 555 0199 differs" in [str(r) for r in scored.reasons]


def test_a_phone_the_order_does_not_carry_is_not_held_against_it() -> None:
    reference = OrderReference(customer_email="a@x.com", customer_phone="555 0100")
    assert score_candidate(reference, _order(email="a@x.com")).score == 40


def test_an_order_placed_after_the_request_is_ruled_out() -> None:
    order = _order(email="a@x.com", created_at="2026-02-05T00:00:00Z")
    scored = score_candidate(
        OrderReference(customer_email="a@x.com"), order, clues=MatchClues(requested_at=REQUESTED)
    )
    assert scored.ruled_out == "date"


def test_an_order_outside_the_date_window_loses_20_points() -> None:
    order = _order(email="a@x.com", created_at="2024-01-01T00:00:00Z")
    scored = score_candidate(
        OrderReference(customer_email="a@x.com"),
        order,
        clues=MatchClues(requested_at=REQUESTED),
        policy=MatchPolicy(date_window_days=90),
    )
    assert scored.score == 20
    assert (
        scored.reasons[-1].text == "placed 762 days before the request, outside the 90-day window"
    )


# --- the decision -------------------------------------------------------------------------------


def test_two_orders_of_one_customer_with_the_sku_tie_and_go_to_review() -> None:
    hits = [
        _order("o1", email="a@x.com", skus=("TEE",)),
        _order("o2", email="a@x.com", skus=("TEE",)),
    ]
    decision = decide_match(OrderReference(customer_email="a@x.com"), hits, skus=("TEE",))
    assert not decision.matched
    assert [s.score for s in decision.scored] == [70, 70]
    assert decision.detail == "scores 70 and 70 are within the tie margin 10"


def test_a_lead_of_the_tie_margin_is_a_match() -> None:
    hits = [
        _order("o1", email="a@x.com", skus=("TEE",)),
        _order("o2", email="a@x.com", skus=("TEE",), phone="555 0100"),
    ]
    reference = OrderReference(customer_email="a@x.com", customer_phone="5550100")
    decision = decide_match(reference, hits, skus=("TEE",), policy=MatchPolicy(tie_margin=30))
    assert decision.order_id == "o2"
    assert decision.detail == "score 100 leads the next candidate by 30"


def test_a_lead_below_the_tie_margin_is_a_near_tie() -> None:
    hits = [
        _order("o1", email="a@x.com", skus=("TEE",)),
        _order("o2", email="a@x.com", skus=("TEE",), postal_code="90210"),
    ]
    reference = OrderReference(customer_email="a@x.com", postal_code="90210")
    decision = decide_match(reference, hits, skus=("TEE",), policy=MatchPolicy(tie_margin=20))
    assert not decision.matched
    assert [s.order.id for s in decision.scored] == ["o2", "o1"]


def test_a_single_candidate_below_the_threshold_goes_to_review() -> None:
    decision = decide_match(
        OrderReference(customer_email="a@x.com"),
        [_order(email="a@x.com")],
        policy=MatchPolicy(threshold=50),
    )
    assert not decision.matched
    assert decision.reason == "the only candidate scores 40, below the threshold 50"


def test_ruled_out_hits_are_kept_last_with_their_reason() -> None:
    hits = [_order("o1", email="b@x.com"), _order("o2", email="a@x.com")]
    decision = decide_match(OrderReference(customer_email="a@x.com"), hits)
    assert decision.order_id == "o2"
    assert [(s.order.id, s.ruled_out) for s in decision.scored] == [("o2", None), ("o1", "email")]


# --- settings and name variants -----------------------------------------------------------------


def test_policy_reads_the_connection_settings() -> None:
    policy = MatchPolicy.from_settings(
        {
            "match_threshold": 70,
            "match_tie_margin": 5,
            "order_name_prefix": "EU-",
            "order_name_suffix": ["-A", "-B"],
            "match_date_window_days": 30,
            "restock_location_id": "x",
        }
    )
    assert policy == MatchPolicy(70, 5, ("EU-",), ("-A", "-B"), 30)
    assert MatchPolicy.from_settings(None) == MatchPolicy()


@pytest.mark.parametrize(
    "settings",
    [{"match_threshold": 101}, {"match_tie_margin": "5"}, {"order_name_prefix": [1]}],
)
def test_policy_refuses_a_bad_setting_by_name(settings: dict[str, object]) -> None:
    with pytest.raises(DomainError) as caught:
        MatchPolicy.from_settings(settings)
    assert caught.value.code == "INVALID_SETTING"
    assert caught.value.field == next(iter(settings))


def test_name_variants_cover_hash_prefix_and_suffix() -> None:
    assert order_name_variants("1001", EU) == (
        "1001",
        "1001-A",
        "#1001",
        "#1001-A",
        "EU-1001",
        "EU-1001-A",
    )
    assert order_name_variants("EU-1001-A", EU)[0] == "EU-1001-A"
    assert "1001" in order_name_variants("EU-1001-A", EU)


# --- properties ---------------------------------------------------------------------------------

_emails = st.sampled_from(["a@x.com", "b@x.com", "c@x.com"])
_skus = st.lists(st.sampled_from(["TEE", "CAP", "MUG"]), max_size=3, unique=True)
_hits = st.lists(
    st.builds(
        lambda i, email, skus: _order(f"o{i}", email=email, skus=tuple(skus)),
        st.integers(0, 999),
        _emails,
        _skus,
    ),
    max_size=6,
    unique_by=lambda o: o.id,
)
_policies = st.builds(MatchPolicy, st.integers(0, 100), st.integers(0, 100))


@given(hits=_hits, asked=_skus, policy=_policies)
def test_a_match_is_never_a_guess(
    hits: list[OrderSummary], asked: list[str], policy: MatchPolicy
) -> None:
    """Oracle: a match reaches the threshold and leads every other viable hit by the margin."""
    reference = OrderReference(customer_email="a@x.com")
    decision = decide_match(reference, hits, skus=tuple(asked), policy=policy)
    assert len(decision.scored) == len(hits)
    if not decision.matched:
        return
    best = next(s for s in decision.scored if s.order.id == decision.order_id)
    assert best.viable
    assert best.score >= policy.threshold
    assert best.order.email == "a@x.com"
    for other in decision.scored:
        if other is not best and other.viable:
            assert best.score - other.score >= max(policy.tie_margin, 1)


@given(hits=_hits, asked=_skus)
def test_scores_stay_within_0_and_100_and_ruled_out_hits_score_0(
    hits: list[OrderSummary], asked: list[str]
) -> None:
    for hit in hits:
        scored = score_candidate(
            OrderReference(customer_email="a@x.com", order_number="1"),
            hit,
            clues=MatchClues(skus=tuple(asked)),
        )
        assert 0 <= scored.score <= 100
        if not scored.viable:
            assert scored.score == 0


@given(st.from_regex(r"[0-9]{1,6}", fullmatch=True))
def test_every_name_variant_reads_back_to_the_same_order_number(number: str) -> None:
    for variant in order_name_variants(number, EU):
        assert order_number_core(variant, EU) == number
