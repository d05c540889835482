"""The JSON Loop answers with: returns (details, list rows, webhook payloads), notes."""

from __future__ import annotations

from typing import Any

from returnbridge.sandbox.loop.money import ZERO, money
from returnbridge.sandbox.loop.simulator import Simulator
from returnbridge.sandbox.loop.state import LoopReturn, Note


def return_json(sim: Simulator, r: LoopReturn) -> dict[str, Any]:
    """A return as the details endpoint and the detailed list show it [docs, spec3p]."""
    order = r.order
    return {
        "id": r.id,
        "state": r.state,
        "created_at": sim.iso(r.created_at),
        "updated_at": sim.iso(r.updated_at),
        "total": money(r.total),
        "outcome": "refund",
        "order_id": str(order.loop_id),
        "order_name": order.name,
        "provider_order_id": order.provider_order_id,
        "provider_order_external_id": str(order.provider_order_id),
        "customer": order.email,
        "currency": order.currency,
        "refund": money(r.refund if r.refund is not None else ZERO),
        "return_product_total": money(r.product_total),
        "return_discount_total": money(r.discount_total),
        "return_tax_total": money(r.tax_total),
        "return_total": money(r.total),
        "label_url": None,
        "destination_id": None,
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
                "outcome": "refund",
            }
            for ln in r.lines
        ],
    }


def note_json(sim: Simulator, note: Note) -> dict[str, Any]:
    return {"id": note.id, "content": note.content, "created_at": sim.iso(note.created_at)}


def details_json(sim: Simulator, r: LoopReturn) -> dict[str, Any]:
    """The details endpoint: the return and its notes."""
    return {**return_json(sim, r), "notes": [note_json(sim, n) for n in r.notes]}
