"""Faults injected into the next matching API calls, from the control surface."""

from __future__ import annotations

from typing import Literal, TypeAlias

from returnbridge.sandbox.common import faults

FaultKind = Literal["throttled", "server_error", "unavailable", "latency", "timeout_after_commit"]
Fault: TypeAlias = faults.Fault[FaultKind]
"""A pending fault; its ``scope`` is the store handle it targets (any when None)."""


class FaultPlan(faults.FaultQueue[FaultKind]):
    """Pending faults, consumed in the order they were added, scoped by store."""

    def __init__(self) -> None:
        super().__init__(FaultKind, scope="store")
