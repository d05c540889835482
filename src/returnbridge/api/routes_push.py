"""`/v1/push-sources`: signed push (Standard Webhooks) deliveries and their sources.

The tenant's API key creates a push source (its signing secret is answered once), lists,
pauses and rotates it. The vendor then posts to `/v1/push-sources/{id}/deliveries` with no
API key: the signature is the authentication. A delivery is refused when unsigned or forged
(401), outside the timestamp tolerance (401), paused (403), or replaying a `webhook-id`
already used (409); otherwise its payload is mapped and ingested like `POST /v1/returns`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from returnbridge.api.auth import FailedAuthThrottle
from returnbridge.api.connection_choice import connection_for
from returnbridge.api.deps import RuntimeDep, TenantDep
from returnbridge.api.json_body import JsonNumber, parse_json_body
from returnbridge.api.openapi import PROBLEM_JSON
from returnbridge.api.problems import ApiProblem
from returnbridge.api.push_schemas import (
    PushSourceIn,
    PushSourceOut,
    PushSourceWithSecret,
    RotateIn,
    push_source_out,
)
from returnbridge.api.routing import TenantRoute
from returnbridge.api.schemas import ReturnAccepted, reject_unstorable, return_out
from returnbridge.api.signatures import SignatureError, new_secret, verify
from returnbridge.domain.errors import DomainError
from returnbridge.domain.returns import CanonicalReturn
from returnbridge.engine.ingest import default_key, submit_return
from returnbridge.engine.runtime import Runtime
from returnbridge.mappings import MappingSpecError, apply_mapping
from returnbridge.store import push_sources as store
from returnbridge.store.clock import Clock, utc_now
from returnbridge.store.errors import IdempotencyConflictError, RecordNotFoundError
from returnbridge.store.tables import Return, Source

PREFIX = "/v1/push-sources"


def push_clock() -> Clock:
    """The clock signatures and secret lifetimes are judged by (tests override it)."""
    return utc_now


ClockDep = Annotated[Clock, Depends(push_clock)]


def _problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    meaning = {
        401: "the delivery is not signed, forged, or its timestamp is outside the tolerance",
        403: "the source is paused",
        409: "conflicts with what is stored (a used name, a replayed webhook-id)",
        429: "too many refused signatures for this source from this address",
    }
    ref = {"$ref": "#/components/schemas/Problem"}
    return {
        status: {"description": meaning[status], "content": {PROBLEM_JSON: {"schema": ref}}}
        for status in statuses
    }


admin = APIRouter(prefix=PREFIX, tags=["push sources"], route_class=TenantRoute)
deliveries = APIRouter(prefix=PREFIX, tags=["push sources"])


def _base_url(runtime: Runtime) -> str:
    return runtime.settings.resolved_public_url


def _not_found(source_id: str) -> ApiProblem:
    return ApiProblem(404, "PUSH_SOURCE_NOT_FOUND", f"push source {source_id} not found")


@admin.post(
    "",
    status_code=201,
    summary="Create a push source; its signing secret is in this answer only",
    responses=_problems(409),
)
def create_push_source(
    body: PushSourceIn, *, tenant: TenantDep, runtime: RuntimeDep, clock: ClockDep
) -> PushSourceWithSecret:
    reject_unstorable(body)
    secret = new_secret()
    try:
        with runtime.sessions.begin() as session:
            connection_id = connection_for(session, tenant.id, body.connection_id)
            source = store.create_push_source(
                session,
                tenant.id,
                name=body.name,
                connection_id=connection_id,
                secret=secret,
                cipher=runtime.cipher,
                mapping=body.mapping,
                tolerance=body.tolerance_seconds,
                clock=clock,
            )
            shown = push_source_out(
                source, base_url=_base_url(runtime), cipher=runtime.cipher, now=clock()
            )
    except MappingSpecError as exc:
        raise ApiProblem(422, exc.code, exc.message, field="mapping") from exc
    except DomainError as exc:
        if exc.code != "SOURCE_NAME_TAKEN":
            raise
        raise ApiProblem(409, exc.code, exc.message, field="name") from exc
    return PushSourceWithSecret(**shown.model_dump(), secret=secret)


@admin.get("", summary="The tenant's push sources")
def list_push_sources(
    tenant: TenantDep, runtime: RuntimeDep, clock: ClockDep
) -> list[PushSourceOut]:
    now = clock()
    with runtime.reads() as session:
        sources = store.list_push_sources(session, tenant.id)
        return [
            push_source_out(s, base_url=_base_url(runtime), cipher=runtime.cipher, now=now)
            for s in sources
        ]


@admin.get("/{source_id}", summary="A push source with its active secrets (fingerprints)")
def get_push_source(
    source_id: str, tenant: TenantDep, runtime: RuntimeDep, clock: ClockDep
) -> PushSourceOut:
    with runtime.reads() as session:
        try:
            source = store.get_push_source(session, source_id, tenant_id=tenant.id)
        except RecordNotFoundError as exc:
            raise _not_found(source_id) from exc
        return push_source_out(
            source, base_url=_base_url(runtime), cipher=runtime.cipher, now=clock()
        )


@admin.post(
    "/{source_id}/secrets/rotate",
    summary="Add a new signing secret; the old one stays valid for the overlap (default 24 h)",
)
def rotate_secret(
    source_id: str,
    *,
    tenant: TenantDep,
    runtime: RuntimeDep,
    clock: ClockDep,
    body: RotateIn | None = None,
) -> PushSourceWithSecret:
    """The answer holds the new secret, once; sign with it as soon as the vendor can."""
    overlap = timedelta(seconds=(body or RotateIn()).overlap_seconds)
    secret = new_secret()
    with runtime.sessions.begin() as session:
        try:
            source = store.rotate_secret(
                session,
                source_id,
                tenant_id=tenant.id,
                secret=secret,
                cipher=runtime.cipher,
                overlap=overlap,
                clock=clock,
            )
        except RecordNotFoundError as exc:
            raise _not_found(source_id) from exc
        shown = push_source_out(
            source, base_url=_base_url(runtime), cipher=runtime.cipher, now=clock()
        )
    return PushSourceWithSecret(**shown.model_dump(), secret=secret)


def _set_status(
    source_id: str, status: str, *, tenant_id: str, runtime: Runtime, clock: Clock
) -> PushSourceOut:
    with runtime.sessions.begin() as session:
        try:
            source = store.set_status(
                session, source_id, tenant_id=tenant_id, status=status, clock=clock
            )
        except RecordNotFoundError as exc:
            raise _not_found(source_id) from exc
        return push_source_out(
            source, base_url=_base_url(runtime), cipher=runtime.cipher, now=clock()
        )


@admin.post("/{source_id}/pause", summary="Refuse the source's deliveries (403) until resumed")
def pause_push_source(
    source_id: str, tenant: TenantDep, runtime: RuntimeDep, clock: ClockDep
) -> PushSourceOut:
    return _set_status(source_id, store.PAUSED, tenant_id=tenant.id, runtime=runtime, clock=clock)


@admin.post("/{source_id}/resume", summary="Accept the source's deliveries again")
def resume_push_source(
    source_id: str, tenant: TenantDep, runtime: RuntimeDep, clock: ClockDep
) -> PushSourceOut:
    return _set_status(source_id, store.ACTIVE, tenant_id=tenant.id, runtime=runtime, clock=clock)


def _exact(value: Any) -> Any:
    """Fractional JSON numbers as the Decimal they were written as (what mappings expect)."""
    if isinstance(value, JsonNumber):
        return Decimal(value.json_text)
    if isinstance(value, dict):
        return {key: _exact(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_exact(item) for item in value]
    return value


def _canonical(source: Source, payload: Any) -> CanonicalReturn:
    """The payload as a canonical return: mapped, or validated as one already."""
    spec = store.source_mapping(source)
    if spec is not None:
        try:
            exact = _exact(payload)
        except RecursionError as exc:
            raise ApiProblem(400, "BAD_REQUEST", "the body nests too deeply") from exc
        canonical = apply_mapping(spec, exact)  # MappingError: 422 naming the field
    else:
        try:
            canonical = CanonicalReturn.model_validate(payload)
        except ValidationError as exc:
            raise RequestValidationError(exc.errors(include_url=False)) from None
    reject_unstorable(canonical)
    return canonical


def _throttle_key(request: Request, source_id: str) -> str:
    client = request.client.host if request.client else "unknown"
    return f"{client} push {source_id}"


def _authenticated(
    source_id: str,
    raw: bytes,
    headers: dict[str, str | None],
    *,
    runtime: Runtime,
    now: datetime,
    refused: FailedAuthThrottle,
    throttle_key: str,
) -> tuple[Source, str]:
    """The source and the delivery's `webhook-id`, once its signature and timestamp pass."""
    refused.check(throttle_key)
    with runtime.reads() as session:
        try:
            source = store.get_push_source(session, source_id, tenant_id=None)
        except RecordNotFoundError as exc:
            raise _not_found(source_id) from exc
        secrets = store.active_secrets(source, cipher=runtime.cipher, at=now)
        tolerance = timedelta(seconds=store.tolerance_seconds(source))
    try:
        webhook_id = verify(raw, headers, secrets=secrets, now=now, tolerance=tolerance)
    except SignatureError as exc:
        refused.failed(throttle_key)
        raise ApiProblem(
            401, exc.code, exc.message, headers={"WWW-Authenticate": "Standard-Webhooks"}
        ) from None
    return source, webhook_id


def _ingest(
    source: Source, webhook_id: str, raw: bytes, *, runtime: Runtime, now: datetime
) -> tuple[Return, bool]:
    """Refuse a replay, map the payload and store its return; the return and `duplicate`."""
    if source.status != store.ACTIVE:
        raise ApiProblem(403, "PUSH_SOURCE_PAUSED", f"push source {source.id} is paused")
    with runtime.reads() as session:
        used = store.find_delivery(session, source.id, webhook_id)
    if used is not None:
        raise _replayed(webhook_id, used.return_id)
    canonical = _canonical(source, parse_json_body(raw))
    try:
        submitted = submit_return(
            runtime,
            source.tenant_id,
            connection_id=source.connection_id,
            canonical=canonical,
            idempotency_key=default_key(canonical),
            source="push",
        )
    except IdempotencyConflictError as exc:
        raise ApiProblem(409, "IDEMPOTENCY_KEY_REUSED", exc.message) from exc
    if submitted.duplicate and not submitted.payload_matches:
        raise ApiProblem(
            409,
            "IDEMPOTENCY_KEY_REUSED",
            "this external_id + revision was delivered with a different payload;"
            " send a new revision to change a return",
            return_id=submitted.record.id,
        )
    # Recorded after the return is stored: a delivery that failed on the way can be retried.
    with runtime.sessions.begin() as session:
        fresh = store.record_delivery(
            session,
            source.id,
            tenant_id=source.tenant_id,
            delivery_id=webhook_id,
            return_id=submitted.record.id,
            clock=lambda: now,
        )
    if not fresh:  # a concurrent copy of this delivery was recorded first
        raise _replayed(webhook_id, submitted.record.id)
    return submitted.record, submitted.duplicate


def _replayed(webhook_id: str, return_id: str | None) -> ApiProblem:
    return ApiProblem(
        409,
        "DELIVERY_REPLAYED",
        f"webhook-id {webhook_id} was already delivered; nothing was done",
        return_id=return_id,
    )


_DELIVERY_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "the vendor's payload, as its mapping expects (or a canonical return)",
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
}


@deliveries.post(
    "/{source_id}/deliveries",
    status_code=202,
    response_model=ReturnAccepted,
    response_model_by_alias=True,
    summary="A signed delivery (Standard Webhooks) from a push source; no API key",
    responses=_problems(401, 403, 409, 429),
    openapi_extra=_DELIVERY_BODY,
)
async def deliver(
    source_id: str,
    request: Request,
    *,
    response: Response,
    runtime: RuntimeDep,
    clock: ClockDep,
    webhook_id: Annotated[str | None, Header(description="unique per delivery")] = None,
    webhook_timestamp: Annotated[str | None, Header(description="Unix seconds")] = None,
    webhook_signature: Annotated[
        str | None, Header(description="space-separated v1,<base64 HMAC-SHA256> entries")
    ] = None,
) -> ReturnAccepted:
    """Accepted like `POST /v1/returns` (202, `duplicate` for a return already stored)."""
    raw = await request.body()  # the body size limit applies while it is read
    headers = {
        "webhook-id": webhook_id,
        "webhook-timestamp": webhook_timestamp,
        "webhook-signature": webhook_signature,
    }
    now = clock()
    source, delivery_id = await run_in_threadpool(
        _authenticated,
        source_id,
        raw,
        headers,
        runtime=runtime,
        now=now,
        refused=request.app.state.auth_throttle,
        throttle_key=_throttle_key(request, source_id),
    )
    record, duplicate = await run_in_threadpool(
        _ingest, source, delivery_id, raw, runtime=runtime, now=now
    )
    body = return_out(record, base_url=_base_url(runtime))
    response.headers["Location"] = body.url
    return ReturnAccepted(duplicate=duplicate, url=body.url, return_=body)


router = APIRouter()
router.include_router(admin)
router.include_router(deliveries)
