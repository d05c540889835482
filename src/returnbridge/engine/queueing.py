"""Putting a return's workflow on its queue partition.

By default (`queue_partition = "order"`) a connection has `connection_concurrency` lanes, one
workflow at a time each, and a return goes to the lane its order hashes to: returns of one
order never run side by side, a store runs at most that many returns at once (paced by its
rate limiter), and one busy store cannot take every worker. Returns naming one order
differently (its id in one, its number in the other) can land in two lanes; the refund step
guards that case (`store.refunds.order_conflict`). `queue_partition = "connection"` puts all of
a store's returns in one partition running `connection_concurrency` at a time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from dbos import SetEnqueueOptions, SetWorkflowID

from returnbridge.domain.matching import normalise_email, normalise_order_name
from returnbridge.engine.queues import returns_queue
from returnbridge.engine.runtime import current
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
    connection_id: str,
    order_ref: Mapping[str, Any] | None,
    *,
    by: str = "order",
    lanes: int = 1,
) -> str:
    """The queue partition: the connection, or the lane of it the order hashes to."""
    key = order_key(order_ref) if by == "order" else None
    if key is None or lanes <= 1:
        return connection_id
    lane = int(hashlib.sha256(key.encode()).hexdigest()[:12], 16) % lanes
    return f"{connection_id}:{lane}"


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
    queue = returns_queue()
    settings = current().settings
    partition = partition_key(
        connection_id,
        order_ref,
        by=settings.queue_partition,
        lanes=settings.connection_concurrency,
    )
    with SetWorkflowID(workflow_id), SetEnqueueOptions(queue_partition_key=partition):
        queue.enqueue(process_return, tenant_id, return_id, revision)
