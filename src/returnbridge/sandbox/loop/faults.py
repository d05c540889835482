"""Faults the control surface injects into the next matching calls.

``rate_limit`` (429), ``server_error`` (500), ``unavailable`` (503): answered instead of the
call. ``latency``: the call is held ``delay`` seconds, then served. ``timeout_after_commit``:
served and committed, then the answer is held ``delay`` seconds (default 30), so a client
times out on a write that happened. ``reset``: the connection breaks mid-answer, nothing is
done. ``processing_failed`` (operation ``processing``): the next queued processing fails.
"""

from __future__ import annotations

from typing import Literal, TypeAlias

from returnbridge.sandbox.common import faults

FaultKind = Literal[
    "rate_limit",
    "server_error",
    "unavailable",
    "latency",
    "timeout_after_commit",
    "reset",
    "processing_failed",
]
Fault: TypeAlias = faults.Fault[FaultKind]
PROCESSING = "processing"
"""The operation a ``processing_failed`` fault targets (the background completion)."""


class FaultPlan(faults.FaultQueue[FaultKind]):
    """Pending faults, consumed in the order they were added, scoped by shop."""

    def __init__(self) -> None:
        super().__init__(FaultKind, scope="shop")
