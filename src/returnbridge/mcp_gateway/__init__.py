"""The MCP gateway: tools for AI agents in support tools (find an order, preview a refund,
file and follow returns, work the review queue) on the same engine as the event API, within
the limits a merchant sets (`store.guardrails`). Every tool call is on the audit log with the
agent's identity. Served over streamable HTTP at `/mcp` (tenant key) and over stdio."""
