"""Workers that die for good: live workers notice the silence and take over their workflows.

Each worker writes a heartbeat row (`executors`) every `heartbeat_interval` seconds. A worker
whose heartbeat is older than `executor_dead_after` is presumed dead; the first live worker to
claim its row (a conditional update: one claim wins) asks DBOS to recover the dead executor's
pending workflows, which puts them back on their queue for any worker to run. Steps are
idempotent and refunds keyed, so even a worker wrongly presumed dead cannot pay twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from dbos import DBOS
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from returnbridge.engine.runtime import Runtime
from returnbridge.observability import get_logger
from returnbridge.store.tables import Executor

log = get_logger(__name__)


def beat(runtime: Runtime, executor_id: str, now: datetime) -> None:
    """Record that `executor_id` is alive; clears a takeover claim if we were presumed dead."""
    with runtime.sessions.begin() as session:
        row = session.get(Executor, executor_id, with_for_update=True)
        if row is None:
            try:
                with session.begin_nested():
                    session.add(
                        Executor(
                            id=executor_id, started_at=now, heartbeat_at=now, taken_over_by=None
                        )
                    )
            except IntegrityError:  # another process with our id wrote first
                return
            return
        if row.taken_over_by is not None:
            log.error(
                "this worker was presumed dead and its workflows were taken over",
                executor_id=executor_id,
                taken_over_by=row.taken_over_by,
            )
            row.taken_over_by = None
        row.heartbeat_at = now


def take_over_dead(runtime: Runtime, me: str, now: datetime) -> list[str]:
    """Claim every executor silent for too long and recover its pending workflows."""
    cutoff = now - timedelta(seconds=runtime.settings.executor_dead_after)
    with runtime.reads() as session:
        silent = session.scalars(
            select(Executor.id).where(
                Executor.heartbeat_at < cutoff,
                Executor.taken_over_by.is_(None),
                Executor.id != me,
            )
        ).all()
    taken: list[str] = []
    for executor_id in silent:
        with runtime.sessions.begin() as session:
            claimed = session.execute(  # type: ignore[attr-defined]
                update(Executor)
                .where(
                    Executor.id == executor_id,
                    Executor.taken_over_by.is_(None),
                    Executor.heartbeat_at < cutoff,
                )
                .values(taken_over_by=me)
            ).rowcount
        if not claimed:
            continue  # another worker claimed it, or it came back to life
        # DBOS's own recovery entry point (what its admin server calls for an executor).
        handles = DBOS._recover_pending_workflows([executor_id])
        with runtime.sessions.begin() as session:
            session.execute(
                delete(Executor).where(Executor.id == executor_id, Executor.taken_over_by == me)
            )
        log.warning(
            "took over a dead worker's workflows",
            dead_executor_id=executor_id,
            workflows=len(handles),
        )
        taken.append(executor_id)
    return taken
