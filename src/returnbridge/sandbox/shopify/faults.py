"""Faults injected into the next matching GraphQL calls, from the control surface."""

from __future__ import annotations

from typing import Literal, TypeAlias

from returnbridge.sandbox.common import faults

FaultKind = Literal[
    "http_500", "http_502", "http_503", "throttled", "timeout_after_commit", "latency"
]
Fault: TypeAlias = faults.Fault[FaultKind]
"""A pending fault; its ``scope`` is the shop it targets (any when None)."""


class FaultPlan(faults.FaultQueue[FaultKind]):
    """Pending faults, consumed in the order they were added, scoped by shop."""

    def __init__(self) -> None:
        super().__init__(FaultKind, scope="shop")
