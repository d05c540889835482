"""The Connectivity API's actions: one platform operation each, in the unified models.

`catalog` says which platform offers which action with what JSON Schemas; `run` executes one
through the connection's connector (its rate limiter and HTTP client, as the workflows use).
The API (`api/routes_connectivity.py`) and the MCP gateway call the same code.
"""
