"""`returnbridge` commands: run the gateway, its parts, the sandbox and the demo."""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
import uvicorn
from pydantic import ValidationError
from rich.console import Console

from returnbridge.cli.email_cmd import email_app
from returnbridge.cli.import_cmd import import_file
from returnbridge.cli.mapping_cmd import mapping_app
from returnbridge.cli.mcp_cmd import mcp_app
from returnbridge.cli.push_cmd import push_app
from returnbridge.cli.review_cmd import returns_app
from returnbridge.cli.sources_cmd import sources_app
from returnbridge.domain.errors import ReturnBridgeError
from returnbridge.observability import configure_logging
from returnbridge.settings import Settings

if TYPE_CHECKING:
    from returnbridge.engine.runtime import Runtime

app = typer.Typer(
    name="returnbridge",
    help="Sync customer returns and refunds, exactly once, into the merchant's platform.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
tenants_app = typer.Typer(help="Manage tenants (merchants).", no_args_is_help=True)
connections_app = typer.Typer(help="Manage platform connections.", no_args_is_help=True)
app.add_typer(tenants_app, name="tenants")
app.add_typer(connections_app, name="connections")
app.add_typer(mapping_app, name="mapping")
app.add_typer(returns_app, name="returns")
app.add_typer(push_app, name="push")
app.add_typer(sources_app, name="sources")
app.add_typer(email_app, name="email")
app.add_typer(mcp_app, name="mcp")
app.command("import")(import_file)
console = Console()
errors = Console(stderr=True)

DataDir = Annotated[
    Path | None,
    typer.Option(help="where embedded data lives (default ./.returnbridge)", show_default=False),
]
Port = Annotated[int | None, typer.Option(help="API port (default 8000)", show_default=False)]
Host = Annotated[str | None, typer.Option(help="API host (default 127.0.0.1)", show_default=False)]


def _settings(data_dir: Path | None = None, **overrides: object) -> Settings:
    values = {k: v for k, v in overrides.items() if v is not None}
    if data_dir is not None:
        values["data_dir"] = data_dir
    try:
        settings = Settings(**values)  # type: ignore[arg-type]
    except ValidationError as exc:
        _fail(
            "; ".join(
                f"RETURNBRIDGE_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}"
                for e in exc.errors()
            ),
            code=2,
        )
    configure_logging(settings.log_level)
    return settings


def _fail(message: str, *, code: int = 1) -> NoReturn:
    """Print one clear sentence on stderr and exit with `code` (no traceback)."""
    errors.print(f"[red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _check_keys(settings: Settings, *, admin: bool) -> None:
    """Refuse to start without usable keys: never an empty admin key, never a bad credential key.

    Resolving them here also creates the generated key files before anything is served.
    """
    from returnbridge.store.crypto import CredentialCipher

    try:
        if admin:
            _ = settings.resolved_admin_key
        CredentialCipher(settings.resolved_secret_key)
    except ReturnBridgeError as exc:
        _fail(f"{exc.message}; not starting", code=2)


def _check_credentials_open(runtime: Runtime) -> None:
    """Refuse to run workflows with a credential key that does not open the stored credentials."""
    from returnbridge.store.connections import credentials_readable

    with runtime.reads() as session:
        readable = credentials_readable(session, cipher=runtime.cipher)
    if not readable:
        _fail(
            "the credential key does not open the stored connection credentials (was the key"
            " file lost and made anew?); restore the key they were stored with in"
            " RETURNBRIDGE_SECRET_KEY or RETURNBRIDGE_SECRET_KEY_FILE; not starting",
            code=2,
        )


def _open(settings: Settings) -> Runtime:
    """The runtime for a one-off command, after the credential key was checked."""
    from returnbridge.engine.runtime import open_runtime

    _check_keys(settings, admin=False)
    return open_runtime(settings)


def _serve_api(settings: Settings, *, work: bool) -> None:
    from returnbridge.api.app import create_app
    from returnbridge.engine.ingest import requeue_received
    from returnbridge.engine.launch import launch_dbos, shutdown_dbos
    from returnbridge.engine.runtime import open_runtime

    _check_keys(settings, admin=True)
    runtime = open_runtime(settings)
    _check_credentials_open(runtime)
    launch_dbos(settings, work=work)
    if work:
        requeue_received(runtime)
    preposition = "from" if settings.admin_key is not None else "in"
    console.print(
        f"[bold]returnbridge[/] API on http://{settings.host}:{settings.port} "
        f"(docs: /docs) · database {_safe_url(settings.resolved_database_url)} · "
        f"admin key {preposition} {settings.admin_key_origin}"
    )
    try:
        uvicorn.run(
            create_app(runtime), host=settings.host, port=settings.port, log_level="warning"
        )
    finally:
        shutdown_dbos()


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@app.command()
def up(data_dir: DataDir = None, host: Host = None, port: Port = None) -> None:
    """Run the whole gateway in one process: API + worker (SQLite by default)."""
    _serve_api(_settings(data_dir, host=host, port=port), work=True)


@app.command()
def api(data_dir: DataDir = None, host: Host = None, port: Port = None) -> None:
    """Run only the API (it enqueues; workers run the workflows)."""
    _serve_api(_settings(data_dir, host=host, port=port), work=False)


@app.command()
def worker(data_dir: DataDir = None) -> None:
    """Run a worker: executes queued workflows and recovers interrupted ones."""
    from returnbridge.engine.ingest import requeue_received
    from returnbridge.engine.launch import launch_dbos, shutdown_dbos
    from returnbridge.engine.runtime import open_runtime

    settings = _settings(data_dir)
    _check_keys(settings, admin=True)
    runtime = open_runtime(settings)
    _check_credentials_open(runtime)
    launch_dbos(settings, work=True)
    requeued = requeue_received(runtime)
    console.print(f"[bold]returnbridge[/] worker running ({requeued} returns re-queued)")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        shutdown_dbos()


@app.command()
def migrate(data_dir: DataDir = None) -> None:
    """Create or upgrade the database schema."""
    from returnbridge.store.database import migrate as run

    settings = _settings(data_dir)
    run(settings.resolved_database_url)
    console.print(f"migrated {_safe_url(settings.resolved_database_url)}")


@app.command()
def sandbox(
    platform: Annotated[
        str,
        typer.Option(
            help="shopify, woocommerce, bigcommerce, shopline, or all (consecutive ports)"
        ),
    ] = "all",
    port: Annotated[int, typer.Option(help="port of the first sandbox")] = 8765,
    host: Annotated[str, typer.Option(help="host to bind")] = "127.0.0.1",
    restore_rate: Annotated[
        float, typer.Option(help="Shopify: cost points restored per second")
    ] = 100.0,
) -> None:
    """Run the platform sandboxes (Shopify, WooCommerce, BigCommerce, SHOPLINE) on loopback."""
    from returnbridge.cli.sandboxes import SANDBOX_PLATFORMS, plan, serve_all

    if platform != "all" and platform not in SANDBOX_PLATFORMS:
        _fail(
            f"no sandbox for {platform!r}; choose from {', '.join(SANDBOX_PLATFORMS)} or all",
            code=2,
        )
    chosen = list(SANDBOX_PLATFORMS) if platform == "all" else [platform]
    served = plan(chosen, port)
    for item in served:
        console.print(
            f"{item.platform} sandbox on http://{host}:{item.port} · {item.where}"
            " · control surface under /_sandbox/"
        )
    serve_all(host, served, restore_rate=restore_rate)


@app.command()
def demo(
    *,
    once: Annotated[
        bool, typer.Option("--once", help="exit when done: 0 if all as expected")
    ] = False,
    port: Annotated[int, typer.Option(help="gateway API port")] = 8000,
    sandbox_port: Annotated[int, typer.Option(help="Shopify sandbox port")] = 8765,
    data_dir: Annotated[
        Path, typer.Option(help="demo data, wiped at start if the demo made it")
    ] = Path(".returnbridge/demo"),
    timeout: Annotated[float, typer.Option(help="seconds to wait for the returns")] = 180.0,
    force: Annotated[
        bool, typer.Option("--force", help="wipe --data-dir even if the demo did not make it")
    ] = False,
) -> None:
    """Gateway + Shopify sandbox with a seeded store; pushes sample returns through it."""
    from returnbridge.cli.demo import DemoDirRefusedError, prepare_demo_dir, run_demo

    try:
        prepare_demo_dir(data_dir, force=force)
    except DemoDirRefusedError as exc:
        if not (sys.stdin.isatty() and data_dir.is_dir()):
            _fail(str(exc), code=2)
        if not typer.confirm(f"{data_dir} was not made by the demo: delete it?", default=False):
            _fail(f"{data_dir} left as it was; give the demo another --data-dir", code=2)
        prepare_demo_dir(data_dir, force=True)
    code = run_demo(
        console,
        port=port,
        sandbox_port=sandbox_port,
        data_dir=data_dir,
        once=once,
        timeout=timeout,
    )
    raise typer.Exit(code)


@tenants_app.command("create")
def tenants_create(name: str, data_dir: DataDir = None) -> None:
    """Create a tenant; prints its API key once."""
    from returnbridge.store.tenants import create_tenant

    runtime = _open(_settings(data_dir))
    with runtime.sessions.begin() as session:
        tenant, api_key = create_tenant(session, name)
    console.print(f"tenant {tenant.id} ({tenant.name})\napi key (shown once): {api_key}")


@tenants_app.command("rotate-key")
def tenants_rotate_key(tenant_id: str, data_dir: DataDir = None) -> None:
    """Give a tenant a new API key (printed once); the old key stops working at once."""
    from returnbridge.store.errors import RecordNotFoundError
    from returnbridge.store.tenants import rotate_api_key

    runtime = _open(_settings(data_dir))
    try:
        with runtime.sessions.begin() as session:
            tenant, api_key = rotate_api_key(session, tenant_id)
    except RecordNotFoundError:
        _fail(f"no tenant {tenant_id}")
    console.print(f"tenant {tenant.id} ({tenant.name})\nnew api key (shown once): {api_key}")


@tenants_app.command("revoke-key")
def tenants_revoke_key(tenant_id: str, data_dir: DataDir = None) -> None:
    """Revoke a tenant's API key: nothing authenticates as it until `rotate-key`."""
    from returnbridge.store.errors import RecordNotFoundError
    from returnbridge.store.tenants import revoke_api_key

    runtime = _open(_settings(data_dir))
    try:
        with runtime.sessions.begin() as session:
            revoke_api_key(session, tenant_id)
    except RecordNotFoundError:
        _fail(f"no tenant {tenant_id}")
    console.print(
        f"api key of tenant {tenant_id} revoked; `returnbridge tenants rotate-key {tenant_id}` "
        "issues a new one"
    )


@tenants_app.command("delete")
def tenants_delete(
    tenant_id: str,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask for confirmation")] = False,
    data_dir: DataDir = None,
) -> None:
    """Delete a tenant with its connections, returns, timelines and refund records."""
    from returnbridge.store.errors import RecordNotFoundError
    from returnbridge.store.tenants import delete_tenant, get_tenant

    runtime = _open(_settings(data_dir))
    try:
        if not yes:
            with runtime.reads() as session:
                name = get_tenant(session, tenant_id).name
            question = (
                f"delete tenant {tenant_id} ({name}) with its connections and every return? "
                "This cannot be undone"
            )
            if not typer.confirm(question, default=False):
                console.print(f"tenant {tenant_id} not deleted")
                raise typer.Exit(1)
        with runtime.sessions.begin() as session:
            delete_tenant(session, tenant_id)
    except RecordNotFoundError:
        _fail(f"no tenant {tenant_id}")
    console.print(f"tenant {tenant_id} deleted")


@connections_app.command("add")
def connections_add(
    tenant_id: str,
    *,
    base_url: Annotated[
        str,
        typer.Option(
            help="the store: https://my-shop.myshopify.com, https://shop.example.com "
            "(WooCommerce site) or https://api.bigcommerce.com"
        ),
    ],
    platform: Annotated[
        str, typer.Option(help="shopify, woocommerce, bigcommerce or shopline")
    ] = "shopify",
    access_token: Annotated[
        str | None,
        typer.Option(help="Shopify/BigCommerce token; prompted (hidden) when not given"),
    ] = None,
    name: Annotated[str, typer.Option(help="connection name")] = "main",
    restock_location_id: Annotated[str | None, typer.Option(help="where returned goods go")] = None,
    api_refund: Annotated[
        bool,
        typer.Option(
            help="WooCommerce: refund through the payment gateway (off when money goes back "
            "elsewhere)"
        ),
    ] = True,
    data_dir: DataDir = None,
) -> None:
    """Connect a tenant to a platform store (credentials are encrypted at rest).

    Each credential the platform needs is prompted for without echo, so it stays out of the
    shell's history; `RETURNBRIDGE_CREDENTIAL_<NAME>` (e.g. `..._CONSUMER_SECRET`) gives one
    without a prompt, for scripts.
    """
    from returnbridge.connectors.registry import (
        credential_fields,
        require_credentials,
        require_supported,
    )
    from returnbridge.domain.errors import DomainError
    from returnbridge.store.connections import create_connection
    from returnbridge.store.errors import RecordNotFoundError
    from returnbridge.store.tenants import get_tenant

    try:
        require_supported(platform)
    except DomainError as exc:
        _fail(exc.message, code=2)
    credentials: dict[str, str] = {}
    for field in credential_fields(platform):
        value = os.environ.get(f"RETURNBRIDGE_CREDENTIAL_{field.name.upper()}")
        if field.name == "access_token" and access_token:
            value = access_token
        if not value:
            value = typer.prompt(field.label, hide_input=field.secret)
        credentials[field.name] = value.strip()
    try:
        require_credentials(platform, credentials)
    except DomainError as exc:
        _fail(exc.message, code=2)
    runtime = _open(_settings(data_dir))
    settings: dict[str, object] = {}
    if restock_location_id:
        settings["restock_location_id"] = restock_location_id
    if platform == "woocommerce":
        settings["api_refund"] = api_refund
    try:
        with runtime.sessions.begin() as session:
            get_tenant(session, tenant_id)
            connection = create_connection(
                session,
                tenant_id,
                platform=platform,
                name=name,
                base_url=base_url,
                credentials=credentials,
                cipher=runtime.cipher,
                settings=settings,
            )
    except RecordNotFoundError:
        _fail(f"no tenant {tenant_id}")
    console.print(f"connection {connection.id} ({platform} {base_url})")


if __name__ == "__main__":  # pragma: no cover
    app()
