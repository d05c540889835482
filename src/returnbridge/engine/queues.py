"""The returns queue: registered once at launch and kept, since looking it up reads the
database on every accepted return."""

from __future__ import annotations

from dbos import DBOS, Queue

from returnbridge.settings import Settings

QUEUE_NAME = "returns"
_queues: dict[str, Queue] = {}


def register_returns_queue(settings: Settings) -> Queue:
    """Register (or update) the returns queue in the launched DBOS and keep it."""
    queue = DBOS.register_queue(
        QUEUE_NAME,
        worker_concurrency=settings.worker_concurrency,
        # by order: connection_concurrency lanes per store, one workflow each (queueing.py)
        partition_concurrency=settings.connection_concurrency
        if settings.queue_partition == "connection"
        else 1,
        polling_interval_sec=settings.queue_polling_interval,
        on_conflict="always_update",
    )
    _queues[QUEUE_NAME] = queue
    return queue


def returns_queue() -> Queue:
    """The queue this process registered at launch (looked up when it did not)."""
    queue = _queues.get(QUEUE_NAME) or DBOS.retrieve_queue(QUEUE_NAME)
    if queue is None:
        raise RuntimeError(f"queue {QUEUE_NAME!r} is not registered (DBOS not launched?)")
    return queue


def forget() -> None:
    """Drop the kept queue (DBOS is being destroyed)."""
    _queues.clear()
