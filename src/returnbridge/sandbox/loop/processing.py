"""Loop processes a return asynchronously [docs]: ``process`` queues it; later the refund is
made (the sandbox records ``refund`` = ``return_total``; Loop would refund in Shopify), the
return closes and ``return.closed`` is sent, or, on a ``processing_failed`` fault, the return
stays open and ``return.processing.failed`` is sent with Loop's generic message.

Queued processings complete when due on the sandbox clock: checked before every API call,
every ``tick`` seconds by a background thread, and on the control surface's
``process_pending`` (which completes them all at once).
"""

from __future__ import annotations

import logging
import threading
import time
import weakref

from returnbridge.sandbox.loop import webhooks
from returnbridge.sandbox.loop.faults import PROCESSING
from returnbridge.sandbox.loop.simulator import Simulator
from returnbridge.sandbox.loop.state import LoopReturn

FAILED_MESSAGE = "An error was encountered during processing."
_log = logging.getLogger(__name__)


def queue(sim: Simulator, r: LoopReturn, delay: float | None) -> None:
    """Queue ``r`` (once): due after ``delay`` seconds, or only on ``process_pending``."""
    if r.processing_due is None:
        r.processing_due = sim.clock() + delay if delay is not None else float("inf")


def finish_due(sim: Simulator, *, shop: str | None = None, everything: bool = False) -> int:
    """Complete queued processings that are due (all of them with ``everything``), of one
    shop or all; the number that closed."""
    closed = 0
    with sim.world.lock:
        now = sim.clock()
        for r in list(sim.world.returns.values()):
            due = r.processing_due
            if due is None or (shop is not None and r.shop != shop):
                continue
            if everything or due <= now:
                closed += _complete(sim, r)
    return closed


def _complete(sim: Simulator, r: LoopReturn) -> int:
    r.processing_due = None
    fault = sim.faults.take(operation=PROCESSING, scope=r.shop)
    if fault is not None and fault.kind == "processing_failed":
        webhooks.emit(sim, r, webhooks.PROCESSING_FAILED, FAILED_MESSAGE)
        return 0
    r.state, r.refund, r.updated_at = "closed", r.total, sim.clock()
    webhooks.emit(sim, r, webhooks.CLOSED)
    return 1


def start_ticker(sim: Simulator, tick: float) -> None:
    """A daemon thread completing due processings every ``tick`` seconds; it ends when the
    simulator is garbage."""
    ref = weakref.ref(sim)

    def run() -> None:
        while True:
            time.sleep(tick)
            current = ref()
            if current is None:
                return
            try:
                finish_due(current)
            except Exception:  # a sandbox thread must keep ticking
                _log.exception("loop sandbox: a processing round failed")
            del current

    threading.Thread(target=run, name="loop-sandbox-processing", daemon=True).start()
