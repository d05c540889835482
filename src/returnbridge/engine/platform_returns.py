"""Returns the platform keeps itself (Capability.PLATFORM_RETURNS): the refund step's other
write, for a connection that asks for them.

Instead of one refund, the goods come back through a return of the platform's own: it is
opened (status OPEN) and then processed, which restocks each line at its location (or not)
and makes the refund as the processing's money, so the restock step has nothing to adjust
(the platform restocks with the refund). Money-only refunds (no lines) and refunds with
units never shipped keep the plain refund: a platform return holds shipped goods only.

Both happen in the refund step, after the plan was checked: a plan parked for review leaves
no open return behind. With the connection setting `process_returns_on: receipt`, an approved
return is only opened, and waits (`awaiting_goods`) until a revision says the goods were
`received`; that revision processes the return opened before (its id is on the timeline)
instead of opening another. The refund step's exactly-once rules hold unchanged: the same key, the
refund found by it before any repeat; the connector finds the return it opened under the key
instead of opening another, and never processes a processed return again. The timeline shows
the platform's return id with its status after each write.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from returnbridge.connectors.base.connector import (
    Capability,
    OpenReturnCommand,
    OrderConnector,
    PlatformRefund,
    ProcessedReturn,
    ProcessReturnCommand,
    RefundCommand,
    ReturnLineCommand,
    ReturnsConnector,
)
from returnbridge.engine.runtime import Runtime
from returnbridge.engine.step_records import ACTOR, transaction
from returnbridge.observability import get_logger
from returnbridge.store import returns as return_store

log = get_logger(__name__)

OPENED = "platform_return_opened"
PROCESSED = "platform_return_processed"


@dataclass(frozen=True, slots=True)
class AwaitingGoods:
    """The platform return is open; it is processed when the goods are received."""

    platform_return_id: str


def _enabled(connector: OrderConnector) -> ReturnsConnector | None:
    """The connector, when it keeps platform returns and its connection wants them."""
    if Capability.PLATFORM_RETURNS not in connector.capabilities:
        return None
    if not isinstance(connector, ReturnsConnector) or not connector.platform_returns:
        return None
    return connector


def wanted(connector: OrderConnector, command: RefundCommand) -> ReturnsConnector | None:
    """The connector, when `command` goes through a platform return; else None."""
    if not command.lines or any(line.restock == "cancel" for line in command.lines):
        return None
    return _enabled(connector)


def made_earlier(
    runtime: Runtime,
    tenant_id: str,
    return_id: str,
    connector: OrderConnector,
    *,
    order_id: str,
    key: str,
) -> PlatformRefund | None:
    """On a retry, before anything is planned again: the refund a platform return opened
    under `key` was processed with, if it was (its answer was lost). It does not depend on
    the platform keeping our key in the refund's note."""
    returns = _enabled(connector)
    if returns is None:
        return None
    found = returns.find_return(order_id, key)
    if found is None or not found.platform_return.processed or found.refund is None:
        return None
    _note(runtime, tenant_id, return_id, PROCESSED, _processed(found))
    return found.refund


def _processed(done: ProcessedReturn) -> dict[str, Any]:
    return {
        "platform_return_id": done.platform_return.id,
        "status": done.platform_return.status,
        "platform_refund_id": done.refund.id if done.refund else None,
    }


def _return_lines(command: RefundCommand) -> tuple[ReturnLineCommand, ...]:
    quantities: dict[str, int] = {}
    for line in command.lines:
        quantities[line.line_id] = quantities.get(line.line_id, 0) + line.quantity
    return tuple(ReturnLineCommand(line_id=k, quantity=q) for k, q in quantities.items())


def write_refund(
    runtime: Runtime,
    tenant_id: str,
    return_id: str,
    connector: OrderConnector,
    command: RefundCommand,
    *,
    wait_for_goods: bool = False,
) -> PlatformRefund | AwaitingGoods | None:
    """Make `command` on the platform: as a platform return when the connection wants one,
    else as a refund. None when the return moved goods only (no refund was made);
    `AwaitingGoods` when `wait_for_goods` and the return was only opened."""
    returns = wanted(connector, command)
    if returns is None:
        return connector.create_refund(command)
    platform_return_id = opened_earlier(runtime, tenant_id, return_id)
    if platform_return_id is None:
        opened = returns.open_return(
            OpenReturnCommand(
                order_id=command.order_id,
                key=command.idempotency_key,
                lines=_return_lines(command),
                note=command.note or "",
            )
        )
        platform_return_id = opened.id
        _note(
            runtime,
            tenant_id,
            return_id,
            OPENED,
            {"platform_return_id": opened.id, "status": opened.status},
        )
    if wait_for_goods:
        return AwaitingGoods(platform_return_id)
    done = returns.process_return(
        ProcessReturnCommand(return_id=platform_return_id, refund=command)
    )
    data = _processed(done)
    _note(runtime, tenant_id, return_id, PROCESSED, data)
    log.info("platform return processed", **data)
    return done.refund


def opened_earlier(runtime: Runtime, tenant_id: str, return_id: str) -> str | None:
    """The platform return an earlier run or revision of this return opened and nothing has
    processed yet (the latest `platform_return_opened` on the timeline)."""
    with runtime.reads() as session:
        events = return_store.timeline(session, return_id, tenant_id=tenant_id)
    opened = [e.data["platform_return_id"] for e in events if e.event == OPENED and e.data]
    processed = {
        e.data.get("platform_return_id") for e in events if e.event == PROCESSED and e.data
    }
    waiting = [rid for rid in opened if rid not in processed]
    return str(waiting[-1]) if waiting else None


def _note(
    runtime: Runtime, tenant_id: str, return_id: str, event: str, data: dict[str, Any]
) -> None:
    """A timeline event, once per platform return (a retried step does not repeat it)."""
    with transaction(runtime) as session:
        earlier = return_store.timeline(session, return_id, tenant_id=tenant_id)
        if any(
            e.event == event
            and (e.data or {}).get("platform_return_id") == data["platform_return_id"]
            for e in earlier
        ):
            return
        return_store.record_event(
            session, return_id, tenant_id=tenant_id, event=event, actor=ACTOR, data=data
        )
