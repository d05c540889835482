"""Bare DBOS: N workflows of 8 trivial steps on a partitioned queue configured like ours.

The floor under the gateway's CPU per return (issue 7): the same durable-execution work (one
workflow, eight checkpointed steps, dequeued from a queue partitioned like ours) and nothing
else: no API, no tables of our own, no platform calls. Queue and executor settings copy
`returnbridge.engine.launch`, `engine.queues` and `engine.queueing` at their defaults: worker
concurrency 8, one workflow at a time per partition, `--lanes` partitions per connection (the
gateway's `connection_concurrency`, 4) with each workflow in the lane its order hashes to,
0.2 s polling, 16 executor threads, SQLite in WAL mode.

Started by `bench/cost.py`; prints one JSON object on stdout: CPU-seconds of this process
(from /proc) over the window from the first enqueue to the last workflow's end, per
workflow, and the idle CPU rate measured before the first enqueue.

  .venv/bin/python bench/bare_dbos.py --database-url sqlite:////tmp/x/dbos.sqlite --workflows 40
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sqlite3
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dbos import DBOS, DBOSConfig, SetEnqueueOptions, SetWorkflowID
from load import cpu_seconds

QUEUE_NAME = "returns"
STEPS = ("admit", "match", "plan", "refund", "restock", "sync", "notify", "complete")
# As `returnbridge.engine.workflows._RETRY` (minus the error classifier): only the success
# path runs here, but the step wrapper is the same.
RETRY: dict[str, Any] = {
    "retries_allowed": True,
    "max_attempts": 6,
    "interval_seconds": 0.5,
    "backoff_rate": 2.0,
}


@dataclass
class Run:
    """What main() sets once and the workflows report to (one run per process)."""

    expected: int = 0
    refund_sleep: float = 0.0
    finished: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    all_finished: threading.Event = field(default_factory=threading.Event)

    def workflow_finished(self) -> None:
        with self.lock:
            self.finished += 1
            if self.finished >= self.expected:
                self.all_finished.set()


RUN = Run()


def _step(name: str, tenant_id: str, return_id: str) -> dict[str, Any]:
    if name == "refund" and RUN.refund_sleep:
        time.sleep(RUN.refund_sleep)  # --refund-sleep: a step that waits, as on a paced platform
    return {"status": name, "tenant_id": tenant_id, "return_id": return_id}


STEP_FUNCTIONS = [DBOS.step(name=name, **RETRY)(_step) for name in STEPS]


@DBOS.workflow(name="bare_return")
def bare_return(tenant_id: str, return_id: str, revision: int) -> str:
    """Eight steps in a row, each checkpointed, like `process_return`'s main path."""
    status = ""
    for step, name in zip(STEP_FUNCTIONS, STEPS, strict=True):
        status = str(step(name, tenant_id, return_id)["status"])
    RUN.workflow_finished()
    return f"{status}:{revision}"


def lane(connection: str, order: str, lanes: int) -> str:
    """The partition of a workflow: its connection's lane for the order, like the gateway."""
    if lanes <= 1:
        return connection
    digest = hashlib.sha256(f"id:{order}".encode()).hexdigest()
    return f"{connection}:{int(digest[:12], 16) % lanes}"


def _prepare_sqlite(url: str) -> None:
    """WAL mode, as `launch._prepare_sqlite_system_database` does for the gateway."""
    if not url.startswith("sqlite:///"):
        return
    path = Path(url.removeprefix("sqlite:///"))
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
    finally:
        connection.close()


def config(url: str, *, threads: int, pool: int) -> DBOSConfig:
    on_sqlite = url.startswith("sqlite")
    return {
        "name": "bare-dbos-bench",
        "system_database_url": url,
        "run_migrations": True,
        "log_level": "WARNING",
        "max_executor_threads": threads,
        "sys_db_pool_size": pool,
        "executor_id": "local" if on_sqlite else f"bare-{os.getpid()}",
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--database-url", required=True, help="DBOS system database")
    parser.add_argument("--workflows", type=int, default=40)
    parser.add_argument("--partitions", type=int, default=1, help="like one per connection")
    parser.add_argument(
        "--lanes",
        type=int,
        default=4,
        help="partitions per connection, a workflow in the one its order hashes to (as "
        "`returnbridge.engine.queueing.partition_key` with `connection_concurrency`)",
    )
    parser.add_argument("--worker-concurrency", type=int, default=8)
    parser.add_argument("--partition-concurrency", type=int, default=1)
    parser.add_argument("--polling-interval", type=float, default=0.2)
    parser.add_argument("--threads", type=int, default=16, help="DBOS executor threads")
    parser.add_argument("--pool", type=int, default=16, help="system database pool size")
    parser.add_argument("--idle", type=float, default=3.0, help="seconds of idle measured")
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument(
        "--refund-sleep",
        type=float,
        default=0.0,
        help="seconds the refund step sleeps: what waiting (e.g. on a rate limit) costs",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    RUN.expected, RUN.refund_sleep = args.workflows, args.refund_sleep
    _prepare_sqlite(args.database_url)
    DBOS(config=config(args.database_url, threads=args.threads, pool=args.pool))
    DBOS.launch()
    queue = DBOS.register_queue(
        QUEUE_NAME,
        worker_concurrency=args.worker_concurrency,
        partition_concurrency=args.partition_concurrency,
        polling_interval_sec=args.polling_interval,
        on_conflict="always_update",
    )
    pid = os.getpid()
    try:
        idle_cpu, idle_at = cpu_seconds(pid), time.perf_counter()
        time.sleep(args.idle)
        idle_rate = (cpu_seconds(pid) - idle_cpu) / (time.perf_counter() - idle_at)

        started_cpu, started = cpu_seconds(pid), time.perf_counter()
        connections = [f"conn-{n}" for n in range(args.partitions)]
        handles = []
        for number in range(args.workflows):
            connection = connections[number % len(connections)]
            partition = lane(connection, f"order-{number}", args.lanes)
            with (
                SetWorkflowID(f"bare-{uuid.uuid4().hex}"),
                SetEnqueueOptions(queue_partition_key=partition),
            ):
                handles.append(queue.enqueue(bare_return, partition, f"ret-{number}", 1))
        enqueued = time.perf_counter() - started
        finished = RUN.all_finished.wait(args.timeout)
        cpu, wall = cpu_seconds(pid) - started_cpu, time.perf_counter() - started
        results = [h.get_result() for h in handles] if finished else []
    finally:
        DBOS.destroy(destroy_registry=False)
    report = {
        "workflows": args.workflows,
        "partitions": args.partitions,
        "lanes": args.lanes,
        "steps": len(STEPS),
        "completed": sum(1 for r in results if r.startswith("complete")),
        "finished": finished,
        "cpu_seconds": cpu,
        "wall_seconds": wall,
        "enqueue_seconds": enqueued,
        "cpu_per_workflow": cpu / args.workflows,
        "idle_cpu_per_second": idle_rate,
        "busy_cpu_per_workflow": max(0.0, cpu - idle_rate * wall) / args.workflows,
        "workflows_per_second": args.workflows / wall if wall else 0.0,
    }
    print(json.dumps(report))
    return 0 if finished else 1


if __name__ == "__main__":
    sys.exit(main())
