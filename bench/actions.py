"""What a Connectivity API call costs the gateway (issue 12), beside the same work done
in-process with no API in between (the baseline, in the same run).

Starts `returnbridge sandbox`-style Shopify sandbox and `returnbridge up` (SQLite) as child
processes, one tenant with a connection to one shop of N orders, then:

  baseline   in this process: the connector reads the order and asks `suggestedRefund`, and
             the planner plans (what `preview_refund` does), N times, with no HTTP API,
             database or audit
  preview    POST .../actions/preview_refund, N times
  refund     POST .../actions/create_refund with a new Idempotency-Key, N times (one per order)
  replay     the same N requests again (answered from the kept result; nothing sent)

CPU-seconds per call come from /proc (utime + stime) of each process, so other load on the
machine does not inflate them; wall time is per call, one call at a time.

Run (from the repo root):
  .venv/bin/python bench/actions.py                 # N = 60
  .venv/bin/python bench/actions.py --calls 200 --json .returnbridge/actions.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from cost import LOCATION_GID, SHOPIFY, seed_shopify, start_gateway, start_sandbox

from returnbridge.connectors import registry
from returnbridge.engine.actions import catalog
from returnbridge.engine.actions.run import execute, parse_input


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--calls", type=int, default=60, help="calls per kind (orders seeded)")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args()
    # what cost.py's helpers read: a bucket too large to wait on (this measures CPU)
    args.returns_per_store, args.restore_rate, args.bucket_size = args.calls, 100_000.0, 1_000_000
    args.source, args.workers = None, 0
    return args


class _Connection:
    """The fields `execute` reads of a stored connection."""

    def __init__(self, settings: dict[str, Any]) -> None:
        self.settings = settings


def main() -> None:
    args = _args()
    work = Path(tempfile.mkdtemp(prefix="rb-actions-"))
    sandbox, sandbox_url = start_sandbox(args, work, SHOPIFY)
    gateway, url, admin_key = start_gateway(args, work, None)
    try:
        with httpx.Client(base_url=sandbox_url, timeout=30) as control:
            shop = seed_shopify(args, control, 1)
        admin = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {admin_key}"})
        tenant = admin.post("/v1/tenants", json={"name": "bench"}).json()
        settings = {"restock_location_id": LOCATION_GID}
        connection = admin.post(
            f"/v1/tenants/{tenant['id']}/connections",
            json={
                "platform": "shopify",
                "name": "main",
                "base_url": sandbox_url,
                "credentials": shop.credentials,
                "settings": settings,
            },
        ).json()
        api = httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {tenant['api_key']}"}, timeout=60
        )
        act = f"/v1/connections/{connection['id']}/actions"
        first = api.post(f"{act}/get_order", json={"order_id": shop.orders[0]}).json()
        line = {"sku": first["line_items"][0]["sku"], "quantity": 1}
        bodies = [{"order_id": gid, "lines": [line]} for gid in shop.orders]
        api.post(f"{act}/preview_refund", json=bodies[0]).raise_for_status()  # warm both ends

        figures: dict[str, dict[str, float]] = {}

        def measure(name: str, call: Any, *, ours: bool) -> None:
            gateway_before, sandbox_before = gateway.cpu(), sandbox.cpu()
            own_before = time.process_time()
            walls = []
            for body in bodies:
                started = time.perf_counter()
                call(body)
                walls.append(time.perf_counter() - started)
            n = len(bodies)
            figures[name] = {
                "calls": n,
                "cpu_ms_per_call": 1000
                * ((time.process_time() - own_before) if ours else (gateway.cpu() - gateway_before))
                / n,
                "sandbox_cpu_ms_per_call": 1000 * (sandbox.cpu() - sandbox_before) / n,
                "wall_ms_median": 1000 * statistics.median(walls),
            }
            print(f"{name}: {figures[name]}", file=sys.stderr)

        http = httpx.Client(timeout=30)
        connector = registry.build_connector(
            "shopify",
            sandbox_url,
            shop.credentials,
            timeout=30,
            state={"http": http},
            settings=settings,
        )
        preview = catalog.BY_NAME["preview_refund"]
        conn: Any = _Connection(settings)
        measure(
            "baseline (in-process preview)",
            lambda body: execute(connector, conn, preview, parse_input(preview, body), "bench"),
            ours=True,
        )
        measure(
            "preview_refund via the API",
            lambda body: api.post(f"{act}/preview_refund", json=body).raise_for_status(),
            ours=False,
        )
        keys = {b["order_id"]: f"bench-{uuid.uuid4()}" for b in bodies}

        def refund(body: dict[str, Any]) -> None:
            answer = api.post(
                f"{act}/create_refund",
                json=body,
                headers={"Idempotency-Key": keys[body["order_id"]]},
            )
            answer.raise_for_status()

        measure("create_refund via the API", refund, ours=False)
        measure("replay (same key) via the API", refund, ours=False)
    finally:
        gateway.stop()
        sandbox.stop()
    print("| calls | gateway CPU ms/call (baseline: this process) | sandbox CPU ms/call |", end="")
    print(" wall ms (median) |")
    print("|---|---|---|---|")
    for name, row in figures.items():
        print(
            f"| {name} ×{int(row['calls'])} | {row['cpu_ms_per_call']:.1f} | "
            f"{row['sandbox_cpu_ms_per_call']:.1f} | {row['wall_ms_median']:.1f} |"
        )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
