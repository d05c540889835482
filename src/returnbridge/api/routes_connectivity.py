"""The Connectivity API (tenant key): discover the platforms, manage the tenant's own
connections (create, verify with a live call, rotate credentials, delete), run actions on a
platform in the unified models, and read the audit log of those calls.

Actions go through `engine.actions.perform`: the connection's connector and rate limiter, an
`Idempotency-Key` on every write, an audit entry per call. Docs: docs/connectivity.md.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Path, Query, Response
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.orm import InstrumentedAttribute, Session
from starlette.concurrency import run_in_threadpool

from returnbridge.api.deps import RuntimeDep, TenantDep
from returnbridge.api.problems import ApiProblem
from returnbridge.api.routing import TenantRoute
from returnbridge.api.schemas import (
    ConnectionIn,
    ConnectionOut,
    connection_out,
    reject_unstorable,
)
from returnbridge.connectors.registry import require_credentials, require_supported
from returnbridge.connectors.settings import check_settings
from returnbridge.domain.returns import BoundedObject
from returnbridge.engine.actions import catalog
from returnbridge.engine.actions.perform import Caller, perform, tenant_connection
from returnbridge.engine.actions.run import ActionFailed
from returnbridge.engine.actions.verify import verify_credentials
from returnbridge.engine.runtime import Runtime
from returnbridge.store import audit
from returnbridge.store.connections import (
    connection_credentials,
    create_connection,
    get_connection,
    list_connections,
    update_connection,
)
from returnbridge.store.errors import RecordNotFoundError
from returnbridge.store.tables import Connection, Refund, Return, ReturnsSystemLink, Source

router = APIRouter(tags=["connectivity"], route_class=TenantRoute)

ConnectionId = Annotated[str, Path(min_length=1, max_length=40)]


class Verified(BaseModel):
    ok: bool
    checked: str = Field(description="what the live call read")


class CredentialsIn(BaseModel):
    credentials: BoundedObject = Field(description="the new credentials, encrypted at rest")
    verify: bool = Field(default=True, description="make a live call with them before saving")


class HealthOut(BaseModel):
    """This process's view of the connection (each worker knows its own calls)."""

    calls: int
    failures: int
    last_call_at: datetime | None
    last_status: int | None = Field(description="HTTP status of the last answer")
    last_error: str | None
    last_error_at: datetime | None
    headroom: str | None = Field(description="the rate limiter's room, in the platform's unit")


class ConnectionHealthOut(ConnectionOut):
    health: HealthOut


class AuditOut(BaseModel):
    id: str
    at: datetime
    channel: str = Field(description="api, mcp or dashboard")
    actor: str = Field(description="who called: api-key, mcp:<agent>, dashboard:<who>")
    action: str
    outcome: str = Field(description="ok, replayed, error or refused")
    connection_id: str | None
    return_id: str | None
    idempotency_key: str | None
    status_code: int | None
    detail: str | None
    summary: dict[str, Any]
    duration_ms: int | None


def _failed(failure: ActionFailed) -> ApiProblem:
    headers = (
        {"Retry-After": str(max(1, round(failure.retry_after)))} if failure.retry_after else {}
    )
    return ApiProblem(failure.status, failure.code, failure.detail, headers=headers)


def _load(runtime: Runtime, tenant_id: str, connection_id: str) -> Connection:
    try:
        return tenant_connection(runtime, tenant_id, connection_id)
    except ActionFailed as failure:
        raise _failed(failure) from failure


def _log(
    runtime: Runtime,
    tenant_id: str,
    action: str,
    *,
    connection_id: str | None,
    failure: ActionFailed | None = None,
    status: int = 200,
) -> None:
    """Connection management on the audit log, beside the actions."""
    entry = audit.Entry(
        channel="api",
        actor="api-key",
        action=action,
        outcome="error" if failure else "ok",
        connection_id=connection_id,
        status_code=failure.status if failure else status,
        detail=failure.detail if failure else None,
    )
    with runtime.sessions.begin() as session:
        audit.record(session, tenant_id, entry)


def _tried(
    runtime: Runtime, tenant_id: str, action: str, connection_id: str | None, **check: Any
) -> dict[str, Any]:
    """A live call with credentials (`verify_credentials`), audited when it fails."""
    try:
        return verify_credentials(runtime, **check)
    except ActionFailed as failure:
        _log(runtime, tenant_id, action, connection_id=connection_id, failure=failure)
        raise _failed(failure) from failure


def _count(session: Session, column: InstrumentedAttribute[str], connection_id: str) -> int:
    return int(session.scalar(select(func.count()).where(column == connection_id)) or 0)


@router.get("/v1/connectors", summary="The platforms, their capabilities, credentials, actions")
async def connectors(_tenant: TenantDep) -> list[dict[str, Any]]:
    return catalog.catalog()


def _with_health(runtime: Runtime, connection: Connection) -> ConnectionHealthOut:
    health = runtime.connection_health(connection.id)
    return ConnectionHealthOut(
        **connection_out(connection).model_dump(),
        health=HealthOut.model_validate(health, from_attributes=True),
    )


@router.get(
    "/v1/connections",
    summary="The tenant's connections with their health (credentials never shown)",
)
def connections(tenant: TenantDep, runtime: RuntimeDep) -> list[ConnectionHealthOut]:
    with runtime.sessions() as session:
        rows = list_connections(session, tenant.id, platform=None)
    return [_with_health(runtime, c) for c in rows]


@router.post(
    "/v1/connections",
    status_code=201,
    summary="Connect to a platform; the credentials are tried with a live call first",
)
def new_connection(
    body: ConnectionIn,
    tenant: TenantDep,
    runtime: RuntimeDep,
    verify: Annotated[bool, Query(description="make a live call before saving")] = True,
) -> ConnectionOut:
    reject_unstorable(body)
    require_supported(body.platform)
    require_credentials(body.platform, body.credentials)
    check_settings(body.settings)
    if verify:
        _tried(
            runtime,
            tenant.id,
            "create_connection",
            None,
            platform=body.platform,
            base_url=body.base_url,
            credentials=body.credentials,
            settings=body.settings,
        )
    with runtime.sessions.begin() as session:
        clash = session.scalar(
            select(Connection.id).where(
                Connection.tenant_id == tenant.id, Connection.name == body.name
            )
        )
        if clash:
            raise ApiProblem(
                409, "CONNECTION_EXISTS", f"a connection named {body.name!r} exists: {clash}"
            )
        connection = create_connection(
            session,
            tenant.id,
            platform=body.platform,
            name=body.name,
            base_url=body.base_url,
            credentials=body.credentials,
            cipher=runtime.cipher,
            settings=body.settings,
        )
    _log(runtime, tenant.id, "create_connection", connection_id=connection.id, status=201)
    return connection_out(connection)


@router.get("/v1/connections/{connection_id}", summary="One connection with its health")
def one_connection(
    connection_id: ConnectionId, tenant: TenantDep, runtime: RuntimeDep
) -> ConnectionHealthOut:
    return _with_health(runtime, _load(runtime, tenant.id, connection_id))


@router.post(
    "/v1/connections/{connection_id}/verify",
    summary="Try the stored credentials with a live call to the platform",
)
def verify_connection(
    connection_id: ConnectionId, tenant: TenantDep, runtime: RuntimeDep
) -> Verified:
    connection = _load(runtime, tenant.id, connection_id)
    result = _tried(
        runtime,
        tenant.id,
        "verify_connection",
        connection.id,
        platform=connection.platform,
        base_url=connection.base_url,
        credentials=connection_credentials(connection, cipher=runtime.cipher),
        settings=connection.settings,
    )
    _log(runtime, tenant.id, "verify_connection", connection_id=connection.id)
    return Verified.model_validate(result)


@router.put(
    "/v1/connections/{connection_id}/credentials",
    summary="Rotate a connection's credentials (tried with a live call before they replace "
    "the old ones)",
)
def rotate_credentials(
    connection_id: ConnectionId, body: CredentialsIn, tenant: TenantDep, runtime: RuntimeDep
) -> ConnectionOut:
    reject_unstorable(body)
    connection = _load(runtime, tenant.id, connection_id)
    require_credentials(connection.platform, body.credentials)
    if body.verify:
        _tried(
            runtime,
            tenant.id,
            "rotate_credentials",
            connection.id,
            platform=connection.platform,
            base_url=connection.base_url,
            credentials=body.credentials,
            settings=connection.settings,
        )
    with runtime.sessions.begin() as session:
        updated = update_connection(
            session,
            connection_id,
            tenant_id=tenant.id,
            cipher=runtime.cipher,
            credentials=dict(body.credentials),
        )
    _log(runtime, tenant.id, "rotate_credentials", connection_id=connection_id)
    return connection_out(updated)


@router.delete(
    "/v1/connections/{connection_id}",
    status_code=204,
    summary="Delete a connection no return, refund or source uses",
)
def delete_connection(
    connection_id: ConnectionId, tenant: TenantDep, runtime: RuntimeDep
) -> Response:
    with runtime.sessions.begin() as session:
        try:
            connection = get_connection(session, connection_id, tenant_id=tenant.id)
        except RecordNotFoundError as exc:
            raise ApiProblem(
                404, "CONNECTION_NOT_FOUND", f"connection {connection_id} not found"
            ) from exc
        counts = {
            name: _count(session, column, connection_id)
            for name, column in (
                ("returns", Return.connection_id),
                ("refunds", Refund.connection_id),
                ("sources", Source.connection_id),
                ("returns-system links", ReturnsSystemLink.connection_id),
            )
        }
        naming = [
            c.id
            for c in list_connections(session, tenant.id, platform=None)
            if (c.settings or {}).get("returns_system") == connection_id
        ]
        in_use = [f"{n} {name}" for name, n in counts.items() if n]
        if naming:
            in_use.append(f"connection(s) {', '.join(naming)} name it as their returns system")
        if in_use:
            raise ApiProblem(
                409,
                "CONNECTION_IN_USE",
                f"connection {connection_id} is in use ({'; '.join(in_use)}); rotate its "
                "credentials instead, or delete the tenant",
            )
        session.delete(connection)
    runtime.forget_connection(connection_id)
    _log(runtime, tenant.id, "delete_connection", connection_id=connection_id, status=204)
    return Response(status_code=204)


@router.post(
    "/v1/connections/{connection_id}/actions/{action}",
    summary="Run an action on the platform (GET /v1/connectors lists them with their schemas)",
    responses={201: {"description": "a write that ran"}, 200: {"description": "a read"}},
)
async def run_action(
    connection_id: ConnectionId,
    action: Annotated[str, Path(min_length=1, max_length=40)],
    *,
    tenant: TenantDep,
    runtime: RuntimeDep,
    response: Response,
    payload: Annotated[dict[str, Any] | None, Body()] = None,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="required on writes: the same key on a retry has one effect",
        ),
    ] = None,
) -> dict[str, Any]:
    reject_unstorable(payload or {})
    caller = Caller(tenant_id=tenant.id, channel="api", actor="api-key")
    try:
        result = await run_in_threadpool(
            perform,
            runtime,
            caller,
            connection_id,
            action,
            payload or {},
            idempotency_key=idempotency_key,
        )
    except ActionFailed as failure:
        raise _failed(failure) from failure
    response.status_code = result.status
    if result.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    if "error" in result.body and result.replayed:
        refusal = result.body["error"]
        raise ApiProblem(
            int(refusal["status"]),
            str(refusal["code"]),
            str(refusal["detail"]),
            headers={"Idempotent-Replayed": "true"},
        )
    return result.body


@router.get("/v1/audit", summary="The audit log: Connectivity API and MCP calls, newest first")
def audit_log(
    tenant: TenantDep,
    runtime: RuntimeDep,
    *,
    channel: Annotated[str | None, Query(max_length=16)] = None,
    action: Annotated[str | None, Query(max_length=60)] = None,
    before: Annotated[datetime | None, Query(description="older than this instant")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[AuditOut]:
    if before is not None and before.tzinfo is None:
        raise ApiProblem(422, "VALIDATION_ERROR", "before: give a timezone", field="before")
    with runtime.sessions() as session:
        events = audit.list_events(
            session, tenant.id, channel=channel, action=action, before=before, limit=limit
        )
        return [AuditOut.model_validate(e, from_attributes=True) for e in events]
