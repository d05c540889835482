"""Per-tenant limits on what AI agents may do through the MCP gateway (`AgentGuardrails`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from returnbridge.store.audit import count_since
from returnbridge.store.clock import Clock, utc_now
from returnbridge.store.tables import AgentGuardrails


@dataclass(frozen=True, slots=True)
class Limits:
    """No row means these defaults: agents may file returns, with no caps."""

    calculate_only: bool = False
    max_refund_per_return: dict[str, int] = field(default_factory=dict)
    """Per currency, minor units: a return refunding more is refused."""
    review_above: dict[str, int] = field(default_factory=dict)
    """Per currency, minor units: a return refunding more waits for a person."""
    returns_per_hour: int | None = None
    returns_per_day: int | None = None


def read(session: Session, tenant_id: str, *, lock: bool = False) -> Limits:
    query = select(AgentGuardrails).where(AgentGuardrails.tenant_id == tenant_id)
    row = session.scalar(query.with_for_update() if lock else query)
    if row is None:
        return Limits()
    return Limits(
        calculate_only=row.calculate_only,
        max_refund_per_return={k: int(v) for k, v in row.max_refund_per_return.items()},
        review_above={k: int(v) for k, v in row.review_above.items()},
        returns_per_hour=row.returns_per_hour,
        returns_per_day=row.returns_per_day,
    )


def write(session: Session, tenant_id: str, limits: Limits, *, clock: Clock = utc_now) -> None:
    row = session.get(AgentGuardrails, tenant_id)
    values: dict[str, Any] = {
        "calculate_only": limits.calculate_only,
        "max_refund_per_return": dict(limits.max_refund_per_return),
        "review_above": dict(limits.review_above),
        "returns_per_hour": limits.returns_per_hour,
        "returns_per_day": limits.returns_per_day,
        "updated_at": clock(),
    }
    if row is None:
        session.add(AgentGuardrails(tenant_id=tenant_id, **values))
    else:
        for name, value in values.items():
            setattr(row, name, value)
    session.flush()


def lock_tenant(session: Session, tenant_id: str, *, clock: Clock = utc_now) -> Limits:
    """The tenant's limits, with its guardrails row locked until the transaction ends (the row
    is made when missing), so concurrent agent calls count their usage one at a time."""
    if session.get(AgentGuardrails, tenant_id) is None:
        write(session, tenant_id, Limits(), clock=clock)
    return read(session, tenant_id, lock=True)


@dataclass(frozen=True, slots=True)
class Usage:
    last_hour: int
    last_day: int


def agent_returns(session: Session, tenant_id: str, *, clock: Clock = utc_now) -> Usage:
    """Returns filed by agents in the last hour and day (from the audit log)."""
    now = clock()

    def since(delta: timedelta) -> int:
        return count_since(
            session,
            tenant_id,
            channel="mcp",
            action="create_return",
            outcome="ok",
            since=now - delta,
        )

    return Usage(last_hour=since(timedelta(hours=1)), last_day=since(timedelta(days=1)))
