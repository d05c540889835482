"""Faults injected into the next matching REST calls, from the control surface."""

from __future__ import annotations

from typing import Literal, TypeAlias

from returnbridge.sandbox.common import faults

FaultKind = Literal[
    "http_429",
    "http_500",
    "http_502",
    "http_503",
    "latency",
    "timeout_after_commit",
    "connection_reset",
    "connection_reset_after_commit",
]
Fault: TypeAlias = faults.Fault[FaultKind]
"""A pending fault; its ``scope`` is the store it targets (any when None)."""


class FaultPlan(faults.FaultQueue[FaultKind]):
    """Pending faults, consumed in the order they were added, scoped by store."""

    def __init__(self) -> None:
        super().__init__(FaultKind, scope="store")
