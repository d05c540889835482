"""How steps read a return and record what they did: the shared rules of every step.

Each step is safe to run again after a crash: it first looks at what is already recorded
(status, refund row, the platform's refunds) and only then acts. Errors are sorted by kind:
transient ones propagate (DBOS retries the step), the rest park the return in `needs_review`
or `failed` with the reason on its timeline.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from returnbridge.domain.errors import AuthError, DomainError, PermanentError
from returnbridge.domain.lifecycle import MAIN_PATH, can_transition
from returnbridge.domain.returns import CanonicalReturn, ReturnStatus
from returnbridge.engine.faults import public_reason
from returnbridge.engine.runtime import Runtime
from returnbridge.observability import get_logger
from returnbridge.store import decisions
from returnbridge.store import returns as return_store
from returnbridge.store.connections import get_connection
from returnbridge.store.step_rows import (
    Hop,
    StepRow,
    load_step_row,
    step_payload,
    write_hops,
)
from returnbridge.store.tables import Connection

log = get_logger(__name__)
ACTOR = "engine"


RESTING = frozenset({ReturnStatus.NEEDS_REVIEW, ReturnStatus.FAILED, ReturnStatus.CANCELLED})
"""Statuses in which the workflow stops: a human or the vendor moves the return on."""


@dataclass(frozen=True, slots=True)
class StepOutcome:
    """Where a step left the return; DBOS records it as the step's result."""

    status: ReturnStatus
    """The return's status afterwards (for the admit step: the status it found)."""
    admitted: bool = False
    """The admit step let the return go on, whatever status it found (a redriven return)."""
    skipped: str | None = None
    """The step had nothing to do, and why; the complete step records it."""
    reason: str | None = None
    """Why the return was parked in `needs_review` or `failed`."""
    total: int | None = None
    """Minor units planned or refunded."""
    order_id: str | None = None
    platform_refund_id: str | None = None

    @property
    def rests(self) -> bool:
        """The workflow stops here: the return waits for a human or the vendor."""
        return not self.admitted and self.status in RESTING

    @classmethod
    def recorded(cls, value: object) -> StepOutcome:
        """A step's recorded result: an outcome, or the dict an earlier version recorded
        (a workflow started before an upgrade resumes with those)."""
        if isinstance(value, StepOutcome):
            return value
        if not isinstance(value, Mapping) or "status" not in value:
            raise TypeError(f"not a step outcome: {value!r}")
        admitted = value["status"] == "admitted"
        status = value.get("was", ReturnStatus.RECEIVED) if admitted else value["status"]
        total = value.get("total")
        return cls(
            status=ReturnStatus(status),
            admitted=admitted,
            skipped=value.get("skipped"),
            reason=value.get("reason"),
            total=total if isinstance(total, int) else None,
            order_id=value.get("order_id"),
            platform_refund_id=value.get("platform_refund_id"),
        )


@contextmanager
def transaction(runtime: Runtime) -> Iterator[Session]:
    with runtime.sessions.begin() as session:
        yield session


class _CanonicalCache:
    """Validated payloads by (return, payload hash): a step does not re-validate what an
    earlier step of the same revision already did. Bounded; thread-safe."""

    def __init__(self, size: int = 4096) -> None:
        self._size = size
        self._items: OrderedDict[tuple[str, str], CanonicalReturn] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, session: Session, record: StepRow) -> CanonicalReturn:
        key = (record.id, record.payload_hash)
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                return found
        canonical = CanonicalReturn.model_validate(step_payload(session, record))
        with self._lock:
            self._items[key] = canonical
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return canonical


_CANONICAL = _CanonicalCache()


def load_return(
    session: Session, tenant_id: str, return_id: str, *, lock: bool = True
) -> tuple[StepRow, CanonicalReturn]:
    """The return's row, locked for this (short, writing) transaction unless ``lock`` is
    False (a read session), and its canonical form."""
    record = load_step_row(session, return_id, tenant_id=tenant_id, lock=lock)
    canonical = _CANONICAL.get(session, record)
    if canonical.status == "requested" and decisions.approval_of(
        session, tenant_id, return_id, revision=canonical.revision
    ):
        # A reviewer approved this revision (engine/review.py): every step treats it as approved.
        canonical = canonical.model_copy(update={"status": "approved"})
    return record, canonical


def connection_of(session: Session, record: StepRow) -> Connection:
    return get_connection(session, record.connection_id, tenant_id=record.tenant_id)


def reached(status: ReturnStatus, target: ReturnStatus) -> bool:
    """True when `status` is `target` or beyond it on the main path."""
    if status not in MAIN_PATH:
        return False
    return MAIN_PATH.index(status) >= MAIN_PATH.index(target)


def advance(
    session: Session,
    record: StepRow,
    target: ReturnStatus,
    *,
    event: str,
    reason: str | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    """Move along the main path with the row's staged changes, unless already there (a
    re-run after a crash: then only the staged changes are written)."""
    advance_through(session, record, [Hop(target, event, reason, data)])


def advance_through(session: Session, record: StepRow, hops: Sequence[Hop]) -> None:
    """Several moves along the main path in one write: the hops not reached yet, each with
    its timeline event, and the row's staged changes."""
    write_hops(
        session,
        record,
        [hop for hop in hops if not reached(record.status, hop.to_status)],
        actor=ACTOR,
        allowed=can_transition,
    )


def park(
    runtime: Runtime,
    tenant_id: str,
    return_id: str,
    *,
    status: ReturnStatus,
    event: str,
    reason: str,
    data: dict[str, Any] | None = None,
) -> StepOutcome:
    """Send the return to `needs_review` or `failed`, with the reason on its timeline."""
    with transaction(runtime) as session:
        record = return_store.get_return(session, return_id, tenant_id=tenant_id, lock=True)
        if record.status != status:
            return_store.record_transition(
                session,
                return_id,
                tenant_id=tenant_id,
                to_status=status,
                event=event,
                actor=ACTOR,
                reason=reason,
                data=data,
                allowed=can_transition,
                locked=record,
            )
    log.warning("return parked", status=str(status), reason=reason, timeline_event=event)
    return StepOutcome(status, reason=reason)


def classify(
    runtime: Runtime, tenant_id: str, return_id: str, error: Exception, *, step: str
) -> StepOutcome:
    """Non-transient errors: a human decides (review) or nothing can succeed (failed).

    The timeline gets our own sentence (`faults.public_reason`); the error itself is logged.
    """
    if not isinstance(error, DomainError | PermanentError):
        raise error
    public = public_reason(error)
    data: dict[str, Any] = {"step": step, "code": error.code}
    if error.field:
        data["field"] = error.field
    log.warning("step stopped", step=step, error_type=type(error).__name__, error=str(error))
    return park(
        runtime,
        tenant_id,
        return_id,
        status=ReturnStatus.FAILED if isinstance(error, AuthError) else ReturnStatus.NEEDS_REVIEW,
        event=f"{step}_failed" if isinstance(error, AuthError) else f"{step}_needs_review",
        reason=public.sentence,
        data=data,
    )
