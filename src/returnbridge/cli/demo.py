"""`returnbridge demo`: the gateway and the Shopify sandbox, a seeded store, sample returns.

Starts both servers on loopback, seeds a tenant, a store with two locations and ~20 orders,
posts ~10 sample returns from different channels through the public API, brings two more in
the other ways (a polled vendor helpdesk and a signed, mapped push: `demo_ways_in`), shows
their progress live, and ends with a table. With `--once` it exits 0 only if every return
reached the status it should, every refund has the expected amount, and the sandbox saw
exactly one refund per refunded return.
"""

from __future__ import annotations

import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.live import Live
from rich.table import Table

from returnbridge.cli import demo_agents as agents
from returnbridge.cli import demo_outbound as outbound
from returnbridge.cli import demo_scenarios as scenarios
from returnbridge.cli.demo_platforms import DEMO_PLATFORMS, OTHER_STORES, DemoStore, refund_keys
from returnbridge.cli.demo_ways_in import bring_in
from returnbridge.cli.servers import BackgroundServer, free_port
from returnbridge.engine.runtime import Runtime
from returnbridge.observability import configure_logging
from returnbridge.settings import Settings

RESTING = {"completed", "needs_review", "failed", "cancelled"}
WAITING_ON_OTHERS = {"awaiting_returns_system"}
"""Parked events that end by themselves (Loop's webhook or poll resumes the return)."""
STYLE = {"completed": "green", "needs_review": "yellow", "failed": "red"}
DEMO_MARKER = ".returnbridge-demo"
"""Written into every data dir the demo creates: only such a directory is wiped without asking."""


class DemoDirRefusedError(Exception):
    """The demo's data dir holds something the demo did not make; the message says what to do."""


def prepare_demo_dir(data_dir: Path, *, force: bool) -> None:
    """Wipe `data_dir` if the demo made it (or it is empty, or `force`), then mark it as ours.

    Raises DemoDirRefusedError for anything else, so a real data dir is never deleted by mistake.
    """
    if data_dir.exists() or data_dir.is_symlink():
        if not data_dir.is_dir() or data_dir.is_symlink():
            raise DemoDirRefusedError(f"{data_dir} is not a directory; give the demo another one")
        ours = (data_dir / DEMO_MARKER).is_file() or not any(data_dir.iterdir())
        if not (ours or force):
            raise DemoDirRefusedError(
                f"refusing to delete {data_dir}: it is not empty and was not made by "
                f"`returnbridge demo` (no {DEMO_MARKER} file in it). Pass --force to delete it "
                "anyway, or give another --data-dir"
            )
        shutil.rmtree(data_dir)
    data_dir.mkdir(mode=0o700, parents=True)
    (data_dir / DEMO_MARKER).write_text("made by `returnbridge demo`; wiped at every demo start\n")


@dataclass
class Tracked:
    sample: scenarios.Sample
    platform: str = "shopify"
    return_id: str | None = None
    duplicate: bool = False
    body: dict[str, Any] | None = None
    error: str | None = None

    @property
    def status(self) -> str:
        if self.error:
            return "error"
        return str((self.body or {}).get("status", "submitted"))

    @property
    def resting(self) -> bool:
        """Done moving: an error, or a resting status other than a wait for Loop's outcome."""
        if self.error:
            return True
        review = (self.body or {}).get("review") or {}
        return self.status in RESTING and review.get("event") not in WAITING_ON_OTHERS


def seed_sandbox(sandbox_url: str) -> None:
    """Create the demo shop, its locations, stock and orders in the sandbox."""
    with httpx.Client(base_url=sandbox_url, timeout=10) as client:
        client.post("/_sandbox/reset").raise_for_status()
        client.post(
            "/_sandbox/shops",
            json={
                "domain": scenarios.SHOP_DOMAIN,
                "access_token": scenarios.ACCESS_TOKEN,
                "currency": "USD",
                "locations": scenarios.LOCATIONS,
            },
        ).raise_for_status()
        for order in scenarios.orders():
            response = client.post(f"/_sandbox/shops/{scenarios.SHOP_DOMAIN}/orders", json=order)
            response.raise_for_status()


def seed_gateway(runtime: Runtime, sandbox_url: str) -> tuple[str, str]:
    """A tenant and its Shopify connection (pointing at the sandbox); returns (tenant, key)."""
    from returnbridge.store.connections import create_connection
    from returnbridge.store.tenants import create_tenant

    with runtime.sessions.begin() as session:
        tenant, api_key = create_tenant(session, "Demo Outfitters")
        create_connection(
            session,
            tenant.id,
            platform="shopify",
            name="demo-outfitters",
            base_url=sandbox_url,
            credentials={"access_token": scenarios.ACCESS_TOKEN},
            cipher=runtime.cipher,
            settings={"restock_location_id": scenarios.RESTOCK_LOCATION},
        )
    return tenant.id, api_key


def seed_merchant(runtime: Runtime, store: DemoStore, sandbox_url: str) -> tuple[str, str]:
    """A tenant for a merchant on another platform, connected to its sandbox store."""
    from returnbridge.store.connections import create_connection
    from returnbridge.store.tenants import create_tenant

    with runtime.sessions.begin() as session:
        tenant, api_key = create_tenant(session, store.tenant_name)
        create_connection(
            session,
            tenant.id,
            platform=store.platform,
            name=store.platform,
            base_url=sandbox_url + store.base_path,
            credentials=store.credentials,
            cipher=runtime.cipher,
            settings=store.settings,
        )
    return tenant.id, api_key


def _table(tracked: list[Tracked], *, final: bool = False) -> Table:
    table = Table(title="returnbridge demo: sample returns" + ("" if final else " (live)"))
    columns = ("return", "platform", "channel", "case", "order", "refund", "restocked", "status")
    for column in columns:
        table.add_column(column)
    if final:
        table.add_column("expected")
    for item in tracked:
        body = item.body or {}
        refund = body.get("refund_total") or {}
        restocked = _restocked_units(body)
        status = item.status + (" (dup)" if item.duplicate else "")
        row = [
            item.sample.event["external_id"],
            item.platform,
            item.sample.event["channel"],
            item.sample.label,
            body.get("matched_order_name") or "-",
            f"{refund.get('amount')} {refund.get('currency')}" if refund else "-",
            str(restocked) if restocked is not None else "-",
            f"[{STYLE.get(item.status, 'white')}]{status}[/]",
        ]
        if final:
            row.append(item.sample.expected_status)
        table.add_row(*row)
    return table


def _restocked_units(body: dict[str, Any]) -> int | None:
    units = None
    for event in body.get("timeline") or ():
        data = event.get("data") or {}
        if event.get("event") == "refund_created":
            units = int(data.get("restocked_units", 0))
        elif event.get("event") == "restocked" and "units" in data:  # a separate adjustment
            units = int(data["units"])
    return units


def _submit(api: httpx.Client, tracked: list[Tracked]) -> None:
    for item in tracked:
        response = api.post("/v1/returns", json=item.sample.event)
        if response.status_code != 202:
            item.error = f"{response.status_code}: {response.text[:200]}"
            continue
        body = response.json()
        item.return_id = body["return"]["id"]
        item.duplicate = body["duplicate"]
        item.body = body["return"]


def _refresh(api: httpx.Client, tracked: list[Tracked]) -> None:
    for item in tracked:
        if item.return_id and not item.resting:
            response = api.get(f"/v1/returns/{item.return_id}")
            if response.status_code == 200:
                item.body = response.json()
    for item in tracked:  # resting ones: fetch once more for the full timeline
        if item.return_id and item.body and "timeline" not in item.body:
            item.body = api.get(f"/v1/returns/{item.return_id}").json()


def _check(tracked: list[Tracked], journals: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Everything that is not as the scenario says, in words (`journals` per platform)."""
    problems: list[str] = []
    for item in tracked:
        name = item.sample.event["external_id"]
        if item.status != item.sample.expected_status:
            problems.append(f"{name}: status {item.status}, expected {item.sample.expected_status}")
        expected = item.sample.expected_refund
        refund = (item.body or {}).get("refund_total") or {}
        if expected is not None and item.status == "completed" and refund.get("amount") != expected:
            problems.append(f"{name}: refund {refund.get('amount')}, expected {expected}")
        if item.sample.duplicate_of and not item.duplicate:
            problems.append(f"{name}: a duplicate delivery was not recognised")
    for platform, journal in journals.items():
        created = refund_keys(journal)
        doubled = [key for key, count in created.items() if count > 1]
        if doubled:
            problems.append(f"{platform}: refunds created more than once: {doubled}")
        refunded = {
            i.return_id
            for i in tracked
            if i.platform == platform
            and i.status == "completed"
            and i.sample.extra.get("platform_refund", True)
        }
        if len(created) != len(refunded):
            problems.append(
                f"{platform}: {len(created)} refunds in the sandbox for {len(refunded)} returns"
            )
    return problems


@dataclass
class Merchant:
    """One tenant of the demo, on one platform, with its API client and returns."""

    platform: str
    tenant_id: str
    api: httpx.Client
    tracked: list[Tracked]


def _start_sandboxes(console: Console, sandbox_port: int) -> dict[str, BackgroundServer]:
    """Shopify on `sandbox_port`, then every other demo merchant's platform (WooCommerce,
    BigCommerce, SHOPLINE) on the next ports."""
    from returnbridge.cli.sandboxes import build_app

    started: dict[str, BackgroundServer] = {}
    for offset, platform in enumerate(DEMO_PLATFORMS):
        server = BackgroundServer(build_app(platform), port=sandbox_port + offset).start()
        started[platform] = server
        console.print(
            f"{platform} sandbox  {server.url}  (control surface: {server.url}/_sandbox/)"
        )
    return started


def _stop(*servers: BackgroundServer) -> None:
    for server in servers:
        server.stop()


def run_demo(
    console: Console,
    *,
    port: int,
    sandbox_port: int,
    data_dir: Path,
    once: bool,
    timeout: float,
) -> int:
    """Run the demo on `data_dir`, which the caller prepared (see `prepare_demo_dir`)."""
    from returnbridge.api.app import create_app
    from returnbridge.engine.launch import launch_dbos, shutdown_dbos
    from returnbridge.engine.runtime import close_runtime, open_runtime

    settings = Settings(
        data_dir=data_dir,
        port=port,
        log_level="WARNING",
        # the demo's vendor endpoint and Loop live on loopback
        callbacks_allow_private_addresses=True,
        returns_system_poll_seconds=5,
    )
    configure_logging(settings.log_level)
    sandboxes = _start_sandboxes(console, sandbox_port)
    shopify = sandboxes["shopify"]
    seed_sandbox(shopify.url)
    from returnbridge.cli.sandboxes import build_app

    loop = BackgroundServer(build_app("loop"), port=sandbox_port + len(sandboxes)).start()
    console.print(f"loop sandbox  {loop.url}  (control surface: {loop.url}/_sandbox/)")
    mail = outbound.MailCatcher(data_dir / "emails", free_port()).start()
    catcher = outbound.CallbackCatcher()
    vendor_port = free_port()
    vendor = catcher.serve(vendor_port)
    vendor_url = f"http://127.0.0.1:{vendor_port}/returnbridge/callbacks"
    runtime = open_runtime(settings)
    launch_dbos(settings, work=True)
    gateway = BackgroundServer(create_app(runtime), port=port).start()
    console.print(f"returnbridge API {gateway.url}  (OpenAPI docs: {gateway.url}/docs)")
    tenant_id, api_key = seed_gateway(runtime, shopify.url)
    console.print(
        f"tenant {tenant_id} · Shopify store {scenarios.SHOP_DOMAIN} · 2 locations · "
        f"{len(scenarios.orders())} orders seeded"
    )
    api = httpx.Client(
        base_url=gateway.url, headers={"Authorization": f"Bearer {api_key}"}, timeout=30
    )
    merchants = [Merchant("shopify", tenant_id, api, [Tracked(s) for s in scenarios.samples()])]
    for store in OTHER_STORES:
        sandbox = sandboxes[store.platform]
        with httpx.Client(base_url=sandbox.url, timeout=10) as control:
            seeded = store.seed(control)
        other_id, other_key = seed_merchant(runtime, store, sandbox.url)
        console.print(f"tenant {other_id} · {store.store_label} · {seeded} orders seeded")
        client = httpx.Client(
            base_url=gateway.url, headers={"Authorization": f"Bearer {other_key}"}, timeout=30
        )
        tracked = [Tracked(sample, platform=store.platform) for sample in store.samples()]
        merchants.append(Merchant(store.platform, other_id, client, tracked))
    loop_tenant, loop_key, loop_connection = outbound.seed_loop_merchant(
        runtime, shopify.url, loop.url
    )
    outbound.point_loop_webhooks(loop.url, gateway.url, loop_connection)
    console.print(
        f"tenant {loop_tenant} · Loop Outfitters: Shopify store {outbound.LOOP_SHOP} + Loop"
        " Returns (Loop refunds; returnbridge opens and follows the return in Loop)"
    )
    loop_api = httpx.Client(
        base_url=gateway.url, headers={"Authorization": f"Bearer {loop_key}"}, timeout=30
    )
    loop_tracked = [Tracked(sample) for sample in outbound.loop_samples()]
    merchants.append(Merchant("shopify+loop", loop_tenant, loop_api, loop_tracked))
    for client, shop in ((api, "Demo Outfitters"), (loop_api, "Loop Outfitters")):
        client.put("/v1/email/settings", json=mail.settings(shop)).raise_for_status()
        subscribed = client.post("/v1/callbacks/subscriptions", json={"url": vendor_url})
        subscribed.raise_for_status()
        catcher.secrets.append(subscribed.json()["secret"])
    console.print(
        f"customer emails go to a local SMTP server on port {mail.port}; callbacks to the"
        f" vendor endpoint {vendor_url}"
    )
    for merchant in merchants:
        _submit(merchant.api, merchant.tracked)
    ways_in = bring_in(api)
    for arrival in ways_in.arrivals:
        merchants[0].tracked.append(
            Tracked(arrival.sample, return_id=arrival.return_id, body=arrival.body)
        )
    console.print(
        "also in: a vendor helpdesk polled by a poll source, and a signed social-message "
        "push through a mapping (approved from the review queue)"
    )
    everything = [item for merchant in merchants for item in merchant.tracked]
    deadline = time.monotonic() + timeout
    with Live(_table(everything), console=console, refresh_per_second=4) as live:
        while time.monotonic() < deadline:
            for merchant in merchants:
                _refresh(merchant.api, merchant.tracked)
            live.update(_table(everything))
            if all(item.resting for item in everything):
                break
            time.sleep(0.25)
    for merchant in merchants:
        _refresh(merchant.api, merchant.tracked)
    journals = {
        platform: httpx.get(f"{server.url}/_sandbox/journal", timeout=10).json()
        for platform, server in sandboxes.items()
    }
    console.print(_table(everything, final=True))
    problems = _check(everything, journals)
    problems += outbound.report(
        console,
        mail=mail,
        catcher=catcher,
        subscribed=[m for m in merchants if m.tenant_id in (tenant_id, loop_tenant)],
        loop_url=loop.url,
        shopify_url=shopify.url,
    )
    problems += agents.report(console, gateway_url=gateway.url, api_key=api_key)
    for problem in problems:
        console.print(f"[red]✗[/] {problem}")
    if not problems:
        platforms = {m.platform for m in merchants} - {"shopify+loop"} | {"loop"}
        console.print(
            f"[green]✓ all {len(everything)} sample returns on {len(platforms)} platforms "
            "ended as expected, with their emails and callbacks[/]"
        )
    console.print(f"try it: curl -H 'Authorization: Bearer {api_key}' {gateway.url}/v1/returns")
    console.print(
        f"dashboard: {gateway.url}/dashboard (sign in with the key above to see the Shopify "
        "demo shop's returns and review queue)"
    )
    console.print(
        f"MCP: {gateway.url}/mcp for AI agents (docs/mcp.md); "
        f"the Connectivity API: {gateway.url}/v1/connectors (docs/connectivity.md)"
    )
    if once:
        ways_in.stop()
        for merchant in merchants:
            merchant.api.close()
        gateway.stop()
        shutdown_dbos()
        close_runtime()
        _stop(*sandboxes.values(), loop)
        mail.stop()
        vendor.shutdown()
        return 1 if problems else 0
    console.print("serving; press Ctrl-C to stop")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        ways_in.stop()
        gateway.stop()
        shutdown_dbos()
        _stop(*sandboxes.values(), loop)
        mail.stop()
        vendor.shutdown()
    return 0
