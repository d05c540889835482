"""`/v1/returns`: accept return events, read one with its timeline, list with filters."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response

from returnbridge.api.connection_choice import connection_for
from returnbridge.api.deps import RuntimeDep, TenantDep
from returnbridge.api.problems import ApiProblem
from returnbridge.api.routing import TenantRoute
from returnbridge.api.schemas import (
    RetryIn,
    ReturnAccepted,
    ReturnEventIn,
    ReturnOut,
    ReturnPageOut,
    reject_unstorable,
    return_out,
)
from returnbridge.domain.errors import DomainError
from returnbridge.domain.returns import CanonicalReturn, Channel, ReturnStatus
from returnbridge.engine import retries
from returnbridge.engine.ingest import default_key, submit_return
from returnbridge.engine.runtime import Runtime
from returnbridge.store import decisions
from returnbridge.store import refunds as refund_store
from returnbridge.store import returns as return_store
from returnbridge.store.errors import IdempotencyConflictError, RecordNotFoundError

router = APIRouter(prefix="/v1/returns", tags=["returns"], route_class=TenantRoute)


def _base_url(request: Request) -> str:
    """The configured public URL: a client's Host header must not choose our links."""
    runtime: Runtime = request.app.state.runtime
    return runtime.settings.resolved_public_url


def _instant(name: str, value: datetime | None) -> datetime | None:
    """A query time in UTC; naive times and times UTC cannot hold are invalid input."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ApiProblem(422, "VALIDATION_ERROR", f"{name} needs a timezone", field=name)
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:
        raise ApiProblem(
            422, "VALIDATION_ERROR", f"{name} is out of range in UTC", field=name
        ) from exc


def _check_cursor(cursor: str) -> None:
    """Refuse cursors the store would fail to bind: instants beyond UTC, NUL in the id."""
    at, return_id, _newest_first = return_store.decode_cursor(cursor)
    try:
        at.astimezone(UTC)
    except OverflowError as exc:
        raise ApiProblem(422, "INVALID_CURSOR", "malformed page cursor", field="cursor") from exc
    if "\x00" in return_id:
        raise ApiProblem(422, "INVALID_CURSOR", "malformed page cursor", field="cursor")


@router.post(
    "",
    status_code=202,
    response_model=ReturnAccepted,
    response_model_by_alias=True,
    summary="Accept a return event (idempotent)",
)
def create_return(
    event: ReturnEventIn,
    request: Request,
    *,
    tenant: TenantDep,
    runtime: RuntimeDep,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
) -> Response:
    """Store the return and start its workflow before answering 202.

    Duplicates (same `Idempotency-Key`, or same `external_id` + `revision` when no key is
    sent) answer with the return already stored and `duplicate: true`.
    """
    reject_unstorable(event)
    canonical = CanonicalReturn.model_validate(event.model_dump(exclude={"connection_id"}))
    key = idempotency_key or default_key(canonical)
    try:
        submitted = submit_return(
            runtime,
            tenant.id,
            # chosen in the ingest's transaction: one session per POST, not two
            choose_connection=lambda session: connection_for(
                session, tenant.id, event.connection_id
            ),
            canonical=canonical,
            idempotency_key=key,
        )
    except IdempotencyConflictError as exc:
        raise ApiProblem(409, "IDEMPOTENCY_KEY_REUSED", exc.message) from exc
    if submitted.duplicate and not submitted.payload_matches:
        raise ApiProblem(
            409,
            "IDEMPOTENCY_KEY_REUSED",
            "this key (or external_id + revision) was used with a different payload;"
            " send a new revision to change a return",
            return_id=submitted.record.id,
        )
    body = return_out(submitted.record, base_url=_base_url(request))
    accepted = ReturnAccepted(duplicate=submitted.duplicate, url=body.url, return_=body)
    # Serialised here: a model returned from a plain-function route costs FastAPI another
    # worker-thread hop to validate and serialise it (`response_model` still documents it).
    return Response(
        accepted.model_dump_json(by_alias=True),
        status_code=202,
        media_type="application/json",
        headers={"Location": body.url},
    )


@router.get("/{return_id}", summary="A return with its timeline and refunds")
def get_return(
    return_id: str, request: Request, tenant: TenantDep, runtime: RuntimeDep
) -> ReturnOut:
    with runtime.reads() as session:
        try:
            record = return_store.get_return(session, return_id, tenant_id=tenant.id)
        except RecordNotFoundError as exc:
            raise ApiProblem(404, "RETURN_NOT_FOUND", f"return {return_id} not found") from exc
        timeline = return_store.timeline(session, return_id, tenant_id=tenant.id)
        refunds = refund_store.refunds_for_return(session, return_id, tenant_id=tenant.id)
    return return_out(record, base_url=_base_url(request), timeline=timeline, refunds=refunds)


@router.post(
    "/{return_id}/retry",
    status_code=202,
    summary="Send a return parked in needs_review or failed through its workflow again",
)
def retry_return(
    return_id: str,
    request: Request,
    *,
    tenant: TenantDep,
    runtime: RuntimeDep,
    body: RetryIn | None = None,
) -> ReturnOut:
    """For a human who fixed what parked the return (seeded the order, approved the amount).

    The refund key fixed at planning is kept, so a refund already made is found, not repeated.
    """
    if body is not None:
        reject_unstorable(body)
    try:
        record = retries.retry_return(
            runtime,
            tenant.id,
            return_id,
            actor=f"tenant:{tenant.id}",
            reason=body.reason if body else None,
        )
    except RecordNotFoundError as exc:
        raise ApiProblem(404, "RETURN_NOT_FOUND", f"return {return_id} not found") from exc
    except DomainError as exc:
        if exc.code != "NOT_RETRYABLE":
            raise
        raise ApiProblem(409, exc.code, exc.message) from exc
    return return_out(record, base_url=_base_url(request))


@router.get("", response_model=ReturnPageOut, summary="List returns (cursor pagination)")
def list_returns(
    request: Request,
    tenant: TenantDep,
    *,
    runtime: RuntimeDep,
    status: Annotated[list[ReturnStatus] | None, Query()] = None,
    channel: Channel | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
) -> ReturnPageOut:
    if cursor is not None:
        _check_cursor(cursor)
    with runtime.reads() as session:
        page = return_store.list_returns(
            session,
            tenant.id,
            status=[s.value for s in status] if status else None,
            channel=channel.value if channel else None,
            created_from=_instant("created_from", created_from),
            created_to=_instant("created_to", created_to),
            limit=limit,
            cursor=cursor,
        )
        waiting = [r.id for r in page.items if r.status == ReturnStatus.NEEDS_REVIEW]
        parked = decisions.parked_events(session, tenant.id, waiting)
    base = _base_url(request)
    return ReturnPageOut(
        items=[return_out(r, base_url=base, parked=parked.get(r.id)) for r in page.items],
        next_cursor=page.next_cursor,
    )
