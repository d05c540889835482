"""The executable GraphQL schema: ``schema.graphql`` plus the sandbox's resolvers."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files
from typing import Any

from graphql import (
    FieldNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLSchema,
    OperationDefinitionNode,
    build_schema,
    value_from_ast_untyped,
)

from returnbridge.sandbox.shopify import returns, search
from returnbridge.sandbox.shopify.gids import parse_gid
from returnbridge.sandbox.shopify.pagination import connection
from returnbridge.sandbox.shopify.refunds import create_refund
from returnbridge.sandbox.shopify.state import Order, Shop, StoredAttempt, World
from returnbridge.sandbox.shopify.views import location_view, order_view, refund_view

Info = GraphQLResolveInfo[Any]
IDEMPOTENCY_RETENTION_SECONDS = 24 * 3600
_SORT_KEYS: dict[str, Callable[[Order], tuple[object, ...]]] = {
    "CREATED_AT": lambda o: (o.created_at, o.id),
    "PROCESSED_AT": lambda o: (o.created_at, o.id),
    "UPDATED_AT": lambda o: (o.updated_at, o.id),
    "ORDER_NUMBER": lambda o: (o.name, o.id),
}


@dataclass
class RequestContext:
    """What resolvers need for one request, and what they report back to the journal."""

    world: World
    shop: Shop
    now: str
    clock_value: float
    effect: str | None = None
    refund_id: int | None = None
    idempotency_key: str | None = None
    search_warnings: list[dict[str, str]] = field(default_factory=list)


@cache
def schema_sdl() -> str:
    """The SDL shipped with the sandbox."""
    return files("returnbridge.sandbox.shopify").joinpath("schema.graphql").read_text("utf-8")


def _context(info: Info) -> RequestContext:
    context = info.context
    assert isinstance(context, RequestContext)
    return context


def _resolve_order(_root: object, info: Info, id: str) -> dict[str, Any] | None:
    ctx = _context(info)
    order_id = parse_gid(id, "Order")
    order = ctx.shop.orders.get(order_id) if order_id is not None else None
    return order_view(order, ctx.shop) if order else None


def _resolve_orders(
    _root: object,
    info: Info,
    *,
    first: int | None = None,
    after: str | None = None,
    query: str | None = None,
    reverse: bool = False,
    sortKey: str = "PROCESSED_AT",  # noqa: N803 - GraphQL argument
) -> dict[str, Any]:
    ctx = _context(info)
    try:
        expression, terms = search.parse_query(query or "")
    except search.SearchSyntaxError as exc:
        raise GraphQLError(f"Invalid search query: {exc}.") from exc
    ctx.search_warnings = search.warnings(terms)
    orders = [o for o in ctx.shop.orders.values() if search.matches(o, expression)]
    orders.sort(key=_SORT_KEYS.get(sortKey, lambda o: (o.id,)))
    if reverse:
        orders.reverse()
    return connection(
        orders,
        first=first,
        after=after,
        item_id=lambda o: o.id,
        view=lambda o: order_view(o, ctx.shop),
    )


def _resolve_locations(
    _root: object,
    info: Info,
    *,
    first: int | None = None,
    after: str | None = None,
    includeInactive: bool = False,  # noqa: N803 - GraphQL argument
) -> dict[str, Any]:
    shop = _context(info).shop
    locations = sorted(
        (loc for loc in shop.locations if loc.active or includeInactive),
        key=lambda loc: (loc.name, loc.id),
    )
    return connection(
        locations, first=first, after=after, item_id=lambda loc: loc.id, view=location_view
    )


def _idempotency_key(info: Info) -> str | None:
    for directive in info.field_nodes[0].directives or ():
        if directive.name.value != "idempotent":
            continue
        for argument in directive.arguments or ():
            if argument.name.value == "key":
                value = value_from_ast_untyped(argument.value, info.variable_values.coerced)
                if not isinstance(value, str) or not value.strip():
                    msg = "Idempotency key cannot be empty or whitespace."
                    raise GraphQLError(msg, extensions={"code": "BAD_REQUEST"})
                return value
    return None


def _payload(
    shop: Shop,
    order: Order | None,
    refund_id: int | None,
    user_errors: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    refund = None
    if order is not None and refund_id is not None:
        refund = next((r for r in order.refunds if r.id == refund_id), None)
    return {
        "refund": refund_view(refund, order, shop) if refund and order else None,
        "order": order_view(order, shop) if order else None,
        "userErrors": list(user_errors or []),
    }


def idempotency_key_of(operation: OperationDefinitionNode, variables: dict[str, Any]) -> str | None:
    """The ``@idempotent(key:)`` of the operation's root field, when given and not blank."""
    for selection in operation.selection_set.selections:
        if not isinstance(selection, FieldNode):
            continue
        for directive in selection.directives or ():
            if directive.name.value != "idempotent":
                continue
            for argument in directive.arguments or ():
                if argument.name.value == "key":
                    value = value_from_ast_untyped(argument.value, variables)
                    if isinstance(value, str) and value.strip():
                        return value
    return None


def _mismatch() -> GraphQLError:
    msg = "The same idempotency key cannot be used with different operation parameters."
    return GraphQLError(msg, extensions={"code": "IDEMPOTENCY_KEY_PARAMETER_MISMATCH"})


def _resolve_refund_create(_root: object, info: Info, input: dict[str, Any]) -> dict[str, Any]:
    ctx = _context(info)
    shop = ctx.shop
    key = _idempotency_key(info)
    ctx.idempotency_key = key
    fingerprint = json.dumps(input, sort_keys=True, default=str)
    order_id = parse_gid(input["orderId"], "Order")
    order = shop.orders.get(order_id) if order_id is not None else None
    with ctx.world.lock:
        stored = shop.idempotency.get(key) if key is not None else None
        if stored and ctx.clock_value - stored.at > IDEMPOTENCY_RETENTION_SECONDS:
            stored = None
        if stored is not None:
            if stored.fingerprint != fingerprint:
                ctx.effect = "rejected"
                raise _mismatch()
            # The first answer again, successful or not ("the result of the original
            # operation"), from the order as it was then.
            ctx.effect, ctx.refund_id = "idempotent_replay", stored.refund_id
            return _payload(shop, stored.order, stored.refund_id, stored.user_errors)
        refund = None
        if order is None:
            errors: list[dict[str, Any]] = [
                {"field": ["orderId"], "message": "Order does not exist."}
            ]
        else:
            refund, errors = create_refund(shop, order, input, ids=ctx.world.ids, now=ctx.now)
        if key is not None:
            shop.idempotency[key] = StoredAttempt(
                fingerprint=fingerprint,
                at=ctx.clock_value,
                refund_id=refund.id if refund else None,
                order=copy.deepcopy(order),
                user_errors=[dict(e) for e in errors],
            )
        if refund is None:
            ctx.effect = "rejected"
            return _payload(shop, order, None, errors)
        ctx.effect, ctx.refund_id = "refund_created", refund.id
        return _payload(shop, order, refund.id)


def _resolve_discount_type(value: dict[str, Any], *_: object) -> str:
    return str(value["__typename"])


@cache
def executable_schema() -> GraphQLSchema:
    """The schema with resolvers attached (built once per process)."""
    schema = build_schema(schema_sdl())
    query = schema.query_type
    mutation = schema.mutation_type
    assert query is not None
    assert mutation is not None
    query.fields["order"].resolve = _resolve_order
    query.fields["orders"].resolve = _resolve_orders
    query.fields["locations"].resolve = _resolve_locations
    query.fields["return"].resolve = returns.resolve_return
    mutation.fields["refundCreate"].resolve = _resolve_refund_create
    mutation.fields["returnCreate"].resolve = returns.resolve_return_create
    mutation.fields["returnProcess"].resolve = returns.resolve_return_process
    order = schema.get_type("Order")
    assert isinstance(order, GraphQLObjectType)
    order.fields["returns"].resolve = returns.resolve_order_returns
    order.fields["fulfillments"].resolve = returns.resolve_order_fulfillments
    return_line = schema.get_type("ReturnLineItemType")
    assert isinstance(return_line, GraphQLInterfaceType)
    return_line.resolve_type = returns.resolve_return_line_type
    discount = schema.get_type("DiscountApplication")
    assert isinstance(discount, GraphQLInterfaceType)
    discount.resolve_type = _resolve_discount_type
    for name in ("QueryRoot", "Mutation"):
        assert isinstance(schema.get_type(name), GraphQLObjectType)
    return schema
