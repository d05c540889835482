"""The dashboard's pages and forms (`/dashboard/...`).

Reads are per tenant; the review decisions call `engine.review` exactly as the review API
does, so they carry the same guarantees. Pages are HTML with a strict Content-Security-Policy
(no inline script); the only script refreshes statuses from `/dashboard/returns/status`.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, FastAPI, Form, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from returnbridge.api.problems import ApiProblem
from returnbridge.api.review_queue import waiting_returns
from returnbridge.api.schemas import return_out
from returnbridge.connectors.registry import platforms as known_platforms
from returnbridge.dashboard import charts, queries, session
from returnbridge.dashboard.session import Session, SignInRefused
from returnbridge.domain.errors import ConnectorError, DomainError, TransientError
from returnbridge.domain.money import format_minor
from returnbridge.domain.returns import ReturnStatus
from returnbridge.engine import retries, review
from returnbridge.engine.runtime import Runtime
from returnbridge.observability import get_logger
from returnbridge.store import callbacks as callback_store
from returnbridge.store import email as email_store
from returnbridge.store import returns as return_store
from returnbridge.store.clock import utc_now
from returnbridge.store.connections import list_connections
from returnbridge.store.errors import CredentialsUnreadableError, RecordNotFoundError
from returnbridge.store.sources import list_sources
from returnbridge.store.tables import Tenant

HERE = Path(__file__).parent
log = get_logger(__name__)
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.filters["money"] = lambda minor, currency: (
    f"{format_minor(int(minor), currency)} {currency}" if minor is not None and currency else "—"
)


class DashboardRoute(APIRoute):
    """Answers in HTML with our own sentence, never an exception's text or problem+json: a
    form that does not validate, a post from another site, anything unexpected (logged)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            if request.method == "POST" and not session.same_site(_runtime(request), request):
                return _forbidden(request, "This form was sent from another site: refused.")
            try:
                return await handler(request)
            except RequestValidationError:
                return _message(
                    request, 400, "Not accepted", "The form was not filled in as expected."
                )
            except Exception:
                log.exception("dashboard_error", path=request.url.path, method=request.method)
                return _message(
                    request,
                    500,
                    "Something went wrong",
                    "The dashboard could not finish this; the gateway's log has the details. "
                    "Reload the page to see where things stand.",
                )

        return answer


router = APIRouter(prefix="/dashboard", include_in_schema=False, route_class=DashboardRoute)

CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
STATUSES = [s.value for s in ReturnStatus]
DONE = {
    "resolve": "resolved: it resumes",
    "approve": "approved: it resumes",
    "cancel": "cancelled",
    "retry": "sent through its workflow again",
}
"""The decisions a form may post, and what the page says once one is taken."""
TERMINAL = {"completed", "failed", "cancelled"}


def install(app: FastAPI) -> None:
    """Serve the dashboard on `app`: its pages and its static files."""
    # the files first: the router ends with a catch-all page for unknown addresses
    app.mount("/dashboard/static", StaticFiles(directory=HERE / "static"), name="dashboard-static")
    app.include_router(router)


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def _secure(request: Request) -> bool:
    return session.secure(_runtime(request), request)


def _page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    response = templates.TemplateResponse(request, name, context, status_code=status)
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    return response


def _to(
    path: str,
    request: Request | None = None,
    *,
    next: str | None = None,
    done: str | None = None,
    problem: str | None = None,
) -> RedirectResponse:
    """See other: one of our pages, with what to tell the reader there (signed, so a link
    from elsewhere cannot put words on our pages)."""
    wanted = {"next": next} if next else {}
    if request is not None and (done or problem):
        wanted["flash"] = session.flash(_runtime(request), done=done, problem=problem)
    suffix = f"?{urlencode(wanted)}" if wanted else ""
    return RedirectResponse(f"/dashboard{path}{suffix}", status_code=303)


async def _signed_in(request: Request) -> Session | None:
    return await run_in_threadpool(session.load, _runtime(request), request)


def _tenant_name(runtime: Runtime, tenant_id: str) -> str | None:
    with runtime.reads() as db:
        tenant = db.get(Tenant, tenant_id)
    return tenant.name if tenant else None


async def _context(request: Request, who: Session, **extra: Any) -> dict[str, Any]:
    runtime = _runtime(request)
    done, problem = session.read_flash(runtime, request.query_params.get("flash"))
    name = (
        await run_in_threadpool(_tenant_name, runtime, str(who.tenant_id))
        if who.tenant_id
        else None
    )
    return {
        "who": who,
        "tenant_name": name,
        "csrf": who.csrf,
        "done": done,
        "problem": problem,
        **extra,
    }


async def _viewer(request: Request) -> Session | Response:
    """The signed-in session with a tenant chosen, or where to go instead."""
    who = await _signed_in(request)
    if who is None:
        return _to("/sign-in", next=request.url.path)
    if who.tenant_id is None:
        return _to("/tenants")
    return who


# ----------------------------------------------------------------------------- sign-in


@router.get("", response_class=HTMLResponse)
async def home(request: Request) -> Response:
    viewer = await _viewer(request)
    return viewer if isinstance(viewer, Response) else _to("/returns")


@router.get("/sign-in", response_class=HTMLResponse)
async def sign_in_page(request: Request, next: str | None = None) -> Response:
    return _page(request, "sign_in.html", who=None, next=next, problem=None)


def _local(path: str | None) -> str:
    """Only our own pages are followed after sign-in (no open redirect)."""
    if path and path.startswith("/dashboard/") and "//" not in path and "\\" not in path:
        return path
    return "/dashboard/returns"


@router.post("/sign-in", response_class=HTMLResponse)
async def sign_in(
    request: Request, key: Annotated[str, Form(max_length=500)], next: Annotated[str, Form()] = ""
) -> Response:
    runtime = _runtime(request)
    client = request.client.host if request.client else "unknown"
    try:
        who = await run_in_threadpool(
            session.sign_in, runtime, request.app.state.auth_throttle, client, key
        )
    except SignInRefused as refused:
        return _page(request, "sign_in.html", 401, who=None, next=next, problem=str(refused))
    except ApiProblem as problem:  # too many failed sign-ins from this address
        return _page(
            request, "sign_in.html", problem.status, who=None, next=next, problem=problem.detail
        )
    target = "/dashboard/tenants" if who.admin else _local(next)
    response = RedirectResponse(target, status_code=303)
    session.save(runtime, response, who, secure=_secure(request))
    return response


@router.post("/sign-out")
async def sign_out(request: Request, csrf: Annotated[str, Form()] = "") -> Response:
    who = await _signed_in(request)
    if who is not None and not session.csrf_ok(who, csrf):
        return _forbidden(request)
    response = _to("/sign-in")
    session.forget(response)
    return response


def _forbidden(request: Request, message: str | None = None) -> HTMLResponse:
    return _message(
        request,
        403,
        "Refused",
        message or "The form's security token is missing or stale: reload the page and try again.",
    )


def _message(request: Request, status: int, title: str, message: str) -> HTMLResponse:
    return _page(request, "message.html", status, who=None, title=title, message=message)


@router.get("/tenants", response_class=HTMLResponse)
async def tenants(request: Request) -> Response:
    who = await _signed_in(request)
    if who is None:
        return _to("/sign-in")
    if not who.admin:
        return _to("/returns")

    def read() -> list[Tenant]:
        with _runtime(request).reads() as db:
            return list(db.scalars(select(Tenant).order_by(Tenant.name)))

    rows = await run_in_threadpool(read)
    return _page(request, "tenants.html", **await _context(request, who, tenants=rows))


@router.post("/tenants")
async def choose_tenant(
    request: Request,
    tenant_id: Annotated[str, Form(max_length=40)],
    csrf: Annotated[str, Form()] = "",
) -> Response:
    who = await _signed_in(request)
    if who is None or not who.admin:
        return _to("/sign-in")
    if not session.csrf_ok(who, csrf):
        return _forbidden(request)
    runtime = _runtime(request)
    if await run_in_threadpool(_tenant_name, runtime, tenant_id) is None:
        return _to("/tenants", request, problem=f"no tenant {tenant_id}")
    response = _to("/returns")
    chosen = Session(csrf=who.csrf, tenant_id=tenant_id, admin=True, key_fp=who.key_fp)
    session.save(runtime, response, chosen, secure=_secure(request))
    return response


# ----------------------------------------------------------------------------- returns


@router.get("/returns", response_class=HTMLResponse)
async def returns_page(
    request: Request,
    status: Annotated[str | None, Query(max_length=32)] = None,
    platform: Annotated[str | None, Query(max_length=32)] = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> Response:
    viewer = await _viewer(request)
    if isinstance(viewer, Response):
        return viewer
    wanted = queries.ReturnFilter(
        status=status if status in STATUSES else None,
        platform=platform if platform in known_platforms() else None,
        text=(q or "").replace("\x00", "") or None,
    )
    runtime = _runtime(request)
    tenant_id = str(viewer.tenant_id)

    def read() -> tuple[list[Any], queries.Figures]:
        with runtime.reads() as db:
            rows = queries.find_returns(
                db, tenant_id, wanted, limit=queries.PAGE + 1, skip=(page - 1) * queries.PAGE
            )
            return rows, queries.figures(db, tenant_id, now=utc_now())

    rows, figures = await run_in_threadpool(read)
    more = len(rows) > queries.PAGE
    rows = rows[: queries.PAGE]
    kept = {"status": wanted.status, "platform": wanted.platform, "q": wanted.text}
    kept = {k: v for k, v in kept.items() if v}
    return _page(
        request,
        "returns.html",
        **await _context(
            request,
            viewer,
            rows=rows,
            page=page,
            newer=urlencode({**kept, "page": page - 1}) if page > 1 else None,
            older=urlencode({**kept, "page": page + 1}) if more else None,
            live=[r.id for r, _platform in rows if r.status not in TERMINAL],
            wanted=wanted,
            statuses=STATUSES,
            platforms=known_platforms(),
            per_day=charts.returns_per_day(figures),
            per_currency=charts.refunds_per_currency(figures),
            to_refund=charts.time_to_refund(figures),
            terminal=TERMINAL,
        ),
    )


@router.get("/returns/status")
async def live_status(
    request: Request, ids: Annotated[str, Query(max_length=4000)] = ""
) -> Response:
    """{return id: status} of the returns on the page (polled by dashboard.js)."""
    who = await _signed_in(request)
    if who is None or who.tenant_id is None:
        return JSONResponse({"signed_in": False}, status_code=401)
    wanted = [i for i in ids.split(",") if i][:200]
    tenant_id = who.tenant_id

    def read() -> dict[str, str]:
        with _runtime(request).reads() as db:
            return queries.statuses_of(db, tenant_id, wanted)

    return JSONResponse({"statuses": await run_in_threadpool(read)})


def _platform_link(platform: str, base_url: str, order_id: str | None) -> str | None:
    """The order in the platform's admin, where its address can be built from ours."""
    if not order_id:
        return None
    number = order_id.rsplit("/", 1)[-1]
    if platform == "shopify":
        return f"{base_url.rstrip('/')}/admin/orders/{number}"
    if platform == "woocommerce":
        return f"{base_url.rstrip('/')}/wp-admin/post.php?post={number}&action=edit"
    return None


@router.get("/returns/{return_id}", response_class=HTMLResponse)
async def return_page(request: Request, return_id: str) -> Response:
    viewer = await _viewer(request)
    if isinstance(viewer, Response):
        return viewer
    runtime = _runtime(request)
    tenant_id = str(viewer.tenant_id)

    def read() -> dict[str, Any] | None:
        with runtime.reads() as db:
            try:
                record = return_store.get_return(db, return_id, tenant_id=tenant_id)
            except RecordNotFoundError:
                return None
            timeline = return_store.timeline(db, return_id, tenant_id=tenant_id)
            refunds = queries.refunds_of(db, tenant_id, return_id)
            connection = next(
                (
                    c
                    for c in list_connections(db, tenant_id, platform=None)
                    if c.id == record.connection_id
                ),
                None,
            )
        out = return_out(record, base_url=runtime.settings.resolved_public_url, timeline=timeline)
        platform = connection.platform if connection else "?"
        link = _platform_link(
            platform, connection.base_url if connection else "", record.matched_order_id
        )
        return {"ret": out, "refunds": refunds, "platform": platform, "order_link": link}

    found = await run_in_threadpool(read)
    if found is None:
        return _page(
            request,
            "message.html",
            404,
            **await _context(
                request, viewer, title="Not found", message=f"No return {return_id} here."
            ),
        )
    return _page(
        request, "return.html", **await _context(request, viewer, terminal=TERMINAL, **found)
    )


# ----------------------------------------------------------------------------- review


@router.get("/review", response_class=HTMLResponse)
async def review_page(request: Request) -> Response:
    viewer = await _viewer(request)
    if isinstance(viewer, Response):
        return viewer
    runtime = _runtime(request)
    tenant_id = str(viewer.tenant_id)

    def read() -> list[Any]:
        return waiting_returns(runtime, tenant_id, limit=100)[0]

    waiting = await run_in_threadpool(read)
    return _page(request, "review.html", **await _context(request, viewer, waiting=waiting))


@router.post("/returns/{return_id}/{decision}")
async def decide(
    request: Request,
    return_id: str,
    decision: str,
    *,
    csrf: Annotated[str, Form()] = "",
    order: Annotated[str, Form(max_length=200)] = "",
    note: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """resolve (with an order), approve, cancel or retry, as the review API does."""
    viewer = await _viewer(request)
    if isinstance(viewer, Response):
        return viewer
    if not session.csrf_ok(viewer, csrf):
        return _forbidden(request)
    if decision not in DONE:
        return _to(f"/returns/{return_id}", request, problem=f"no decision {decision!r}")
    runtime = _runtime(request)
    tenant_id = str(viewer.tenant_id)
    actor = f"dashboard:{viewer.who}"
    reason = note.replace("\x00", "").strip() or None
    chosen = order.replace("\x00", "").strip()

    def act() -> None:
        if decision == "retry":
            retries.retry_return(runtime, tenant_id, return_id, actor=actor, reason=reason)
        elif decision == "approve":
            review.approve(runtime, tenant_id, return_id, actor=actor, note=reason)
        elif decision == "cancel":
            review.cancel(runtime, tenant_id, return_id, actor=actor, note=reason)
        else:
            if not chosen:
                raise DomainError(
                    "ORDER_REQUIRED", "pick the order (a candidate, or an order id or number)"
                )
            review.resolve(
                runtime, tenant_id, return_id, order=chosen, lines=None, actor=actor, note=reason
            )

    try:
        await run_in_threadpool(act)
    except RecordNotFoundError:
        return _to("/review", request, problem=f"return {return_id} not found")
    except DomainError as exc:
        return _to(f"/returns/{return_id}", request, problem=exc.message)
    except TransientError:
        return _to(
            f"/returns/{return_id}",
            request,
            problem="the platform could not confirm the order just now; try again shortly",
        )
    except (ConnectorError, CredentialsUnreadableError):
        return _to(
            f"/returns/{return_id}",
            request,
            problem="the platform refused to look the order up: check the connection's "
            "credentials on the Connections page",
        )
    return _to(f"/returns/{return_id}", request, done=DONE[decision])


# ----------------------------------------------------------------------------- the rest


@router.get("/connections", response_class=HTMLResponse)
async def connections_page(request: Request) -> Response:
    viewer = await _viewer(request)
    if isinstance(viewer, Response):
        return viewer
    runtime = _runtime(request)
    tenant_id = str(viewer.tenant_id)

    def read() -> list[Any]:
        with runtime.reads() as db:
            rows = list_connections(db, tenant_id, platform=None)
            history = queries.connection_history(db, tenant_id)
        return [
            (c, runtime.connection_health(c.id), history.get(c.id, queries.ConnectionHistory()))
            for c in rows
        ]

    items = await run_in_threadpool(read)
    return _page(request, "connections.html", **await _context(request, viewer, items=items))


@router.get("/sources", response_class=HTMLResponse)
async def sources_page(request: Request) -> Response:
    viewer = await _viewer(request)
    if isinstance(viewer, Response):
        return viewer
    tenant_id = str(viewer.tenant_id)

    def read() -> tuple[list[Any], dict[str, queries.Deliveries]]:
        with _runtime(request).reads() as db:
            return list_sources(db, tenant_id), queries.push_deliveries(db, tenant_id)

    rows, pushed = await run_in_threadpool(read)
    return _page(
        request, "sources.html", **await _context(request, viewer, sources=rows, pushed=pushed)
    )


@router.get("/deliveries", response_class=HTMLResponse)
async def deliveries_page(request: Request) -> Response:
    viewer = await _viewer(request)
    if isinstance(viewer, Response):
        return viewer
    tenant_id = str(viewer.tenant_id)

    def read() -> tuple[list[Any], list[Any]]:
        with _runtime(request).reads() as db:
            emails = email_store.list_deliveries(db, tenant_id, limit=100)
            return emails, callback_store.list_deliveries(db, tenant_id, limit=100)

    emails, callbacks = await run_in_threadpool(read)
    return _page(
        request,
        "deliveries.html",
        **await _context(request, viewer, emails=emails, callbacks=callbacks),
    )


@router.get("/{unknown:path}", response_class=HTMLResponse)
async def no_such_page(request: Request, unknown: str) -> Response:
    """Any other address under /dashboard: a page in our words, not the API's 404."""
    if not unknown.strip("/"):
        return await home(request)
    who = await _signed_in(request)
    if who is None:
        return _message(request, 404, "Not found", "There is no such page.")
    context = await _context(request, who, title="Not found", message="There is no such page.")
    return _page(request, "message.html", 404, **context)
