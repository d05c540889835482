"""`returnbridge sources`: poll sources (add, list, show, pause, resume, run now).

`poll_example` is the demo's poll source: it starts the vendor sandbox and creates a source on it.

`run` syncs in the foreground and prints the counts; the returns it stores are processed by
the worker (`returnbridge up` or `worker`), which also runs every source on its schedule.
Secrets are prompted for (hidden) when not given, and are never printed.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import httpx
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from returnbridge.cli.servers import BackgroundServer

if TYPE_CHECKING:
    from returnbridge.engine.runtime import Runtime
    from returnbridge.store.tables import Source

sources_app = typer.Typer(help="Poll sources: vendor endpoints synced on a schedule.")
_out = Console()
_errors = Console(stderr=True)

DataDir = Annotated[
    Path | None,
    typer.Option(help="where embedded data lives (default ./.returnbridge)", show_default=False),
]
Tenant = Annotated[str, typer.Option("--tenant", help="the tenant id (ten_...)")]
SECRET_NAMES = {"bearer": ("token",), "basic": ("username", "password"), "hmac": ("secret",)}


def _fail(message: str, *, code: int = 1) -> NoReturn:
    _errors.print(f"[red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _open(data_dir: Path | None) -> Runtime:
    from returnbridge.engine.runtime import open_runtime
    from returnbridge.observability import configure_logging
    from returnbridge.settings import Settings

    configure_logging("ERROR")  # each command prints its own outcome
    return open_runtime(Settings(data_dir=data_dir) if data_dir else Settings())


def _options(pairs: list[str]) -> dict[str, Any]:
    """``key=value`` pairs for the less common config fields (``page_size_param=limit``)."""
    found: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            _fail(f"--option wants key=value, not {pair!r}", code=2)
        found[key.strip()] = value.strip()
    return found


@sources_app.command("add")
def sources_add(
    name: str,
    *,
    tenant: Tenant,
    url: Annotated[str, typer.Option(help="the vendor's list endpoint")],
    auth: Annotated[str, typer.Option(help="none, bearer, basic or hmac")] = "none",
    pagination: Annotated[str, typer.Option(help="page, cursor or link")] = "page",
    cursor: Annotated[str, typer.Option(help="updated_since or opaque")] = "updated_since",
    schedule: Annotated[str, typer.Option(help="cron, 5 fields (or 6 with seconds)")] = (
        "*/5 * * * *"
    ),
    page_size: Annotated[int, typer.Option(help="records per page")] = 50,
    overlap: Annotated[int, typer.Option(help="seconds re-read before the watermark")] = 300,
    option: Annotated[
        list[str] | None, typer.Option(help="more config as key=value (repeatable)")
    ] = None,
    mapping: Annotated[
        Path | None, typer.Option(help="a mapping file (YAML); none: canonical records")
    ] = None,
    connection: Annotated[
        str | None, typer.Option(help="where its returns go (default: the tenant's only one)")
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Create a poll source; it is due at once."""
    from returnbridge.domain.errors import DomainError
    from returnbridge.engine.poll_config import parse_config
    from returnbridge.store import sources as source_store
    from returnbridge.store.connections import chosen_connection_id
    from returnbridge.store.errors import RecordNotFoundError

    values: dict[str, Any] = {
        "url": url,
        "auth": auth,
        "pagination": pagination,
        "cursor": cursor,
        "schedule": schedule,
        "page_size": page_size,
        "overlap_seconds": overlap,
        **_options(option or []),
    }
    try:
        config = parse_config(values)
    except DomainError as exc:
        _fail(exc.message, code=2)
    secrets = {
        key: os.environ.get(f"RETURNBRIDGE_SOURCE_{key.upper()}")
        or typer.prompt(f"{auth} {key}", hide_input=True)
        for key in SECRET_NAMES.get(config.auth.value, ())
    }
    text = None
    if mapping is not None:
        try:
            text = mapping.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            _fail(f"cannot read mapping {mapping}: {exc}", code=2)
    runtime = _open(data_dir)
    try:
        with runtime.sessions.begin() as session:
            if connection is None:
                try:
                    connection = chosen_connection_id(session, tenant, None)
                except DomainError as exc:
                    _fail(f"{exc.message} with --connection")
            source = source_store.create_poll_source(
                session,
                tenant,
                connection_id=connection,
                name=name,
                config=config.model_dump(mode="json", exclude_defaults=True),
                secrets=secrets,
                cipher=runtime.cipher,
                mapping=text,
            )
    except RecordNotFoundError:
        _fail(f"no connection {connection} for tenant {tenant}")
    except DomainError as exc:
        _fail(exc.message)
    _out.print(f"poll source {source.id} ({escape(source.name)}) -> {escape(url)}")


def _counts(source: Source) -> str:
    last = (source.stats or {}).get("last_run") or {}
    if not last:
        return "-"
    return (
        f"{last.get('fetched', 0)} fetched, {last.get('new', 0)} new, "
        f"{last.get('duplicate', 0)} dup, {last.get('failed', 0)} failed"
    )


def _when(value: Any) -> str:
    return f"{value:%Y-%m-%d %H:%M:%S}" if value is not None else "-"


@sources_app.command("list")
def sources_list(*, tenant: Tenant, data_dir: DataDir = None) -> None:
    """The tenant's sources (poll and push) with their sync state."""
    from returnbridge.store import sources as source_store

    runtime = _open(data_dir)
    table = Table("id", "name", "kind", "status", "last run", "last run counts", "last error")
    with runtime.reads() as session:
        for source in source_store.list_sources(session, tenant):
            table.add_row(
                source.id,
                escape(source.name),
                source.kind,
                source.status,
                _when(source.last_run_at),
                _counts(source),
                escape(source.last_error or ""),
            )
    _out.print(table)


def _show(source: Source) -> None:
    stats = source.stats or {}
    last = stats.get("last_run") or {}
    totals = stats.get("totals") or {}
    rows = [
        ("id", source.id),
        ("name", source.name),
        ("kind", source.kind),
        ("status", source.status),
        ("url", str(source.config.get("url", "-"))),
        ("cursor", source.cursor or "-"),
        ("syncing", "yes, carries on at the next run" if stats.get("resume") else "no"),
        ("last run", f"{_when(source.last_run_at)} {last.get('outcome', '')}".strip()),
        ("last success", _when(source.last_success_at)),
        ("next run", _when(source.next_run_at)),
        ("last run counts", _counts(source)),
        (
            "totals",
            ", ".join(f"{totals.get(k, 0)} {k}" for k in ("fetched", "new", "duplicate", "failed")),
        ),
        ("last error", source.last_error or "-"),
    ]
    rows += [("record error", e) for e in stats.get("errors", [])]
    table = Table(show_header=False, box=None)
    for key, value in rows:
        table.add_row(f"[bold]{key}[/]", escape(value))
    _out.print(table)


@sources_app.command("show")
def sources_show(source_id: str, *, tenant: Tenant, data_dir: DataDir = None) -> None:
    """One source: last cursor, last run and its counts, totals, last error."""
    from returnbridge.store import sources as source_store
    from returnbridge.store.errors import RecordNotFoundError

    runtime = _open(data_dir)
    try:
        with runtime.reads() as session:
            source = source_store.get_source(session, source_id, tenant_id=tenant)
    except RecordNotFoundError:
        _fail(f"no source {source_id} for tenant {tenant}")
    _show(source)


@sources_app.command("pause")
def sources_pause(source_id: str, *, tenant: Tenant, data_dir: DataDir = None) -> None:
    """Stop running the poll source on its schedule."""
    from returnbridge.store import sources as source_store
    from returnbridge.store.errors import RecordNotFoundError

    runtime = _open(data_dir)
    try:
        with runtime.sessions.begin() as session:
            source_store.pause_source(session, source_id, tenant_id=tenant)
    except RecordNotFoundError:
        _fail(f"no poll source {source_id} for tenant {tenant}")
    _out.print(f"poll source {source_id} paused")


@sources_app.command("resume")
def sources_resume(source_id: str, *, tenant: Tenant, data_dir: DataDir = None) -> None:
    """Run the poll source on its schedule again (due at once)."""
    from returnbridge.store import sources as source_store
    from returnbridge.store.errors import RecordNotFoundError

    runtime = _open(data_dir)
    try:
        with runtime.sessions.begin() as session:
            source_store.resume_source(session, source_id, tenant_id=tenant)
    except RecordNotFoundError:
        _fail(f"no poll source {source_id} for tenant {tenant}")
    _out.print(f"poll source {source_id} resumed")


@sources_app.command("run")
def sources_run(source_id: str, *, tenant: Tenant, data_dir: DataDir = None) -> None:
    """Sync the poll source now, here (even when paused); exit 1 when the sync failed."""
    from returnbridge.engine.launch import launch_dbos, shutdown_dbos
    from returnbridge.engine.polling import run_sync
    from returnbridge.store import sources as source_store
    from returnbridge.store.errors import RecordNotFoundError

    runtime = _open(data_dir)
    try:
        with runtime.reads() as session:
            source_store.get_source(session, source_id, tenant_id=tenant, kind=source_store.POLL)
    except RecordNotFoundError:
        _fail(f"no poll source {source_id} for tenant {tenant}")
    # Enqueue-only, under an executor id of its own: DBOS recovers its executor's pending
    # workflows at launch, which belong to the worker.
    settings = runtime.settings.model_copy(update={"executor_id": f"sources-{os.getpid()}"})
    launch_dbos(settings, work=False)
    try:
        with _out.status(f"syncing {source_id}"):
            report = run_sync(runtime, tenant, source_id)
    finally:
        shutdown_dbos()
    counts = report.counts
    _out.print(
        f"{report.outcome}{' (resumed)' if report.resumed else ''}: {counts.pages} pages, "
        f"{counts.fetched} fetched, {counts.new} new, {counts.duplicate} duplicate, "
        f"{counts.failed} failed"
    )
    if report.error:
        _fail(report.error)


VENDOR_MAPPING = Path(__file__).resolve().parents[1] / "sandbox" / "vendor" / "mapping.yaml"
"""The mapping of the vendor sandbox's records (see `returnbridge mapping test`)."""


@dataclass
class PollDemo:
    """A running vendor sandbox and the poll source created on it; `stop` ends the vendor."""

    vendor: BackgroundServer
    source: dict[str, Any]
    token: str = field(repr=False)

    def stop(self) -> None:
        self.vendor.stop()


def poll_example(
    api: httpx.Client,
    *,
    name: str = "helpdesk",
    records: list[dict[str, Any]] | None = None,
    seed: int = 3,
    schedule: str = "*/5 * * * *",
    timeout: float = 60.0,
) -> PollDemo:
    """Start the vendor sandbox, create a poll source on it through the API and sync it once.

    `api` carries the tenant's key and the gateway's base URL (a worker must be running).
    `records` are vendor records to add (fields such as ``order_number``, ``customer.email``,
    ``items: [{sku, qty}]``, ``reason``), else `seed` generated ones. Answers once the run-now
    sync has finished; `PollDemo.source` is the source as `GET /v1/sources/{id}` shows it.
    """
    from returnbridge.sandbox.vendor import create_app as create_vendor
    from returnbridge.sandbox.vendor.app import new_token

    vendor = BackgroundServer(create_vendor()).start()
    token = new_token()
    with httpx.Client(base_url=vendor.url, timeout=10) as control:
        control.post("/_control/auth", json={"kind": "bearer", "token": token}).raise_for_status()
        for record in records or []:
            control.post("/_control/records", json=record).raise_for_status()
        if records is None:
            control.post("/_control/seed", params={"count": seed}).raise_for_status()
    body = {
        "name": name,
        "config": {
            "url": f"{vendor.url}/pages/returns",
            "auth": "bearer",
            "schedule": schedule,
            "overlap_seconds": 60,
        },
        "secrets": {"token": token},
        "mapping": VENDOR_MAPPING.read_text(encoding="utf-8"),
    }
    created = api.post("/v1/sources", json=body)
    created.raise_for_status()
    source_id = created.json()["id"]
    api.post(f"/v1/sources/{source_id}/run").raise_for_status()
    deadline = time.monotonic() + timeout
    while True:
        shown: dict[str, Any] = api.get(f"/v1/sources/{source_id}").json()
        if shown["last_run"] and shown["last_run"]["outcome"] in ("succeeded", "failed"):
            return PollDemo(vendor, shown, token)
        if time.monotonic() > deadline:
            vendor.stop()
            raise TimeoutError(f"poll source {source_id} did not sync within {timeout}s")
        time.sleep(0.1)


@sources_app.command("vendor-sandbox")
def vendor_sandbox(
    port: Annotated[int, typer.Option(help="port on 127.0.0.1")] = 8766,
    seed: Annotated[int, typer.Option(help="records to start with")] = 20,
) -> None:
    """Serve the vendor helpdesk sandbox (pages that change between requests) until Ctrl-C."""
    import uvicorn

    from returnbridge.sandbox.vendor import create_app as create_vendor

    app = create_vendor()
    app.state.helpdesk.seed(seed)
    _out.print(
        f"vendor sandbox on http://127.0.0.1:{port}: /pages/returns, /cursor/returns, "
        "/link/returns, /feed/returns; controls under /_control"
    )
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")
