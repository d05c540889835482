"""FastAPI dependencies: the runtime, a database session, the calling tenant, the admin check."""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Header, Request
from sqlalchemy.orm import Session

from returnbridge.api.problems import ApiProblem
from returnbridge.engine.runtime import Runtime
from returnbridge.store.tables import Tenant
from returnbridge.store.tenants import tenant_by_api_key


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_session(runtime: RuntimeDep) -> Iterator[Session]:
    """A read session for the request; routes that write open their own short transaction."""
    with runtime.reads() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def _bearer(authorization: str | None) -> str:
    if not authorization or not authorization.lower().startswith("bearer "):
        raise ApiProblem(401, "UNAUTHENTICATED", "send 'Authorization: Bearer <api key>'")
    return authorization[7:].strip()


def get_tenant(
    session: SessionDep, authorization: Annotated[str | None, Header()] = None
) -> Tenant:
    tenant = tenant_by_api_key(session, _bearer(authorization))
    if tenant is None:
        raise ApiProblem(401, "INVALID_API_KEY", "the API key is not valid")
    return tenant


TenantDep = Annotated[Tenant, Depends(get_tenant)]


def require_admin(
    runtime: RuntimeDep, authorization: Annotated[str | None, Header()] = None
) -> None:
    given = _bearer(authorization)
    if not hmac.compare_digest(given.encode(), runtime.settings.resolved_admin_key.encode()):
        raise ApiProblem(403, "NOT_ADMIN", "this route needs the admin key")


AdminDep = Annotated[None, Depends(require_admin)]


def reject_nul_in_url(request: Request) -> None:
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
