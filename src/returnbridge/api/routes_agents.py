"""The tenant's limits on AI agents using the MCP gateway (docs/mcp.md, "Guardrails")."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, Field, StringConstraints

from returnbridge.api.deps import RuntimeDep, TenantDep
from returnbridge.api.routing import TenantRoute
from returnbridge.domain.money import format_minor, parse_minor
from returnbridge.domain.returns import Currency
from returnbridge.store import guardrails

router = APIRouter(prefix="/v1/agents", tags=["agents"], route_class=TenantRoute)

Amount = Annotated[str, StringConstraints(pattern=r"^\d{1,12}(\.\d{1,3})?$")]
PerCurrency = Annotated[
    dict[Currency, Amount],
    Field(default_factory=dict, max_length=50, description='per currency, e.g. {"USD": "100.00"}'),
]


class Guardrails(BaseModel):
    calculate_only: bool = Field(
        default=False,
        description="agents look up orders and preview refunds, but file or decide nothing",
    )
    max_refund_per_return: PerCurrency
    """A return an agent files that would refund more is refused."""
    review_above: PerCurrency
    """A return an agent files that would refund more waits in needs_review for a person."""
    returns_per_hour: int | None = Field(default=None, ge=0, le=1_000_000)
    returns_per_day: int | None = Field(default=None, ge=0, le=10_000_000)


def _minor(amounts: dict[str, str], field: str) -> dict[str, int]:
    return {c: parse_minor(a, c, field=f"{field}.{c}") for c, a in amounts.items()}


def _out(limits: guardrails.Limits) -> Guardrails:
    return Guardrails(
        calculate_only=limits.calculate_only,
        max_refund_per_return={
            c: format_minor(m, c) for c, m in limits.max_refund_per_return.items()
        },
        review_above={c: format_minor(m, c) for c, m in limits.review_above.items()},
        returns_per_hour=limits.returns_per_hour,
        returns_per_day=limits.returns_per_day,
    )


@router.get("/guardrails", summary="What AI agents may do through the MCP gateway")
def read_guardrails(tenant: TenantDep, runtime: RuntimeDep) -> Guardrails:
    with runtime.sessions() as session:
        return _out(guardrails.read(session, tenant.id))


@router.put("/guardrails", summary="Set what AI agents may do (replaces every limit)")
def write_guardrails(body: Guardrails, tenant: TenantDep, runtime: RuntimeDep) -> Guardrails:
    limits = guardrails.Limits(
        calculate_only=body.calculate_only,
        max_refund_per_return=_minor(body.max_refund_per_return, "max_refund_per_return"),
        review_above=_minor(body.review_above, "review_above"),
        returns_per_hour=body.returns_per_hour,
        returns_per_day=body.returns_per_day,
    )
    with runtime.sessions.begin() as session:
        guardrails.write(session, tenant.id, limits)
    return _out(limits)
