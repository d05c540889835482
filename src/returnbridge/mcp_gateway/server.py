"""The MCP server (official `mcp` SDK): the tools, their descriptions and JSON Schemas, and
the streamable HTTP endpoint `/mcp` behind the tenant's API key.

Each call is stateless (`stateless_http`), so any worker answers any call. The agent names
itself with an `X-Agent-Name` header (else its User-Agent); that name is on the audit log.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

import anyio.to_thread
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.transport_security import TransportSecuritySettings
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from returnbridge.api.auth import authenticate_tenant
from returnbridge.api.problems import ApiProblem
from returnbridge.domain.returns import OrderReference, RefundInstruction, ReturnLine
from returnbridge.engine.runtime import Runtime
from returnbridge.mcp_gateway import tools
from returnbridge.mcp_gateway.tools import Agent, ToolRefused
from returnbridge.observability import get_logger

MCP_PATH = "/mcp"
log = get_logger(__name__)
AGENT_KEY = "returnbridge.agent"
T = TypeVar("T")

INSTRUCTIONS = (
    "returnbridge files customer returns and refunds into the merchant's store (Shopify, "
    "WooCommerce, BigCommerce, SHOPLINE) exactly once. Find the order first, preview the "
    "refund, then file the return with create_return and follow it with get_return. Money is "
    "in minor units (cents) unless a field says otherwise. The merchant may limit agents: "
    "calculate-only, a maximum refund per return, caps per hour and day, and returns above a "
    "threshold wait for a person (status needs_review)."
)

ConnectionArg = Annotated[
    str | None,
    Field(description="the store connection; leave out when the merchant has one store"),
]


class ReturnItem(ReturnLine):
    """One returned item: `line_id` (the platform's order line id) or `sku`, and quantity."""


class NewReturn(BaseModel):
    """A return as the customer asked for it."""

    model_config = ConfigDict(extra="forbid")

    external_id: str = Field(
        min_length=1,
        max_length=200,
        description="your id for this return (a ticket or conversation id); filing the same "
        "id again answers the return already filed",
    )
    order: OrderReference = Field(
        description="platform_order_id when known; else order_number and customer_email"
    )
    lines: list[ReturnItem] = Field(min_length=1, max_length=100)
    reason: str | None = Field(default=None, max_length=500)
    refund: RefundInstruction | None = Field(
        default=None,
        description="how to refund: shipping, restocking fee, method; default refunds the items",
    )
    customer_note: str | None = Field(default=None, max_length=2000)
    customer_locale: str | None = Field(default=None, max_length=35)


class RefundQuestion(BaseModel):
    model_config = ConfigDict(extra="forbid")

    order_id: str = Field(min_length=1, max_length=200, description="the platform's order id")
    lines: list[ReturnItem] = Field(min_length=1, max_length=100)
    refund: RefundInstruction | None = None


def _agent(ctx: Context[Any, Any]) -> Agent:
    request = ctx.request_context.request
    agent = getattr(getattr(request, "state", None), "returnbridge_agent", None)
    if not isinstance(agent, Agent):  # the gate sets it on every HTTP request
        raise ToolError("not signed in: call /mcp with the tenant's API key")
    return agent


async def _run(runtime: Runtime, agent: Agent, tool: str, call: Callable[[], T]) -> T:
    """Run a tool off the event loop; a refusal becomes a tool error, on the audit log."""
    try:
        return await anyio.to_thread.run_sync(call)
    except ToolRefused as refused:
        await anyio.to_thread.run_sync(tools.audit_refusal, runtime, agent, tool, refused)
        raise ToolError(str(refused)) from refused
    except Exception as exc:  # never an internal message to the agent: ours, and a log entry
        log.exception("mcp tool failed", tool=tool, tenant_id=agent.tenant_id)
        unexpected = ToolRefused("an unexpected error occurred; it has been logged")
        await anyio.to_thread.run_sync(tools.audit_refusal, runtime, agent, tool, unexpected)
        raise ToolError(str(unexpected)) from exc


def build_server(runtime: Runtime) -> MCPServer:
    server: MCPServer = MCPServer(
        name="returnbridge",
        title="returnbridge returns and refunds",
        instructions=INSTRUCTIONS,
        version="0.1.0",
        log_level="WARNING",
    )

    @server.tool(
        description="Find a customer's order in the merchant's store by order number, customer "
        "email or SKU (all given must match), or read one by its platform order id. Answers "
        "orders with id, name, email, currency, total (minor units) and SKUs."
    )
    async def find_order(
        ctx: Context[Any, Any],
        *,
        order_number: Annotated[str | None, Field(description="e.g. #1001 or 1001")] = None,
        customer_email: Annotated[str | None, Field(description="the customer's email")] = None,
        sku: Annotated[str | None, Field(description="a SKU on the order")] = None,
        order_id: Annotated[str | None, Field(description="the platform's order id")] = None,
        connection_id: ConnectionArg = None,
    ) -> dict[str, Any]:
        agent = _agent(ctx)
        return await _run(
            runtime,
            agent,
            "find_order",
            lambda: tools.find_order(
                runtime,
                agent,
                order_number=order_number,
                customer_email=customer_email,
                sku=sku,
                order_id=order_id,
                connection_id=connection_id,
            ),
        )

    @server.tool(
        description="Preview the refund for returned items of an order, without changing "
        "anything: returnbridge's plan to the cent (items, tax, discounts, shipping, fees, "
        "total, tenders) beside the platform's own calculation where it offers one."
    )
    async def preview_refund(
        ctx: Context[Any, Any], question: RefundQuestion, connection_id: ConnectionArg = None
    ) -> dict[str, Any]:
        agent = _agent(ctx)
        request = question.model_dump(mode="json", exclude_none=True)
        return await _run(
            runtime,
            agent,
            "preview_refund",
            lambda: tools.preview_refund(
                runtime, agent, connection_id=connection_id, request=request
            ),
        )

    @server.tool(
        description="File a customer's return. It runs the merchant's workflow (match the "
        "order, refund, restock, notify) exactly once per external_id. Answers the return's "
        "id and status; follow it with get_return. Refused in calculate-only mode, beyond the "
        "merchant's caps or maximum refund; above the review threshold the return waits for a "
        "person (needs_review)."
    )
    async def create_return(
        ctx: Context[Any, Any], new_return: NewReturn, connection_id: ConnectionArg = None
    ) -> dict[str, Any]:
        agent = _agent(ctx)
        event = new_return.model_dump(mode="json", exclude_none=True)
        return await _run(
            runtime,
            agent,
            "create_return",
            lambda: tools.create_return(runtime, agent, connection_id=connection_id, event=event),
        )

    @server.tool(
        description="A return's status (received, matched, refunded, restocked, completed, "
        "needs_review, failed, cancelled), its refund total, why it waits if it does, and its "
        "timeline."
    )
    async def get_return(
        ctx: Context[Any, Any],
        return_id: Annotated[str, Field(min_length=1, max_length=40, description="ret_...")],
    ) -> dict[str, Any]:
        agent = _agent(ctx)
        return await _run(
            runtime,
            agent,
            "get_return",
            lambda: tools.get_return(runtime, agent, return_id=return_id),
        )

    @server.tool(
        description="The returns waiting for a decision (needs_review), oldest first, each "
        "with why it waits and which decisions apply (resolve, approve, cancel)."
    )
    async def list_review_queue(
        ctx: Context[Any, Any], limit: Annotated[int, Field(ge=1, le=100)] = 20
    ) -> dict[str, Any]:
        agent = _agent(ctx)
        return await _run(
            runtime,
            agent,
            "list_review_queue",
            lambda: tools.list_review_queue(runtime, agent, limit=limit),
        )

    @server.tool(
        description="Decide a return waiting in needs_review: 'resolve' picks its order (an "
        "order id or number, e.g. when two orders matched), 'approve' approves a requested "
        "return, 'cancel' cancels it (only before money moved). Returns held for a person by "
        "the merchant's limits cannot be approved by an agent. Refused in calculate-only mode."
    )
    async def resolve_return(
        ctx: Context[Any, Any],
        return_id: Annotated[str, Field(min_length=1, max_length=40)],
        decision: Annotated[
            Literal["resolve", "approve", "cancel"],
            Field(description="resolve (with order), approve, or cancel"),
        ],
        order: Annotated[str | None, Field(max_length=200, description="for resolve")] = None,
        note: Annotated[str | None, Field(max_length=500)] = None,
    ) -> dict[str, Any]:
        agent = _agent(ctx)
        return await _run(
            runtime,
            agent,
            "resolve_return",
            lambda: tools.resolve_return(
                runtime, agent, return_id=return_id, decision=decision, order=order, note=note
            ),
        )

    return server


class McpEndpoint:
    """`/mcp`: the tenant's API key checked, the agent named, then the SDK's app."""

    def __init__(self, runtime: Runtime) -> None:
        self.server = build_server(runtime)
        # Bearer keys, not cookies, authenticate here, so DNS rebinding gains an attacker
        # nothing; the Host check would refuse every non-loopback deployment.
        self.app: ASGIApp = self.server.streamable_http_app(
            streamable_http_path=MCP_PATH,
            stateless_http=True,
            json_response=True,
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            tenant = await anyio.to_thread.run_sync(authenticate_tenant, request)
        except ApiProblem as problem:
            body = {"code": problem.code, "detail": problem.detail, "status": problem.status}
            headers = {"WWW-Authenticate": "Bearer", **problem.headers}
            answer = JSONResponse(body, status_code=problem.status, headers=headers)
            await answer(scope, receive, send)
            return
        name = request.headers.get("x-agent-name") or request.headers.get("user-agent") or "agent"
        scope.setdefault("state", {})["returnbridge_agent"] = Agent(tenant.id, name[:150])
        await self.app(scope, receive, send)
