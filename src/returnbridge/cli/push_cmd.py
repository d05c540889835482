"""`returnbridge push`: signed-push sources (add, rotate-secret, list) and signing deliveries.

`send_push` is what a vendor does: sign a body per Standard Webhooks and post it. The demo and
the tests call it; `returnbridge push sign` prints the headers for any HTTP client.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import httpx
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from returnbridge.api.signatures import sign
from returnbridge.store.push_sources import DEFAULT_OVERLAP, DEFAULT_TOLERANCE_SECONDS

if TYPE_CHECKING:
    from returnbridge.engine.runtime import Runtime

push_app = typer.Typer(help="Signed push sources (Standard Webhooks).", no_args_is_help=True)
_out = Console()
_errors = Console(stderr=True)

DataDir = Annotated[
    Path | None,
    typer.Option(help="where embedded data lives (default ./.returnbridge)", show_default=False),
]
Tenant = Annotated[str, typer.Option("--tenant", help="the tenant id (ten_...)")]


def send_push(
    http: httpx.Client,
    url: str,
    body: bytes,
    *,
    secret: str,
    webhook_id: str | None = None,
    at: datetime | None = None,
) -> httpx.Response:
    """POST `body` to a push source's delivery `url`, signed with `secret` as a vendor would.

    `webhook_id` defaults to a fresh `msg_...`; reuse one only to retry the same delivery.
    """
    headers = sign(
        body,
        secrets=[secret],
        webhook_id=webhook_id or f"msg_{uuid.uuid4().hex}",
        at=at or datetime.now(UTC),
    ).as_dict()
    return http.post(url, content=body, headers={**headers, "content-type": "application/json"})


def push_example(
    api: httpx.Client, *, name: str, payload: bytes, mapping: str | None = None
) -> httpx.Response:
    """Create a push source through the API and deliver one signed `payload` to it.

    `api` carries the tenant's key and the gateway's base URL (as the demo's client does);
    `mapping` is a mapping's YAML text. The answer is the delivery's (202 with the return).
    """
    created = api.post("/v1/push-sources", json={"name": name, "mapping": mapping})
    created.raise_for_status()
    source = created.json()
    path = f"/v1/push-sources/{source['id']}/deliveries"
    with httpx.Client(base_url=api.base_url, timeout=api.timeout) as vendor:
        return send_push(vendor, path, payload, secret=source["secret"])


def _fail(message: str, *, code: int = 1) -> NoReturn:
    _errors.print(f"[red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _open(data_dir: Path | None) -> Runtime:
    from returnbridge.engine.runtime import open_runtime
    from returnbridge.settings import Settings

    return open_runtime(Settings(data_dir=data_dir) if data_dir else Settings())


def _delivery_url(runtime: Runtime, source_id: str) -> str:
    return f"{runtime.settings.resolved_public_url}/v1/push-sources/{source_id}/deliveries"


@push_app.command("add")
def push_add(
    name: str,
    *,
    tenant: Tenant,
    connection: Annotated[
        str | None, typer.Option(help="where its returns go (default: the tenant's only one)")
    ] = None,
    mapping: Annotated[
        Path | None, typer.Option(help="a mapping file (YAML); none: canonical payloads")
    ] = None,
    tolerance: Annotated[
        int, typer.Option(help="seconds webhook-timestamp may be from our clock")
    ] = DEFAULT_TOLERANCE_SECONDS,
    data_dir: DataDir = None,
) -> None:
    """Create a push source; prints its signing secret once."""
    from returnbridge.api.signatures import new_secret
    from returnbridge.domain.errors import DomainError
    from returnbridge.store import push_sources
    from returnbridge.store.connections import chosen_connection_id
    from returnbridge.store.errors import RecordNotFoundError

    text = None
    if mapping is not None:
        try:
            text = mapping.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            _fail(f"cannot read mapping {mapping}: {exc}", code=2)
    runtime = _open(data_dir)
    secret = new_secret()
    try:
        with runtime.sessions.begin() as session:
            if connection is None:
                try:
                    connection = chosen_connection_id(session, tenant, None)
                except DomainError as exc:
                    _fail(f"{exc.message} with --connection")
            source = push_sources.create_push_source(
                session,
                tenant,
                name=name,
                connection_id=connection,
                secret=secret,
                cipher=runtime.cipher,
                mapping=text,
                tolerance=tolerance,
            )
    except RecordNotFoundError:
        _fail(f"no connection {connection} for tenant {tenant}")
    except DomainError as exc:
        _fail(exc.message)
    _out.print(f"push source {source.id} ({source.name}) -> connection {source.connection_id}")
    _out.print(f"delivery url: {_delivery_url(runtime, source.id)}")
    _out.print(f"signing secret (shown once): {secret}", highlight=False)


@push_app.command("rotate-secret")
def push_rotate_secret(
    source_id: str,
    *,
    tenant: Tenant,
    overlap_hours: Annotated[
        float, typer.Option(min=0, help="hours the current secrets stay valid beside the new one")
    ] = DEFAULT_OVERLAP.total_seconds() / 3600,
    data_dir: DataDir = None,
) -> None:
    """Add a new signing secret (printed once); the old one works until the overlap ends."""
    from returnbridge.api.signatures import new_secret
    from returnbridge.store import push_sources
    from returnbridge.store.errors import RecordNotFoundError

    runtime = _open(data_dir)
    secret = new_secret()
    try:
        with runtime.sessions.begin() as session:
            push_sources.rotate_secret(
                session,
                source_id,
                tenant_id=tenant,
                secret=secret,
                cipher=runtime.cipher,
                overlap=timedelta(hours=overlap_hours),
            )
    except RecordNotFoundError:
        _fail(f"no push source {source_id} for tenant {tenant}")
    until = datetime.now(UTC) + timedelta(hours=overlap_hours)
    _out.print(f"new signing secret (shown once): {secret}", highlight=False)
    _out.print(f"the previous secret stays valid until {until:%Y-%m-%d %H:%M:%S} UTC")


@push_app.command("list")
def push_list(*, tenant: Tenant, data_dir: DataDir = None) -> None:
    """The tenant's push sources with their active secrets (by fingerprint, never in full)."""
    from returnbridge.store import push_sources

    runtime = _open(data_dir)
    now = datetime.now(UTC)
    table = Table("id", "name", "status", "mapped", "connection", "active secrets", "delivery url")
    with runtime.reads() as session:
        for source in push_sources.list_push_sources(session, tenant):
            secrets = push_sources.signing_secrets(source, cipher=runtime.cipher)
            shown = [
                s.fingerprint + (f" until {s.expires_at:%Y-%m-%d %H:%M}" if s.expires_at else "")
                for s in secrets
                if s.active(now)
            ]
            table.add_row(
                source.id,
                escape(source.name),
                source.status,
                "yes" if source.mapping else "no",
                source.connection_id,
                "\n".join(shown),
                _delivery_url(runtime, source.id),
            )
    _out.print(table)


@push_app.command("sign")
def push_sign(
    body: Annotated[Path, typer.Argument(help="the exact bytes to send (a JSON file)")],
    *,
    secret: Annotated[
        str, typer.Option(envvar="RETURNBRIDGE_PUSH_SECRET", help="the whsec_ signing secret")
    ],
    webhook_id: Annotated[str | None, typer.Option("--id", help="default: a new msg_...")] = None,
) -> None:
    """Print Standard Webhooks headers for BODY signed now (for curl or any HTTP client)."""
    try:
        content = body.read_bytes()
    except OSError as exc:
        _fail(f"cannot read {body}: {exc}", code=2)
    try:
        headers = sign(
            content,
            secrets=[secret],
            webhook_id=webhook_id or f"msg_{uuid.uuid4().hex}",
            at=datetime.now(UTC),
        )
    except ValueError as exc:
        _fail(str(exc), code=2)
    for name, value in headers.as_dict().items():
        typer.echo(f"{name}: {value}")
