"""What each MCP tool does, as plain functions of the runtime and the calling agent.

The transport (`server.py`) turns a `ToolRefused` into an MCP tool error with its sentence.
Writes go through the same code as the HTTP API: `ingest.submit_return` (the workflow) and
`engine.review`; reads of platforms through `engine.actions.perform` (rate limiter, audit).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from returnbridge.api.review_queue import waiting_returns
from returnbridge.api.schemas import return_out, unstorable
from returnbridge.domain.errors import DomainError, TransientError
from returnbridge.domain.money import format_minor
from returnbridge.domain.returns import CanonicalReturn
from returnbridge.engine import review
from returnbridge.engine.actions import catalog
from returnbridge.engine.actions.perform import Caller, perform
from returnbridge.engine.actions.run import ActionFailed, execute, parse_input
from returnbridge.engine.admission import HOLD_KEY
from returnbridge.engine.ingest import submit_return
from returnbridge.engine.runtime import Runtime
from returnbridge.engine.step_records import load_return
from returnbridge.store import audit, guardrails
from returnbridge.store import returns as return_store
from returnbridge.store.connections import chosen_connection_id, get_connection
from returnbridge.store.errors import RecordNotFoundError


class ToolRefused(Exception):
    """A tool call refused or failed, in a sentence for the agent (and its user); `audited`
    once the refusal is on the audit log (else the transport records it)."""

    def __init__(self, sentence: str, *, audited: bool = False) -> None:
        super().__init__(sentence)
        self.audited = audited


@dataclass(frozen=True, slots=True)
class Agent:
    """The calling agent: its tenant and the name it gave (audited as ``mcp:<name>``)."""

    tenant_id: str
    name: str

    @property
    def caller(self) -> Caller:
        return Caller(tenant_id=self.tenant_id, channel="mcp", actor=f"mcp:{self.name}")


def _connection_id(runtime: Runtime, agent: Agent, wanted: str | None) -> str:
    with runtime.sessions() as session:
        try:
            return chosen_connection_id(session, agent.tenant_id, wanted)
        except RecordNotFoundError as exc:
            raise ToolRefused(f"connection {wanted} not found") from exc
        except DomainError as exc:
            raise ToolRefused(exc.message) from exc


def _act(
    runtime: Runtime, agent: Agent, connection_id: str, action: str, args: dict[str, Any]
) -> dict[str, Any]:
    try:
        return perform(runtime, agent.caller, connection_id, action, args).body
    except ActionFailed as failure:
        raise ToolRefused(failure.detail, audited=True) from failure


def _audit(runtime: Runtime, agent: Agent, action: str, outcome: str, **extra: Any) -> None:
    with runtime.sessions.begin() as session:
        audit.record(
            session,
            agent.tenant_id,
            audit.Entry(
                channel="mcp", actor=agent.caller.actor, action=action, outcome=outcome, **extra
            ),
        )


def audit_refusal(runtime: Runtime, agent: Agent, tool: str, refused: ToolRefused) -> None:
    """Put a refusal no lower layer recorded on the audit log."""
    if not refused.audited:
        _audit(runtime, agent, tool, "refused", detail=str(refused))
        refused.audited = True


def find_order(
    runtime: Runtime,
    agent: Agent,
    *,
    order_number: str | None,
    customer_email: str | None,
    sku: str | None,
    order_id: str | None,
    connection_id: str | None,
) -> dict[str, Any]:
    connection = _connection_id(runtime, agent, connection_id)
    if order_id:
        return {"orders": [_act(runtime, agent, connection, "get_order", {"order_id": order_id})]}
    args: dict[str, Any] = {"limit": 10}
    if order_number:
        args["name"] = order_number
    if customer_email:
        args["email"] = customer_email
    if sku:
        args["skus"] = [sku]
    if len(args) == 1:
        raise ToolRefused("give order_id, or at least one of order_number, customer_email, sku")
    return _act(runtime, agent, connection, "find_orders", args)


def preview_refund(
    runtime: Runtime, agent: Agent, *, connection_id: str | None, request: dict[str, Any]
) -> dict[str, Any]:
    connection = _connection_id(runtime, agent, connection_id)
    return _act(runtime, agent, connection, "preview_refund", request)


def _planned_total(
    runtime: Runtime, connection_id: str, agent: Agent, canonical: CanonicalReturn
) -> tuple[int, str] | None:
    """What the return would refund, planned on the order as it is now; None when the order
    cannot be pinned down without a person (not found, ambiguous) or the plan fails."""
    with runtime.sessions() as session:
        connection = get_connection(session, connection_id, tenant_id=agent.tenant_id)
    connector = runtime.connector(connection)
    order_id = canonical.order.platform_order_id
    try:
        if not order_id and canonical.order.order_number:
            find = catalog.BY_NAME["find_orders"]
            query: dict[str, Any] = {"name": canonical.order.order_number}
            if canonical.order.customer_email:
                query["email"] = canonical.order.customer_email
            found = execute(connector, connection, find, parse_input(find, query), "")["orders"]
            order_id = found[0]["id"] if len(found) == 1 else None
        if not order_id:
            return None
        preview = catalog.BY_NAME["preview_refund"]
        request = {
            "order_id": order_id,
            "lines": [line.model_dump(mode="json", exclude_none=True) for line in canonical.lines],
            "refund": canonical.refund.model_dump(mode="json", exclude_none=True),
        }
        body = execute(connector, connection, preview, parse_input(preview, request), "")
    except ActionFailed:
        return None
    plan = body.get("plan")
    if not plan:
        return 0, str(body["currency"])
    return int(plan["total"]), str(body["currency"])


def create_return(
    runtime: Runtime, agent: Agent, *, connection_id: str | None, event: dict[str, Any]
) -> dict[str, Any]:
    """File a return through the workflow, within the tenant's guardrails."""
    started = time.monotonic()
    problem = unstorable(event)
    if problem:
        raise ToolRefused(f"the return cannot be stored: {problem}")
    try:
        canonical = CanonicalReturn.model_validate({**event, "channel": "chat"})
    except ValueError as exc:
        raise ToolRefused(f"the return is not valid: {str(exc).splitlines()[0:3]}") from exc
    connection = _connection_id(runtime, agent, connection_id)
    priced = _planned_total(runtime, connection, agent, canonical)
    with runtime.sessions.begin() as session:
        limits = guardrails.lock_tenant(session, agent.tenant_id)
        usage = guardrails.agent_returns(session, agent.tenant_id)
        refusal = guardrail_refusal(limits, usage, priced)
        hold = None if refusal else guardrail_hold(limits, priced)
        entry = audit.Entry(
            channel="mcp",
            actor=agent.caller.actor,
            action="create_return",
            outcome="refused" if refusal else "ok",
            connection_id=connection,
            detail=refusal or hold,
            summary={"external_id": canonical.external_id, "lines": len(canonical.lines)},
            duration_ms=int((time.monotonic() - started) * 1000),
        )
        event_id = audit.record(session, agent.tenant_id, entry).id
    if refusal:
        raise ToolRefused(refusal, audited=True)
    if hold:
        metadata = {**canonical.metadata, HOLD_KEY: hold}
        canonical = canonical.model_copy(update={"status": "requested", "metadata": metadata})
    submitted = submit_return(
        runtime,
        agent.tenant_id,
        connection_id=connection,
        canonical=canonical,
        idempotency_key=f"mcp:{canonical.external_id}:{canonical.revision}",
        source="mcp",
        connection_checked=True,
    )
    with runtime.sessions.begin() as session:
        audit.attach_return(session, event_id, submitted.record.id)
    answer = {
        "return_id": submitted.record.id,
        "status": submitted.record.status,
        "duplicate": submitted.duplicate,
        "held_for_review": hold,
    }
    if priced is not None:
        answer["planned_refund"] = {
            "amount": format_minor(priced[0], priced[1]),
            "currency": priced[1],
        }
    return answer


def _money(minor: int, currency: str) -> str:
    return f"{format_minor(minor, currency)} {currency}"


def guardrail_refusal(
    limits: guardrails.Limits, usage: guardrails.Usage, priced: tuple[int, str] | None
) -> str | None:
    if limits.calculate_only:
        return (
            "this merchant allows agents to calculate only: look up orders and preview "
            "refunds, but a person files the return"
        )
    if limits.returns_per_hour is not None and usage.last_hour >= limits.returns_per_hour:
        return f"the agents' cap of {limits.returns_per_hour} returns per hour is reached"
    if limits.returns_per_day is not None and usage.last_day >= limits.returns_per_day:
        return f"the agents' cap of {limits.returns_per_day} returns per day is reached"
    if priced is not None:
        total, currency = priced
        cap = limits.max_refund_per_return.get(currency)
        if cap is not None and total > cap:
            return (
                f"the refund {_money(total, currency)} is above the agents' maximum of "
                f"{_money(cap, currency)} per return; a person must file it"
            )
    return None


def guardrail_hold(limits: guardrails.Limits, priced: tuple[int, str] | None) -> str | None:
    if priced is None:
        if limits.review_above or limits.max_refund_per_return:
            return "the agent's return could not be priced before filing (order not pinned down)"
        return None
    total, currency = priced
    threshold = limits.review_above.get(currency)
    if threshold is not None and total > threshold:
        return (
            f"the refund {_money(total, currency)} is above {_money(threshold, currency)}, "
            "the most agents may refund without a person"
        )
    return None


def get_return(runtime: Runtime, agent: Agent, *, return_id: str) -> dict[str, Any]:
    body = _return_body(runtime, agent, return_id)
    _audit(runtime, agent, "get_return", "ok", return_id=return_id)
    return body


def _return_body(runtime: Runtime, agent: Agent, return_id: str) -> dict[str, Any]:
    with runtime.reads() as session:
        try:
            record = return_store.get_return(session, return_id, tenant_id=agent.tenant_id)
        except RecordNotFoundError as exc:
            raise ToolRefused(f"return {return_id} not found") from exc
        timeline = return_store.timeline(session, return_id, tenant_id=agent.tenant_id)
    body = return_out(
        record, base_url=runtime.settings.resolved_public_url, timeline=timeline
    ).model_dump(mode="json", by_alias=True)
    body["timeline"] = [
        {k: e.get(k) for k in ("at", "event", "to_status", "reason")}
        for e in body.get("timeline") or []
    ]
    return body


def list_review_queue(runtime: Runtime, agent: Agent, *, limit: int) -> dict[str, Any]:
    waiting, more = waiting_returns(runtime, agent.tenant_id, limit=limit)
    items = []
    for out in waiting:
        items.append(
            {
                "return_id": out.id,
                "external_id": out.external_id,
                "order": out.order_reference,
                "review": out.review.model_dump(mode="json") if out.review else None,
            }
        )
    _audit(runtime, agent, "list_review_queue", "ok", summary={"returns": len(items)})
    return {"returns": items, "more": more}


def resolve_return(
    runtime: Runtime,
    agent: Agent,
    *,
    return_id: str,
    decision: str,
    order: str | None,
    note: str | None,
) -> dict[str, Any]:
    with runtime.sessions.begin() as session:
        limits = guardrails.read(session, agent.tenant_id)
    if limits.calculate_only:
        raise ToolRefused("this merchant allows agents to calculate only: a person decides")
    actor = agent.caller.actor
    try:
        if decision == "approve":
            _refuse_held(runtime, agent, return_id)
            review.approve(runtime, agent.tenant_id, return_id, actor=actor, note=note)
        elif decision == "cancel":
            review.cancel(runtime, agent.tenant_id, return_id, actor=actor, note=note)
        else:
            if not order:
                raise ToolRefused("resolve needs the order: an order id or number")
            review.resolve(
                runtime, agent.tenant_id, return_id, order=order, lines=None, actor=actor, note=note
            )
    except RecordNotFoundError as exc:
        raise ToolRefused(f"return {return_id} not found") from exc
    except DomainError as exc:
        raise ToolRefused(exc.message) from exc
    except TransientError as exc:
        raise ToolRefused("the platform could not confirm the order just now; try again") from exc
    _audit(runtime, agent, "resolve_return", "ok", return_id=return_id, detail=decision)
    return _return_body(runtime, agent, return_id)


def _refuse_held(runtime: Runtime, agent: Agent, return_id: str) -> None:
    """A return the guardrails held for a person is approved by a person, not an agent."""
    with runtime.reads() as session:
        try:
            _record, canonical = load_return(session, agent.tenant_id, return_id, lock=False)
        except RecordNotFoundError as exc:
            raise ToolRefused(f"return {return_id} not found") from exc
    if canonical.metadata.get(HOLD_KEY):
        raise ToolRefused(
            f"return {return_id} is held for a person: {canonical.metadata[HOLD_KEY]}"
        )
