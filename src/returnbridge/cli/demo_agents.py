"""The demo's look at the two ways to call platforms directly: the Connectivity API previews
a refund on the demo shop's order #1007 (ours beside Shopify's), and an MCP client (the SDK's
own) lists the agents' tools and previews the same refund through them."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from rich.console import Console

from returnbridge.domain.money import format_minor

ORDER = "#1007"
"""An order no demo return settles (TEL-6006 waits between #1006 and #1007)."""


def report(console: Console, *, gateway_url: str, api_key: str) -> list[str]:
    """Show both previews; what is not as it should be, in words."""
    headers = {"Authorization": f"Bearer {api_key}"}
    with httpx.Client(base_url=gateway_url, headers=headers, timeout=30) as api:
        (connection,) = [c for c in api.get("/v1/connections").json() if c["platform"] == "shopify"]
        act = f"/v1/connections/{connection['id']}/actions"
        found = api.post(f"{act}/find_orders", json={"name": ORDER}).json()["orders"]
        if len(found) != 1:
            return [f"Connectivity API: find_orders {ORDER} answered {len(found)} orders"]
        order = api.post(f"{act}/get_order", json={"order_id": found[0]["id"]}).json()
        line = order["line_items"][0]
        question = {"order_id": order["id"], "lines": [{"line_id": line["id"], "quantity": 1}]}
        preview = api.post(f"{act}/preview_refund", json=question).json()
    ours, theirs = preview["plan"]["total"], (preview.get("platform") or {}).get("total")
    currency = preview["currency"]
    console.print(
        f"Connectivity API: preview of 1 × {line.get('title') or line['sku']} from {ORDER}: "
        f"ours {format_minor(ours, currency)} {currency}, "
        f"Shopify's {format_minor(theirs, currency)} {currency}"
        if theirs is not None
        else f"Connectivity API: preview of {ORDER}: ours {ours} (Shopify gave none)"
    )
    problems = [] if preview.get("agrees") else [f"Connectivity API: {preview['differences']}"]
    tools, agent_total = asyncio.run(_agent(gateway_url, api_key, question))
    console.print(
        f"MCP gateway: {len(tools)} tools ({', '.join(tools)}); the agent's preview: "
        f"{format_minor(agent_total, currency)} {currency}"
    )
    if agent_total != ours:
        problems.append(f"MCP: the agent's preview {agent_total} differs from {ours}")
    return problems


async def _agent(gateway_url: str, api_key: str, question: dict[str, Any]) -> tuple[list[str], int]:
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    headers = {"Authorization": f"Bearer {api_key}", "X-Agent-Name": "demo-agent"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=30) as http,
        Client(streamable_http_client(f"{gateway_url}/mcp", http_client=http)) as client,
    ):
        listed = await client.list_tools()
        answer = await client.call_tool("preview_refund", {"question": question})
        content = answer.structured_content or {}
        return [tool.name for tool in listed.tools], int(content["plan"]["total"])
