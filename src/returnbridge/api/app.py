"""`create_app(runtime)`: the FastAPI application (OpenAPI at /docs)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import Depends, FastAPI, Response
from fastapi_offline import FastAPIOffline
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.routing import Route

from returnbridge.api import (
    routes_admin,
    routes_agents,
    routes_callbacks,
    routes_connect,
    routes_connectivity,
    routes_email,
    routes_push,
    routes_returns,
    routes_returns_system_webhooks,
    routes_review,
    routes_sources,
)
from returnbridge.api.auth import throttle_for
from returnbridge.api.body_limit import BodySizeLimit
from returnbridge.api.deps import RuntimeDep, reject_nul_in_url
from returnbridge.api.openapi import install_problem_openapi
from returnbridge.api.problems import ApiProblem, install_problem_handlers
from returnbridge.api.security_headers import SecurityHeaders
from returnbridge.dashboard import routes as dashboard
from returnbridge.engine.runtime import Runtime
from returnbridge.mcp_gateway.server import MCP_PATH, McpEndpoint


def create_app(runtime: Runtime) -> FastAPI:
    mcp = McpEndpoint(runtime)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Request threads and database connections are sized together (Runtime.pool_size).
        limiter = anyio.to_thread.current_default_thread_limiter()
        limiter.total_tokens = runtime.settings.api_threads
        async with mcp.server.session_manager.run():
            yield

    # Swagger UI and ReDoc assets are served by the gateway itself, never from a CDN.
    app = FastAPIOffline(
        lifespan=lifespan,
        title="returnbridge",
        version="0.1.0",
        summary="Sync customer returns and refunds, exactly once, into the merchant's platform.",
        dependencies=[Depends(reject_nul_in_url)],
    )
    app.state.runtime = runtime
    app.state.auth_throttle = throttle_for(runtime.settings)
    app.add_middleware(BodySizeLimit, max_bytes=runtime.settings.max_body_bytes)
    app.add_middleware(SecurityHeaders)
    install_problem_handlers(app)
    install_problem_openapi(app)
    app.include_router(routes_returns.router)
    app.include_router(routes_review.router)
    app.include_router(routes_admin.router)
    app.include_router(routes_push.router)
    app.include_router(routes_sources.router)
    app.include_router(routes_email.router)
    app.include_router(routes_callbacks.router)
    app.include_router(routes_connectivity.router)
    app.include_router(routes_agents.router)
    app.include_router(routes_returns_system_webhooks.router)
    dashboard.install(app)
    app.include_router(routes_connect.router)

    # The MCP gateway (docs/mcp.md): an ASGI endpoint of the official SDK behind the tenant key.
    app.router.routes.append(Route(MCP_PATH, endpoint=mcp, methods=["GET", "POST", "DELETE"]))

    @app.get("/health", tags=["ops"])
    def health(rt: RuntimeDep) -> dict[str, str]:
        try:
            with rt.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except SQLAlchemyError as exc:
            raise ApiProblem(503, "DATABASE_UNAVAILABLE", "the database does not answer") from exc
        return {"status": "ok"}

    @app.get("/metrics", tags=["ops"], include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app
