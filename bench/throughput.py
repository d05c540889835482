"""Throughput of the whole path: N return events -> N refunds on the Shopify sandbox.

Runs the gateway in this process (API on loopback + DBOS worker) on SQLite by default or on
PostgreSQL (--database-url), seeds N one-line orders in a sandbox shop, posts N return events
from C concurrent clients and reports ingest latency (202 answers) and end-to-end completion
rate. Rerun:  .venv/bin/python bench/throughput.py --returns 200 --clients 8
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from returnbridge.api.app import create_app
from returnbridge.cli.servers import BackgroundServer
from returnbridge.engine.launch import launch_dbos, shutdown_dbos
from returnbridge.engine.runtime import close_runtime, open_runtime
from returnbridge.observability import configure_logging
from returnbridge.sandbox.shopify.app import create_app as create_sandbox
from returnbridge.settings import Settings
from returnbridge.store.connections import create_connection
from returnbridge.store.tenants import create_tenant

TOKEN = "shpat_bench"
DOMAIN = "bench.myshopify.com"


def _seed_sandbox(url: str, count: int) -> None:
    with httpx.Client(base_url=url, timeout=30) as client:
        client.post(
            "/_sandbox/shops",
            json={"domain": DOMAIN, "access_token": TOKEN, "currency": "USD",
                  "locations": [{"id": 1, "name": "Main"}], "restore_rate": 100000,
                  "bucket_size": 1000000},
        ).raise_for_status()  # fmt: skip
        for number in range(1, count + 1):
            client.post(
                f"/_sandbox/shops/{DOMAIN}/orders",
                json={"id": number, "name": f"#{number}", "email": f"c{number}@example.com",
                      "line_items": [{"sku": "SKU-1", "title": "Item", "quantity": 2,
                                      "price": "19.90", "tax_lines": [
                                          {"title": "Tax", "rate": "0.08", "price": "3.18"}]}]},
            ).raise_for_status()  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--returns", type=int, default=100)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--database-url", default=None, help="default: SQLite in a temp dir")
    parser.add_argument("--connection-concurrency", type=int, default=1)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="rb-bench-"))
    settings = Settings(
        data_dir=work, database_url=args.database_url, log_level="ERROR",
        queue_polling_interval=0.05, connection_concurrency=args.connection_concurrency,
    )  # fmt: skip
    configure_logging(settings.log_level)
    sandbox = BackgroundServer(create_sandbox()).start()
    _seed_sandbox(sandbox.url, args.returns)
    runtime = open_runtime(settings)
    launch_dbos(settings, work=True)
    gateway = BackgroundServer(create_app(runtime)).start()
    with runtime.sessions.begin() as session:
        tenant, api_key = create_tenant(session, "Bench")
        create_connection(
            session, tenant.id, platform="shopify", name="bench", base_url=sandbox.url,
            credentials={"access_token": TOKEN}, cipher=runtime.cipher,
            settings={"restock_location_id": "gid://shopify/Location/1"},
        )  # fmt: skip
    api = httpx.Client(
        base_url=gateway.url, headers={"Authorization": f"Bearer {api_key}"}, timeout=60,
        limits=httpx.Limits(max_connections=args.clients),
    )  # fmt: skip

    def post(number: int) -> tuple[float, str]:
        event = {"external_id": f"B-{number}", "channel": "api",
                 "order": {"platform_order_id": f"gid://shopify/Order/{number}"},
                 "lines": [{"sku": "SKU-1", "quantity": 1}]}  # fmt: skip
        start = time.perf_counter()
        response = api.post("/v1/returns", json=event)
        response.raise_for_status()
        return time.perf_counter() - start, response.json()["return"]["id"]

    started = time.perf_counter()
    with ThreadPoolExecutor(args.clients) as pool:
        results = list(pool.map(post, range(1, args.returns + 1)))
    ingested = time.perf_counter() - started
    pending = {rid for _, rid in results}
    while pending:
        page = api.get("/v1/returns", params={"status": "completed", "limit": 200}).json()
        done = set()
        cursor = page
        while True:
            done |= {item["id"] for item in cursor["items"]}
            if not cursor["next_cursor"]:
                break
            params = {"status": "completed", "limit": 200, "cursor": cursor["next_cursor"]}
            cursor = api.get("/v1/returns", params=params).json()
        pending -= done
        time.sleep(0.2)
    finished = time.perf_counter() - started
    refunds = [e for e in httpx.get(f"{sandbox.url}/_sandbox/journal").json()
               if e.get("effect") == "refund_created"]  # fmt: skip
    latencies = sorted(lat for lat, _ in results)
    backend = "postgresql" if args.database_url else "sqlite"
    print(
        f"backend={backend} returns={args.returns} clients={args.clients} "
        f"connection_concurrency={args.connection_concurrency}"
    )
    print(f"ingest: {args.returns / ingested:.1f} returns/s accepted; "
          f"POST p50 {statistics.median(latencies) * 1000:.0f} ms, "
          f"p95 {latencies[int(len(latencies) * 0.95) - 1] * 1000:.0f} ms")  # fmt: skip
    print(f"end to end: {args.returns / finished:.1f} returns/s completed "
          f"({finished:.1f} s for all); refunds in sandbox: {len(refunds)}")  # fmt: skip
    api.close()
    gateway.stop()
    shutdown_dbos()
    close_runtime()
    sandbox.stop()
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
