"""The Loop Returns sandbox app: the API under `/api/{version}/`, the control surface under
`/_sandbox/`. Contract and sources: docs/sandbox-loop.md."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import httpx
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from returnbridge.sandbox.common.control import (
    control_router,
    fault_seed_model,
    faults_and_journal_routes,
)
from returnbridge.sandbox.loop.state import (
    Delivery,
    Draft,
    FaultKind,
    LoopReturn,
    LoopSimulator,
    Note,
    Order,
    OrderLine,
    ReturnLine,
    Shop,
    Webhook,
    money,
)

_log = logging.getLogger(__name__)
VERSIONS = frozenset({"2026-07", "2026-10", "v1", "unstable"})
UNAUTHORIZED = {
    "error": {"code": "401", "http_code": "GEN-UNAUTHORIZED", "message": "Unauthorized."}
}


class _Api(Exception):
    def __init__(self, status: int, body: Any) -> None:
        self.status, self.body = status, body


def sign(secret: str, body: bytes) -> str:
    """X-Loop-Signature: base64 of HMAC-SHA256 over the raw body, keyed by the secret."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def _return_json(sim: LoopSimulator, r: LoopReturn) -> dict[str, Any]:
    order = r.order
    return {
        "id": r.id,
        "state": r.state,
        "created_at": sim.now_iso(r.created_at),
        "updated_at": sim.now_iso(r.updated_at),
        "total": money(r.total),
        "outcome": "refund",
        "order_id": str(order.provider_order_id + 7),  # Loop's own order id, not Shopify's
        "order_name": order.name,
        "provider_order_id": order.provider_order_id,
        "provider_order_external_id": str(order.provider_order_id),
        "customer": order.email,
        "currency": order.currency,
        "refund": money(r.refund if r.refund is not None else Decimal(0)),
        "return_product_total": money(r.product_total),
        "return_discount_total": money(r.discount_total),
        "return_tax_total": money(r.tax_total),
        "return_total": money(r.total),
        "line_items": [
            {
                "line_item_id": ln.id,
                "provider_line_item_id": str(ln.line.id),
                "sku": ln.line.sku,
                "title": ln.line.title,
                "quantity": ln.quantity,
                "price": money(ln.line.price),
                "discount": money(ln.share(ln.line.discount)),
                "tax": money(ln.share(ln.line.tax)),
                "reason": ln.reason,
            }
            for ln in r.lines
        ],
    }


def _webhook(sim: LoopSimulator, r: LoopReturn, trigger: str, message: str | None = None) -> None:
    topic = "return.processing" if trigger == "return.processing.failed" else "return"
    body: dict[str, Any] = {"topic": topic, "trigger": trigger, "shop_id": r.shop}
    body |= _return_json(sim, r)
    if message is not None:
        body["message"] = message
    sim.emit(r, trigger, json.dumps(body).encode(), sign)


def _send(delivery: Delivery) -> None:
    def post() -> None:
        try:
            response = httpx.post(
                delivery.url,
                content=delivery.body,
                headers={
                    "Content-Type": "application/json",
                    "X-Loop-Signature": delivery.signature,
                },
                timeout=10,
            )
            delivery.status_code = response.status_code
        except httpx.HTTPError as error:
            delivery.error = type(error).__name__

    threading.Thread(target=post, daemon=True).start()


class _Gate:
    """Version, auth, rate limit, faults and the journal, around every API call."""

    def __init__(self, sim: LoopSimulator) -> None:
        self.sim = sim

    def __call__(self, request: Request, version: str, operation: str) -> tuple[Shop, Any]:
        sim = self.sim
        if version not in VERSIONS:
            raise _Api(404, {"message": "Not Found"})
        shop = sim.shop_by_key(request.headers.get("x-authorization"))
        if shop is None:
            raise _Api(401, UNAUTHORIZED)
        if not sim.allow(shop):
            raise _Api(429, {"message": "Too Many Attempts."})
        fault = sim.faults.take(operation=operation, scope=shop.name)
        if fault is not None and fault.kind == "rate_limit":
            raise _Api(429, {"message": "Too Many Attempts."})
        if fault is not None and fault.kind == "server_error":
            raise _Api(500, {"message": "Server Error"})
        return shop, fault


class OrderSeed(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    provider_order_id: int
    email: str
    zip: str = "10001"
    currency: str | None = None
    line_items: list[dict[str, Any]] = Field(
        description="id (the Shopify line item id), sku, title, quantity, price (unit),"
        " tax (whole line), discount (whole line)"
    )


class ShopSeed(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    api_key: str
    currency: str = "USD"
    auto_process_seconds: float | None = Field(
        default=0.5,
        description="seconds until a queued processing completes; null: only on"
        " POST /_sandbox/shops/{shop}/process_pending",
    )
    unavailable_orders: list[str] = Field(
        default_factory=list, description="order names no return policy covers"
    )


class WebhookSeed(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str
    secret: str


def create_app(clock: Callable[[], float] | None = None, *, tick: float = 0.05) -> FastAPI:
    """A fresh Loop sandbox; `clock()` gives seconds (default `time.time`)."""
    sim = LoopSimulator(clock or time.time)
    sim.sender = _send
    gate = _Gate(sim)
    app = FastAPI(title="Loop Returns sandbox", docs_url="/_sandbox/docs")
    app.state.simulator = sim

    @app.exception_handler(_Api)
    async def _api_error(request: Request, error: _Api) -> JSONResponse:
        sim.journal.record(
            shop=None,
            operation="refused",
            method=request.method,
            path=request.url.path,
            status=error.status,
        )
        return JSONResponse(error.body, status_code=error.status)

    def answer(request: Request, shop: Shop, operation: str, body: Any, fault: Any) -> Any:
        sim.journal.record(
            shop=shop.name,
            operation=operation,
            method=request.method,
            path=request.url.path,
            status=200,
        )
        if fault is not None and fault.kind == "timeout_after_commit":
            time.sleep(fault.hold_seconds)
        return body

    def find_return(shop: Shop, return_id: int) -> LoopReturn:
        found = sim.returns.get(return_id)
        if found is None or found.shop != shop.name:
            raise _Api(404, {"message": "Return not found."})
        return found

    def draft_json(draft: Draft) -> dict[str, Any]:
        base = f"/draft-returns/{draft.id}"
        return {
            "draft_return": {
                "id": draft.id,
                "state": draft.state,
                "currency": draft.order.currency,
                "language": "en",
                "order_name": draft.order.name,
                "return_id": draft.return_id,
                "line_items": [
                    {"line_item_id": ln.line.id, "quantity": ln.quantity, "reason": ln.reason}
                    for ln in draft.lines
                ],
            },
            "context": {
                "order": {
                    "name": draft.order.name,
                    "line_items": [
                        {"id": ln.id, "sku": ln.sku, "title": ln.title, "quantity": ln.quantity}
                        for ln in draft.order.lines
                    ],
                }
            },
            "_links": {
                "self": {"href": base},
                "line-items": {"href": f"{base}/line-items"},
                "submit": {"href": f"{base}/submit"},
            },
            "_templates": {
                "add-line-item": {
                    "method": "POST",
                    "target": f"{base}/line-items",
                    "properties": [
                        {"name": "line_item_id", "required": True},
                        {"name": "quantity", "required": True},
                        {"name": "reason"},
                    ],
                },
                "submit": {"method": "POST", "target": f"{base}/submit", "properties": []},
            },
            "errors": [],
        }

    @app.post("/api/{version}/draft-returns")
    def create_draft(version: str, request: Request, body: dict[str, Any]) -> Any:
        with sim.lock:
            shop, fault = gate(request, version, "createDraftReturn")
            name = str(body.get("order_name") or "")
            order = shop.orders.get(name) or shop.orders.get(name.lstrip("#"))
            secondary = str(body.get("secondary_input") or "").strip().lower()
            if order is None or secondary not in {order.email.lower(), order.zip.lower()}:
                raise _Api(
                    422,
                    {
                        "errors": [
                            {
                                "code": "order-not-found",
                                "message": "No order matches that name and secondary input.",
                            }
                        ]
                    },
                )
            draft = Draft(sim.next_id(), shop.name, order, bool(body.get("is_gift")))
            sim.drafts[draft.id] = draft
            return JSONResponse(
                answer(request, shop, "createDraftReturn", draft_json(draft), fault), 201
            )

    @app.post("/api/{version}/draft-returns/{draft_id}/line-items")
    def add_line(version: str, draft_id: int, request: Request, body: dict[str, Any]) -> Any:
        with sim.lock:
            shop, fault = gate(request, version, "addDraftLineItem")
            draft = sim.drafts.get(draft_id)
            if draft is None or draft.shop != shop.name:
                raise _Api(404, {"message": "Draft return not found."})
            if draft.state != "draft":
                raise _Api(
                    422,
                    {
                        "errors": [
                            {
                                "code": "draft-submitted",
                                "message": "The draft was submitted already.",
                            }
                        ]
                    },
                )
            wanted = str(body.get("line_item_id"))
            line = next((ln for ln in draft.order.lines if str(ln.id) == wanted), None)
            quantity = body.get("quantity")
            if line is None or not isinstance(quantity, int) or quantity < 1:
                raise _Api(
                    422,
                    {
                        "errors": [
                            {
                                "code": "invalid-line-item",
                                "message": "Unknown line item or quantity.",
                            }
                        ]
                    },
                )
            taken = _returned(sim, draft.order, line) + sum(
                ln.quantity for ln in draft.lines if ln.line is line
            )
            if taken + quantity > line.quantity:
                raise _Api(
                    422,
                    {
                        "errors": [
                            {
                                "code": "quantity-unavailable",
                                "message": "More units than remain returnable.",
                            }
                        ]
                    },
                )
            draft.lines.append(ReturnLine(sim.next_line_id(), line, quantity, body.get("reason")))
            return answer(request, shop, "addDraftLineItem", draft_json(draft), fault)

    @app.post("/api/{version}/draft-returns/{draft_id}/submit")
    def submit(version: str, draft_id: int, request: Request) -> Any:
        with sim.lock:
            shop, fault = gate(request, version, "submitDraftReturn")
            draft = sim.drafts.get(draft_id)
            if draft is None or draft.shop != shop.name:
                raise _Api(404, {"message": "Draft return not found."})
            if draft.order.name in shop.unavailable:
                raise _Api(
                    422,
                    {
                        "errors": [
                            {
                                "code": "returns-unavailable-for-order",
                                "message": "No return policy covers this order.",
                            }
                        ]
                    },
                )
            if not draft.lines:
                raise _Api(
                    422,
                    {
                        "errors": [
                            {
                                "code": "no-line-items",
                                "message": "Add a line item before submitting.",
                            }
                        ]
                    },
                )
            if draft.state == "draft":
                now = sim.clock()
                created = LoopReturn(sim.next_id(), shop.name, draft.order, draft.lines, now, now)
                sim.returns[created.id] = created
                draft.state, draft.return_id = "submitted", created.id
                _webhook(sim, created, "return.created")
            return answer(request, shop, "submitDraftReturn", draft_json(draft), fault)

    @app.get("/api/{version}/draft-returns")
    def list_drafts(version: str, request: Request) -> Any:
        with sim.lock:
            shop, fault = gate(request, version, "listDraftReturns")
            drafts = [draft_json(d) for d in sim.drafts.values() if d.shop == shop.name]
            return answer(request, shop, "listDraftReturns", {"draft_returns": drafts}, fault)

    def action(
        version: str, return_id: int, request: Request, operation: str
    ) -> tuple[Shop, Any, LoopReturn]:
        shop, fault = gate(request, version, operation)
        return shop, fault, find_return(shop, return_id)

    @app.post("/api/{version}/warehouse/return/{return_id}/process")
    def process(version: str, return_id: int, request: Request) -> Any:
        with sim.lock:
            shop, fault, found = action(version, return_id, request, "processReturn")
            body: Any = True
            if found.state == "cancelled":
                body = {"message": "Return is cancelled and therefore cannot be processed."}
            elif found.state == "review":
                body = {"message": "Return is review and therefore cannot be processed."}
            elif found.state != "open":
                body = _unprocessable(found)
            elif found.processing_due is None:
                delay = shop.auto_process_seconds
                found.processing_due = sim.clock() + delay if delay is not None else float("inf")
            return answer(request, shop, "processReturn", body, fault)

    @app.post("/api/{version}/warehouse/return/{return_id}/close")
    def close(version: str, return_id: int, request: Request) -> Any:
        with sim.lock:
            shop, fault, found = action(version, return_id, request, "closeReturn")
            if found.state == "cancelled":
                body: Any = {"message": "Return is cancelled and therefore cannot be processed."}
            elif found.state != "open":
                body = _unprocessable(found)
            else:
                found.state, found.refund, found.updated_at = "closed", Decimal(0), sim.clock()
                found.processing_due = None
                _webhook(sim, found, "return.closed")
                body = True
            return answer(request, shop, "closeReturn", body, fault)

    @app.post("/api/{version}/warehouse/return/{return_id}/cancel")
    def cancel(version: str, return_id: int, request: Request) -> Any:
        with sim.lock:
            shop, fault, found = action(version, return_id, request, "cancelReturn")
            if found.state == "expired":
                body: Any = {"content": "Return is expired and cannot be processed."}
            elif found.state == "review":
                body = {"content": "Return is flagged and cannot be processed."}
            elif found.state != "open":
                body = _unprocessable(found)
            else:
                found.state, found.updated_at, found.processing_due = "cancelled", sim.clock(), None
                _webhook(sim, found, "return.updated")
                body = True
            return answer(request, shop, "cancelReturn", body, fault)

    @app.post("/api/{version}/warehouse/return/{return_id}/flag")
    def flag(version: str, return_id: int, request: Request) -> Any:
        with sim.lock:
            shop, fault, found = action(version, return_id, request, "flagReturn")
            if found.state == "open":
                found.state, found.updated_at, found.processing_due = "review", sim.clock(), None
                _webhook(sim, found, "return.updated")
            return answer(request, shop, "flagReturn", True, fault)

    @app.get("/api/{version}/warehouse/return/{return_id}/notes")
    def notes(version: str, return_id: int, request: Request) -> Any:
        with sim.lock:
            shop, fault, found = action(version, return_id, request, "getReturnNotes")
            if not found.notes:
                raise _Api(422, "false")
            listed = [
                {"id": n.id, "content": n.content, "created_at": sim.now_iso(n.created_at)}
                for n in found.notes
            ]
            return answer(request, shop, "getReturnNotes", {"notes": listed}, fault)

    @app.post("/api/{version}/warehouse/return/{return_id}/note")
    def note(version: str, return_id: int, request: Request, body: dict[str, Any]) -> Any:
        with sim.lock:
            shop, fault, found = action(version, return_id, request, "createReturnNote")
            content = body.get("content")
            if not isinstance(content, str) or not content or len(content) >= 255:
                raise _Api(
                    422,
                    {
                        "errors": {
                            "message": "Content is required and must be less than 255 characters."
                        }
                    },
                )
            found.notes.append(Note(sim.next_line_id(), content, sim.clock()))
            return answer(request, shop, "createReturnNote", "true", fault)

    @app.get("/api/{version}/warehouse/return/details")
    def details(
        version: str, request: Request, return_id: int | None = None, order_name: str | None = None
    ) -> Any:
        with sim.lock:
            shop, fault = gate(request, version, "getReturnDetails")
            found: LoopReturn | None = None
            if return_id is not None:
                found = find_return(shop, return_id)
            elif order_name is not None:
                found = next(
                    (
                        r
                        for r in sim.returns.values()
                        if r.shop == shop.name and r.order.name in (order_name, "#" + order_name)
                    ),
                    None,
                )
            if found is None:
                raise _Api(404, {"message": "Return not found."})
            data = _return_json(sim, found)
            data["notes"] = [{"id": n.id, "content": n.content} for n in found.notes]
            return answer(request, shop, "getReturnDetails", data, fault)

    @app.get("/api/{version}/warehouse/return/list")
    def list_returns(version: str, request: Request) -> Any:
        with sim.lock:
            shop, fault = gate(request, version, "getDetailedReturnsList")
            query = request.query_params
            start, end = _instant(query.get("from"), "from"), _instant(query.get("to"), "to")
            if end - start > 120 * 86400:
                raise _Api(
                    422,
                    {
                        "message": "The date range may not exceed 120 days.",
                        "errors": {"to": ["range too long"]},
                    },
                )
            by = query.get("filter", "created_at")
            state = query.get("state")
            if state is not None and state not in (
                "open",
                "closed",
                "cancelled",
                "expired",
                "review",
            ):
                raise _Api(422, {"message": "The selected state is invalid.", "errors": {}})
            rows = sorted(
                (
                    r
                    for r in sim.returns.values()
                    if r.shop == shop.name
                    and start <= (r.updated_at if by == "updated_at" else r.created_at) <= end
                    and (state is None or r.state == state)
                ),
                key=lambda r: r.id,
            )
            data = [_return_json(sim, r) for r in rows]
            if query.get("paginate") not in ("true", "1"):
                return answer(request, shop, "getDetailedReturnsList", data, fault)
            size = max(1, min(int(query.get("pageSize") or 100), 750))
            after = int(query.get("cursor") or 0)
            page = [d for d in data if int(d["id"]) > after][:size]
            more = len([d for d in data if int(d["id"]) > after]) > size
            params = {k: v for k, v in query.items() if k != "cursor"}
            next_url = (
                f"{request.url.path}?{urlencode({**params, 'cursor': page[-1]['id']})}"
                if more
                else None
            )
            body = {"returns": page, "nextPageUrl": next_url, "previousPageUrl": None}
            return answer(request, shop, "getDetailedReturnsList", body, fault)

    control = control_router()

    @control.post("/reset", status_code=204)
    def reset() -> Response:
        sim.reset()
        return Response(status_code=204)

    @control.post("/shops", status_code=201)
    def add_shop(seed: ShopSeed) -> dict[str, Any]:
        with sim.lock:
            sim.shops[seed.name] = Shop(
                seed.name,
                seed.api_key,
                seed.currency,
                seed.auto_process_seconds,
                unavailable=set(seed.unavailable_orders),
            )
        return {"name": seed.name}

    def shop_named(name: str) -> Shop:
        found = sim.shops.get(name)
        if found is None:
            raise HTTPException(404, f"unknown shop {name!r}")
        return found

    @control.post("/shops/{name}/orders", status_code=201)
    def add_order(name: str, seed: OrderSeed) -> dict[str, Any]:
        with sim.lock:
            shop = shop_named(name)
            lines = [
                OrderLine(
                    int(ln["id"]),
                    str(ln.get("sku") or ln["id"]),
                    str(ln.get("title") or ""),
                    int(ln["quantity"]),
                    Decimal(str(ln["price"])),
                    Decimal(str(ln.get("tax", "0"))),
                    Decimal(str(ln.get("discount", "0"))),
                )
                for ln in seed.line_items
            ]
            shop.orders[seed.name] = Order(
                seed.name,
                seed.provider_order_id,
                seed.email,
                seed.zip,
                seed.currency or shop.currency,
                lines,
            )
        return {"name": seed.name}

    @control.post("/shops/{name}/webhooks", status_code=201)
    def add_webhook(name: str, seed: WebhookSeed) -> dict[str, Any]:
        with sim.lock:
            shop_named(name).webhooks.append(Webhook(seed.url, seed.secret))
        return {"url": seed.url}

    @control.post("/shops/{name}/drop_webhooks")
    def drop_webhooks(name: str, body: dict[str, int]) -> dict[str, int]:
        with sim.lock:
            shop = shop_named(name)
            shop.drop_webhooks = int(body.get("count", 1))
            return {"drop_webhooks": shop.drop_webhooks}

    @control.get("/shops/{name}/webhook_deliveries")
    def deliveries(name: str) -> list[dict[str, Any]]:
        with sim.lock:
            return [
                {
                    "id": d.id,
                    "trigger": d.trigger,
                    "return_id": d.return_id,
                    "url": d.url,
                    "dropped": d.dropped,
                    "status_code": d.status_code,
                    "error": d.error,
                    "signature": d.signature,
                    "body": json.loads(d.body),
                }
                for d in sim.deliveries
                if d.shop == name
            ]

    @control.post("/shops/{name}/webhook_deliveries/{delivery_id}/resend")
    def resend(name: str, delivery_id: int) -> dict[str, Any]:
        with sim.lock:
            found = next(
                (d for d in sim.deliveries if d.shop == name and d.id == delivery_id), None
            )
            if found is None:
                raise HTTPException(404, f"unknown delivery {delivery_id}")
            found.dropped = False
        _send(found)
        return {"id": found.id}

    @control.post("/shops/{name}/process_pending")
    def process_pending(name: str) -> dict[str, int]:
        with sim.lock:
            shop_named(name)
            due = [
                r for r in sim.returns.values() if r.shop == name and r.processing_due is not None
            ]
            for r in due:
                r.processing_due = sim.clock()
        return {"processed": _finish_processing(sim)}

    @control.get("/shops/{name}/returns")
    def returns_of(name: str) -> list[dict[str, Any]]:
        with sim.lock:
            return [_return_json(sim, r) for r in sim.returns.values() if r.shop == name]

    seed_model = fault_seed_model(
        FaultKind, scope="shop", doc="The next `count` matching API calls of a shop fail."
    )
    control.include_router(faults_and_journal_routes(seed_model, scope="shop", calls="API"))
    app.include_router(control)

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    _start_ticker(sim, tick)
    return app


def _unprocessable(found: LoopReturn) -> dict[str, Any]:
    """Loop's refusal of an action on a settled return, answered with HTTP 200 [spec3p]."""
    message = f"Return is {found.state} and therefore cannot be processed."
    return {"errors": {"message": message, "code": "UNPROCESSABLE_RETURN"}}


def _returned(sim: LoopSimulator, order: Order, line: OrderLine) -> int:
    return sum(
        ln.quantity
        for r in sim.returns.values()
        if r.order is order and r.state != "cancelled"
        for ln in r.lines
        if ln.line is line
    )


def _instant(value: str | None, field: str) -> float:
    from datetime import datetime

    if not value:
        raise _Api(422, {"message": f"The {field} field is required.", "errors": {field: []}})
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise _Api(
            422, {"message": f"The {field} is not a valid date.", "errors": {field: []}}
        ) from None


def _finish_processing(sim: LoopSimulator) -> int:
    """Complete the queued processings that are due: refund and close, or fail."""
    finished = 0
    with sim.lock:
        for r in sim.due_processing():
            r.processing_due = None
            fault = sim.faults.take(operation="processing", scope=r.shop)
            if fault is not None and fault.kind == "processing_failed":
                _webhook(
                    sim,
                    r,
                    "return.processing.failed",
                    "An error was encountered during processing.",
                )
                continue
            r.state, r.refund, r.updated_at = "closed", r.total, sim.clock()
            _webhook(sim, r, "return.closed")
            finished += 1
    return finished


def _start_ticker(sim: LoopSimulator, tick: float) -> None:
    """Loop processes queued returns in the background: so does the sandbox."""

    def run() -> None:
        while True:
            time.sleep(tick)
            try:
                _finish_processing(sim)
            except Exception:  # a sandbox thread must keep ticking
                _log.exception("loop sandbox processing round failed")

    threading.Thread(target=run, name="loop-sandbox-processing", daemon=True).start()
