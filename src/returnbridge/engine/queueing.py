"""Putting a return's workflow on its queue partition.

Workflows of one partition run one at a time (`connection_concurrency` when partitioned by
connection). By default a partition is one order of one connection: returns of the same order
never run side by side, while a store's other returns do, paced by the connection's rate
limiter. `queue_partition = "connection"` runs each store's returns strictly one at a time.
Returns naming one order differently (its id in one, its number in the other) can land in two
partitions; the refund step guards that case (`store.refunds.order_conflict`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from dbos import DBOS, SetEnqueueOptions, SetWorkflowID

from returnbridge.domain.matching import normalise_email, normalise_order_name
from returnbridge.engine.runtime import QUEUE_NAME, current
from returnbridge.engine.workflows import process_return


def order_key(order_ref: Mapping[str, Any] | None) -> str | None:
    """What names the return's order, normalised: its platform id, number or customer email."""
    ref = order_ref or {}
    if ref.get("platform_order_id"):
        return f"id:{str(ref['platform_order_id']).strip()}"
    if ref.get("order_number"):
        return f"name:{normalise_order_name(str(ref['order_number']))}"
    if ref.get("customer_email"):
        return f"email:{normalise_email(str(ref['customer_email']))}"
    return None


def partition_key(
    connection_id: str, order_ref: Mapping[str, Any] | None, *, by: str = "order"
) -> str:
    """The queue partition: the connection, or one order of it (hashed: no e-mail in DBOS)."""
    key = order_key(order_ref) if by == "order" else None
    if key is None:
        return connection_id
    return f"{connection_id}:{hashlib.sha256(key.encode()).hexdigest()[:24]}"


def enqueue(
    tenant_id: str,
    return_id: str,
    revision: int,
    workflow_id: str,
    *,
    connection_id: str,
    order_ref: Mapping[str, Any] | None = None,
) -> None:
    """Queue the workflow on its partition; a known workflow id is a no-op."""
    queue = DBOS.retrieve_queue(QUEUE_NAME)
    if queue is None:
        raise RuntimeError(f"queue {QUEUE_NAME!r} is not registered (DBOS not launched?)")
    partition = partition_key(connection_id, order_ref, by=current().settings.queue_partition)
    with SetWorkflowID(workflow_id), SetEnqueueOptions(queue_partition_key=partition):
        queue.enqueue(process_return, tenant_id, return_id, revision)
