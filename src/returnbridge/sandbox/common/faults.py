"""Faults injected into the next matching calls of a sandbox, from its control surface.

Each platform names its own fault kinds (a ``Literal``) and the field that scopes a fault to
one tenant (``"shop"`` for Shopify, ``"store"`` elsewhere); what the kinds do is up to it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, get_args

Kind = TypeVar("Kind", bound=str)

DEFAULT_TIMEOUT_DELAY = 30.0
TIMEOUT_KIND = "timeout_after_commit"


@dataclass
class Fault(Generic[Kind]):
    """The next ``remaining`` calls matching operation and scope (store or shop) get this fault."""

    kind: Kind
    remaining: int
    operation: str | None = None
    scope: str | None = None
    delay: float | None = None

    def matches(self, *, operation: str | None, scope: str | None) -> bool:
        """Whether a call is targeted by this fault."""
        return (self.operation is None or self.operation == operation) and (
            self.scope is None or self.scope == scope
        )

    @property
    def hold_seconds(self) -> float:
        """How long the response is held (timeouts default to 30 s)."""
        if self.delay is not None:
            return self.delay
        return DEFAULT_TIMEOUT_DELAY if self.kind == TIMEOUT_KIND else 0.0


class FaultQueue(Generic[Kind]):
    """Pending faults, consumed in the order they were added.

    ``kinds`` is the platform's ``Literal`` of fault kinds; ``scope`` names the field that
    targets one tenant in the control surface's JSON (``"store"`` or ``"shop"``).
    """

    def __init__(self, kinds: Any, *, scope: str) -> None:
        self.kinds: tuple[str, ...] = get_args(kinds)
        self.scope = scope
        self._faults: list[Fault[Kind]] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault[Kind]) -> None:
        """Queue a fault."""
        if fault.kind not in self.kinds:
            msg = f"unknown fault kind {fault.kind!r}"
            raise ValueError(msg)
        with self._lock:
            self._faults.append(fault)

    def take(self, *, operation: str | None, scope: str | None) -> Fault[Kind] | None:
        """Consume one use of the first fault matching a call."""
        with self._lock:
            for fault in self._faults:
                if fault.remaining > 0 and fault.matches(operation=operation, scope=scope):
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def pending(self) -> list[Fault[Kind]]:
        """Faults not yet used up."""
        with self._lock:
            return list(self._faults)

    def clear(self) -> None:
        """Drop every pending fault."""
        with self._lock:
            self._faults.clear()

    def describe(self, fault: Fault[Kind]) -> dict[str, Any]:
        """A fault as the control surface shows it, the scope under the platform's name."""
        return {
            "kind": fault.kind,
            "remaining": fault.remaining,
            "operation": fault.operation,
            self.scope: fault.scope,
            "delay": fault.delay,
        }
