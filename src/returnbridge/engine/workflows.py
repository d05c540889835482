"""The durable workflow: one per return revision, its id derived from the idempotency key.

Steps: admit (the vendor's status) -> match order -> plan -> refund (with restock) ->
restock -> sync -> notify -> complete.
DBOS records each step's result, so a worker that dies resumes at the first unfinished step;
transient errors (platform or database) are retried with backoff inside the step. A step that
gives up parks the return in `failed` with our own sentence; if even that cannot be written,
the sweeper (`engine/redrive.py`) finds the return later and drives it again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import structlog
from dbos import DBOS
from dbos import error as dbos_errors

from returnbridge.domain.returns import ReturnStatus
from returnbridge.engine import (
    admission,
    completion,
    notifying,
    order_matching,
    refunding,
    restocking,
    returns_sync,
)
from returnbridge.engine.faults import is_transient, public_reason
from returnbridge.engine.runtime import current
from returnbridge.engine.step_records import StepOutcome, park
from returnbridge.observability import RETURN_OUTCOMES, get_logger

log = get_logger(__name__)
WORKFLOW_NAME = "process_return"
_RETRY: dict[str, Any] = {
    "retries_allowed": True,
    "max_attempts": 6,
    "interval_seconds": 0.5,
    "backoff_rate": 2.0,
    "should_retry": is_transient,
}
# Parking a return must outlast a database that is busy or restarting for a minute or two.
_PARK_RETRY: dict[str, Any] = {**_RETRY, "max_attempts": 9, "interval_seconds": 1.0}


def workflow_id_for(tenant_id: str, idempotency_key: str) -> str:
    """Deterministic: the same tenant and key always name the same workflow."""
    digest = hashlib.sha256(f"{tenant_id}\x00{idempotency_key}".encode()).hexdigest()[:32]
    return f"rb-return-{digest}"


@DBOS.step(name="admit", **_RETRY)
def admit_step(tenant_id: str, return_id: str) -> StepOutcome:
    return admission.admit(current(), tenant_id, return_id)


@DBOS.step(name="match_order", **_RETRY)
def match_order_step(tenant_id: str, return_id: str) -> StepOutcome:
    return order_matching.match_order(current(), tenant_id, return_id)


@DBOS.step(name="plan_refund", **_RETRY)
def plan_step(tenant_id: str, return_id: str, revision: int) -> StepOutcome:
    return refunding.plan_return(current(), tenant_id, return_id, revision)


@DBOS.step(name="refund", **_RETRY)
def refund_step(tenant_id: str, return_id: str, revision: int) -> StepOutcome:
    return refunding.execute_refund(current(), tenant_id, return_id, revision)


@DBOS.step(name="restock", **_RETRY)
def restock_step(tenant_id: str, return_id: str, after: ReturnStatus | None = None) -> StepOutcome:
    return restocking.restock(current(), tenant_id, return_id, after=after)


@DBOS.step(name="sync_returns_system", **_RETRY)
def sync_step(tenant_id: str, return_id: str) -> StepOutcome:
    return returns_sync.sync(current(), tenant_id, return_id)


@DBOS.step(name="notify_customer", **_RETRY)
def notify_step(tenant_id: str, return_id: str) -> StepOutcome:
    return notifying.notify(current(), tenant_id, return_id)


@DBOS.step(name="complete", **_RETRY)
def complete_step(
    tenant_id: str, return_id: str, skipped: list[tuple[ReturnStatus, str]] | None = None
) -> StepOutcome:
    return completion.complete(current(), tenant_id, return_id, skipped=skipped or ())


@DBOS.step(name="fail", **_PARK_RETRY)
def fail_step(tenant_id: str, return_id: str, reason: str, code: str) -> StepOutcome:
    return park(
        current(),
        tenant_id,
        return_id,
        status=ReturnStatus.FAILED,
        event="retries_exhausted",
        reason=reason,
        data={"code": code},
    )


def _root_cause(error: Exception) -> Exception:
    """The last error a step gave up on, rather than DBOS's wrapper around it."""
    if isinstance(error, dbos_errors.DBOSMaxStepRetriesExceeded) and error.errors:
        return error.errors[-1]
    return error


@DBOS.workflow(name=WORKFLOW_NAME)
def process_return(tenant_id: str, return_id: str, revision: int) -> str:
    """Carry one return revision to a resting state; returns that state."""
    structlog.contextvars.bind_contextvars(
        tenant_id=tenant_id, return_id=return_id, workflow_id=DBOS.workflow_id
    )
    try:
        status = _run(tenant_id, return_id, revision)
    except Exception as error:  # a step gave up after its retries
        cause = _root_cause(error)
        log.error("workflow step gave up", error_type=type(cause).__name__, error=str(cause))
        public = public_reason(cause)
        parked = StepOutcome.recorded(fail_step(tenant_id, return_id, public.sentence, public.code))
        status = parked.status
    RETURN_OUTCOMES.labels(status=status.value).inc()
    log.info("return settled", status=status.value)
    structlog.contextvars.clear_contextvars()
    return status.value


def _run(tenant_id: str, return_id: str, revision: int) -> ReturnStatus:
    for result in _walk(tenant_id, return_id, revision):
        if result.rests:
            return result.status
    return result.status


def _walk(tenant_id: str, return_id: str, revision: int) -> Iterator[StepOutcome]:
    """The steps in order; the caller stops pulling when the return comes to rest.

    Steps with nothing to do leave their transition to a later step's write (see
    `engine/completion.py`): the restock step gets the status the refund step left, the
    complete step the steps that were skipped. A result DBOS recorded before an upgrade may
    be a dict: `StepOutcome.recorded` reads both.
    """
    yield StepOutcome.recorded(admit_step(tenant_id, return_id))
    yield StepOutcome.recorded(match_order_step(tenant_id, return_id))
    yield StepOutcome.recorded(plan_step(tenant_id, return_id, revision))
    refunded = StepOutcome.recorded(refund_step(tenant_id, return_id, revision))
    yield refunded
    yield StepOutcome.recorded(restock_step(tenant_id, return_id, refunded.status))
    skipped: list[tuple[ReturnStatus, str]] = []
    for step in (sync_step, notify_step):
        result = StepOutcome.recorded(step(tenant_id, return_id))
        yield result
        if result.skipped is not None:
            skipped.append((result.status, result.skipped))
    yield StepOutcome.recorded(complete_step(tenant_id, return_id, skipped))
