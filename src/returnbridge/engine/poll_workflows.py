"""Poll sources as durable DBOS work: a scheduled tick enqueues each due source's sync.

The tick (a DBOS schedule, every few seconds, exactly once per tick across processes) asks the
database which active poll sources are due and enqueues one `poll_source` workflow each, named
by the source and its due time: a second tick, a second process or a run-now request asking for
the same due run is a no-op. The `polls` queue has one partition per source running one sync at
a time, so two syncs of a source never overlap. A sync commits its progress page by page, so a
crash mid-sync is recovered by DBOS running the step again from the last committed page.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, Final

from dbos import DBOS, Queue, SetEnqueueOptions, SetWorkflowID

from returnbridge.engine.polling import run_sync
from returnbridge.engine.runtime import current
from returnbridge.settings import Settings
from returnbridge.store import sources as source_store

POLL_QUEUE: Final = "polls"
TICK_SCHEDULE: Final = "returnbridge-poll-tick"


def tick_cron(seconds: int) -> str:
    """Every `seconds` (the setting `poll_tick_seconds`, default 15): how late a due source
    may start (its own schedule is in its config; run-now does not wait for it). Each tick is
    a workflow: on PostgreSQL a 5 s tick cost an idle worker several ms of CPU a second."""
    return f"*/{seconds} * * * * *"


POLLS_QUEUE_POLLING_INTERVAL: Final = 2.0
"""Seconds between looks at the `polls` queue: how late a run-now may start."""

_ENDED_WITHOUT_SYNC: Final = frozenset({"ERROR", "CANCELLED", "MAX_RECOVERY_ATTEMPTS_EXCEEDED"})

_queues: dict[str, Queue] = {}


def run_workflow_id(source_id: str, due_at: datetime) -> str:
    """One workflow per source and due time (naive times from SQLite are UTC)."""
    moment = due_at if due_at.tzinfo else due_at.replace(tzinfo=UTC)
    return f"poll:{source_id}:{moment.astimezone(UTC).isoformat(timespec='microseconds')}"


def _sync(tenant_id: str, source_id: str) -> dict[str, Any]:
    return run_sync(current(), tenant_id, source_id).as_dict()


@DBOS.step(name="poll_sync", retries_allowed=True, max_attempts=3, interval_seconds=1.0)
def sync_step(tenant_id: str, source_id: str) -> dict[str, Any]:
    """The sync, on a thread of its own: it starts a workflow per new return, which DBOS
    allows outside a step only (they are top-level workflows, not children of this one)."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="poll-sync") as pool:
        return pool.submit(_sync, tenant_id, source_id).result()


@DBOS.workflow(name="poll_source")
def poll_source(tenant_id: str, source_id: str) -> dict[str, Any]:
    """One sync of one poll source (it carries on an unfinished one)."""
    return sync_step(tenant_id, source_id)


@DBOS.step(name="due_poll_sources")
def due_step(now: str) -> list[tuple[str, str, str]]:
    with current().reads() as session:
        due = source_store.due_poll_sources(session, now=datetime.fromisoformat(now))
        return [
            (s.tenant_id, s.id, run_workflow_id(s.id, s.next_run_at or s.created_at)) for s in due
        ]


@DBOS.workflow(name="poll_tick")
def poll_tick(scheduled_at: datetime, context: Any) -> None:
    """Enqueue a sync for every due poll source (idempotent per source and due time)."""
    del context
    for tenant_id, source_id, due_id in due_step(scheduled_at.isoformat()):
        previous = DBOS.get_workflow_status(due_id)
        workflow_id = due_id
        if previous is not None and previous.status in _ENDED_WITHOUT_SYNC:
            # The run died before it could reschedule the source: try again, once a minute.
            workflow_id = f"{due_id}:again:{scheduled_at.astimezone(UTC):%Y%m%dT%H%M}"
        enqueue_poll(tenant_id, source_id, workflow_id)


def polls_queue() -> Queue:
    queue = _queues.get(POLL_QUEUE) or DBOS.retrieve_queue(POLL_QUEUE)
    if queue is None:
        raise RuntimeError(f"queue {POLL_QUEUE!r} is not registered (DBOS not launched?)")
    return queue


def enqueue_poll(tenant_id: str, source_id: str, workflow_id: str) -> str:
    """Queue a sync of the source on its own partition; a known workflow id is a no-op."""
    with SetWorkflowID(workflow_id), SetEnqueueOptions(queue_partition_key=source_id):
        polls_queue().enqueue(poll_source, tenant_id, source_id)
    return workflow_id


def install_polling(settings: Settings, *, work: bool) -> None:
    """After DBOS launched: register the `polls` queue and, in a worker, the tick schedule."""
    _queues[POLL_QUEUE] = DBOS.register_queue(
        POLL_QUEUE,
        worker_concurrency=max(1, settings.worker_concurrency // 2),
        partition_concurrency=1,
        # Syncs are not latency-bound: a slower poll of this queue keeps an idle worker idle.
        polling_interval_sec=max(settings.queue_polling_interval, POLLS_QUEUE_POLLING_INTERVAL),
        on_conflict="always_update",
    )
    if work:
        DBOS.apply_schedules(
            [
                {
                    "schedule_name": TICK_SCHEDULE,
                    "workflow_fn": poll_tick,
                    "schedule": tick_cron(settings.poll_tick_seconds),
                }
            ]
        )
