"""Which store connections hand their returns to a returns system (Loop Returns).

A store connection's setting `returns_system` names a returns-system connection of the same
tenant. Its returns are then refunded and restocked by that system when it processes them:
the refund step records the plan and makes no refund of its own (`delegate`), and the sync
step (`engine/returns_sync.py`) opens and processes the return there.
"""

from __future__ import annotations

from returnbridge.domain.returns import ReturnStatus
from returnbridge.engine.runtime import Runtime
from returnbridge.engine.step_records import StepOutcome, advance_through, load_return, transaction
from returnbridge.store import refunds as refund_store
from returnbridge.store.connections import get_connection
from returnbridge.store.step_rows import Hop
from returnbridge.store.tables import Connection

SETTING = "returns_system"
NAMES = {"loop": "Loop Returns"}


def managed_by(connection: Connection) -> str | None:
    """The id of the returns-system connection that handles `connection`'s returns, if any."""
    value = (connection.settings or {}).get(SETTING)
    return value.strip() if isinstance(value, str) and value.strip() else None


def display_name(platform: str) -> str:
    return NAMES.get(platform, platform)


def delegate(
    runtime: Runtime, tenant_id: str, return_id: str, refund_row_id: str, system_id: str
) -> StepOutcome:
    """The refund step for a managed return: no refund and no restock of ours, both recorded
    as skipped with the reason; the planned refund stays on its row for the comparison."""
    with transaction(runtime) as session:
        record, _ = load_return(session, tenant_id, return_id)
        system = get_connection(session, system_id, tenant_id=tenant_id)
        name = display_name(system.platform)
        refund = refund_store.delegate_refund(session, refund_row_id, tenant_id=tenant_id)
        data = {"managed_by": system.platform, "planned_total": refund.amount}
        advance_through(
            session,
            record,
            [
                Hop(
                    ReturnStatus.REFUNDED,
                    "step_skipped",
                    f"{name} refunds when it processes the return",
                    {**data, "currency": refund.currency},
                ),
                Hop(ReturnStatus.RESTOCKED, "step_skipped", f"{name} restocks the goods", data),
            ],
        )
        return StepOutcome(record.status)
