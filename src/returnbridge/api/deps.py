"""FastAPI dependencies: the runtime, the calling tenant, the admin check.

They are coroutines because they do no I/O (the route class authenticated already): FastAPI
runs a plain-function dependency on a worker thread, one thread hop per dependency per request.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials
from starlette.concurrency import run_in_threadpool

from returnbridge.api.auth import (
    admin_key_scheme,
    authenticate_admin,
    authenticate_tenant,
    tenant_key_scheme,
)
from returnbridge.api.problems import ApiProblem
from returnbridge.engine.runtime import Runtime
from returnbridge.store.tables import Tenant


async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_tenant(
    request: Request,
    _key: Annotated[HTTPAuthorizationCredentials | None, Security(tenant_key_scheme)],
) -> Tenant:
    """The tenant `TenantRoute` authenticated before the body was read (or check it now)."""
    tenant: Tenant | None = getattr(request.state, "tenant", None)
    if tenant is not None:
        return tenant
    return await run_in_threadpool(authenticate_tenant, request)


TenantDep = Annotated[Tenant, Depends(get_tenant)]


async def require_admin(
    request: Request,
    _key: Annotated[HTTPAuthorizationCredentials | None, Security(admin_key_scheme)],
) -> None:
    """Passes when `AdminRoute` accepted the admin key (or when it is checked now)."""
    if not getattr(request.state, "admin", False):
        await run_in_threadpool(authenticate_admin, request)


AdminDep = Annotated[None, Depends(require_admin)]


async def reject_nul_in_url(request: Request) -> None:
    """Refuse NUL characters in path and query values: PostgreSQL cannot compare them."""
    values = [*request.path_params.items(), *request.query_params.multi_items()]
    for name, value in values:
        if isinstance(value, str) and "\x00" in value:
            raise ApiProblem(
                422,
                "VALIDATION_ERROR",
                f"{name}: text must not contain NUL characters",
                field=name,
            )
