"""Return actions: the state rules, apart from HTTP [docs, spec3p].

Each returns ``(answer, effect)``: ``True`` and what it did, or Loop's refusal body, which
Loop sends with **HTTP 200**. The caller holds the world's lock.

| state     | process            | close              | cancel             | flag          |
|-----------|--------------------|--------------------|--------------------|---------------|
| open      | queued             | closed, no refund  | cancelled          | review        |
| review    | "is review" msg    | closed, no refund  | "is flagged" msg   | state error   |
| closed    | state error        | state error        | state error        | state error   |
| expired   | state error        | state error        | "is expired" msg   | state error   |
| cancelled | "is cancelled" msg | "is cancelled" msg | state error        | state error   |

A queued processing is not queued twice: ``process`` again answers ``true``.
"""

from __future__ import annotations

from typing import Any

from returnbridge.sandbox.loop import processing, webhooks
from returnbridge.sandbox.loop.errors import (
    cannot_cancel,
    unprocessable_message,
    unprocessable_state,
)
from returnbridge.sandbox.loop.journal import Effect
from returnbridge.sandbox.loop.money import ZERO
from returnbridge.sandbox.loop.simulator import Simulator
from returnbridge.sandbox.loop.state import LoopReturn, Shop

Outcome = tuple[Any, Effect]


def _refused(body: dict[str, Any]) -> Outcome:
    return body, "refused_in_body"


def process(sim: Simulator, shop: Shop, r: LoopReturn) -> Outcome:
    if r.state in ("cancelled", "review"):
        return _refused(unprocessable_message(r.state))
    if r.state != "open":
        return _refused(unprocessable_state(r.state))
    processing.queue(sim, r, shop.auto_process_seconds)
    return True, "processing_queued"


def close(sim: Simulator, r: LoopReturn) -> Outcome:
    if r.state == "cancelled":
        return _refused(unprocessable_message(r.state))
    if r.state not in ("open", "review"):
        return _refused(unprocessable_state(r.state))
    r.state, r.refund, r.updated_at, r.processing_due = "closed", ZERO, sim.clock(), None
    webhooks.emit(sim, r, webhooks.CLOSED)
    return True, "return_closed"


def cancel(sim: Simulator, r: LoopReturn) -> Outcome:
    if r.state == "expired":
        return _refused(cannot_cancel("expired"))
    if r.state == "review":
        return _refused(cannot_cancel("flagged"))
    if r.state != "open":
        return _refused(unprocessable_state(r.state))
    r.state, r.updated_at, r.processing_due = "cancelled", sim.clock(), None
    webhooks.emit(sim, r, webhooks.UPDATED)
    return True, "return_cancelled"


def flag(sim: Simulator, r: LoopReturn) -> Outcome:
    if r.state != "open":
        return _refused(unprocessable_state(r.state))
    r.state, r.updated_at, r.processing_due = "review", sim.clock(), None
    webhooks.emit(sim, r, webhooks.UPDATED)
    return True, "return_flagged"
