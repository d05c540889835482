"""Load and correctness under concurrency: `returnbridge up` against the Shopify sandbox.

Starts the sandbox (`returnbridge sandbox`) and the gateway (`returnbridge up`) as child
processes, on a fresh SQLite data dir or a fresh PostgreSQL database (a fresh pair for each
scenario), seeds shops, orders, tenants and connections, and runs three scenarios (issue 5):

  dupes     N concurrent identical POST /v1/returns with one Idempotency-Key, released at once
  mixed     N concurrent requests across 2+ tenants: new returns, GET one return, listings
  distinct  N distinct returns from C clients, each client posting one after another

After each scenario it waits until no return of the scenario is still moving, then checks:
no 5xx (nor transport errors), every return resting and completed, exactly one refundCreate
per refunded return in the sandbox journal. It prints wall time, accepted POSTs/s, p50/p95
latency, completions/s and CPU-seconds per return of the gateway and the sandbox, next to a
baseline measured in the same run (CPU per trivial `/health` request). Exit status 1 if any
check fails; the gateway's log stays in the temp dir, whose path is printed.

Run (from the repo root):
  .venv/bin/python bench/load.py                              # all scenarios, SQLite
  .venv/bin/python bench/load.py --backend postgres           # on a fresh PostgreSQL database
  .venv/bin/python bench/load.py --backend both --json load.json
  .venv/bin/python bench/load.py --scenario dupes --dupes 50  # one scenario, smaller
  make load                                                   # full default on both backends
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import random
import re
import resource
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

RESTING = ("completed", "cancelled", "failed", "needs_review")
MOVING = ("received", "matched", "planned", "refunded", "restocked", "synced", "notified")
CLK_TCK = os.sysconf("SC_CLK_TCK")
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
LOCATION_GID = "gid://shopify/Location/1"
SKU = "SKU-1"
SCENARIOS = ("dupes", "mixed", "distinct")
REPO = Path(__file__).resolve().parent.parent
LOG_PATTERN = re.compile(
    r"error|exception|traceback|locked|queuepool|timeout|critical|warning", re.IGNORECASE
)


# --------------------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), in seconds."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()  # after "pid (comm) "
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # fields 14 and 15 of stat(5)


def machine_busy_seconds() -> float:
    """CPU-seconds the whole machine spent not idle (all cores), from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) / CLK_TCK


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Child:
    """`returnbridge <args>` as a child process, its output in a log file."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log: Path) -> None:
        self.name = name
        self.log = log
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "returnbridge.cli.main", *args],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def cpu(self) -> float:
        return cpu_seconds(self.pid) if self.process.poll() is None else float("nan")

    def wait_healthy(self, url: str, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"{self.name} exited early; see {self.log}:\n{tail(self.log)}")
            with suppress(httpx.HTTPError):
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    return
            time.sleep(0.2)
        raise SystemExit(f"{self.name} not healthy after {timeout:.0f}s; see {self.log}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def tail(path: Path, chars: int = 2000) -> str:
    return path.read_text(errors="replace")[-chars:] if path.exists() else ""


def child_env(source: Path | None, **extra: str) -> dict[str, str]:
    """The environment of a child: ours without RETURNBRIDGE_*, importing `source` if given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RETURNBRIDGE_")}
    if source is not None:
        env["PYTHONPATH"] = str(source)
    return env | extra


def export_source(ref: str, into: Path) -> Path:
    """`src/` of git `ref`, exported to `into`: the code the children run instead of ours."""
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", ref, "src"], capture_output=True, check=True
    )
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into / "src"


# --------------------------------------------------------------------------- databases


@contextmanager
def postgres_database(base_url: str) -> Iterator[str]:
    """A fresh, uniquely named database next to `base_url`'s; dropped afterwards."""
    import psycopg
    from sqlalchemy.engine import make_url

    base = make_url(base_url)
    name = f"rb_load_{uuid.uuid4().hex[:12]}"
    admin_dsn = base.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --------------------------------------------------------------------------- the stack


@dataclass
class Stack:
    """A running sandbox and gateway, and where their logs are."""

    backend: str
    work: Path
    sandbox: Child
    gateway: Child
    sandbox_url: str
    gateway_url: str
    admin_key: str
    restore_rate: float

    def stop(self) -> None:
        self.gateway.stop()
        self.sandbox.stop()


@contextmanager
def running_stack(args: argparse.Namespace, backend: str) -> Iterator[Stack]:
    work = Path(tempfile.mkdtemp(prefix=f"rb-load-{backend}-"))
    database = nullcontext() if backend == "sqlite" else postgres_database(args.postgres_url)
    with database as database_url:
        stack = start_stack(args, backend, work, database_url)
        try:
            yield stack
        finally:
            stack.stop()


def start_stack(
    args: argparse.Namespace, backend: str, work: Path, database_url: str | None
) -> Stack:
    sandbox_port, gateway_port = free_port(), free_port()
    source = export_source(args.ref, work) if args.ref else None
    sandbox = Child(
        "sandbox",
        ["sandbox", "--port", str(sandbox_port), "--restore-rate", str(args.restore_rate)],
        child_env(source),
        work / "sandbox.log",
    )
    admin_key = f"adm_{secrets.token_urlsafe(24)}"
    env = child_env(
        source,
        RETURNBRIDGE_ADMIN_KEY=admin_key,
        RETURNBRIDGE_LOG_LEVEL=args.log_level,
        **({"RETURNBRIDGE_DATABASE_URL": database_url} if database_url else {}),
    )
    data_dir = work / "data"
    gateway = Child(
        "gateway",
        ["up", "--data-dir", str(data_dir), "--port", str(gateway_port)],
        env,
        work / "gateway.log",
    )
    stack = Stack(
        backend=backend,
        work=work,
        sandbox=sandbox,
        gateway=gateway,
        sandbox_url=f"http://127.0.0.1:{sandbox_port}",
        gateway_url=f"http://127.0.0.1:{gateway_port}",
        admin_key=admin_key,
        restore_rate=args.restore_rate,
    )
    try:
        sandbox.wait_healthy(stack.sandbox_url)
        gateway.wait_healthy(stack.gateway_url)
    except BaseException:
        stack.stop()
        raise
    return stack


# --------------------------------------------------------------------------- seeding


@dataclass
class Tenant:
    """A tenant connected to its own sandbox shop, with orders nobody has returned yet."""

    name: str
    id: str
    api_key: str
    shop: str
    orders: list[str]

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    def take_order(self) -> str:
        return self.orders.pop()


def seed_shop(
    sandbox: httpx.Client, domain: str, token: str, orders: int, rate: float
) -> list[str]:
    """A shop with one location and `orders` one-line orders; their order gids."""
    sandbox.post(
        "/_sandbox/shops",
        json={
            "domain": domain,
            "access_token": token,
            "currency": "USD",
            "locations": [{"id": 1, "name": "Main"}],
            "restore_rate": rate,
            "bucket_size": 1_000_000,
        },
    ).raise_for_status()
    gids = []
    for number in range(orders):
        response = sandbox.post(f"/_sandbox/shops/{domain}/orders", json=order_seed(number))
        response.raise_for_status()
        gids.append(response.json()["gid"])
    return gids


def order_seed(number: int) -> dict[str, Any]:
    return {
        "name": f"#L{number}",
        "email": f"c{number}@example.com",
        "line_items": [
            {
                "sku": SKU,
                "title": "Item",
                "quantity": 2,
                "price": "19.90",
                "tax_lines": [{"title": "Tax", "rate": "0.08", "price": "3.18"}],
            }
        ],
    }


def create_tenant(stack: Stack, label: str, orders: int) -> Tenant:
    """A shop in the sandbox, and a tenant with a connection to it through the admin API."""
    domain = f"{label}-{uuid.uuid4().hex[:6]}.myshopify.com"
    token = f"shpat_{uuid.uuid4().hex}"
    with httpx.Client(base_url=stack.sandbox_url, timeout=30) as sandbox:
        gids = seed_shop(sandbox, domain, token, orders, stack.restore_rate)
    admin = {"Authorization": f"Bearer {stack.admin_key}"}
    with httpx.Client(base_url=stack.gateway_url, headers=admin, timeout=60) as api:
        tenant = api.post("/v1/tenants", json={"name": label})
        tenant.raise_for_status()
        body = tenant.json()
        api.post(
            f"/v1/tenants/{body['id']}/connections",
            json={
                "platform": "shopify",
                "name": "main",
                "base_url": stack.sandbox_url,
                "credentials": {"access_token": token},
                "settings": {"restock_location_id": LOCATION_GID},
            },
        ).raise_for_status()
    return Tenant(label, body["id"], body["api_key"], domain, list(reversed(gids)))


def return_event(external_id: str, order_gid: str) -> dict[str, Any]:
    return {
        "external_id": external_id,
        "channel": "api",
        "reason": "load test",
        "order": {"platform_order_id": order_gid},
        "lines": [{"sku": SKU, "quantity": 1, "condition": "new"}],
    }


# --------------------------------------------------------------------------- requests


@dataclass
class Call:
    """One request to send, and what it got."""

    kind: str  # post | get | list
    tenant: Tenant
    method: str
    path: str
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    params: list[tuple[str, str]] = field(default_factory=list)
    expect: int = 200
    status: str = "unsent"  # "202", "500", or a transport error's class name
    latency: float = 0.0
    answer: dict[str, Any] | None = None
    text: str = ""


async def send(client: httpx.AsyncClient, call: Call) -> None:
    started = time.perf_counter()
    try:
        response = await client.request(
            call.method,
            call.path,
            json=call.body,
            params=tuple(call.params),
            headers=call.tenant.auth | call.headers,
        )
    except httpx.HTTPError as exc:
        call.status, call.text = type(exc).__name__, str(exc)[:300]
    else:
        call.status = str(response.status_code)
        call.text = response.text[:400] if response.status_code >= 300 else ""
        if response.headers.get("content-type", "").startswith("application/json"):
            with suppress(ValueError):
                call.answer = response.json()
    call.latency = time.perf_counter() - started


async def run_lanes(
    url: str, lanes: list[list[Call]], request_timeout: float, give_up: int
) -> float:
    """Each lane is one client sending its calls in order; all lanes start together.

    Every lane waits on one gate, opened once all are waiting; returns the wall time. A lane
    whose last `give_up` calls all failed without an HTTP answer skips the rest.
    """
    gate, all_waiting = asyncio.Event(), asyncio.Event()
    waiting = 0
    limits = httpx.Limits(max_connections=len(lanes), max_keepalive_connections=len(lanes))
    async with httpx.AsyncClient(base_url=url, timeout=request_timeout, limits=limits) as client:

        async def lane(calls: list[Call]) -> None:
            nonlocal waiting
            waiting += 1
            if waiting == len(lanes):
                all_waiting.set()
            await gate.wait()
            failures = 0
            for call in calls:
                if failures >= give_up:
                    call.status = "skipped"  # the gateway stopped answering this client
                    continue
                await send(client, call)
                failures = failures + 1 if not call.status.isdigit() else 0

        tasks = [asyncio.create_task(lane(calls)) for calls in lanes]
        await all_waiting.wait()
        started = time.perf_counter()
        gate.set()
        await asyncio.gather(*tasks)
        return time.perf_counter() - started


def post_call(tenant: Tenant, external_id: str, key: str | None = None) -> Call:
    event = return_event(external_id, tenant.take_order())
    headers = {"Idempotency-Key": key} if key else {}
    return Call("post", tenant, "POST", "/v1/returns", event, headers, expect=202)


# --------------------------------------------------------------------------- scenarios


@dataclass
class Plan:
    """A scenario ready to run: its tenants and its lanes of calls."""

    name: str
    tenants: list[Tenant]
    lanes: list[list[Call]]
    returns_posted: int  # distinct returns the scenario means to create (preload included)
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def calls(self) -> list[Call]:
        return [call for lane in self.lanes for call in lane]


def plan_dupes(stack: Stack, args: argparse.Namespace) -> Plan:
    tenant = create_tenant(stack, "dupes", 1)
    order = tenant.take_order()
    key = f"dup-{uuid.uuid4().hex}"
    event = return_event("DUP-1", order)
    lanes = [
        [Call("post", tenant, "POST", "/v1/returns", event, {"Idempotency-Key": key}, expect=202)]
        for _ in range(args.dupes)
    ]
    return Plan("dupes", [tenant], lanes, returns_posted=1)


def plan_mixed(stack: Stack, args: argparse.Namespace) -> Plan:
    """Posts (2 in 5), single reads (2 in 5) and listings (1 in 5) across tenants."""
    posts = sum(1 for i in range(args.mixed) if i % 5 < 2)
    per_tenant = posts // args.mixed_tenants + 1 + args.preload
    tenants = [create_tenant(stack, f"mixed{n}", per_tenant) for n in range(args.mixed_tenants)]
    known = {t.id: preload(stack, t, args.preload) for t in tenants}
    listings = [
        [("limit", "50")],
        [("status", "completed"), ("limit", "20")],
        [("channel", "api"), ("limit", "100")],
        [("status", "needs_review"), ("status", "failed")],
        [("status", "received"), ("status", "matched"), ("limit", "200")],
    ]
    rng = random.Random(5)
    calls: list[Call] = []
    for i in range(args.mixed):
        tenant = tenants[i % len(tenants)]
        if i % 5 < 2:
            calls.append(post_call(tenant, f"MIX-{i}"))
        elif i % 5 < 4:
            rid = rng.choice(known[tenant.id])
            calls.append(Call("get", tenant, "GET", f"/v1/returns/{rid}"))
        else:
            calls.append(Call("list", tenant, "GET", "/v1/returns", params=rng.choice(listings)))
    rng.shuffle(calls)
    lanes = [[call] for call in calls]
    return Plan("mixed", tenants, lanes, posts + args.preload * len(tenants))


def preload(stack: Stack, tenant: Tenant, count: int) -> list[str]:
    """Returns posted one by one before the burst, so the burst has ids to read."""
    ids = []
    with httpx.Client(base_url=stack.gateway_url, headers=tenant.auth, timeout=120) as api:
        for n in range(count):
            event = return_event(f"PRE-{n}", tenant.take_order())
            response = api.post("/v1/returns", json=event)
            if response.status_code != 202:
                raise SystemExit(f"preload answered {response.status_code}: {response.text}")
            ids.append(response.json()["return"]["id"])
    return ids


def plan_distinct(stack: Stack, args: argparse.Namespace) -> Plan:
    tenant = create_tenant(stack, "distinct", args.distinct)
    calls = [post_call(tenant, f"D-{n}") for n in range(args.distinct)]
    lanes = [lane for c in range(args.clients) if (lane := calls[c :: args.clients])]
    return Plan("distinct", [tenant], lanes, args.distinct)


PLANNERS: dict[str, Callable[[Stack, argparse.Namespace], Plan]] = {
    "dupes": plan_dupes,
    "mixed": plan_mixed,
    "distinct": plan_distinct,
}


# --------------------------------------------------------------------------- waiting


def list_returns(
    api: httpx.Client, tenant: Tenant, statuses: tuple[str, ...] = ()
) -> list[dict[str, Any]]:
    """Every return of `tenant` (optionally only these statuses), all pages."""
    items: list[dict[str, Any]] = []
    params: list[tuple[str, str]] = [("limit", "200"), *(("status", s) for s in statuses)]
    cursor = None
    while True:
        page_params = params + ([("cursor", cursor)] if cursor else [])
        response = api.get("/v1/returns", params=tuple(page_params), headers=tenant.auth)
        response.raise_for_status()
        page = response.json()
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            return items


def final_listing(stack: Stack, plan: Plan, attempts: int = 3) -> tuple[list[dict[str, Any]], str]:
    """Every return of the plan's tenants, each tagged with its tenant; (returns, error)."""
    error = ""
    with httpx.Client(base_url=stack.gateway_url, timeout=60) as api:
        for _ in range(attempts):
            try:
                return [
                    r | {"_tenant": t.name} for t in plan.tenants for r in list_returns(api, t)
                ], ""
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"[:300]
                time.sleep(2)
    return [], error


def wait_resting(
    stack: Stack, plan: Plan, *, timeout: float, stall: float, every: float
) -> tuple[float, Counter[str], str]:
    """Poll until no return of the plan's tenants moves; (seconds, poll errors, how it ended)."""
    started = time.monotonic()
    errors: Counter[str] = Counter()
    last_change, last_print, last_seen = started, 0.0, None
    with httpx.Client(base_url=stack.gateway_url, timeout=30) as api:
        while True:
            now = time.monotonic()
            try:
                moving = Counter(
                    r["status"] for t in plan.tenants for r in list_returns(api, t, MOVING)
                )
            except httpx.HTTPStatusError as exc:
                errors[str(exc.response.status_code)] += 1
                moving = None
            except httpx.HTTPError as exc:
                errors[type(exc).__name__] += 1
                moving = None
            if moving is not None and not moving:
                return now - started, errors, "all resting"
            snapshot = tuple(sorted(moving.items())) if moving is not None else last_seen
            if snapshot != last_seen:
                last_change, last_seen = now, snapshot
            if now - last_print >= every:
                last_print = now
                shown = ", ".join(f"{s} {n}" for s, n in sorted((moving or {}).items()))
                print(f"  [{stack.backend}/{plan.name}] {now - started:5.0f}s moving: {shown}")
            if now - started > timeout:
                return now - started, errors, f"timeout after {timeout:.0f}s"
            if now - last_change > stall:
                return now - started, errors, f"no progress for {stall:.0f}s"
            time.sleep(1.0)


# --------------------------------------------------------------------------- checks


@dataclass
class Check:
    name: str
    ok: bool
    detail: str = ""


def check_answers(plan: Plan, poll_errors: Counter[str]) -> list[Check]:
    codes = Counter(call.status for call in plan.calls)
    bad = {s: n for s, n in codes.items() if not s.isdigit() or int(s) >= 500}
    unexpected = Counter(f"{c.kind} {c.status}" for c in plan.calls if c.status != str(c.expect))
    polled = {s: n for s, n in poll_errors.items() if not s.isdigit() or int(s) >= 500}
    return [
        Check("every request answered, none 5xx", not bad, describe(bad)),
        Check("every answer as expected (POST 202, GET 200)", not unexpected, describe(unexpected)),
        Check("no 5xx while polling for completion", not polled, describe(polled)),
    ]


def check_returns(plan: Plan, returns: list[dict[str, Any]], ended: str) -> list[Check]:
    statuses = Counter(r["status"] for r in returns)
    moving = {s: n for s, n in statuses.items() if s not in RESTING}
    other = {s: n for s, n in statuses.items() if s != "completed"}
    checks = [
        Check("no return left moving", not moving, f"{describe(moving)} ({ended})"),
        Check("every return completed (all inputs are valid)", not other, describe(other)),
        Check(
            f"{plan.returns_posted} returns stored",
            len(returns) == plan.returns_posted,
            f"{len(returns)} stored",
        ),
    ]
    if plan.name == "dupes":
        fresh = sum(1 for c in plan.calls if (c.answer or {}).get("duplicate") is False)
        checks.append(Check("exactly one answer says duplicate: false", fresh == 1, str(fresh)))
    return checks


def refunds_created(stack: Stack, tenant: Tenant) -> list[dict[str, Any]]:
    response = httpx.get(
        f"{stack.sandbox_url}/_sandbox/journal",
        params={"shop": tenant.shop, "operation": "refundCreate"},
        timeout=60,
    )
    response.raise_for_status()
    return [e for e in response.json() if e.get("effect") == "refund_created"]


def check_refunds(
    stack: Stack, plan: Plan, returns: list[dict[str, Any]]
) -> tuple[Check, dict[str, int]]:
    """Exactly one refundCreate per return that completed with money, none for the others."""
    created = [e for t in plan.tenants for e in refunds_created(stack, t)]
    by_key = Counter(str(e.get("idempotency_key")) for e in created)
    by_order = Counter(
        str(((e.get("variables") or {}).get("input") or {}).get("orderId")) for e in created
    )
    refunded = Counter(
        r["matched_order_id"]
        for r in returns
        if r["status"] == "completed" and ((r.get("refund_total") or {}).get("minor") or 0) > 0
    )
    problems = []
    if doubled := [k for k, n in by_key.items() if n > 1]:
        problems.append(f"{len(doubled)} keys refunded more than once, e.g. {doubled[:3]}")
    if doubled := [o for o, n in by_order.items() if n > 1]:
        problems.append(f"{len(doubled)} orders refunded more than once, e.g. {doubled[:3]}")
    if missing := set(refunded) - set(by_order):
        problems.append(f"{len(missing)} completed returns without a refund")
    if extra := set(by_order) - set(refunded):
        problems.append(f"{len(extra)} refunds for returns not completed, e.g. {sorted(extra)[:3]}")
    figures = {"refunds_created": len(created), "returns_refunded": sum(refunded.values())}
    detail = "; ".join(problems) or f"{len(created)} refunds for {sum(refunded.values())} returns"
    return Check("exactly one refund per refunded return", not problems, detail), figures


def describe(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} × {s}" for s, n in sorted(counts.items())) or "none"


# --------------------------------------------------------------------------- measuring


@dataclass
class CpuMark:
    gateway: float
    sandbox: float
    machine: float
    own: float
    at: float

    @classmethod
    def take(cls, stack: Stack) -> CpuMark:
        return cls(
            stack.gateway.cpu(),
            stack.sandbox.cpu(),
            machine_busy_seconds(),
            own_cpu_seconds(),
            time.perf_counter(),
        )

    def since(self, before: CpuMark) -> dict[str, float]:
        used = {
            "gateway": self.gateway - before.gateway,
            "sandbox": self.sandbox - before.sandbox,
            "load_script": self.own - before.own,
            "wall": self.at - before.at,
        }
        ours = used["gateway"] + used["sandbox"] + used["load_script"]
        used["other_processes"] = max(0.0, self.machine - before.machine - ours)
        return used


def baseline(stack: Stack, requests: int) -> dict[str, float]:
    """CPU-seconds per trivial request (`/health`) of each process, measured now."""
    figures: dict[str, float] = {}
    for name, url in (("gateway", stack.gateway_url), ("sandbox", stack.sandbox_url)):
        child = stack.gateway if name == "gateway" else stack.sandbox
        with httpx.Client(base_url=url, timeout=30) as client:
            client.get("/health")
            before, started = child.cpu(), time.perf_counter()
            for _ in range(requests):
                client.get("/health").raise_for_status()
            figures[f"{name}_cpu_per_health"] = (child.cpu() - before) / requests
            figures[f"{name}_health_wall"] = (time.perf_counter() - started) / requests
    return figures


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def latency_figures(calls: list[Call]) -> dict[str, dict[str, float]]:
    figures = {}
    for kind in ("all", "post", "get", "list"):
        chosen = [c.latency for c in calls if kind in ("all", c.kind)]
        if chosen:
            figures[kind] = {
                "count": len(chosen),
                "p50_ms": statistics.median(chosen) * 1000,
                "p95_ms": percentile(chosen, 0.95) * 1000,
                "max_ms": max(chosen) * 1000,
            }
    return figures


# --------------------------------------------------------------------------- log digest


def log_digest(path: Path, limit: int) -> list[str]:
    """The first `limit` distinct error-looking lines of a log, with how often each occurs.

    Traceback frames and source lines (indented) are skipped: the exception lines remain.
    """
    seen: dict[str, tuple[str, int]] = {}
    if not path.exists():
        return []
    for line in path.read_text(errors="replace").splitlines():
        if line[:1].isspace() or line.startswith("Traceback") or not LOG_PATTERN.search(line):
            continue
        shape = re.sub(r"\d{4}-\d\d-\d\dT[\d:.]+Z?|\b\w*\d\w*\b", "#", line)[:160]
        first, count = seen.get(shape, (line, 0))
        seen[shape] = (first, count + 1)
    return [f"{count:6d} × {first[:400]}" for first, count in list(seen.values())[:limit]]


# --------------------------------------------------------------------------- one scenario


def run_scenario(
    stack: Stack, name: str, args: argparse.Namespace, base: dict[str, float]
) -> dict[str, Any]:
    print(f"\n== {stack.backend} / {name}: preparing")
    plan = PLANNERS[name](stack, args)
    print(
        f"== {stack.backend} / {name}: {len(plan.calls)} requests from {len(plan.lanes)} "
        f"clients across {len(plan.tenants)} tenant(s), released at once"
    )
    log_mark = stack.gateway.log.stat().st_size
    before = CpuMark.take(stack)
    burst = asyncio.run(
        run_lanes(stack.gateway_url, plan.lanes, args.request_timeout, args.give_up)
    )
    codes = Counter(f"{c.kind} {c.status}" for c in plan.calls)
    print(f"  burst done in {burst:.1f}s: {describe(codes)}")
    waited, poll_errors, ended = wait_resting(
        stack, plan, timeout=args.timeout, stall=args.stall, every=args.progress_every
    )
    cpu = CpuMark.take(stack).since(before)
    returns, list_error = final_listing(stack, plan)
    checks = check_answers(plan, poll_errors) + check_returns(plan, returns, ended)
    if list_error:
        checks.append(Check("the returns could be listed at the end", False, list_error))
    refund_check, refund_figures = check_refunds(stack, plan, returns)
    checks.append(refund_check)
    result = scenario_figures(plan, returns, burst, cpu, base) | refund_figures
    result |= {
        "wait_ended": ended,
        "wait_seconds": waited,
        "poll_errors": dict(poll_errors),
        "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in checks],
        "error_bodies": error_bodies(plan.calls),
        "stuck": stuck_returns(stack, plan, returns),
    }
    if not all(c.ok for c in checks):
        result["gateway_log"] = str(stack.gateway.log)
        result["log_lines"] = log_digest_since(stack.gateway.log, log_mark, args.log_lines)
    print_scenario(stack, name, result, checks)
    return result


def scenario_figures(
    plan: Plan,
    returns: list[dict[str, Any]],
    burst: float,
    cpu: dict[str, float],
    base: dict[str, float],
) -> dict[str, Any]:
    accepted = sum(1 for c in plan.calls if c.kind == "post" and c.status == "202")
    resting = sum(1 for r in returns if r["status"] in RESTING)
    count = max(1, len(returns))
    per_return = {p: cpu[p] / count for p in ("gateway", "sandbox")}
    return {
        "requests": len(plan.calls),
        "clients": len(plan.lanes),
        "tenants": len(plan.tenants),
        "status_codes": dict(Counter(f"{c.kind} {c.status}" for c in plan.calls)),
        "final_statuses": dict(Counter(r["status"] for r in returns)),
        "returns": len(returns),
        "burst_seconds": burst,
        "wall_seconds": cpu["wall"],
        "accepted_posts_per_s": accepted / burst if burst else 0.0,
        "latency": latency_figures(plan.calls),
        "completions_per_s": resting / cpu["wall"] if cpu["wall"] else 0.0,
        "cpu_seconds": cpu,
        "cpu_seconds_per_return": per_return,
        "cpu_per_return_in_health_requests": {
            p: per_return[p] / base[f"{p}_cpu_per_health"] if base[f"{p}_cpu_per_health"] else None
            for p in per_return
        },
    }


def error_bodies(calls: list[Call], limit: int = 6) -> list[str]:
    seen: dict[str, int] = {}
    for call in calls:
        if call.status.isdigit() and int(call.status) < 500:
            continue
        text = f"{call.kind} {call.status}: {call.text}"
        seen[text] = seen.get(text, 0) + 1
    return [f"{n} × {text}" for text, n in list(seen.items())[:limit]]


def stuck_returns(stack: Stack, plan: Plan, returns: list[dict[str, Any]]) -> list[str]:
    """A few returns that did not complete, with the last event on their timeline."""
    tenants = {t.name: t for t in plan.tenants}
    lines = []
    with httpx.Client(base_url=stack.gateway_url, timeout=60) as api:
        for item in [r for r in returns if r["status"] != "completed"][:5]:
            event = "?"
            with suppress(httpx.HTTPError, ValueError, IndexError, KeyError):
                auth = tenants[item["_tenant"]].auth
                last = api.get(f"/v1/returns/{item['id']}", headers=auth).json()["timeline"][-1]
                event = f"{last['event']}: {str(last.get('reason'))[:300]}"
            lines.append(f"{item['id']} {item['status']} (updated {item['updated_at']}) {event}")
    return lines


def log_digest_since(path: Path, offset: int, limit: int) -> list[str]:
    part = path.with_suffix(".scenario.log")
    with path.open("rb") as source:
        source.seek(offset)
        part.write_bytes(source.read())
    try:
        return log_digest(part, limit)
    finally:
        part.unlink()


def print_scenario(stack: Stack, name: str, result: dict[str, Any], checks: list[Check]) -> None:
    lat = result["latency"]
    cpu, per = result["cpu_seconds"], result["cpu_seconds_per_return"]
    ratio = result["cpu_per_return_in_health_requests"]
    print(f"-- {stack.backend} / {name}: summary")
    print(f"  responses      {describe(result['status_codes'])}")
    print(f"  final statuses {describe(result['final_statuses'])} ({result['wait_ended']})")
    print(
        f"  wall {result['wall_seconds']:.1f}s (burst {result['burst_seconds']:.1f}s); "
        f"accepted {result['accepted_posts_per_s']:.1f} POST/s; "
        f"completed {result['completions_per_s']:.2f} returns/s end to end"
    )
    for kind, f in lat.items():
        print(
            f"  latency {kind:<4} n={f['count']:<5} p50 {f['p50_ms']:7.0f} ms  "
            f"p95 {f['p95_ms']:7.0f} ms  max {f['max_ms']:7.0f} ms"
        )
    print(
        f"  CPU s: gateway {cpu['gateway']:.1f}, sandbox {cpu['sandbox']:.1f}, "
        f"load script {cpu['load_script']:.1f}, other processes {cpu['other_processes']:.1f}"
    )
    print(
        f"  CPU s per return: gateway {per['gateway']:.3f} "
        f"(= {fmt(ratio['gateway'])} /health requests), sandbox {per['sandbox']:.3f} "
        f"(= {fmt(ratio['sandbox'])} /health requests); "
        f"refunds in journal {result['refunds_created']}"
    )
    for check in checks:
        print(f"  {'ok  ' if check.ok else 'FAIL'} {check.name}: {check.detail}")
    for body in result["error_bodies"]:
        print(f"  error body: {body}")
    for stuck in result["stuck"]:
        print(f"  not completed: {stuck}")
    if "gateway_log" in result:
        print(f"  gateway log: {result['gateway_log']}; first distinct error lines:")
        for line in result["log_lines"]:
            print(f"    {line}")


def fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f}"


# --------------------------------------------------------------------------- one backend


def run_backend(backend: str, args: argparse.Namespace) -> dict[str, Any]:
    """Each scenario on a fresh sandbox and gateway, so one's collapse cannot spoil the next."""
    scenarios = SCENARIOS if args.scenario == "all" else (args.scenario,)
    results = {}
    for name in scenarios:
        with running_stack(args, backend) as stack:
            print(f"\n#### {backend} / {name}: work dir {stack.work}")
            base = baseline(stack, args.baseline)
            print(
                f"  baseline: /health costs gateway {base['gateway_cpu_per_health'] * 1000:.2f}"
                f" ms CPU, sandbox {base['sandbox_cpu_per_health'] * 1000:.2f} ms CPU per request"
            )
            result = run_scenario(stack, name, args, base)
        result |= {"baseline": base, "work_dir": str(stack.work)}
        if all(c["ok"] for c in result["checks"]) and not args.keep:
            shutil.rmtree(stack.work, ignore_errors=True)
        else:
            print(f"  logs kept in {stack.work}")
        results[name] = result
    ok = all(c["ok"] for r in results.values() for c in r["checks"])
    return {"backend": backend, "ok": ok, "scenarios": results}


def git(*args: str) -> str:
    with suppress(OSError, subprocess.CalledProcessError):
        return subprocess.run(
            ["git", "-C", str(REPO), *args], capture_output=True, text=True, check=True
        ).stdout
    return ""


def code_under_test(args: argparse.Namespace) -> str:
    """Which code the children run: a pinned commit, or the working tree (flagged if dirty)."""
    if args.ref:
        args.ref = git("rev-parse", "--verify", f"{args.ref}^{{commit}}").strip() or args.ref
        return "commit " + git("log", "-1", "--format=%h %s", args.ref).strip()
    dirty = git("status", "--porcelain", "--", "src").strip()
    head = git("log", "-1", "--format=%h %s").strip() or "unknown"
    return f"working tree at {head}" + (" + uncommitted changes in src/" if dirty else "")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="sqlite")
    parser.add_argument("--scenario", choices=("all", *SCENARIOS), default="all")
    parser.add_argument("--dupes", type=int, default=200, help="identical POSTs")
    parser.add_argument("--mixed", type=int, default=500, help="mixed concurrent requests")
    parser.add_argument("--mixed-tenants", type=int, default=2)
    parser.add_argument("--preload", type=int, default=10, help="returns per mixed tenant")
    parser.add_argument("--distinct", type=int, default=1000, help="distinct returns")
    parser.add_argument("--clients", type=int, default=16, help="clients of distinct")
    parser.add_argument("--restore-rate", type=float, default=100_000.0, help="sandbox points/s")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES)
    parser.add_argument(
        "--ref",
        default=None,
        help="run the gateway from this git commit (default: the working tree)",
    )
    parser.add_argument("--timeout", type=float, default=900.0, help="max wait per scenario (s)")
    parser.add_argument("--stall", type=float, default=120.0, help="give up when nothing moves")
    parser.add_argument("--request-timeout", type=float, default=120.0)
    parser.add_argument(
        "--give-up", type=int, default=5, help="a client stops after this many timeouts in a row"
    )
    parser.add_argument("--progress-every", type=float, default=5.0)
    parser.add_argument("--baseline", type=int, default=300, help="/health requests")
    parser.add_argument("--log-level", default="WARNING", help="the gateway's")
    parser.add_argument("--log-lines", type=int, default=15, help="error lines shown")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir on success")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)  # progress shows up when piped to a file
    backends = ("sqlite", "postgres") if args.backend == "both" else (args.backend,)
    commit = code_under_test(args)
    print(f"returnbridge load: {commit}; scenarios {args.scenario}; {os.cpu_count()} CPUs")
    runs = [run_backend(backend, args) for backend in backends]
    ok = all(run["ok"] for run in runs)
    if args.json:
        report = {"code": commit, "argv": sys.argv[1:], "ok": ok, "runs": runs}
        args.json.write_text(json.dumps(report, indent=2, default=str) + "\n")
        print(f"figures written to {args.json}")
    print("\nRESULT: " + ("all checks passed" if ok else "FAILED (see FAIL lines above)"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
