"""The review queue's actions: `/v1/returns/{id}/resolve`, `/approve`, `/cancel`.

The queue itself is `GET /v1/returns?status=needs_review`: each item's `review` says why it
waits and which actions apply; its `candidates` carry each order's score and reasons.
Each action is recorded on the return's timeline with the tenant as actor (docs/review.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import APIRouter

from returnbridge.api.deps import RuntimeDep, TenantDep
from returnbridge.api.problems import ApiProblem
from returnbridge.api.routing import TenantRoute
from returnbridge.api.schemas import ResolveIn, RetryIn, ReturnOut, reject_unstorable, return_out
from returnbridge.domain.errors import DomainError, TransientError
from returnbridge.engine import review
from returnbridge.engine.runtime import Runtime
from returnbridge.store import returns as return_store
from returnbridge.store.errors import RecordNotFoundError, TransitionForbiddenError
from returnbridge.store.tables import Return

router = APIRouter(prefix="/v1/returns", tags=["review"], route_class=TenantRoute)

# Our codes and the HTTP status each answers with; any other DomainError is a 422.
_CONFLICTS = frozenset({"NOT_IN_REVIEW", "NOT_AWAITING_APPROVAL", "REFUND_STARTED"})


@contextmanager
def _problems(return_id: str) -> Iterator[None]:
    """Our errors as problem+json with our own sentences."""
    try:
        yield
    except RecordNotFoundError as exc:
        raise ApiProblem(404, "RETURN_NOT_FOUND", f"return {return_id} not found") from exc
    except TransitionForbiddenError as exc:
        raise ApiProblem(409, "NOT_IN_REVIEW", exc.message, return_id=return_id) from exc
    except DomainError as exc:
        status = 409 if exc.code in _CONFLICTS else 422
        extra: dict[str, Any] = {"field": exc.field} if exc.field else {}
        raise ApiProblem(status, exc.code, exc.message, return_id=return_id, **extra) from exc
    except TransientError as exc:
        raise ApiProblem(
            503,
            "PLATFORM_UNAVAILABLE",
            "the platform could not confirm the order just now; try again shortly",
            headers={"Retry-After": "5"},
        ) from exc


def _answer(runtime: Runtime, tenant_id: str, return_id: str) -> ReturnOut:
    with runtime.reads() as session:
        record = return_store.get_return(session, return_id, tenant_id=tenant_id)
        timeline = return_store.timeline(session, return_id, tenant_id=tenant_id)
    return return_out(record, base_url=runtime.settings.resolved_public_url, timeline=timeline)


def _act(
    runtime: Runtime,
    tenant_id: str,
    return_id: str,
    action: Callable[[], Return],
) -> ReturnOut:
    with _problems(return_id):
        action()
        return _answer(runtime, tenant_id, return_id)


@router.post(
    "/{return_id}/resolve",
    status_code=202,
    summary="Pick the order (or correct the items) of a return in needs_review; it resumes",
)
def resolve_return(
    return_id: str, body: ResolveIn, *, tenant: TenantDep, runtime: RuntimeDep
) -> ReturnOut:
    """`order` is a candidate's order id or name, or any order the platform confirms (422
    `UNKNOWN_ORDER` otherwise); corrected `lines` become the return's next revision. 409
    `NOT_IN_REVIEW` when the return is not waiting, 409 `REFUND_STARTED` once money moved."""
    reject_unstorable(body)
    return _act(
        runtime,
        tenant.id,
        return_id,
        lambda: review.resolve(
            runtime,
            tenant.id,
            return_id,
            order=body.order,
            lines=body.lines,
            actor=f"tenant:{tenant.id}",
            note=body.reason,
        ),
    )


@router.post(
    "/{return_id}/approve",
    status_code=202,
    summary="Approve a return waiting for approval and resume its workflow",
)
def approve_return(
    return_id: str,
    *,
    tenant: TenantDep,
    runtime: RuntimeDep,
    body: RetryIn | None = None,
) -> ReturnOut:
    """Only for a return parked as `awaiting_approval` (409 `NOT_AWAITING_APPROVAL` else)."""
    if body is not None:
        reject_unstorable(body)
    return _act(
        runtime,
        tenant.id,
        return_id,
        lambda: review.approve(
            runtime,
            tenant.id,
            return_id,
            actor=f"tenant:{tenant.id}",
            note=body.reason if body else None,
        ),
    )


@router.post("/{return_id}/cancel", summary="Cancel a return waiting on a decision")
def cancel_return(
    return_id: str,
    *,
    tenant: TenantDep,
    runtime: RuntimeDep,
    body: RetryIn | None = None,
) -> ReturnOut:
    """Only in needs_review, and only while no refund was started (409 otherwise)."""
    if body is not None:
        reject_unstorable(body)
    return _act(
        runtime,
        tenant.id,
        return_id,
        lambda: review.cancel(
            runtime,
            tenant.id,
            return_id,
            actor=f"tenant:{tenant.id}",
            note=body.reason if body else None,
        ),
    )
