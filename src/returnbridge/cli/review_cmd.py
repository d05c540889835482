"""`returnbridge returns ...`: the review queue from a terminal (docs/review.md).

`list` and `show` read; `resolve`, `approve` and `cancel` decide, recorded on the timeline
with the operating-system user as actor (`cli:<user>`, or `--actor`). Resumed workflows are
queued for a running `returnbridge up` or `worker`, as the API does.
"""

from __future__ import annotations

import getpass
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    from returnbridge.engine.runtime import Runtime
    from returnbridge.store.tables import Return, TimelineEvent

returns_app = typer.Typer(
    help="Returns and the review queue: list, show, resolve, approve, cancel.",
    no_args_is_help=True,
)
_console = Console()

Tenant = Annotated[
    str, typer.Option("--tenant", envvar="RETURNBRIDGE_TENANT", help="the tenant id")
]
DataDir = Annotated[
    Path | None,
    typer.Option(help="where embedded data lives (default ./.returnbridge)", show_default=False),
]
Actor = Annotated[
    str | None,
    typer.Option(help="who decides, for the timeline (default cli:<user>)", show_default=False),
]
Reason = Annotated[str | None, typer.Option(help="why, kept on the timeline", show_default=False)]


def _actor(given: str | None) -> str:
    return given or f"cli:{getpass.getuser()}"


@contextmanager
def _runtime(data_dir: Path | None, *, enqueue: bool = False) -> Iterator[Runtime]:
    from returnbridge.cli.main import _open, _settings
    from returnbridge.engine.launch import launch_dbos, shutdown_dbos
    from returnbridge.engine.runtime import close_runtime

    settings = _settings(data_dir)
    runtime = _open(settings)
    if enqueue:
        launch_dbos(settings, work=False)
    try:
        yield runtime
    finally:
        if enqueue:
            shutdown_dbos()
        close_runtime()


@contextmanager
def _errors(return_id: str) -> Iterator[None]:
    """Our errors as one sentence on stderr: 1 for a refused decision, 2 for bad input."""
    from returnbridge.cli.main import _fail
    from returnbridge.domain.errors import DomainError, TransientError
    from returnbridge.store.errors import RecordNotFoundError

    try:
        yield
    except RecordNotFoundError:
        _fail(f"return {return_id} not found for this tenant")
    except DomainError as exc:
        _fail(f"{exc.code}: {exc.message}", code=2 if exc.code == "UNKNOWN_ORDER" else 1)
    except TransientError:
        _fail("the platform could not confirm the order just now; try again shortly")


def _why(parked: TimelineEvent | None) -> str:
    if parked is None:
        return ""
    return f"{parked.event}: {parked.reason or ''}".strip()


@returns_app.command("list")
def list_returns(
    tenant: Tenant,
    status: Annotated[
        str | None, typer.Option(help="e.g. needs_review", show_default=False)
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=200)] = 50,
    data_dir: DataDir = None,
) -> None:
    """Returns of a tenant, newest first; returns in review say why they wait."""
    from returnbridge.cli.main import _fail
    from returnbridge.domain.returns import ReturnStatus
    from returnbridge.store import decisions
    from returnbridge.store import returns as return_store

    known = {s.value for s in ReturnStatus}
    if status is not None and status not in known:
        _fail(f"--status must be one of {', '.join(sorted(known))}", code=2)
    with _runtime(data_dir) as runtime, runtime.reads() as session:
        page = return_store.list_returns(
            session, tenant, status=status, limit=limit, newest_first=True
        )
        waiting = [r.id for r in page.items if r.status == "needs_review"]
        parked = decisions.parked_events(session, tenant, waiting)
    table = Table(title=f"returns ({status or 'any status'})")
    for column in ("id", "external id", "status", "why", "candidates", "updated"):
        table.add_column(column)
    for record in page.items:
        table.add_row(
            record.id,
            escape(record.external_id),
            record.status,
            escape(_why(parked.get(record.id))),
            _best(record.candidates),
            record.updated_at.strftime("%Y-%m-%d %H:%M:%S"),
        )
    _console.print(table)
    if not page.items:
        _console.print("no returns", highlight=False)


def _best(candidates: list[Any] | None) -> str:
    scored = [c for c in candidates or [] if isinstance(c, dict)]
    if not scored:
        return ""
    top = ", ".join(f"{c.get('name') or c.get('order_id')} {c.get('score', '?')}" for c in scored)
    return escape(top)


@returns_app.command("show")
def show_return(return_id: str, tenant: Tenant, data_dir: DataDir = None) -> None:
    """One return: why it waits, its candidate orders with scores and reasons, its timeline."""
    from returnbridge.store import returns as return_store

    with _errors(return_id), _runtime(data_dir) as runtime, runtime.reads() as session:
        record = return_store.get_return(session, return_id, tenant_id=tenant)
        timeline = return_store.timeline(session, return_id, tenant_id=tenant)
    _show(record, timeline)


def _show(record: Return, timeline: list[TimelineEvent]) -> None:
    _console.print(
        f"[bold]{record.id}[/] ({escape(record.external_id)} r{record.revision})"
        f" status [bold]{record.status}[/]",
        highlight=False,
    )
    _console.print(f"order reference: {escape(str(record.order_ref))}", highlight=False)
    if record.matched_order_id:
        _console.print(
            f"matched order: {escape(record.matched_order_name or '')}"
            f" {escape(record.matched_order_id)}",
            highlight=False,
        )
    parked = next(
        (e for e in reversed(timeline) if e.to_status == "needs_review" != e.from_status), None
    )
    if record.status == "needs_review" and parked is not None:
        _console.print(f"[yellow]waiting:[/] {escape(_why(parked))}", highlight=False)
    candidates = [c for c in record.candidates or [] if isinstance(c, dict)]
    if candidates:
        table = Table(title="candidate orders")
        for column in ("order id", "name", "placed", "score", "reasons"):
            table.add_column(column)
        for c in candidates:
            table.add_row(
                escape(str(c.get("order_id"))),
                escape(str(c.get("name") or "")),
                escape(str(c.get("created_at") or "")[:10]),
                str(c.get("score", "")),
                escape("\n".join(c.get("reasons") or [])),
            )
        _console.print(table)
    events = Table(title="timeline")
    for column in ("at", "event", "status", "actor", "reason"):
        events.add_column(column)
    for e in timeline:
        events.add_row(
            e.at.strftime("%Y-%m-%d %H:%M:%S"),
            e.event,
            e.to_status or "",
            escape(e.actor),
            escape(e.reason or ""),
        )
    _console.print(events)


def _decide(
    return_id: str,
    tenant: str,
    data_dir: Path | None,
    decision: Callable[[Runtime], Return],
    *,
    enqueue: bool,
) -> None:
    with _errors(return_id), _runtime(data_dir, enqueue=enqueue) as runtime:
        record = decision(runtime)
        _console.print(f"{record.id}: {record.status}", highlight=False)


@returns_app.command("resolve")
def resolve_return(
    return_id: str,
    *,
    tenant: Tenant,
    order: Annotated[
        str | None,
        typer.Option(help="the order id or name, e.g. '#1002'", show_default=False),
    ] = None,
    line: Annotated[
        list[str] | None,
        typer.Option(
            help="a corrected line SKU:QUANTITY (repeat for each); they replace the items",
            show_default=False,
        ),
    ] = None,
    reason: Reason = None,
    actor: Actor = None,
    data_dir: DataDir = None,
) -> None:
    """Pick the order of a return in review, or correct its items; its workflow resumes."""
    from returnbridge.engine import review

    lines = _lines(line) if line else None
    _decide(
        return_id,
        tenant,
        data_dir,
        lambda runtime: review.resolve(
            runtime,
            tenant,
            return_id,
            order=order,
            lines=lines,
            actor=_actor(actor),
            note=reason,
        ),
        enqueue=True,
    )


def _lines(given: list[str]) -> tuple[Any, ...]:
    from returnbridge.cli.main import _fail
    from returnbridge.domain.returns import ReturnLine

    lines = []
    for text in given:
        sku, _, quantity = text.rpartition(":")
        if not sku or not quantity.isdigit() or int(quantity) < 1:
            _fail(f"--line {text}: write SKU:QUANTITY, e.g. MUG-WHT:1", code=2)
        lines.append(ReturnLine(sku=sku, quantity=int(quantity)))
    return tuple(lines)


@returns_app.command("approve")
def approve_return(
    return_id: str,
    *,
    tenant: Tenant,
    reason: Reason = None,
    actor: Actor = None,
    data_dir: DataDir = None,
) -> None:
    """Approve a return waiting for approval; its workflow resumes."""
    from returnbridge.engine import review

    _decide(
        return_id,
        tenant,
        data_dir,
        lambda runtime: review.approve(
            runtime, tenant, return_id, actor=_actor(actor), note=reason
        ),
        enqueue=True,
    )


@returns_app.command("cancel")
def cancel_return(
    return_id: str,
    *,
    tenant: Tenant,
    reason: Reason = None,
    actor: Actor = None,
    data_dir: DataDir = None,
) -> None:
    """Cancel a return waiting on a decision (refused once a refund was started)."""
    from returnbridge.engine import review

    _decide(
        return_id,
        tenant,
        data_dir,
        lambda runtime: review.cancel(runtime, tenant, return_id, actor=_actor(actor), note=reason),
        enqueue=False,
    )
