"""Cost of one return (issue 7): CPU, GraphQL calls and cost points, at Shopify's standard plan.

Runs side by side, on SQLite and on PostgreSQL, for 1, 4 and 16 stores:

  bare       bench/bare_dbos.py: N workflows of 8 trivial steps on a DBOS queue set up like
             ours (one partition per connection, same polling interval); the CPU floor. Run
             twice per store count: as fast as it goes, and paced (its refund step sleeps as
             long as the gateway took per return and store), since waiting costs DBOS CPU too
  gateway    `returnbridge sandbox` + `returnbridge up` as child processes; S sandbox shops at
             the standard plan's bucket and restore rate, S tenants each with a connection,
             N returns per store posted to the API at once; waits until none is moving
  naive      bench/naive_refunds.py: the same refunds by a plain sequential script (order
             read + refundCreate per return, one thread per store); no database, so it runs
             once per store count, not per backend

Every figure comes from the processes themselves: CPU-seconds from /proc (utime + stime of
each process, so other load on the machine does not inflate them), GraphQL calls, THROTTLED
answers and requested/actual cost points from the sandbox's journal, completion times from
the gateway's returns. Before the clock starts each shop's bucket is drained, so the rate is
the sustained one rather than the 2,000-point head start. docs/performance.md says how to
read the table.

Run (from the repo root):
  .venv/bin/python bench/cost.py                                   # default: both backends
  .venv/bin/python bench/cost.py --backend sqlite --stores 1 --returns-per-store 5
  .venv/bin/python bench/cost.py --ref 353e366 --json before.json   # gateway from a commit
  .venv/bin/python bench/cost.py --platform all --backend sqlite --stores 1,4 --only bare,gateway
  make cost

`--platform woocommerce|bigcommerce|shopline|all` runs the gateway scenario against those
platforms' sandboxes too (Shopify alone by default). Cost points, the drained bucket and the
naive script are Shopify's; for the others the journal gives calls per return by operation.
`--cross-check` applies to Shopify (`suggestedRefund`), BigCommerce (the refund quote before
the refund's own) and SHOPLINE (its refund calculation). The BigCommerce stores get a
generous request quota (`--bigcommerce-quota`) so that the run measures CPU, not the 30-s
window; the bound at the standard quota is printed. SHOPLINE
stores get a generous bucket (`--shopline-bucket`) for the same reason; their bound is the one
the standard bucket (draining 4 requests a second) allows.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from load import (
    MOVING,
    SKU,
    Call,
    Child,
    Tenant,
    code_under_test,
    cpu_seconds,
    export_source,
    free_port,
    machine_busy_seconds,
    order_seed,
    own_cpu_seconds,
    postgres_database,
    return_event,
    run_lanes,
    tail,
)

from returnbridge.settings import Settings

BENCH = Path(__file__).resolve().parent
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
GRAPHQL_PATH = "/admin/api/2026-01/graphql.json"
LOCATION_GID = "gid://shopify/Location/1"
STANDARD_RESTORE_RATE = 100.0  # points/s, Shopify standard plan (research/platforms/shopify.md)
STANDARD_BUCKET = 2000  # points; the sandbox's default maximumAvailable
DRAINED = 20  # points left in a drained bucket, at most
RICH_ALIAS = (
    "totalReceivedSet { shopMoney { amount } presentmentMoney { amount } } "
    "totalRefundedSet { shopMoney { amount } presentmentMoney { amount } } "
    "lineItems(first: 1) { nodes { originalUnitPriceSet { shopMoney { amount } "
    "presentmentMoney { amount } } taxLines { priceSet { shopMoney { amount } "
    "presentmentMoney { amount } } } } }"
)
RICH_ALIAS_COST = 17  # points of one RICH_ALIAS read of a seeded order (1 line, 1 tax line)
MAX_RICH_ALIASES = 50  # 850 points a query, under the 1000-point cap per query
SANDBOX_MAIN = (
    "import sys; from returnbridge.sandbox.shopify.server import serve; "
    "serve(port=int(sys.argv[1]), restore_rate=float(sys.argv[2]), bucket_size=int(sys.argv[3]))"
)
PLAIN_SANDBOX_MAIN = (
    "import sys; from returnbridge.sandbox.{platform}.server import serve; "
    "serve(port=int(sys.argv[1]))"
)
WOO_PRODUCT = 501  # the seeded line's product, which manages stock
WOO_TAX_RATE = 1
BC_LOCATION = 1
BC_STANDARD_QUOTA = 150  # requests per store and window (research/platforms/bigcommerce.md)
SHOPLINE_LEAK_RATE = 4.0  # requests per second a SHOPLINE bucket drains (platform standard)
BC_WINDOW = 30.0  # seconds
STOCK = 1_000_000  # units of SKU seeded per store: restocks never run out of room


def say(message: str) -> None:
    """Progress, on stderr (the table goes to stdout)."""
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- processes


class Process(Child):
    """A child process (any argv) with its output in a log file; its CPU read from /proc.

    `load.Child` runs `returnbridge <args>`; this one also runs the sandbox and the gateway
    from an exported commit (`--ref`), so it takes the whole command line.
    """

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.name = name
        self.log = log
        with log.open("ab") as out:
            self.process = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)


def environment(source: Path | None = None, **extra: str) -> dict[str, str]:
    """Ours without RETURNBRIDGE_*; `source` (an exported src/) imported first if given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RETURNBRIDGE_")}
    env.pop("PYTHONPATH", None)
    if source is not None:
        env["PYTHONPATH"] = str(source)
    return env | extra


def run_child_json(
    argv: list[str],
    *,
    env: dict[str, str],
    log: Path,
    before_go: Callable[[int], object] | None = None,
) -> dict[str, Any]:
    """Run a bench child to the end; the JSON object it printed last.

    With `before_go`, the child was told to wait for a line on stdin: it gets it once
    `before_go(pid)` has run (so what that does happens after the child's start-up).
    """
    with log.open("ab") as err:
        child = subprocess.Popen(
            argv, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err
        )
        if before_go is not None:
            before_go(child.pid)
        out, _ = child.communicate(b"go\n")
    lines = [line for line in out.decode().splitlines() if line.startswith("{")]
    if not lines:
        raise SystemExit(f"{argv[1]} printed no result (exit {child.returncode}); see {log}")
    report: dict[str, Any] = json.loads(lines[-1])
    report["exit_status"] = child.returncode
    return report


def start_sandbox(
    args: argparse.Namespace, work: Path, target: Target | None = None
) -> tuple[Process, str]:
    """The platform's sandbox (Shopify's by default) from the working tree, whatever `--ref`
    says: it is the measuring tool."""
    target = target or SHOPIFY
    port = free_port()
    argv = [sys.executable, "-c", target.sandbox_main, str(port), *target.sandbox_args(args)]
    source = getattr(args, "sandbox_source", None)
    sandbox = Process("sandbox", argv, environment(source), work / "sandbox.log")
    url = f"http://127.0.0.1:{port}"
    try:
        sandbox.wait_healthy(url)
    except BaseException:
        sandbox.stop()
        raise
    return sandbox, url


class Gateway:
    """The gateway's processes: `returnbridge up`, or `api` plus `--workers` workers (the
    scaled deployment, PostgreSQL only), measured as one: CPU is their sum."""

    def __init__(self, processes: list[Process]) -> None:
        self.processes = processes

    def cpu(self) -> float:
        return sum(p.cpu() for p in self.processes)

    def wait_healthy(self, url: str) -> None:
        self.processes[0].wait_healthy(url)

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()


def start_gateway(
    args: argparse.Namespace, work: Path, database_url: str | None
) -> tuple[Gateway, str, str]:
    port = free_port()
    admin_key = f"adm_{secrets.token_urlsafe(24)}"
    env = environment(
        args.source,
        RETURNBRIDGE_ADMIN_KEY=admin_key,
        RETURNBRIDGE_LOG_LEVEL=args.log_level,
        **({"RETURNBRIDGE_DATABASE_URL": database_url} if database_url else {}),
    )
    command = [sys.executable, "-m", "returnbridge.cli.main"]
    data = ["--data-dir", str(work / "data")]
    scaled = bool(args.workers and database_url)
    argv = [*command, "api" if scaled else "up", *data, "--port", str(port)]
    gateway = Gateway([Process("gateway", argv, env, work / "gateway.log")])
    url = f"http://127.0.0.1:{port}"
    try:
        gateway.wait_healthy(url)  # the API process created the secret key the workers read
        if scaled:
            gateway.processes += [
                Process(f"worker-{n}", [*command, "worker", *data], env, work / f"worker-{n}.log")
                for n in range(1, args.workers + 1)
            ]
    except BaseException:
        gateway.stop()
        raise
    return gateway, url, admin_key


@contextmanager
def scratch(
    args: argparse.Namespace, backend: str, label: str
) -> Iterator[tuple[Path, str | None]]:
    """A temp dir, and a fresh PostgreSQL database when the backend is postgres."""
    work = Path(tempfile.mkdtemp(prefix=f"rb-cost-{backend}-{label}-"))
    database = nullcontext() if backend != "postgres" else postgres_database(args.postgres_url)
    try:
        with database as url:
            yield work, url
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


# --------------------------------------------------------------------------- shops


@dataclass
class Shop:
    """A sandbox store: its name in the journal (`domain`), token, orders and credentials."""

    domain: str
    token: str
    orders: list[str]
    credentials: dict[str, str] = field(default_factory=dict)
    base_path: str = ""
    """After the sandbox's URL: where the store's API lives (SHOPLINE: `/stores/{handle}`)."""


@dataclass(frozen=True)
class Target:
    """What the bench needs of one platform: its sandbox, a seeded store, the connection the
    gateway gets, and how its journal is read. Shopify's cost points and drained bucket
    apply to Shopify only (`shopify`); the connection setting `cross_check` (the platform's
    own refund calculation beside the plan: Shopify's `suggestedRefund`, BigCommerce's
    refund quote) to the platforms that have one (`cross_check`)."""

    platform: str
    sandbox_main: str
    sandbox_args: Callable[[argparse.Namespace], list[str]]
    seed: Callable[[argparse.Namespace, httpx.Client, int], Shop]
    """One store (its number given) with `--returns-per-store` orders."""
    settings: Callable[[bool], dict[str, Any]]
    """The connection's settings, given the cross-check."""
    journal_filter: str  # the control surface's store parameter of /_sandbox/journal
    bound: Callable[[argparse.Namespace, dict[str, Any]], float | None]
    """Returns/s per store the platform's rate limit allows, from the journal's figures."""
    shopify: bool = False
    cross_check: bool = False


def seed_shopify(args: argparse.Namespace, sandbox: httpx.Client, number: int) -> Shop:
    domain = f"store{number}-{uuid.uuid4().hex[:6]}.myshopify.com"
    token = f"shpat_{uuid.uuid4().hex}"
    sandbox.post(
        "/_sandbox/shops",
        json={
            "domain": domain,
            "access_token": token,
            "currency": "USD",
            "locations": [{"id": 1, "name": "Main"}],
            "restore_rate": args.restore_rate,
            "bucket_size": args.bucket_size,
        },
    ).raise_for_status()
    orders = []
    for n in range(args.returns_per_store):
        answer = sandbox.post(f"/_sandbox/shops/{domain}/orders", json=order_seed(n))
        answer.raise_for_status()
        orders.append(str(answer.json()["gid"]))
    return Shop(domain, token, orders, {"access_token": token})


def woo_order(n: int) -> dict[str, Any]:
    """Two units of SKU at 19.90, 8 % tax, taxed shipping (as `load.order_seed` + shipping)."""
    return {
        "number": f"L{n}",
        "billing": {"email": f"c{n}@example.com", "first_name": "C"},
        "tax_rates": [{"rate_id": WOO_TAX_RATE, "label": "Tax"}],
        "line_items": [
            {
                "product_id": WOO_PRODUCT,
                "sku": SKU,
                "name": "Item",
                "quantity": 2,
                "price": "19.90",
                "taxes": [{"rate_id": WOO_TAX_RATE, "total": "3.18"}],
            }
        ],
        "shipping_lines": [
            {"total": "5.99", "taxes": [{"rate_id": WOO_TAX_RATE, "total": "0.48"}]}
        ],
    }


def seed_woocommerce(args: argparse.Namespace, sandbox: httpx.Client, number: int) -> Shop:
    name = f"store{number}-{uuid.uuid4().hex[:6]}"
    key, secret = f"ck_{uuid.uuid4().hex}{uuid.uuid4().hex[:8]}", f"cs_{uuid.uuid4().hex}"
    sandbox.post(
        "/_sandbox/stores", json={"name": name, "consumer_key": key, "consumer_secret": secret}
    ).raise_for_status()
    sandbox.post(
        f"/_sandbox/stores/{name}/stock",
        json={"product_id": WOO_PRODUCT, "stock_quantity": STOCK},
    ).raise_for_status()
    orders = []
    for n in range(args.returns_per_store):
        answer = sandbox.post(f"/_sandbox/stores/{name}/orders", json=woo_order(n))
        answer.raise_for_status()
        orders.append(str(answer.json()["id"]))
    return Shop(name, key, orders, {"consumer_key": key, "consumer_secret": secret})


def bc_order(n: int) -> dict[str, Any]:
    """Two units of SKU at 19.90 (21.49 with 8 % tax), taxed shipping."""
    return {
        "customer_id": 100 + n,
        "email": f"c{n}@example.com",
        "products": [
            {
                "product_id": 601,
                "variant_id": 6010,
                "sku": SKU,
                "name": "Item",
                "quantity": 2,
                "price_ex_tax": "19.90",
                "price_inc_tax": "21.49",
            }
        ],
        "shipping": {"cost_ex_tax": "5.99", "cost_inc_tax": "6.47"},
    }


def seed_bigcommerce(args: argparse.Namespace, sandbox: httpx.Client, number: int) -> Shop:
    store_hash = f"store{number}{uuid.uuid4().hex[:6]}"
    token = f"bc_{uuid.uuid4().hex}"
    sandbox.post(
        "/_sandbox/stores",
        json={
            "store_hash": store_hash,
            "access_token": token,
            "rate_quota": args.bigcommerce_quota,
            "rate_window_seconds": BC_WINDOW,
            "locations": [{"id": BC_LOCATION, "label": "Main"}],
        },
    ).raise_for_status()
    sandbox.post(
        f"/_sandbox/stores/{store_hash}/stock",
        json={"sku": SKU, "level": STOCK, "location_id": BC_LOCATION},
    ).raise_for_status()
    orders = []
    for n in range(args.returns_per_store):
        answer = sandbox.post(f"/_sandbox/stores/{store_hash}/orders", json=bc_order(n))
        answer.raise_for_status()
        orders.append(str(answer.json()["id"]))
    return Shop(store_hash, token, orders, {"store_hash": store_hash, "access_token": token})


def shopline_order(n: int) -> dict[str, Any]:
    """Two units of SKU at 19.90 with 3.18 tax, taxed shipping, shipped."""
    return {
        "email": f"c{n}@example.com",
        "line_items": [
            {
                "sku": SKU,
                "title": "Item",
                "quantity": 2,
                "price": "19.90",
                "tax_lines": [{"title": "Tax", "rate": "0.08", "price": "3.18"}],
            }
        ],
        "shipping_lines": [
            {
                "title": "Standard",
                "price": "5.99",
                "tax_lines": [{"title": "Tax", "rate": "0.08", "price": "0.48"}],
            }
        ],
    }


def seed_shopline(args: argparse.Namespace, sandbox: httpx.Client, number: int) -> Shop:
    handle = f"store{number}{uuid.uuid4().hex[:6]}"
    token = f"sl_{uuid.uuid4().hex}"
    store = sandbox.post(
        "/_sandbox/stores",
        json={
            "handle": handle,
            "access_token": token,
            "bucket_size": args.shopline_bucket,
            "leak_rate": args.shopline_bucket / 10,
        },
    )
    store.raise_for_status()
    location = str(store.json()["locations"][0]["id"])
    sandbox.post(
        f"/_sandbox/stores/{handle}/stock",
        json={"sku": SKU, "level": STOCK, "location_id": location},
    ).raise_for_status()
    orders = []
    for n in range(args.returns_per_store):
        answer = sandbox.post(f"/_sandbox/stores/{handle}/orders", json=shopline_order(n))
        answer.raise_for_status()
        orders.append(str(answer.json()["id"]))
    return Shop(handle, token, orders, {"access_token": token}, base_path=f"/stores/{handle}")


def request_bound(quota: float, journal: dict[str, Any]) -> float | None:
    """Returns/s per store a quota of `quota` requests per BC_WINDOW seconds allows."""
    calls = journal["executed_calls_per_return"]
    return quota / BC_WINDOW / calls if calls else None


SHOPIFY = Target(
    platform="shopify",
    sandbox_main=SANDBOX_MAIN,
    sandbox_args=lambda args: [str(args.restore_rate), str(args.bucket_size)],
    seed=seed_shopify,
    settings=lambda cross: {"restock_location_id": LOCATION_GID, "cross_check": cross},
    journal_filter="shop",
    bound=lambda args, journal: (
        args.restore_rate / journal["actual_per_return"] if journal["actual_per_return"] else None
    ),
    shopify=True,
    cross_check=True,
)
WOOCOMMERCE = Target(
    platform="woocommerce",
    sandbox_main=PLAIN_SANDBOX_MAIN.format(platform="woocommerce"),
    sandbox_args=lambda args: [],
    seed=seed_woocommerce,
    settings=lambda cross: {"api_refund": True},
    journal_filter="store",
    bound=lambda args, journal: None,  # a WooCommerce site has no API rate limit of its own
)
BIGCOMMERCE = Target(
    platform="bigcommerce",
    sandbox_main=PLAIN_SANDBOX_MAIN.format(platform="bigcommerce"),
    sandbox_args=lambda args: [],
    seed=seed_bigcommerce,
    settings=lambda cross: {"restock_location_id": str(BC_LOCATION), "cross_check": cross},
    journal_filter="store",
    bound=lambda args, journal: request_bound(args.bigcommerce_quota, journal),
    cross_check=True,
)
SHOPLINE = Target(
    platform="shopline",
    sandbox_main=PLAIN_SANDBOX_MAIN.format(platform="shopline"),
    sandbox_args=lambda args: [],
    seed=seed_shopline,
    settings=lambda cross: {"cross_check": cross},
    journal_filter="store",
    # the standard bucket drains 4 requests a second (research/platforms/shopline.md)
    bound=lambda args, journal: (
        SHOPLINE_LEAK_RATE / journal["executed_calls_per_return"]
        if journal["executed_calls_per_return"]
        else None
    ),
    cross_check=True,
)
TARGETS = {t.platform: t for t in (SHOPIFY, WOOCOMMERCE, BIGCOMMERCE, SHOPLINE)}


def seed_shops(
    args: argparse.Namespace, sandbox_url: str, stores: int, target: Target | None = None
) -> list[Shop]:
    """`stores` stores, each with its orders (Shopify: at the plan's bucket and rate)."""
    target = target or SHOPIFY
    with httpx.Client(base_url=sandbox_url, timeout=60) as sandbox:
        return [target.seed(args, sandbox, number) for number in range(stores)]


def drain_query(points: int) -> str:
    """A read of one order, aliased so it costs about `points` (requested and actual).

    A rich alias costs RICH_ALIAS_COST points (the seeded order's amounts, line and tax);
    a plain `{ id }` alias one point. Few rich aliases keep the sandbox's work per point low.
    """
    if points >= RICH_ALIAS_COST:
        count, fields = min(MAX_RICH_ALIASES, points // RICH_ALIAS_COST), RICH_ALIAS
    else:
        count, fields = max(1, points), "id"
    body = " ".join(f"a{n}: order(id: $id) {{ {fields} }}" for n in range(count))
    return f"query Drain($id: ID!) {{ {body} }}"


def drain_shop(sandbox_url: str, shop: Shop) -> float:
    """Spend the shop's bucket down to under DRAINED points; the points left."""
    available = float(RICH_ALIAS_COST * MAX_RICH_ALIASES)
    with httpx.Client(base_url=sandbox_url, timeout=120) as client:
        while available >= DRAINED:
            answer = client.post(
                GRAPHQL_PATH,
                json={"query": drain_query(int(available) - 5),
                      "variables": {"id": shop.orders[0]}},
                headers={"X-Shopify-Access-Token": shop.token},
            ).json()  # fmt: skip
            available = float(answer["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"])
    return available


def drain(sandbox_url: str, shops: list[Shop], *, enabled: bool) -> dict[str, float]:
    """Spend every shop's bucket down to under DRAINED points; the points left per shop.

    All shops at once, one thread each, so they end up nearly empty at about the same time
    (one after another, the first would have refilled by the time the last is drained).
    """
    if not enabled:
        return {shop.domain: float("nan") for shop in shops}
    with ThreadPoolExecutor(max_workers=len(shops)) as pool:
        left = list(pool.map(lambda shop: drain_shop(sandbox_url, shop), shops))
    return {shop.domain: points for shop, points in zip(shops, left, strict=True)}


def refused(entry: dict[str, Any]) -> bool:
    """An answer the rate limit gave instead of running the call (THROTTLED, 429)."""
    return bool(entry.get("throttled") or entry.get("rate_limited"))


def journal_figures(
    sandbox_url: str,
    shops: list[Shop],
    *,
    since: float,
    returns: int,
    target: Target | None = None,
) -> dict[str, Any]:
    """Calls, refused answers (THROTTLED, 429) and cost points (Shopify) after `since`, in
    total and per return; calls per return by operation, effects and error answers."""
    target = target or SHOPIFY
    entries: list[dict[str, Any]] = []
    first_call: dict[str, float] = {}
    with httpx.Client(base_url=sandbox_url, timeout=120) as client:
        for shop in shops:
            answer = client.get("/_sandbox/journal", params={target.journal_filter: shop.domain})
            answer.raise_for_status()
            mine = [e for e in answer.json() if e["at"] >= since]
            entries += mine
            ran = [e["at"] for e in mine if not refused(e)]
            if ran:
                first_call[shop.domain] = min(ran)
    per = max(1, returns)
    operations: dict[str, dict[str, float]] = defaultdict(
        lambda: {"calls": 0, "requested": 0, "actual": 0, "throttled": 0}
    )
    for entry in entries:
        figures = operations[str(entry.get("operation_name") or entry.get("operation"))]
        figures["calls"] += 1
        if refused(entry):
            figures["throttled"] += 1
        else:
            figures["requested"] += entry.get("requested_cost") or 0
            figures["actual"] += entry.get("actual_cost") or 0
    executed = [e for e in entries if not refused(e)]
    costs = target.shopify  # cost points: Shopify's only
    errors = Counter(
        f"{e.get('operation_name') or e.get('operation')} {e['http_status']}"
        for e in executed
        if int(e.get("http_status") or 200) >= 400
    )
    return {
        "first_call_at": first_call,
        "calls": len(entries),
        "throttled": sum(1 for e in entries if refused(e)),
        "refunds_created": sum(1 for e in entries if e.get("effect") == "refund_created"),
        "effects_per_return": {
            effect: count / per
            for effect, count in sorted(
                Counter(e["effect"] for e in entries if e.get("effect")).items()
            )
        },
        "error_answers": dict(errors),
        "calls_per_return": len(entries) / per,
        "executed_calls_per_return": len(executed) / per,
        "requested_per_return": sum(e.get("requested_cost") or 0 for e in executed) / per
        if costs
        else None,
        "actual_per_return": sum(e.get("actual_cost") or 0 for e in executed) / per
        if costs
        else None,
        "by_operation": {
            name: {
                "calls_per_return": f["calls"] / per,
                "requested_per_call": f["requested"] / max(1, f["calls"] - f["throttled"]),
                "actual_per_call": f["actual"] / max(1, f["calls"] - f["throttled"]),
                "throttled": f["throttled"],
            }
            for name, f in sorted(operations.items())
        },
        "costs_recorded": costs and all("requested_cost" in e for e in entries),
    }


def sustained(times: list[float], first_call: float | None = None) -> float | None:
    """Completions per second from the store's first platform call that ran to its last
    completion (from its first completion when the first call is unknown).

    A drained shop's first call waits for the bucket to hold the points it asks for; from then
    on the rate is set by the points really spent. Counting from the first call (not the first
    completion) keeps the rate honest when several returns of a store run at once and finish
    in bunches.
    """
    if first_call is not None and times and max(times) > first_call:
        return len(times) / (max(times) - first_call)
    if len(times) < 2 or max(times) <= min(times):
        return None
    return (len(times) - 1) / (max(times) - min(times))


def aggregate(everything: list[float], firsts: list[float], calls: list[float]) -> float | None:
    """All stores' returns per second while they run side by side (see `rates`)."""
    if calls and everything and max(everything) > statistics.fmean(calls):
        return len(everything) / (max(everything) - statistics.fmean(calls))
    if len(everything) > len(firsts) and max(everything) > statistics.fmean(firsts):
        return (len(everything) - len(firsts)) / (max(everything) - statistics.fmean(firsts))
    return None


def rates(
    args: argparse.Namespace,
    started: dict[str, float],
    finished: dict[str, list[float]],
    bound: float | None,
    first_calls: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Returns/s per store and in all: sustained, and end to end (first post to last end);
    `bound` is what the platform's rate limit allows a store (`Target.bound`)."""
    calls = first_calls or {}
    per_store = {d: sustained(times, calls.get(d)) for d, times in finished.items()}
    end_to_end = {
        d: len(times) / (max(times) - started[d]) if times and max(times) > started[d] else 0.0
        for d, times in finished.items()
    }
    everything = [t for times in finished.values() for t in times]
    firsts = [min(times) for times in finished.values() if times]
    first = min(started.values())
    known = [r for r in per_store.values() if r is not None]
    mean = statistics.fmean(known) if known else None
    return {
        "per_store": per_store,
        "per_store_mean": mean,
        "per_store_min": min(known, default=None),
        # The stores' completions over the time since their first calls ran (on average): the
        # sum of the stores' sustained rates when they run side by side. Without journal
        # times: each store's completions after its own first, since the first completions.
        "aggregate": aggregate(everything, firsts, list(calls.values())),
        "per_store_end_to_end": end_to_end,
        "aggregate_end_to_end": len(everything) / (max(everything) - first)
        if everything and max(everything) > first
        else 0.0,
        "throttle_bound_per_store": bound,
        "share_of_bound": mean / bound if bound and mean is not None else None,
        "steady_from": statistics.fmean(firsts) if firsts else None,
        "steady_to": max(everything) if everything else None,
    }


# --------------------------------------------------------------------------- scenarios


@dataclass
class Window:
    """CPU of some processes, and of the machine, over a stretch of wall time."""

    processes: dict[str, Process | Gateway]
    cpu: dict[str, float] = field(default_factory=dict)
    machine: float = 0.0
    own: float = 0.0
    at: float = 0.0

    def start(self) -> Window:
        self.cpu = {name: p.cpu() for name, p in self.processes.items()}
        self.machine, self.own = machine_busy_seconds(), own_cpu_seconds()
        self.at = time.perf_counter()
        return self

    def used(self, *, also: float = 0.0) -> dict[str, float]:
        """CPU-seconds per process, wall time, and the machine's busy share (all cores).

        `other_share` is the part of the machine's capacity that neither these processes,
        this script nor `also` (CPU-seconds of a child measured by itself) used.
        """
        wall = time.perf_counter() - self.at
        used = {name: p.cpu() - self.cpu[name] for name, p in self.processes.items()}
        busy = machine_busy_seconds() - self.machine
        ours = sum(used.values()) + own_cpu_seconds() - self.own + also
        capacity = wall * (os.cpu_count() or 1)
        return used | {
            "wall": wall,
            "machine_busy_share": busy / capacity,
            "other_share": max(0.0, busy - ours) / capacity,
        }


class Sampler:
    """CPU of some processes and of the machine, sampled in a thread every `every` seconds.

    Lets a figure cover the steady part of a run only (from the stores' first completions to
    the last), not the start where every store waits for its bucket to hold enough points.
    """

    def __init__(self, processes: dict[str, Callable[[], float]], every: float = 0.5) -> None:
        self.processes = processes
        self.every = every
        self.samples: list[tuple[float, float, dict[str, float]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cpu-sampler", daemon=True)

    def _sample(self) -> None:
        try:
            cpu = {name: read() for name, read in self.processes.items()}
        except OSError:  # a process has ended: its last samples stand
            return
        self.samples.append((time.time(), machine_busy_seconds(), cpu))

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self._sample()

    def start(self) -> Sampler:
        self._sample()
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread.ident is not None and not self._stop.is_set():
            self._stop.set()
            self._thread.join()
            self._sample()

    def __enter__(self) -> Sampler:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def shares(self, start: float | None, end: float | None) -> dict[str, float] | None:
        """Each process's and the machine's share of all cores between two instants."""
        if start is None or end is None:
            return None
        inside = [s for s in self.samples if start <= s[0] <= end]
        if len(inside) < 2 or inside[-1][0] <= inside[0][0]:
            return None
        (t0, busy0, cpu0), (t1, busy1, cpu1) = inside[0], inside[-1]
        capacity = (t1 - t0) * (os.cpu_count() or 1)
        shares = {name: (cpu1[name] - cpu0[name]) / capacity for name in cpu0}
        return shares | {"machine": (busy1 - busy0) / capacity, "seconds": t1 - t0}


def run_bare(
    args: argparse.Namespace, backend: str, stores: int, *, refund_sleep: float = 0.0
) -> dict[str, Any]:
    """Bare DBOS; with `refund_sleep`, paced like the gateway (its refund step waits)."""
    workflows = stores * args.returns_per_store
    paced = f", refund step sleeping {refund_sleep:.2f}s" if refund_sleep else ""
    lanes = f"{stores} × {LANES}" if LANES > 1 else str(stores)
    say(f"  [{backend}] bare DBOS: {workflows} workflows on {lanes} partition(s){paced}")
    with scratch(args, backend, "bare") as (work, database_url):
        if database_url is None:
            url = f"sqlite:///{work / 'dbos.sqlite'}"
        else:
            url = database_url.replace("postgresql+psycopg://", "postgresql://", 1)
        argv = [sys.executable, str(BENCH / "bare_dbos.py"), "--database-url", url]
        argv += ["--workflows", str(workflows), "--partitions", str(stores)]
        argv += ["--lanes", str(LANES)]
        argv += ["--idle", str(args.idle), "--timeout", str(args.timeout)]
        argv += ["--refund-sleep", str(refund_sleep)]
        report = run_child_json(argv, env=environment(), log=work / "bare.log")
    report["ok"] = report["exit_status"] == 0 and report["completed"] == workflows
    report["refund_sleep"] = refund_sleep
    say(
        f"  [{backend}] bare DBOS: {report['cpu_per_workflow'] * 1000:.1f} ms CPU per workflow, "
        f"{report['workflows_per_second']:.1f} workflows/s"
    )
    return report


def run_naive(args: argparse.Namespace, stores: int) -> dict[str, Any]:
    say(f"  naive script: {stores} store(s) × {args.returns_per_store} returns")
    with scratch(args, "none", "naive") as (work, _):
        sandbox, sandbox_url = start_sandbox(args, work)
        try:
            shops = seed_shops(args, sandbox_url, stores)
            plan = {
                "sandbox_url": sandbox_url,
                "sku": SKU,
                "location": LOCATION_GID,
                "wait_for_go": True,
                "shops": [
                    {"domain": s.domain, "token": s.token, "orders": s.orders} for s in shops
                ],
            }
            (work / "plan.json").write_text(json.dumps(plan))
            left: dict[str, float] = {}
            since = time.time()
            window = Window({"sandbox": sandbox})

            sampler = Sampler({"sandbox": sandbox.cpu}, every=0.2)

            def drained(pid: int) -> None:
                nonlocal since
                left.update(drain(sandbox_url, shops, enabled=args.drain))
                since = time.time()
                window.start()
                sampler.processes["client"] = lambda: cpu_seconds(pid)
                sampler.start()

            argv = [sys.executable, str(BENCH / "naive_refunds.py"), str(work / "plan.json")]
            try:
                report = run_child_json(
                    argv, env=environment(), log=work / "naive.log", before_go=drained
                )
            finally:
                sampler.stop()
            used = window.used(also=report["cpu_seconds"])
            returns = stores * args.returns_per_store
            journal = journal_figures(sandbox_url, shops, since=since, returns=returns)
        finally:
            sandbox.stop()
    started = {s["domain"]: s["started"] for s in report["stores"]}
    finished = {s["domain"]: s["refunded_at"] for s in report["stores"]}
    result = {
        "stores": stores,
        "returns": returns,
        "completed": report["refunds"],
        "failed": report["failed"],
        "failures": report["failures"],
        "cpu_seconds": {"client": report["cpu_seconds"], "sandbox": used["sandbox"]},
        "cpu_per_return": {
            "client": report["cpu_seconds"] / returns,
            "sandbox": used["sandbox"] / returns,
        },
        "wall_seconds": report["wall_seconds"],
        "machine_busy_share": used["machine_busy_share"],
        "other_share": used["other_share"],
        "bucket_left_at_start": left,
        "journal": journal,
        "rates": rates(
            args, started, finished, SHOPIFY.bound(args, journal), journal["first_call_at"]
        ),
    }
    result["steady_shares"] = sampler.shares(
        result["rates"]["steady_from"], result["rates"]["steady_to"]
    )
    result["ok"] = report["exit_status"] == 0 and result["completed"] == returns
    say(f"  naive script: {summary_line(result)}")
    return result


def create_tenants(
    gateway_url: str,
    admin_key: str,
    sandbox_url: str,
    shops: list[Shop],
    *,
    cross_check: bool,
    target: Target | None = None,
) -> list[Tenant]:
    """A tenant per store, each with a connection to its store through the admin API."""
    target = target or SHOPIFY
    tenants = []
    admin = {"Authorization": f"Bearer {admin_key}"}
    with httpx.Client(base_url=gateway_url, headers=admin, timeout=60) as api:
        for number, shop in enumerate(shops):
            answer = api.post("/v1/tenants", json={"name": f"store{number}"})
            answer.raise_for_status()
            body = answer.json()
            api.post(
                f"/v1/tenants/{body['id']}/connections",
                json={
                    "platform": target.platform,
                    "name": "main",
                    "base_url": sandbox_url + shop.base_path,
                    "credentials": shop.credentials,
                    "settings": target.settings(cross_check),
                },
            ).raise_for_status()
            orders = list(reversed(shop.orders))
            tenants.append(
                Tenant(f"store{number}", body["id"], body["api_key"], shop.domain, orders)
            )
    return tenants


def listing(api: httpx.Client, tenant: Tenant, statuses: tuple[str, ...], limit: int) -> list[Any]:
    """One tenant's returns, all pages (only the first when `limit` is small)."""
    items: list[Any] = []
    params: list[tuple[str, str]] = [("limit", str(limit)), *(("status", s) for s in statuses)]
    cursor = None
    while True:
        page_params = params + ([("cursor", cursor)] if cursor else [])
        answer = api.get("/v1/returns", params=tuple(page_params), headers=tenant.auth)
        answer.raise_for_status()
        page = answer.json()
        items += page["items"]
        cursor = page["next_cursor"]
        if not cursor or limit < 200:
            return items


def wait_done(args: argparse.Namespace, gateway_url: str, tenants: list[Tenant]) -> str:
    """Until no return of these tenants is moving.

    One small listing a poll, of the first tenant not yet seen at rest, so the polling adds
    next to nothing to the gateway's CPU (the tenants finish at about the same time).
    """
    started, last_print = time.monotonic(), 0.0
    busy = list(tenants)
    with httpx.Client(base_url=gateway_url, timeout=60) as api:
        while busy:
            if not listing(api, busy[0], MOVING, 1):
                busy.pop(0)
                continue
            now = time.monotonic()
            if now - last_print >= args.progress_every:
                last_print = now
                say(f"    {now - started:5.0f}s: {len(busy)} store(s) not seen at rest yet")
            if now - started > args.timeout:
                return f"timeout after {args.timeout:.0f}s"
            time.sleep(args.poll)
    return "all resting"


def not_completed(
    api: httpx.Client, tenants: list[Tenant], final: dict[str, list[Any]], limit: int = 10
) -> list[str]:
    """The first returns that did not complete: status and their timeline's last events."""
    lines: list[str] = []
    for tenant in tenants:
        for item in final.get(tenant.shop, []):
            if item["status"] == "completed" or len(lines) >= limit:
                continue
            answer = api.get(f"/v1/returns/{item['id']}", headers=tenant.auth)
            timeline = answer.json().get("timeline", []) if answer.status_code == 200 else []
            events = "; ".join(
                f"{e.get('event')}" + (f" ({e['reason']})" if e.get("reason") else "")
                for e in timeline[-3:]
            )
            lines.append(f"{tenant.shop} {item['id']}: {item['status']}: {events}")
    return lines


def instant(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def gateway_key(target: Target, stores: int, cross_check: bool) -> str:
    """A gateway run's key in the report: `stores/on|off` on Shopify (as before platforms),
    `stores/platform` on the others (`stores/platform off` without the cross-check)."""
    if target.shopify:
        return f"{stores}/{'on' if cross_check else 'off'}"
    off = " off" if target.cross_check and not cross_check else ""
    return f"{stores}/{target.platform}{off}"


def run_what(result: dict[str, Any]) -> str:
    """A gateway run's platform and cross-check, e.g. `bigcommerce, cross-check off`."""
    platform = str(result.get("platform", "shopify"))
    if result.get("cross_check") is None:
        return platform
    cross = f"cross-check {'on' if result['cross_check'] else 'off'}"
    return cross if platform == "shopify" else f"{platform}, {cross}"


def run_label(result: dict[str, Any]) -> str:
    """How a gateway run is named in the table."""
    if result.get("platform", "shopify") == "shopify":
        return f"returnbridge, {run_what(result)}"
    return f"returnbridge on {run_what(result)}"


def run_gateway(
    args: argparse.Namespace,
    backend: str,
    stores: int,
    *,
    cross_check: bool,
    target: Target | None = None,
) -> dict[str, Any]:
    target = target or SHOPIFY
    label = f"cross-check {'on' if cross_check else 'off'}" if target.cross_check else "—"
    say(
        f"  [{backend}] returnbridge on {target.platform}: {stores} store(s) × "
        f"{args.returns_per_store} returns, {label}"
    )
    returns = stores * args.returns_per_store
    with scratch(args, backend, f"gateway-{target.platform}") as (work, database_url):
        sandbox, sandbox_url = start_sandbox(args, work, target)
        gateway: Gateway | None = None
        try:
            gateway, gateway_url, admin_key = start_gateway(args, work, database_url)
            shops = seed_shops(args, sandbox_url, stores, target)
            tenants = create_tenants(
                gateway_url, admin_key, sandbox_url, shops, cross_check=cross_check, target=target
            )
            idle = Window({"gateway": gateway, "sandbox": sandbox}).start()
            time.sleep(args.idle)
            idle_used = idle.used()
            left = drain(sandbox_url, shops, enabled=args.drain and target.shopify)
            calls = [
                Call("post", t, "POST", "/v1/returns", return_event(f"R-{n}", t.take_order()))
                for n in range(args.returns_per_store)
                for t in tenants
            ]
            lanes = [lane for c in range(args.clients) if (lane := calls[c :: args.clients])]
            since = time.time()
            window = Window({"gateway": gateway, "sandbox": sandbox}).start()
            posted_at = dict.fromkeys((t.shop for t in tenants), since)
            with Sampler({"gateway": gateway.cpu, "sandbox": sandbox.cpu}) as sampler:
                burst = asyncio.run(run_lanes(gateway_url, lanes, 120.0, 5))
                ended = wait_done(args, gateway_url, tenants)
            used = window.used()
            with httpx.Client(base_url=gateway_url, timeout=60) as api:
                final = {t.shop: listing(api, t, (), 200) for t in tenants}
                unfinished = not_completed(api, tenants, final)
            journal = journal_figures(
                sandbox_url, shops, since=since, returns=returns, target=target
            )
        finally:
            if gateway is not None:
                gateway.stop()
            sandbox.stop()
            log = tail(work / "gateway.log", 4000)
    answers = Counter(c.status for c in calls)
    statuses = Counter(r["status"] for items in final.values() for r in items)
    finished = {
        shop: [instant(r["updated_at"]) for r in items if r["status"] == "completed"]
        for shop, items in final.items()
    }
    idle_rate = idle_used["gateway"] / idle_used["wall"]
    result = {
        "platform": target.platform,
        "stores": stores,
        "cross_check": cross_check if target.cross_check else None,
        "workers": len(gateway.processes) - 1 if gateway is not None else 0,
        "returns": returns,
        "completed": statuses.get("completed", 0),
        "statuses": dict(statuses),
        "answers": dict(answers),
        "wait_ended": ended,
        "post_burst_seconds": burst,
        "cpu_seconds": {"gateway": used["gateway"], "sandbox": used["sandbox"]},
        "cpu_per_return": {
            "gateway": used["gateway"] / returns,
            "sandbox": used["sandbox"] / returns,
        },
        "idle_cpu_per_second": {
            "gateway": idle_rate,
            "sandbox": idle_used["sandbox"] / idle_used["wall"],
        },
        "busy_gateway_cpu_per_return": max(0.0, used["gateway"] - idle_rate * used["wall"])
        / returns,
        "wall_seconds": used["wall"],
        "machine_busy_share": used["machine_busy_share"],
        "other_share": used["other_share"],
        "stack_share": (used["gateway"] + used["sandbox"]) / (used["wall"] * (os.cpu_count() or 1)),
        "bucket_left_at_start": left,
        "journal": journal,
        "rates": rates(
            args, posted_at, finished, target.bound(args, journal), journal["first_call_at"]
        ),
        "not_completed": unfinished,
    }
    result["steady_shares"] = sampler.shares(
        result["rates"]["steady_from"], result["rates"]["steady_to"]
    )
    if target.platform == "bigcommerce" and journal["executed_calls_per_return"]:
        result["standard_quota_bound_per_store"] = request_bound(BC_STANDARD_QUOTA, journal)
    result["ok"] = result["completed"] == returns and answers == Counter({"202": returns})
    if not result["ok"]:
        result["gateway_log_tail"] = log
    say(f"  [{backend}] returnbridge on {target.platform}: {summary_line(result)}")
    for line in unfinished[:5]:
        say(f"    not completed: {line}")
    return result


def summary_line(result: dict[str, Any]) -> str:
    rate, journal = result["rates"], result["journal"]
    cpu = ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in result["cpu_per_return"].items())
    if journal["actual_per_return"] is None:
        calls = f"{journal['calls_per_return']:.1f} calls per return ({by_operation(journal)}); "
    else:
        calls = (
            f"{journal['calls_per_return']:.1f} calls and {journal['actual_per_return']:.0f} "
            f"points ({journal['requested_per_return']:.0f} requested) per return; "
        )
    return (
        f"{result['completed']}/{result['returns']} completed; CPU per return: {cpu}; {calls}"
        f"{num(rate['per_store_mean'], 2)} returns/s per store (bound "
        f"{num(rate['throttle_bound_per_store'], 2)}), {num(rate['aggregate'], 2)} in all; "
        f"{journal['throttled']} THROTTLED/429"
    )


def by_operation(journal: dict[str, Any]) -> str:
    """Calls per return of each operation, e.g. `orders.get 1.0, refunds.create 1.0`."""
    return ", ".join(
        f"{name} {figures['calls_per_return']:.2f}"
        for name, figures in journal["by_operation"].items()
    )


# --------------------------------------------------------------------------- the report


def ms(value: float | None) -> str:
    return "–" if value is None else f"{value * 1000:.0f}"


def num(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def table(report: dict[str, Any]) -> list[str]:
    """Markdown rows: one per scenario run."""
    head = (
        "| backend | scenario | stores | completed | CPU ms/return (process) | "
        "calls/return | points/return actual (requested) | THROTTLED | "
        "returns/s per store (bound) | returns/s all (end to end) | "
        "CPU busy while steady: machine (these processes) |"
    )
    rows = [head, "|" + "---|" * (head.count("|") - 1)]
    for stores, naive in report["naive"].items():
        rows.append(scenario_row("–", "naive script", stores, naive))
    for backend, run in report["backends"].items():
        bares = [("bare DBOS, 8 steps", s, b) for s, b in run["bare"].items()]
        bares += [
            (f"bare DBOS, paced ({b['refund_sleep']:.2f} s in refund)", s, b)
            for s, b in run["bare_paced"].items()
        ]
        for name, stores, bare in bares:
            rows.append(
                f"| {backend} | {name} | {stores} | {bare['completed']}/{bare['workflows']} | "
                f"bare DBOS {ms(bare['cpu_per_workflow'])} | – | – | – | – | "
                f"{num(bare['workflows_per_second'], 2)} | – |"
            )
        for gateway in run["gateway"].values():
            name = run_label(gateway)
            if gateway.get("workers"):
                name += f", api + {gateway['workers']} workers"
            rows.append(scenario_row(backend, name, gateway["stores"], gateway))
    return rows


def platform_rows(report: dict[str, Any]) -> list[str]:
    """Markdown rows per gateway run: calls per return by operation, CPU against bare DBOS."""
    head = (
        "| backend | platform | stores | completed | calls/return by operation | "
        "gateway CPU ms/return | bare DBOS ms/workflow | ratio | wall s | returns/s all |"
    )
    rows = [head, "|" + "---|" * (head.count("|") - 1)]
    for backend, run in report["backends"].items():
        for gateway in run["gateway"].values():
            stores = gateway["stores"]
            bare = run["bare"].get(str(stores))
            cpu = gateway["cpu_per_return"]["gateway"]
            floor = bare["cpu_per_workflow"] if bare else None
            ratio = f"{cpu / floor:.2f}" if floor else "–"
            platform = gateway.get("platform", "shopify")
            if gateway.get("cross_check") is not None:
                platform += f" (cross-check {'on' if gateway['cross_check'] else 'off'})"
            rows.append(
                f"| {backend} | {platform} | {stores} | "
                f"{gateway['completed']}/{gateway['returns']} | "
                f"{num(gateway['journal']['calls_per_return'], 2)}: "
                f"{by_operation(gateway['journal'])} | {ms(cpu)} | {ms(floor)} | {ratio} | "
                f"{num(gateway['wall_seconds'])} | {num(gateway['rates']['aggregate'], 2)} |"
            )
    return rows


def scenario_row(backend: str, name: str, stores: str | int, result: dict[str, Any]) -> str:
    journal, rate = result["journal"], result["rates"]
    cpu = ", ".join(f"{k} {ms(v)}" for k, v in result["cpu_per_return"].items())
    return (
        f"| {backend} | {name} | {stores} | {result['completed']}/{result['returns']} | {cpu} | "
        f"{num(journal['calls_per_return'])} | {num(journal['actual_per_return'], 0)} "
        f"({num(journal['requested_per_return'], 0)}) | {journal['throttled']} | "
        f"{num(rate['per_store_mean'], 2)} ({num(rate['throttle_bound_per_store'], 2)}) | "
        f"{num(rate['aggregate'], 2)} ({num(rate['aggregate_end_to_end'], 2)}) | "
        f"{steady_busy(result)} |"
    )


def steady_busy(result: dict[str, Any]) -> str:
    """The machine's busy share while the run was steady, and our processes' part of it."""
    shares = result.get("steady_shares")
    if not shares:
        return "–"
    ours = sum(v for k, v in shares.items() if k not in ("machine", "seconds"))
    return f"{shares['machine'] * 100:.0f}% ({ours * 100:.0f}%)"


def verdicts(report: dict[str, Any]) -> list[str]:
    """The issue's acceptance figures, as ratios computed from this run."""
    lines = []
    naive = report["naive"]
    for backend, run in report["backends"].items():
        for gateway in run["gateway"].values():
            stores = str(gateway["stores"])
            shopify = gateway.get("platform", "shopify") == "shopify"
            cross = "on" if gateway["cross_check"] else "off"
            what = run_what(gateway)
            bare = run["bare"].get(stores)
            paced = run["bare_paced"].get(stores) if shopify else None
            if bare:
                cpu = gateway["cpu_per_return"]["gateway"]
                ratio = cpu / bare["cpu_per_workflow"]
                versus_paced = f", {cpu / paced['cpu_per_workflow']:.1f} × paced" if paced else ""
                lines.append(
                    f"{backend}, {stores} store(s), {what}: gateway CPU per return "
                    f"= {ratio:.1f} × bare DBOS per workflow{versus_paced} (target ≤ 2)"
                )
                rounds = run.get("rounds", {}).get(stores)
                if rounds and shopify and cross == "on":
                    every = rounds_text(rounds)
                    lines.append(f"{backend}, {stores} store(s): every round, {every}")
                others = run.get("platform_rounds", {}).get(stores, {}).get(what)
                if others and not shopify:
                    every = rounds_text(others, gateway="gateway", bare="bare", ratio="ratio")
                    lines.append(f"{backend}, {stores} store(s), {what}: every round, {every}")
            standard = gateway.get("standard_quota_bound_per_store")
            if standard:
                lines.append(
                    f"{backend}, {stores} store(s), {what}: "
                    f"{gateway['journal']['executed_calls_per_return']:.2f} requests per return; "
                    f"at the standard quota ({BC_STANDARD_QUOTA} per {BC_WINDOW:g} s) a store "
                    f"gets at most {standard:.2f} returns/s"
                )
            if not shopify:
                continue
            points = gateway["journal"]["actual_per_return"]
            if stores in naive and naive[stores]["journal"]["actual_per_return"]:
                versus = points / naive[stores]["journal"]["actual_per_return"]
                target = "2.5" if cross == "on" else "1.5"
                lines.append(
                    f"{backend}, {stores} store(s), cross-check {cross}: cost points per return "
                    f"= {versus:.2f} × the naive script's (target ≤ {target})"
                )
            rate = gateway["rates"]
            if rate["share_of_bound"] is not None and rate["aggregate"] is not None:
                whole = rate["aggregate"] / (int(stores) * rate["throttle_bound_per_store"])
                lines.append(
                    f"{backend}, {stores} store(s), cross-check {cross}: returns/s per store "
                    f"= {rate['share_of_bound']:.2f} × restore rate / points per return, in all "
                    f"{whole:.2f} × {stores} × that (target ≥ 0.9, or CPU the limit: while "
                    f"steady the machine was {steady_busy(gateway)} busy, in brackets gateway "
                    f"and sandbox); "
                    f"{gateway['journal']['throttled']} THROTTLED answers, "
                    f"{gateway['returns'] - gateway['completed']} returns not completed"
                )
    return lines


def rounds_text(rounds: list[dict[str, Any]], **other_platform: str) -> str:
    def listed(key: str, scale: float = 1.0, digits: int = 1) -> str:
        values = [r[key] for r in rounds if r.get(key) is not None]
        return ", ".join(f"{v * scale:.{digits}f}" for v in values) or "–"

    if other_platform:  # a WooCommerce or BigCommerce run: no paced bare DBOS
        ratios = [r["ratio"] for r in rounds if r.get("ratio") is not None]
        median = f"{statistics.median(ratios):.2f}" if ratios else "–"
        return (
            f"gateway ms/return {listed('gateway', 1000, 0)}; bare {listed('bare', 1000, 0)}; "
            f"ratio {listed('ratio', 1, 2)} (median {median})"
        )
    return (
        f"gateway ms/return {listed('gateway', 1000, 0)}; bare {listed('bare', 1000, 0)}; "
        f"paced {listed('bare_paced', 1000, 0)}; ratio {listed('ratio_bare', 1, 2)}; "
        f"ratio to paced {listed('ratio_bare_paced', 1, 2)}"
    )


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument(
        "--platform",
        choices=(*TARGETS, "all"),
        default="shopify",
        help="the platform(s) the gateway scenario runs against; the naive script, cost "
        "points and the drained bucket are Shopify's",
    )
    parser.add_argument(
        "--bigcommerce-quota",
        type=int,
        default=1_000_000,
        help=f"requests per store and {BC_WINDOW:g}-s window in the BigCommerce sandbox "
        f"(the platform's standard is {BC_STANDARD_QUOTA}; generous so the run measures CPU)",
    )
    parser.add_argument(
        "--shopline-bucket",
        type=int,
        default=1_000_000,
        help="requests a SHOPLINE sandbox store's bucket holds (draining a tenth of it a second;"
        f" the platform's standard is 40 draining {SHOPLINE_LEAK_RATE:g}/s; generous so the run"
        " measures CPU)",
    )
    parser.add_argument("--stores", default="1,4,16", help="store counts, comma-separated")
    parser.add_argument("--returns-per-store", type=int, default=20)
    parser.add_argument(
        "--cross-check",
        choices=("on", "off", "both"),
        default="both",
        help="the connection's cross_check setting (Shopify, BigCommerce); 'both' runs 'off' "
        "at the smallest store count only (points per return do not depend on the store count)",
    )
    parser.add_argument(
        "--only",
        default="naive,bare,gateway",
        help="scenarios to run, comma-separated (naive, bare, gateway)",
    )
    parser.add_argument("--restore-rate", type=float, default=STANDARD_RESTORE_RATE)
    parser.add_argument("--bucket-size", type=int, default=STANDARD_BUCKET)
    parser.add_argument(
        "--no-drain",
        dest="drain",
        action="store_false",
        help="keep each shop's full bucket at the start (measures the burst, not the rate)",
    )
    parser.add_argument(
        "--no-paced-bare",
        dest="paced_bare",
        action="store_false",
        help="skip the second bare DBOS run, whose refund step sleeps as long as the gateway "
        "took per return and store: waiting costs DBOS CPU too",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        help="on PostgreSQL, run the scaled deployment: `returnbridge api` plus this many "
        "`returnbridge worker`s instead of `returnbridge up` (CPU is their sum)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="rounds (bare, gateway, paced bare) per store count; the table shows the round "
        "with the median CPU ratio, the verdicts every round's ratios",
    )
    parser.add_argument("--clients", type=int, default=4, help="concurrent POSTing clients")
    parser.add_argument("--idle", type=float, default=2.0, help="seconds of idle CPU measured")
    parser.add_argument("--poll", type=float, default=1.0, help="seconds between status polls")
    parser.add_argument("--progress-every", type=float, default=10.0)
    parser.add_argument("--timeout", type=float, default=900.0, help="max wait per scenario (s)")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES)
    parser.add_argument("--ref", default=None, help="run the gateway from this git commit")
    parser.add_argument(
        "--sandbox-ref",
        default=None,
        help="run the sandboxes from this git commit (default: the working tree), so that "
        "edits to src/ during a run cannot reach the measuring tool",
    )
    parser.add_argument("--log-level", default="WARNING", help="the gateway's")
    parser.add_argument("--keep", action="store_true", help="keep temp dirs (logs)")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = parser.parse_args(argv)
    args.store_counts = sorted({int(s) for s in args.stores.split(",") if s.strip()})
    args.scenarios = {s.strip() for s in args.only.split(",") if s.strip()}
    args.targets = list(TARGETS.values()) if args.platform == "all" else [TARGETS[args.platform]]
    return args


# The gateway's queue lanes per connection (`connection_concurrency`): bare DBOS gets as many
# partitions, since DBOS's dequeue sweep costs more with every partition.
LANES = int(Settings.model_fields["connection_concurrency"].default)
WORKER_SLOTS = int(Settings.model_fields["worker_concurrency"].default)  # bare_dbos.py's too


def run_paced_bare(
    args: argparse.Namespace, backend: str, stores: int, pace: float
) -> dict[str, Any]:
    """Bare DBOS at the gateway's rate per store (`pace` seconds per return and store).

    Each of a store's `LANES` partitions runs one workflow at a time, and the worker runs
    at most `WORKER_SLOTS` at once, so the refund step first sleeps `min(LANES, WORKER_SLOTS
    / stores) × pace`. Poll ticks (every 0.2 s) and uneven lanes move the rate off the
    gateway's; one more run then sleeps in proportion to the miss, and the run closer to the
    gateway's rate is kept. A faster run would flatter bare DBOS, a slower one the gateway
    (waiting costs DBOS CPU)."""
    target = 1.0 / pace

    def miss(run: dict[str, Any]) -> float:
        return float(abs(run["workflows_per_second"] / stores - target) / target)

    sleep = pace * min(LANES, WORKER_SLOTS / stores)
    paced = run_bare(args, backend, stores, refund_sleep=sleep)
    per_store = paced["workflows_per_second"] / stores
    if per_store and miss(paced) > 0.05:
        again = run_bare(args, backend, stores, refund_sleep=max(0.0, sleep * per_store / target))
        if miss(again) < miss(paced):
            paced = again
    return paced


def pacing(gateway: dict[str, Any] | None) -> float | None:
    """Seconds per return and store in the gateway's run: what the paced bare run's refund
    step sleeps. The queue is polled every 0.2 s, so a store's bare workflows start on poll
    ticks: the paced run goes a little slower than the gateway (docs/performance.md)."""
    if gateway is None or not gateway["rates"]["per_store_mean"]:
        return None
    return float(1.0 / gateway["rates"]["per_store_mean"])


def run_round(args: argparse.Namespace, backend: str, stores: int) -> dict[str, Any]:
    """Bare DBOS, the gateway on each platform, then bare DBOS paced like the Shopify run
    (the other platforms have no rate limit in the bench): one round."""
    one: dict[str, Any] = {}
    if "bare" in args.scenarios:
        one["bare"] = run_bare(args, backend, stores)
    if "gateway" in args.scenarios:
        one["gateway"] = {}
        for target in args.targets:
            for cross in cross_checks(args, stores) if target.cross_check else [True]:
                key = gateway_key(target, stores, cross)
                one["gateway"][key] = run_gateway(
                    args, backend, stores, cross_check=cross, target=target
                )
    pace = pacing(one.get("gateway", {}).get(f"{stores}/on"))
    if "bare" in args.scenarios and args.paced_bare and pace:
        one["bare_paced"] = run_paced_bare(args, backend, stores, pace)
    return one


def round_figures(one: dict[str, Any], stores: int) -> dict[str, float | None]:
    """CPU per return or workflow of one round, and the gateway's ratios to bare DBOS."""
    runs = one.get("gateway", {})
    gateway = runs.get(f"{stores}/on") or next(iter(runs.values()), None)
    figures: dict[str, float | None] = {
        "gateway": gateway["cpu_per_return"]["gateway"] if gateway else None,
        "bare": one["bare"]["cpu_per_workflow"] if "bare" in one else None,
        "bare_paced": one["bare_paced"]["cpu_per_workflow"] if "bare_paced" in one else None,
    }
    for part in ("bare", "bare_paced"):
        cpu, floor = figures["gateway"], figures[part]
        figures[f"ratio_{part}"] = cpu / floor if cpu and floor else None
    return figures


def platform_rounds(rounds: list[dict[str, Any]]) -> dict[str, list[dict[str, float | None]]]:
    """Every round's gateway CPU per return on the platforms other than Shopify, next to
    that round's bare DBOS and their ratio (the median round is chosen by Shopify's)."""
    every: dict[str, list[dict[str, float | None]]] = defaultdict(list)
    for one in rounds:
        bare = one["bare"]["cpu_per_workflow"] if "bare" in one else None
        for gateway in one.get("gateway", {}).values():
            if gateway["platform"] == "shopify":
                continue
            cpu = gateway["cpu_per_return"]["gateway"]
            ratio = cpu / bare if bare else None
            every[run_what(gateway)].append({"gateway": cpu, "bare": bare, "ratio": ratio})
    return dict(every)


def median_round(rounds: list[dict[str, Any]], stores: int) -> dict[str, Any]:
    """The round whose gateway-to-bare ratio (paced when there is one) is the median: on a
    noisy machine one round can be far off either way (docs/performance.md)."""
    if len(rounds) == 1:
        return rounds[0]

    def ratio(one: dict[str, Any]) -> float:
        figures = round_figures(one, stores)
        return figures["ratio_bare_paced"] or figures["ratio_bare"] or 0.0

    ordered = sorted(rounds, key=ratio)
    return ordered[(len(ordered) - 1) // 2]


def cross_checks(args: argparse.Namespace, stores: int) -> list[bool]:
    if args.cross_check == "both":
        return [True, False] if stores == args.store_counts[0] else [True]
    return [args.cross_check == "on"]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)
    backends = ("sqlite", "postgres") if args.backend == "both" else (args.backend,)
    code = code_under_test(args)
    with tempfile.TemporaryDirectory(prefix="rb-cost-src-") as exported:
        args.source = export_source(args.ref, Path(exported)) if args.ref else None
        args.sandbox_source = None
        if args.sandbox_ref:
            into = Path(exported) / "sandbox"
            into.mkdir()
            args.sandbox_source = export_source(args.sandbox_ref, into)
        say(
            f"returnbridge cost: gateway {code}; {os.cpu_count()} CPUs; stores "
            f"{args.store_counts} × {args.returns_per_store} returns; restore "
            f"{args.restore_rate:g} points/s, bucket {args.bucket_size}"
        )
        started = time.perf_counter()
        report: dict[str, Any] = {
            "code": code,
            "argv": sys.argv[1:],
            "date": datetime.now().astimezone().isoformat(timespec="seconds"),
            "cpus": os.cpu_count(),
            "platforms": [t.platform for t in args.targets],
            "sandbox_ref": args.sandbox_ref,
            "bigcommerce_quota": args.bigcommerce_quota,
            "restore_rate": args.restore_rate,
            "bucket_size": args.bucket_size,
            "returns_per_store": args.returns_per_store,
            "naive": {},
            "backends": {},
        }
        if "naive" in args.scenarios and SHOPIFY not in args.targets:
            say("naive script skipped: it refunds on Shopify only")
        elif "naive" in args.scenarios:
            for stores in args.store_counts:
                report["naive"][str(stores)] = run_naive(args, stores)
        for backend in backends:
            run: dict[str, Any] = {"bare": {}, "gateway": {}, "bare_paced": {}}
            report["backends"][backend] = run
            for stores in args.store_counts:
                rounds = [run_round(args, backend, stores) for _ in range(args.repeat)]
                chosen = median_round(rounds, stores)
                for part in ("bare", "bare_paced"):
                    if part in chosen:
                        run[part][str(stores)] = chosen[part]
                run["gateway"].update(chosen.get("gateway", {}))
                if args.repeat > 1:
                    run.setdefault("rounds", {})[str(stores)] = [
                        round_figures(r, stores) for r in rounds
                    ]
                    run.setdefault("platform_rounds", {})[str(stores)] = platform_rounds(rounds)
        report["seconds"] = time.perf_counter() - started
    results = [*report["naive"].values()]
    results += [
        r
        for b in report["backends"].values()
        for name, part in b.items()
        if name not in ("rounds", "platform_rounds")  # every round's figures; chosen ones above
        for r in part.values()
    ]
    report["ok"] = all(r["ok"] for r in results)
    report["verdicts"] = verdicts(report)
    print(f"\nreturnbridge cost, {report['date']}: gateway {code}")
    print("\n".join(table(report)))
    if any(b["gateway"] for b in report["backends"].values()):
        print("\nPer platform: calls per return by operation, gateway CPU against bare DBOS\n")
        print("\n".join(platform_rows(report)))
    print("\n" + "\n".join(f"- {line}" for line in report["verdicts"]))
    for result in results:
        if not result["ok"]:
            print(f"\nNOT OK: {json.dumps(result, default=str)[:2000]}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str) + "\n")
        say(f"figures written to {args.json}")
    say(f"done in {report['seconds']:.0f}s")
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
