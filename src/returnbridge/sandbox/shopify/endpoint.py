"""``POST /admin/api/2026-01/graphql.json``: auth, faults, cost, throttling, execution, journal."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio
from fastapi import Request
from fastapi.responses import JSONResponse
from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLError,
    OperationDefinitionNode,
    execute,
    get_operation_ast,
    parse,
)

from returnbridge.sandbox.shopify.coercion import coercion_errors, validation_errors
from returnbridge.sandbox.shopify.cost import actual_cost, requested_cost
from returnbridge.sandbox.shopify.faults import Fault
from returnbridge.sandbox.shopify.gids import gid
from returnbridge.sandbox.shopify.schema import (
    RequestContext,
    executable_schema,
    idempotency_key_of,
)
from returnbridge.sandbox.shopify.simulator import Simulator
from returnbridge.sandbox.shopify.state import Shop

API_VERSION = "2026-01"
MAX_SINGLE_QUERY_COST = 1000
INVALID_TOKEN_BODY = {
    "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"
}
BAD_BODY = {"errors": {"query": "Required parameter missing or invalid"}}
NOT_FOUND_BODY = {"errors": "Not Found"}
VERSION_HEADER = "X-Shopify-API-Version"
THROTTLED_ERROR = {
    "message": "Throttled",
    "extensions": {
        "code": "THROTTLED",
        "documentation": "https://shopify.dev/api/usage/rate-limits",
    },
}
_SERVER_ERRORS = {
    "http_500": (500, "Internal Server Error"),
    "http_502": (502, "Bad Gateway"),
    "http_503": (503, "Service Unavailable"),
}


@dataclass
class _Call:
    """What the journal will say about one call."""

    shop: str | None = None
    operation: str | None = None
    operation_name: str | None = None
    kind: str | None = None
    variables: dict[str, Any] | None = None
    idempotency_key: str | None = None
    effect: str | None = None
    refund_id: str | None = None
    throttled: bool = False
    fault: str | None = None
    requested_cost: int | None = None
    actual_cost: int | None = None


def _respond(
    simulator: Simulator, call: _Call, body: Any, *, status: int = 200, at: float
) -> JSONResponse:
    simulator.journal.record(
        at=at,
        shop=call.shop,
        operation=call.operation,
        operation_name=call.operation_name,
        kind=call.kind,
        variables=call.variables,
        idempotency_key=call.idempotency_key,
        http_status=status,
        effect=call.effect,
        refund_id=call.refund_id,
        throttled=call.throttled,
        fault=call.fault,
        requested_cost=call.requested_cost,
        actual_cost=call.actual_cost,
    )
    return JSONResponse(body, status_code=status, headers={VERSION_HEADER: API_VERSION})


async def _read_body(request: Request) -> dict[str, Any] | None:
    try:
        body = json.loads(await request.body())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    if not isinstance(body, dict) or not isinstance(body.get("query"), str):
        return None
    variables = body.get("variables")
    if variables is not None and not isinstance(variables, dict):
        return None
    return body


def _root_field(operation: OperationDefinitionNode) -> str | None:
    for selection in operation.selection_set.selections:
        if isinstance(selection, FieldNode):
            return selection.name.value
    return None


def _cost(
    requested: int, actual: int | None, simulator: Simulator, shop: Shop, now: float
) -> dict[str, Any]:
    return {
        "requestedQueryCost": requested,
        "actualQueryCost": actual,
        "throttleStatus": simulator.bucket(shop).status(now=now),
    }


def _execute(
    simulator: Simulator,
    shop: Shop,
    document: DocumentNode,
    body: dict[str, Any],
    now: float,
) -> tuple[ExecutionResult, RequestContext]:
    context = RequestContext(
        world=simulator.world, shop=shop, now=simulator.timestamp(now), clock_value=now
    )
    with simulator.world.lock:
        result = execute(
            executable_schema(),
            document,
            context_value=context,
            variable_values=body.get("variables"),
            operation_name=body.get("operationName"),
        )
    assert isinstance(result, ExecutionResult)
    return result, context


_VERSION = re.compile(r"(\d{4})-(01|04|07|10)")


def served_version(requested: str) -> str | None:
    """The version that answers a request for ``requested``, or None (404).

    Shopify serves a version it no longer supports with the oldest supported one ("falls
    forward"); here that is the only version simulated. Versions after it are not simulated.
    """
    if requested == API_VERSION:
        return API_VERSION
    if _VERSION.fullmatch(requested) and requested < API_VERSION:
        return API_VERSION
    return None


async def graphql_endpoint(request: Request) -> JSONResponse:
    """Serve one Admin GraphQL call the way the platform would."""
    if served_version(request.path_params.get("version", API_VERSION)) is None:
        return JSONResponse(NOT_FOUND_BODY, status_code=404)
    simulator: Simulator = request.app.state.simulator
    now = simulator.clock()
    call = _Call()
    body = await _read_body(request)
    with simulator.world.lock:
        shop = simulator.world.shop_for_token(request.headers.get("X-Shopify-Access-Token"))
    if shop is None:
        return _respond(simulator, call, INVALID_TOKEN_BODY, status=401, at=now)
    call.shop = shop.domain
    if body is None:
        return _respond(simulator, call, BAD_BODY, status=400, at=now)
    call.operation_name = body.get("operationName")
    call.variables = body.get("variables")
    try:
        document = parse(body["query"])
    except GraphQLError as error:
        return _respond(simulator, call, {"errors": [error.formatted]}, at=now)
    schema = executable_schema()
    errors = validation_errors(schema, document)
    operation = get_operation_ast(document, body.get("operationName"))
    if errors or operation is None:
        messages = errors or [
            {"message": "An operation name is required when several operations are sent."}
        ]
        return _respond(simulator, call, {"errors": messages}, at=now)
    call.kind = operation.operation.value
    call.operation = _root_field(operation)
    coercion = coercion_errors(schema, document, operation, body.get("variables") or {})
    if coercion:
        return _respond(simulator, call, {"errors": coercion}, at=now)
    key = None
    if call.operation == "refundCreate":
        key = idempotency_key_of(operation, body.get("variables") or {})
    with simulator.world.lock:
        if key is not None and key in shop.in_flight:
            # The first request with this key is still executing (or holding its answer).
            call.idempotency_key, call.effect = key, "idempotency_concurrent"
            return _respond(simulator, call, _concurrent_body(call.operation), at=now)
        if key is not None:
            shop.in_flight.add(key)
        fault = simulator.faults.take(operation=call.operation, scope=shop.domain)

    def release() -> None:
        if key is not None:
            with simulator.world.lock:
                shop.in_flight.discard(key)

    try:
        return await _charge_and_run(
            simulator,
            call,
            shop=shop,
            document=document,
            body=body,
            operation=operation,
            fault=fault,
            now=now,
            release=release,
        )
    finally:
        release()


def _concurrent_body(operation: str | None) -> dict[str, Any]:
    return {
        "errors": [
            {
                "message": "This request is currently in progress, please try again.",
                "path": [operation],
                "extensions": {"code": "IDEMPOTENCY_CONCURRENT_REQUEST"},
            }
        ],
        "data": {operation: None},
    }


async def _charge_and_run(
    simulator: Simulator,
    call: _Call,
    *,
    shop: Shop,
    document: DocumentNode,
    body: dict[str, Any],
    operation: OperationDefinitionNode,
    fault: Fault | None,
    now: float,
    release: Callable[[], None],
) -> JSONResponse:
    schema = executable_schema()
    call.fault = fault.kind if fault else None
    if fault is not None and fault.kind in _SERVER_ERRORS:
        status, message = _SERVER_ERRORS[fault.kind]
        return _respond(simulator, call, {"errors": message}, status=status, at=now)
    fragments = [d for d in document.definitions if isinstance(d, FragmentDefinitionNode)]
    variables = body.get("variables") or {}
    requested = requested_cost(schema, operation, fragments, variables)
    call.requested_cost = requested
    if requested > MAX_SINGLE_QUERY_COST:
        too_costly = {
            "message": (
                f"Query cost is {requested}, which exceeds the single query max cost limit "
                f"({MAX_SINGLE_QUERY_COST})."
            ),
            "extensions": {
                "code": "MAX_COST_EXCEEDED",
                "cost": requested,
                "maxCost": MAX_SINGLE_QUERY_COST,
            },
        }
        extensions = {"cost": _cost(requested, None, simulator, shop, now)}
        return _respond(simulator, call, {"errors": [too_costly], "extensions": extensions}, at=now)
    bucket = simulator.bucket(shop)
    if (fault is not None and fault.kind == "throttled") or not bucket.take(requested, now=now):
        call.throttled = True
        extensions = {"cost": _cost(requested, None, simulator, shop, now)}
        return _respond(
            simulator, call, {"errors": [THROTTLED_ERROR], "extensions": extensions}, at=now
        )
    executed = _Executed(document, body, operation, fragments, requested)
    return await _run(
        simulator, call, shop=shop, executed=executed, fault=fault, now=now, release=release
    )


@dataclass(frozen=True)
class _Executed:
    """A validated operation that was charged ``requested`` points."""

    document: DocumentNode
    body: dict[str, Any]
    operation: OperationDefinitionNode
    fragments: list[FragmentDefinitionNode]
    requested: int


async def _run(
    simulator: Simulator,
    call: _Call,
    *,
    shop: Shop,
    executed: _Executed,
    fault: Fault | None,
    now: float,
    release: Callable[[], None],
) -> JSONResponse:
    schema = executable_schema()
    variables = executed.body.get("variables") or {}
    requested = executed.requested
    if fault is not None and fault.kind == "latency":
        await anyio.sleep(fault.hold_seconds)
    result, context = await anyio.to_thread.run_sync(
        _execute, simulator, shop, executed.document, executed.body, now
    )
    call.effect = context.effect
    call.idempotency_key = context.idempotency_key
    call.refund_id = gid("Refund", context.refund_id) if context.refund_id else None
    actual = actual_cost(schema, executed.operation, executed.fragments, variables, result.data)
    call.actual_cost = actual
    simulator.bucket(shop).give_back(requested - actual, now=now)
    response: dict[str, Any] = {}
    if result.errors:
        response["errors"] = [e.formatted for e in result.errors]
    response["data"] = result.data
    extensions: dict[str, Any] = {"cost": _cost(requested, actual, simulator, shop, now)}
    if context.search_warnings:
        extensions["search"] = [{"path": [call.operation], "warnings": context.search_warnings}]
    response["extensions"] = extensions
    answer = _respond(simulator, call, response, at=now)
    release()  # executed: a repeat now replays, even while this answer is held back
    if fault is not None and fault.kind == "timeout_after_commit":
        await anyio.sleep(fault.hold_seconds)
    return answer
