"""The HTTP API (FastAPI): returns, tenants, connections, health and metrics."""
