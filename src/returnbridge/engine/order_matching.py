"""The match step: find the return's order on the platform, or hand the choice to a human.

A platform id is taken as given (the plan step reads the order next). Otherwise one search
with every clue the platform can filter on (name variants, email within the date window,
SKUs), then `decide_match` scores the hits; below the connection's threshold or with a near tie
the return waits in `needs_review` with each candidate's score and reasons (docs/matching.md).
A human's choice (`engine/review.py`) moves the return to `matched`, which this step honours.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from returnbridge.connectors.base.connector import OrderConnector, OrderQuery
from returnbridge.domain.matching import (
    MatchDecision,
    MatchPolicy,
    ScoredCandidate,
    decide_match,
    order_name_variants,
)
from returnbridge.domain.returns import CanonicalReturn, ReturnStatus
from returnbridge.engine import notifying
from returnbridge.engine.runtime import Runtime
from returnbridge.engine.step_records import (
    StepOutcome,
    advance,
    classify,
    connection_of,
    load_return,
    park,
    reached,
    transaction,
)
from returnbridge.store import returns as return_store
from returnbridge.store.step_rows import StepRow, stage_matched_order


def match_order(runtime: Runtime, tenant_id: str, return_id: str) -> StepOutcome:
    """Find the order: by platform id (taken as given), else by order number / email / SKUs."""
    with transaction(runtime) as session:
        record, canonical = load_return(session, tenant_id, return_id)
        if reached(record.status, ReturnStatus.MATCHED) and record.matched_order_id:
            return StepOutcome(record.status, order_id=record.matched_order_id)
        order_id = canonical.order.platform_order_id
        if order_id:
            # No call: the plan step reads the order next (and records its name), and parks
            # the return with `order_not_found` if the platform has no such order.
            _write_match(session, record, order_id, None, how="id")
            return StepOutcome(ReturnStatus.MATCHED, order_id=order_id)
        connection = connection_of(session, record)
        settings = dict(connection.settings or {})
        connector = runtime.connector(connection)
    try:
        policy = MatchPolicy.from_settings(settings)  # a bad setting parks the return, named
        return _match(runtime, tenant_id, return_id, canonical, connector=connector, policy=policy)
    except Exception as error:
        return classify(runtime, tenant_id, return_id, error, step="match")
    finally:
        connector.close()


def search_for(canonical: CanonicalReturn, policy: MatchPolicy) -> OrderQuery:
    """The one search for a return without a platform id: every clue the platform filters on.

    Name variants (the store's prefix/suffix) are alternatives; an email is searched within the
    date window before the request; SKUs are searched only without a name (a name is enough).
    """
    reference = canonical.order
    skus = tuple(line.sku for line in canonical.lines if line.sku)
    created_from = None
    if reference.customer_email and canonical.requested_at and not reference.order_number:
        created_from = canonical.requested_at - timedelta(days=policy.date_window_days)
    return OrderQuery(
        name=reference.order_number,
        names=order_name_variants(reference.order_number, policy) if reference.order_number else (),
        email=reference.customer_email,
        skus=() if reference.order_number else skus,
        created_from=created_from,
        limit=10,
    )


def candidate_view(scored: ScoredCandidate) -> dict[str, Any]:
    """A candidate as stored on the return and shown to the reviewer."""
    order = scored.order
    return {
        "order_id": order.id,
        "name": order.name,
        "email": order.email,
        "created_at": order.created_at.isoformat() if order.created_at else None,
        "total": order.total,
        "currency": order.currency,
        "score": scored.score,
        "reasons": [str(reason) for reason in scored.reasons],
        "ruled_out": scored.ruled_out,
    }


def _match(
    runtime: Runtime,
    tenant_id: str,
    return_id: str,
    canonical: CanonicalReturn,
    *,
    connector: OrderConnector,
    policy: MatchPolicy,
) -> StepOutcome:
    skus = tuple(line.sku for line in canonical.lines if line.sku)
    candidates = connector.find_orders(search_for(canonical, policy))
    decision = decide_match(
        canonical.order,
        candidates,
        skus=skus,
        requested_at=canonical.requested_at,
        policy=policy,
    )
    summary = [candidate_view(c) for c in decision.scored]
    with transaction(runtime) as session:
        return_store.set_candidates(session, return_id, tenant_id=tenant_id, candidates=summary)
    if decision.order_id is None:
        notifying.tell_customer(
            runtime,
            tenant_id,
            return_id,
            "more_information_needed",
            need=notifying.ORDER_NUMBER_NEEDED,
        )
        return park(
            runtime,
            tenant_id,
            return_id,
            status=ReturnStatus.NEEDS_REVIEW,
            event=_park_event(decision),
            reason=f"{decision.reason} ({decision.detail})" if decision.detail else decision.reason,
            data={
                "candidates": len(summary),
                "threshold": policy.threshold,
                "tie_margin": policy.tie_margin,
            },
        )
    name = next((c.name for c in decision.candidates if c.id == decision.order_id), None)
    return _record_match(runtime, tenant_id, return_id, decision.order_id, name, how="lookup")


def _park_event(decision: MatchDecision) -> str:
    return "order_ambiguous" if decision.scored else "order_not_found"


def _record_match(
    runtime: Runtime,
    tenant_id: str,
    return_id: str,
    order_id: str,
    name: str | None,
    *,
    how: str,
) -> StepOutcome:
    with transaction(runtime) as session:
        record, _ = load_return(session, tenant_id, return_id)
        _write_match(session, record, order_id, name, how=how)
    return StepOutcome(ReturnStatus.MATCHED, order_id=order_id)


def _write_match(
    session: Session, record: StepRow, order_id: str, name: str | None, *, how: str
) -> None:
    """The matched order and the `matched` transition, written in one UPDATE."""
    stage_matched_order(record, order_id, name)
    advance(
        session,
        record,
        ReturnStatus.MATCHED,
        event="order_matched",
        reason=f"matched by {how}",
        data={"order_id": order_id, "order_name": name},
    )
