"""Faults injected into the next matching REST calls, from the control surface."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Literal

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
DEFAULT_TIMEOUT_DELAY = 30.0


@dataclass
class Fault:
    """The next ``remaining`` calls matching operation and store get this fault."""

    kind: FaultKind
    remaining: int
    operation: str | None = None
    store: str | None = None
    delay: float | None = None

    def matches(self, *, operation: str, store: str) -> bool:
        """Whether a call is targeted by this fault."""
        return (self.operation is None or self.operation == operation) and (
            self.store is None or self.store == store
        )

    @property
    def hold_seconds(self) -> float:
        """How long the response is held (timeouts default to 30 s)."""
        if self.delay is not None:
            return self.delay
        return DEFAULT_TIMEOUT_DELAY if self.kind == "timeout_after_commit" else 0.0


class FaultPlan:
    """Pending faults, consumed in the order they were added."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> None:
        """Queue a fault."""
        with self._lock:
            self._faults.append(fault)

    def take(self, *, operation: str, store: str) -> Fault | None:
        """Consume one use of the first fault matching a call."""
        with self._lock:
            for fault in self._faults:
                if fault.remaining > 0 and fault.matches(operation=operation, store=store):
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def pending(self) -> list[Fault]:
        """Faults not yet used up."""
        with self._lock:
            return list(self._faults)

    def clear(self) -> None:
        """Drop every pending fault."""
        with self._lock:
            self._faults.clear()
