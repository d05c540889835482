"""`returnbridge mcp stdio`: the MCP gateway on stdin/stdout for a local AI client, bridged
to a running gateway's `/mcp` with the tenant's key (docs/mcp.md)."""

from __future__ import annotations

from typing import Annotated

import anyio
import typer
from rich.console import Console

mcp_app = typer.Typer(help="The MCP gateway for AI agents.", no_args_is_help=True)
_errors = Console(stderr=True)


@mcp_app.command("stdio")
def stdio(
    api_key: Annotated[
        str,
        typer.Option(
            envvar="RETURNBRIDGE_API_KEY",
            help="the tenant's API key (rbk_...); better set RETURNBRIDGE_API_KEY",
            show_default=False,
        ),
    ],
    url: Annotated[
        str, typer.Option(envvar="RETURNBRIDGE_URL", help="the running gateway")
    ] = "http://127.0.0.1:8000",
    agent: Annotated[
        str, typer.Option(help="the agent's name on the audit log (mcp:<name>)")
    ] = "stdio",
) -> None:
    """Serve the MCP tools on stdin/stdout (nothing else is written to stdout)."""
    import httpx2

    from returnbridge.mcp_gateway.stdio import serve_stdio

    try:
        anyio.run(serve_stdio, url, api_key, agent)
    except* httpx2.HTTPError as group:
        _errors.print(
            f"[red]cannot reach the gateway at {url}/mcp[/]: {group.exceptions[0]}; start it "
            "with `returnbridge up` (or `make run`) and check --url"
        )
        raise typer.Exit(1) from None
