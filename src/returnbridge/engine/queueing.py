"""Putting a return's workflow on its connection's queue partition."""

from __future__ import annotations

from dbos import DBOS, SetEnqueueOptions, SetWorkflowID

from returnbridge.engine.runtime import QUEUE_NAME
from returnbridge.engine.workflows import process_return


def enqueue(
    tenant_id: str, return_id: str, revision: int, workflow_id: str, *, connection_id: str
) -> None:
    """Queue the workflow on the connection's partition; a known workflow id is a no-op."""
    queue = DBOS.retrieve_queue(QUEUE_NAME)
    if queue is None:
        raise RuntimeError(f"queue {QUEUE_NAME!r} is not registered (DBOS not launched?)")
    with SetWorkflowID(workflow_id), SetEnqueueOptions(queue_partition_key=connection_id):
        queue.enqueue(process_return, tenant_id, return_id, revision)
