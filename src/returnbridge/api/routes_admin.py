"""Admin routes (admin key): tenants, their API keys and their platform connections.

Each route writes in its own short transaction (`runtime.sessions.begin()`).
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from returnbridge.api.deps import AdminDep, RuntimeDep
from returnbridge.api.problems import ApiProblem
from returnbridge.api.routing import AdminRoute
from returnbridge.api.schemas import (
    ConnectionIn,
    ConnectionOut,
    TenantCreated,
    TenantIn,
    connection_out,
    reject_unstorable,
)
from returnbridge.connectors.registry import require_credentials, require_supported
from returnbridge.connectors.settings import check_settings
from returnbridge.store.connections import create_connection
from returnbridge.store.errors import RecordNotFoundError
from returnbridge.store.tenants import (
    create_tenant,
    delete_tenant,
    get_tenant,
    revoke_api_key,
    rotate_api_key,
)

router = APIRouter(prefix="/v1/tenants", tags=["admin"], route_class=AdminRoute)


def _tenant_not_found(tenant_id: str) -> ApiProblem:
    return ApiProblem(404, "TENANT_NOT_FOUND", f"tenant {tenant_id} not found")


@router.post("", status_code=201, summary="Create a tenant (its API key is shown once)")
def new_tenant(body: TenantIn, _admin: AdminDep, runtime: RuntimeDep) -> TenantCreated:
    reject_unstorable(body)
    with runtime.sessions.begin() as session:
        tenant, api_key = create_tenant(session, body.name)
    return TenantCreated(id=tenant.id, name=tenant.name, api_key=api_key)


@router.post(
    "/{tenant_id}/api-key",
    summary="Rotate a tenant's API key: the new key is shown once, the old one stops working",
)
def rotate_tenant_key(tenant_id: str, _admin: AdminDep, runtime: RuntimeDep) -> TenantCreated:
    with runtime.sessions.begin() as session:
        try:
            tenant, api_key = rotate_api_key(session, tenant_id)
        except RecordNotFoundError as exc:
            raise _tenant_not_found(tenant_id) from exc
    return TenantCreated(id=tenant.id, name=tenant.name, api_key=api_key)


@router.delete(
    "/{tenant_id}/api-key",
    status_code=204,
    summary="Revoke a tenant's API key: no key works until a new one is rotated in",
)
def revoke_tenant_key(tenant_id: str, _admin: AdminDep, runtime: RuntimeDep) -> Response:
    with runtime.sessions.begin() as session:
        try:
            revoke_api_key(session, tenant_id)
        except RecordNotFoundError as exc:
            raise _tenant_not_found(tenant_id) from exc
    return Response(status_code=204)


@router.delete(
    "/{tenant_id}",
    status_code=204,
    summary="Delete a tenant with its connections, returns, timelines and refund records",
)
def remove_tenant(tenant_id: str, _admin: AdminDep, runtime: RuntimeDep) -> Response:
    with runtime.sessions.begin() as session:
        try:
            delete_tenant(session, tenant_id)
        except RecordNotFoundError as exc:
            raise _tenant_not_found(tenant_id) from exc
    return Response(status_code=204)


@router.post(
    "/{tenant_id}/connections",
    status_code=201,
    summary="Connect a tenant to a platform (credentials are encrypted at rest)",
)
def new_connection(
    tenant_id: str,
    body: ConnectionIn,
    _admin: AdminDep,
    runtime: RuntimeDep,
) -> ConnectionOut:
    reject_unstorable(body)
    require_supported(body.platform)
    with runtime.sessions.begin() as session:
        try:
            get_tenant(session, tenant_id)
        except RecordNotFoundError as exc:
            raise _tenant_not_found(tenant_id) from exc
        require_credentials(body.platform, body.credentials)
        check_settings(body.settings)
        connection = create_connection(
            session,
            tenant_id,
            platform=body.platform,
            name=body.name,
            base_url=body.base_url,
            credentials=body.credentials,
            cipher=runtime.cipher,
            settings=body.settings,
        )
    return connection_out(connection)
