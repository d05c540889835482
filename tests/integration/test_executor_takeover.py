"""Scaled mode: a worker that dies for good has its workflows finished by a live worker.

Issue 5, item 10. The dead worker is never restarted: the live one notices its silent
heartbeat and recovers its workflows, whether the executor ids were configured (one per
worker, as the docs advise) or generated (none configured: each process gets its own).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from returnbridge.cli.servers import free_port
from support.gateway import Sandbox, simple_order
from support.processes import CommandProcess, ServerProcess, process_env, seed_database, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]
RETURNS = 3


def with_executor_id(env: dict[str, str], executor_id: str | None) -> dict[str, str]:
    return env if executor_id is None else env | {"RETURNBRIDGE_EXECUTOR_ID": executor_id}


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
@pytest.mark.parametrize(
    "executor_ids", [("worker-a", "worker-b"), (None, None)], ids=["configured", "generated"]
)
def test_a_live_worker_takes_over_the_workflows_of_a_worker_that_died(
    db_url: str, tmp_path: Path, sandbox: Sandbox, executor_ids: tuple[str | None, str | None]
) -> None:
    key, api_key = seed_database(db_url, sandbox)
    for number in range(RETURNS):
        sandbox.seed_order(simple_order(7000 + number, email=f"t{number}@example.com"))
    # Only workers keep house, and the survivor starts after the doomed one is killed, so
    # nothing can presume a live worker dead: the survivor may take over after a second.
    env = process_env(
        db_url,
        tmp_path,
        secret_key=key,
        RETURNBRIDGE_HEARTBEAT_INTERVAL="0.5",
        RETURNBRIDGE_EXECUTOR_DEAD_AFTER="1",
    )
    api = ServerProcess("api", port=free_port(), env=env, log=tmp_path / "api.log")
    doomed_id, survivor_id = executor_ids
    doomed = CommandProcess(
        ["worker"], env=with_executor_id(env, doomed_id), log=tmp_path / "doomed.log"
    )
    survivor = CommandProcess(
        ["worker"], env=with_executor_id(env, survivor_id), log=tmp_path / "survivor.log"
    )
    try:
        api.start()
        doomed.start()
        client = httpx.Client(
            base_url=api.url, headers={"Authorization": f"Bearer {api_key}"}, timeout=10
        )
        # The first platform call hangs, so the doomed worker is mid-workflow when it dies.
        sandbox.fault("latency", delay=60.0)
        ids = []
        for number in range(RETURNS):
            event = {
                "external_id": f"TAKEOVER-{number}",
                "order": {"order_number": f"#{7000 + number}"},
                "lines": [{"sku": "MUG-WHT", "quantity": 1}],
            }
            accepted = client.post("/v1/returns", json=event)
            assert accepted.status_code == 202, accepted.text
            ids.append(accepted.json()["return"]["id"])
        wait_until(
            lambda: not sandbox.pending_faults(), timeout=60, what="the doomed worker to start"
        )
        doomed.kill()
        survivor.start()

        def all_settled() -> list[dict[str, Any]] | None:
            survivor.assert_running()
            bodies = [client.get(f"/v1/returns/{rid}").json() for rid in ids]
            done = all(b["status"] in {"completed", "needs_review", "failed"} for b in bodies)
            return bodies if done else None

        bodies = wait_until(all_settled, timeout=150, what="the survivor to finish every return")
        assert [b["status"] for b in bodies] == ["completed"] * RETURNS
        created = sandbox.refunds_created()
        assert len(created) == RETURNS
        assert len({e["idempotency_key"] for e in created}) == RETURNS
        # A return's status is committed before its "settled" line is written: wait for it.
        wait_until(
            lambda: (tmp_path / "survivor.log").read_text().count("return settled") >= RETURNS,
            timeout=30,
            what="the survivor to log every return settled",
        )
        survivor_log = (tmp_path / "survivor.log").read_text()
        assert "took over a dead worker's workflows" in survivor_log
        assert survivor_log.count("return settled") == RETURNS
    finally:
        api.stop()
        survivor.stop()
        doomed.stop()
