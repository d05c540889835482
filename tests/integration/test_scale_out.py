"""Scaled mode on PostgreSQL: one API process and two worker processes share the work.

The API only enqueues (it never runs a workflow); the workers take the queued returns between
them; every return completes with exactly one refund.
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
RETURNS = 6


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_api_and_two_workers_on_postgres_complete_every_return_once(
    db_url: str, tmp_path: Path, sandbox: Sandbox
) -> None:
    key, api_key = seed_database(db_url, sandbox)
    for number in range(RETURNS):
        sandbox.seed_order(simple_order(4000 + number, email=f"c{number}@example.com"))

    env = process_env(db_url, tmp_path, secret_key=key)
    api = ServerProcess("api", port=free_port(), env=env, log=tmp_path / "api.log")
    workers = [
        CommandProcess(
            ["worker"], env=env | {"RETURNBRIDGE_EXECUTOR_ID": name}, log=tmp_path / f"{name}.log"
        )
        for name in ("worker-1", "worker-2")
    ]
    try:
        api.start()
        for worker in workers:
            worker.start()
        client = httpx.Client(
            base_url=api.url, headers={"Authorization": f"Bearer {api_key}"}, timeout=10
        )
        ids = []
        for number in range(RETURNS):
            event = {
                "external_id": f"SCALE-{number}",
                "channel": "email",
                "order": {"order_number": f"#{4000 + number}"},
                "lines": [{"sku": "MUG-WHT", "quantity": 1}],
            }
            accepted = client.post("/v1/returns", json=event)
            assert accepted.status_code == 202, accepted.text
            ids.append(accepted.json()["return"]["id"])

        def all_settled() -> list[dict[str, Any]] | None:
            for worker in workers:
                worker.assert_running()
            bodies = [client.get(f"/v1/returns/{rid}").json() for rid in ids]
            done = all(b["status"] in {"completed", "needs_review", "failed"} for b in bodies)
            return bodies if done else None

        bodies = wait_until(all_settled, timeout=120, what="every return to settle")
        assert [b["status"] for b in bodies] == ["completed"] * RETURNS
        created = sandbox.refunds_created()
        assert len(created) == RETURNS
        assert len({e["idempotency_key"] for e in created}) == RETURNS
        assert "return settled" not in (tmp_path / "api.log").read_text()

        def settled_by_workers() -> int:
            return sum(
                (tmp_path / f"{name}.log").read_text().count("return settled")
                for name in ("worker-1", "worker-2")
            )

        # A return's status is committed before its "settled" line is written: wait for it.
        wait_until(lambda: settled_by_workers() >= RETURNS, timeout=30, what="every settled line")
        assert settled_by_workers() == RETURNS
    finally:
        api.stop()
        for worker in workers:
            worker.stop()
