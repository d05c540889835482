"""The MCP gateway, driven by the official SDK's own client: over streamable HTTP against a
whole gateway (API, DBOS worker, SQLite or PostgreSQL, the Shopify sandbox) and over stdio
through `returnbridge mcp stdio` in a subprocess."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult

from support.gateway import Gateway, simple_order

pytestmark = pytest.mark.timeout(180)

TOOLS = {
    "find_order",
    "preview_refund",
    "create_return",
    "get_return",
    "list_review_queue",
    "resolve_return",
}


def _key(gateway: Gateway) -> str:
    return str(gateway.api.headers["Authorization"]).removeprefix("Bearer ")


@asynccontextmanager
async def agent(gateway: Gateway, name: str = "helpdesk-bot") -> AsyncIterator[Client]:
    headers = {"Authorization": f"Bearer {_key(gateway)}", "X-Agent-Name": name}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=30) as http,
        Client(streamable_http_client(gateway.server.url + "/mcp", http_client=http)) as client,
    ):
        yield client


def _ok(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return dict(result.structured_content)


def _refused(result: CallToolResult) -> str:
    assert result.is_error, result.structured_content
    return " ".join(getattr(part, "text", "") for part in result.content)


def _new_return(external_id: str, quantity: int = 1) -> dict[str, Any]:
    return {
        "new_return": {
            "external_id": external_id,
            "order": {"order_number": "#1001", "customer_email": "jane@example.com"},
            "lines": [{"sku": "MUG-WHT", "quantity": quantity}],
            "reason": "chipped",
        }
    }


async def _settled(client: Client, return_id: str, within: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while True:
        body = _ok(await client.call_tool("get_return", {"return_id": return_id}))
        if body["status"] in {"completed", "needs_review", "failed", "cancelled"}:
            return body
        assert time.monotonic() < deadline, body["status"]
        await asyncio.sleep(0.1)


def test_an_agent_finds_previews_files_and_follows_a_return(db_gateway: Gateway) -> None:
    db_gateway.sandbox.seed_order(simple_order(1001))

    async def scenario() -> None:
        async with agent(db_gateway) as client:
            listed = await client.list_tools()
            assert {t.name for t in listed.tools} == TOOLS
            for tool in listed.tools:
                assert tool.description
                assert len(tool.description) > 60
                assert tool.input_schema["type"] == "object"
            schemas = {t.name: t.input_schema for t in listed.tools}
            decision = schemas["resolve_return"]["properties"]["decision"]
            assert decision["enum"] == ["resolve", "approve", "cancel"]
            assert schemas["create_return"]["required"] == ["new_return"]
            assert "external_id" in str(schemas["create_return"])
            vague = _refused(await client.call_tool("find_order", {}))
            assert "give order_id, or at least one of" in vague
            found = _ok(await client.call_tool("find_order", {"order_number": "#1001"}))
            (order,) = found["orders"]
            assert order["email"] == "jane@example.com"
            question = {"order_id": order["id"], "lines": [{"sku": "MUG-WHT", "quantity": 1}]}
            preview = _ok(await client.call_tool("preview_refund", {"question": question}))
            assert preview["plan"]["total"] == 1085
            assert preview["platform"]["total"] == 1085
            assert preview["agrees"] is True
            assert db_gateway.sandbox.refunds_created() == []  # a preview changes nothing

            filed = _ok(await client.call_tool("create_return", _new_return("CHAT-1")))
            assert filed["planned_refund"] == {"amount": "10.85", "currency": "USD"}
            assert filed["held_for_review"] is None
            body = await _settled(client, filed["return_id"])
            assert body["status"] == "completed"
            assert body["refund_total"]["amount"] == "10.85"
            again = _ok(await client.call_tool("create_return", _new_return("CHAT-1")))
            assert again["return_id"] == filed["return_id"]
            assert again["duplicate"] is True

    asyncio.run(scenario())
    assert len(db_gateway.sandbox.refunds_created()) == 1

    def logged(action: str) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = db_gateway.api.get(
            "/v1/audit", params={"action": action, "limit": 500}
        ).json()
        return entries

    assert [e["outcome"] for e in logged("find_order")] == ["refused"]
    assert [e["outcome"] for e in logged("find_orders")] == ["ok"]
    assert [e["outcome"] for e in logged("preview_refund")] == ["ok"]
    assert logged("get_return")  # every tool call, reads too
    audit = logged("create_return")
    assert len(audit) == 2
    everything = db_gateway.api.get("/v1/audit", params={"limit": 500}).json()
    assert {e["actor"] for e in everything} == {"mcp:helpdesk-bot"}
    assert {e["channel"] for e in everything} == {"mcp"}
    filed_entry = next(e for e in audit if e["action"] == "create_return")
    assert filed_entry["return_id"].startswith("ret_")


def test_guardrails_refuse_cap_and_hold_for_a_person(db_gateway: Gateway) -> None:
    db_gateway.sandbox.seed_order(simple_order(1001))
    api = db_gateway.api

    def limits(**values: Any) -> None:
        answer = api.put("/v1/agents/guardrails", json=values)
        assert answer.status_code == 200, answer.text

    async def scenario() -> None:
        async with agent(db_gateway, "cs-copilot") as client:
            limits(calculate_only=True)
            refused = _refused(await client.call_tool("create_return", _new_return("G-1")))
            assert "calculate only" in refused
            found = _ok(await client.call_tool("find_order", {"order_number": "#1001"}))
            question = {
                "order_id": found["orders"][0]["id"],
                "lines": [{"sku": "MUG-WHT", "quantity": 1}],
            }
            _ok(await client.call_tool("preview_refund", {"question": question}))
            refused = _refused(
                await client.call_tool(
                    "resolve_return", {"return_id": "ret_x", "decision": "cancel"}
                )
            )
            assert "calculate only" in refused

            limits(max_refund_per_return={"USD": "15.00"})
            refused = _refused(await client.call_tool("create_return", _new_return("G-2", 2)))
            assert "21.70 USD is above the agents' maximum of 15.00 USD" in refused

            limits(max_refund_per_return={"USD": "50.00"}, review_above={"USD": "5.00"})
            held = _ok(await client.call_tool("create_return", _new_return("G-3")))
            assert "above 5.00 USD" in held["held_for_review"]
            body = await _settled(client, held["return_id"])
            assert body["status"] == "needs_review"
            assert body["review"]["reason"].startswith("held for a person: the refund 10.85 USD")
            queue = _ok(await client.call_tool("list_review_queue", {}))
            assert [r["return_id"] for r in queue["returns"]] == [held["return_id"]]
            refused = _refused(
                await client.call_tool(
                    "resolve_return", {"return_id": held["return_id"], "decision": "approve"}
                )
            )
            assert "held for a person" in refused
            assert db_gateway.sandbox.refunds_created() == []
            approved = api.post(f"/v1/returns/{held['return_id']}/approve")  # a person
            assert approved.status_code == 202, approved.text
            assert (await _settled(client, held["return_id"]))["status"] == "completed"

            limits(returns_per_day=3)  # G-3 was filed today: two more may be filed
            answers = await asyncio.gather(
                *(client.call_tool("create_return", _new_return(f"B-{n}")) for n in range(6))
            )
            made = [a for a in answers if not a.is_error]
            assert len(made) == 2
            assert all("3 returns per day" in _refused(a) for a in answers if a.is_error)

    asyncio.run(scenario())
    audit = api.get("/v1/audit", params={"action": "create_return"}).json()
    outcomes = sorted(e["outcome"] for e in audit)
    assert outcomes.count("ok") == 3
    assert outcomes.count("refused") == 6
    assert {e["actor"] for e in audit} == {"mcp:cs-copilot"}


def test_the_mcp_endpoint_needs_the_tenants_key(db_gateway: Gateway) -> None:
    answer = httpx.post(
        db_gateway.server.url + "/mcp",
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        headers={"Authorization": "Bearer rbk_wrong", "Accept": "application/json"},
    )
    assert answer.status_code == 401
    assert answer.json()["code"] == "INVALID_API_KEY"
    assert httpx.post(db_gateway.server.url + "/mcp", json={}).status_code == 401


def test_stdio_bridge_serves_the_same_tools(gateway: Gateway) -> None:
    gateway.sandbox.seed_order(simple_order(1001))
    params = StdioServerParameters(
        command=sys.executable,
        args=[
            "-m",
            "returnbridge.cli.main",
            "mcp",
            "stdio",
            "--url",
            gateway.server.url,
            "--agent",
            "desk",
        ],
        env={**os.environ, "RETURNBRIDGE_API_KEY": _key(gateway)},
    )

    async def scenario() -> None:
        async with Client(params) as client:
            listed = await client.list_tools()
            assert {t.name for t in listed.tools} == TOOLS
            found = _ok(
                await client.call_tool("find_order", {"customer_email": "jane@example.com"})
            )
            assert [o["name"] for o in found["orders"]] == ["#1001"]

    asyncio.run(scenario())
    audit = gateway.api.get("/v1/audit").json()
    assert [(e["actor"], e["action"]) for e in audit] == [("mcp:desk", "find_orders")]


def test_an_unexpected_failure_reaches_the_agent_in_our_words(db_gateway: Gateway) -> None:
    """Whatever breaks inside a tool, the agent reads our sentence, never the exception's."""
    from mcp.server.mcpserver.exceptions import ToolError

    from returnbridge.mcp_gateway.server import _run
    from returnbridge.mcp_gateway.tools import Agent

    agent_id = Agent(db_gateway.tenant_id, "probe")

    def broken() -> None:
        raise RuntimeError("psycopg: relation secret_internal_table does not exist")

    with pytest.raises(ToolError) as raised:
        asyncio.run(_run(db_gateway.runtime, agent_id, "get_return", broken))
    assert str(raised.value) == "an unexpected error occurred; it has been logged"
    (entry,) = db_gateway.api.get("/v1/audit").json()
    assert (entry["action"], entry["outcome"], entry["actor"]) == (
        "get_return",
        "refused",
        "mcp:probe",
    )
    assert "secret_internal_table" not in str(entry)
