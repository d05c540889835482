"""The MCP gateway over stdio, for local use (Claude Desktop, an IDE): a thin bridge that
serves the same tools on stdin/stdout by calling a running gateway's `/mcp` endpoint with the
tenant's key. Guardrails, audit and workflows stay in the gateway; nothing runs twice."""

from __future__ import annotations

from typing import Any

import httpx2
from mcp import Client, types
from mcp.client.streamable_http import streamable_http_client
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server

from returnbridge.mcp_gateway.server import INSTRUCTIONS, MCP_PATH


async def serve_stdio(gateway_url: str, api_key: str, agent: str) -> None:
    """Serve stdio until the client closes it; every call goes to `gateway_url` + /mcp."""
    headers = {"Authorization": f"Bearer {api_key}", "X-Agent-Name": agent}
    endpoint = gateway_url.rstrip("/") + MCP_PATH
    async with (
        httpx2.AsyncClient(headers=headers, timeout=60) as http,
        Client(streamable_http_client(endpoint, http_client=http)) as remote,
    ):

        async def list_tools(
            _ctx: Any, _params: types.PaginatedRequestParams | None
        ) -> types.ListToolsResult:
            return await remote.list_tools()

        async def call_tool(_ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
            return await remote.call_tool(params.name, params.arguments or {})

        bridge: Server[Any] = Server(
            "returnbridge",
            version="0.1.0",
            instructions=INSTRUCTIONS,
            on_list_tools=list_tools,
            on_call_tool=call_tool,
        )
        async with stdio_server() as (read_stream, write_stream):
            await bridge.run(read_stream, write_stream, bridge.create_initialization_options())
