"""The naive script: the same refunds as the gateway makes, with direct GraphQL calls.

What a merchant's one-off script would do for each return, one after another per store:
read the order (its lines and transactions), work out one unit's price plus its share of
the line's tax, and call `refundCreate` (restocking the unit, with an idempotency key). On
a THROTTLED answer it sleeps until the bucket should hold the points it asked for and tries
again. One thread per store; nothing is stored, nothing is retried across crashes.

Started by `bench/cost.py` with a plan file; prints one JSON object on stdout: CPU-seconds
of this process (from /proc) over the run, refunds made, failures, THROTTLED answers seen,
and per store when its first call was sent and each refund landed.

  .venv/bin/python bench/naive_refunds.py plan.json
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

import httpx
from load import cpu_seconds

GRAPHQL_PATH = "/admin/api/2026-01/graphql.json"
ORDER_QUERY = (
    "NaiveOrder",
    """
query NaiveOrder($id: ID!) {
  order(id: $id) {
    id
    lineItems(first: 10) {
      nodes {
        id
        sku
        quantity
        originalUnitPriceSet { shopMoney { amount } }
        taxLines { priceSet { shopMoney { amount } } }
      }
    }
    transactions(first: 5) { id kind status gateway }
  }
}
""",
)
REFUND_CREATE = (
    "NaiveRefund",
    """
mutation NaiveRefund($input: RefundInput!, $key: String!) {
  refundCreate(input: $input) @idempotent(key: $key) {
    refund { id }
    userErrors { field message }
  }
}
""",
)
CENT = Decimal("0.01")
MAX_ATTEMPTS = 50


class Failed(Exception):
    """A return the script could not refund."""


@dataclass
class StoreRun:
    """One store's refunds, done by one thread."""

    domain: str
    token: str
    orders: list[str]
    started: float = 0.0
    refunded_at: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    calls: int = 0
    throttled: int = 0


def graphql(
    client: httpx.Client, run: StoreRun, operation: tuple[str, str], variables: dict[str, Any]
) -> dict[str, Any]:
    """One operation, retried after a sleep as long as Shopify answers THROTTLED."""
    for _ in range(MAX_ATTEMPTS):
        run.calls += 1
        response = client.post(
            GRAPHQL_PATH,
            json={"query": operation[1], "operationName": operation[0], "variables": variables},
            headers={"X-Shopify-Access-Token": run.token},
        )
        body: dict[str, Any] = response.json()
        codes = [(e.get("extensions") or {}).get("code") for e in body.get("errors") or ()]
        if "THROTTLED" not in codes and response.status_code != 429:
            if body.get("errors") or response.status_code != 200:
                raise Failed(f"{response.status_code}: {str(body.get('errors'))[:200]}")
            data: dict[str, Any] = body["data"]
            return data
        run.throttled += 1
        cost = (body.get("extensions") or {}).get("cost") or {}
        bucket = cost.get("throttleStatus") or {}
        missing = float(cost.get("requestedQueryCost") or 0) - float(
            bucket.get("currentlyAvailable") or 0
        )
        time.sleep(max(0.05, missing / float(bucket.get("restoreRate") or 50.0)))
    raise Failed(f"still throttled after {MAX_ATTEMPTS} attempts")


def refund_input(order: dict[str, Any], *, sku: str, location: str) -> dict[str, Any]:
    """One unit of the line with `sku`, restocked, paid back on the first sale."""
    line = next(li for li in order["lineItems"]["nodes"] if li["sku"] == sku)
    price = Decimal(line["originalUnitPriceSet"]["shopMoney"]["amount"])
    tax = sum((Decimal(t["priceSet"]["shopMoney"]["amount"]) for t in line["taxLines"]), Decimal())
    amount = (price + tax / line["quantity"]).quantize(CENT, rounding=ROUND_HALF_EVEN)
    sale = next(
        t for t in order["transactions"] if t["kind"] == "SALE" and t["status"] == "SUCCESS"
    )
    return {
        "orderId": order["id"],
        "refundLineItems": [
            {
                "lineItemId": line["id"],
                "quantity": 1,
                "restockType": "RETURN",
                "locationId": location,
            }
        ],
        "transactions": [
            {
                "orderId": order["id"],
                "parentId": sale["id"],
                "amount": str(amount),
                "gateway": sale["gateway"],
                "kind": "REFUND",
            }
        ],
    }


def refund_store(url: str, run: StoreRun, *, sku: str, location: str) -> None:
    with httpx.Client(base_url=url, timeout=30) as client:
        run.started = time.time()
        for order_id in run.orders:
            try:
                order = graphql(client, run, ORDER_QUERY, {"id": order_id})["order"]
                variables = {
                    "input": refund_input(order, sku=sku, location=location),
                    "key": f"naive-{uuid.uuid4().hex}",
                }
                payload = graphql(client, run, REFUND_CREATE, variables)["refundCreate"]
                if payload["userErrors"] or not payload["refund"]:
                    raise Failed(str(payload["userErrors"])[:200])
            except (Failed, httpx.HTTPError, KeyError, StopIteration) as exc:
                run.failures.append(f"{order_id}: {type(exc).__name__}: {exc}")
            else:
                run.refunded_at.append(time.time())


def main(argv: list[str] | None = None) -> int:
    plan = json.loads(Path((argv or sys.argv[1:])[0]).read_text())
    runs = [StoreRun(s["domain"], s["token"], s["orders"]) for s in plan["shops"]]
    if plan.get("wait_for_go"):
        sys.stdin.readline()  # the caller drains the shops' buckets first
    pid = os.getpid()
    started_cpu, started = cpu_seconds(pid), time.perf_counter()
    threads = [
        threading.Thread(
            target=refund_store,
            args=(plan["sandbox_url"], run),
            kwargs={"sku": plan["sku"], "location": plan["location"]},
        )
        for run in runs
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    cpu, wall = cpu_seconds(pid) - started_cpu, time.perf_counter() - started
    refunds = sum(len(r.refunded_at) for r in runs)
    report = {
        "cpu_seconds": cpu,
        "wall_seconds": wall,
        "returns": sum(len(r.orders) for r in runs),
        "refunds": refunds,
        "cpu_per_return": cpu / max(1, refunds),
        "calls": sum(r.calls for r in runs),
        "throttled": sum(r.throttled for r in runs),
        "failures": [f for r in runs for f in r.failures][:10],
        "failed": sum(len(r.failures) for r in runs),
        "stores": [
            {"domain": r.domain, "started": r.started, "refunded_at": r.refunded_at} for r in runs
        ],
    }
    print(json.dumps(report))
    return 0 if refunds == report["returns"] else 1


if __name__ == "__main__":
    sys.exit(main())
