"""Regenerate ``schema.graphql``: the subset of the official Admin API SDL the sandbox serves.

Every signature is copied from the official schema, so names and types match by construction.
Run: ``python -m returnbridge.sandbox.shopify.schema_subset OFFICIAL.graphql > schema.graphql``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from graphql import (
    GraphQLArgument,
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    build_schema,
    get_named_type,
    specified_scalar_types,
)
from graphql.utilities.print_schema import print_deprecated, print_input_value

_CONNECTION = ("nodes", "edges", "pageInfo")
_EDGE = ("cursor", "node")

# Output types: the fields served, each optionally restricted to some arguments ``name(a,b)``.
OUTPUT_FIELDS: dict[str, tuple[str, ...]] = {
    "QueryRoot": (
        "order(id)",
        "orders(after,first,query,reverse,sortKey)",
        "locations(after,first,includeInactive)",
        "return(id)",
    ),
    "Mutation": ("refundCreate(input)", "returnCreate(returnInput)", "returnProcess(input)"),
    "Order": (
        "id",
        "legacyResourceId",
        "name",
        "email",
        "phone",
        "shippingAddress",
        "createdAt",
        "processedAt",
        "updatedAt",
        "currencyCode",
        "presentmentCurrencyCode",
        "taxesIncluded",
        "displayFinancialStatus",
        "customer",
        "refundable",
        "totalPriceSet",
        "totalReceivedSet",
        "totalRefundedSet",
        "netPaymentSet",
        "lineItems(after,first)",
        "shippingLines(after,first)",
        "transactions(first)",
        "refunds(first)",
        "suggestedRefund(refundDuties,refundLineItems,refundShipping,shippingAmount,"
        "suggestFullRefund)",
        "originalTotalDutiesSet",
        "currentTotalDutiesSet",
        "fulfillments(first,query)",
        "returns(after,first,query,reverse)",
    ),
    "Customer": ("id", "email"),
    "MailingAddress": ("zip",),
    "LineItemConnection": _CONNECTION,
    "LineItemEdge": _EDGE,
    "LineItem": (
        "id",
        "sku",
        "name",
        "title",
        "quantity",
        "refundableQuantity",
        "unfulfilledQuantity",
        "currentQuantity",
        "originalUnitPriceSet",
        "discountAllocations",
        "taxLines",
        "duties",
    ),
    "Duty": ("id", "price", "taxLines", "harmonizedSystemCode", "countryCodeOfOrigin"),
    "DiscountAllocation": ("allocatedAmountSet", "discountApplication"),
    "DiscountApplication": ("allocationMethod", "index", "targetSelection", "targetType"),
    "DiscountCodeApplication": (
        "allocationMethod",
        "code",
        "index",
        "targetSelection",
        "targetType",
    ),
    "ManualDiscountApplication": (
        "allocationMethod",
        "index",
        "targetSelection",
        "targetType",
        "title",
    ),
    "TaxLine": ("title", "rate", "ratePercentage", "priceSet"),
    "ShippingLineConnection": _CONNECTION,
    "ShippingLineEdge": _EDGE,
    "ShippingLine": ("id", "title", "originalPriceSet", "discountAllocations", "taxLines"),
    "OrderTransaction": (
        "id",
        "kind",
        "status",
        "gateway",
        "amountSet",
        "createdAt",
        "parentTransaction",
    ),
    "OrderTransactionConnection": _CONNECTION,
    "OrderTransactionEdge": _EDGE,
    "Refund": (
        "id",
        "legacyResourceId",
        "createdAt",
        "note",
        "totalRefundedSet",
        "refundLineItems(after,first)",
        "refundShippingLines(after,first)",
        "transactions(after,first)",
        "duties",
    ),
    "RefundDuty": ("amountSet", "originalDuty"),
    "RefundLineItemConnection": _CONNECTION,
    "RefundLineItemEdge": _EDGE,
    "RefundLineItem": (
        "lineItem",
        "quantity",
        "restockType",
        "restocked",
        "location",
        "priceSet",
        "subtotalSet",
        "totalTaxSet",
    ),
    "RefundShippingLineConnection": _CONNECTION,
    "RefundShippingLineEdge": _EDGE,
    "RefundShippingLine": ("id", "shippingLine", "subtotalAmountSet", "taxAmountSet"),
    "SuggestedRefund": (
        "amountSet",
        "subtotalSet",
        "totalTaxSet",
        "maximumRefundableSet",
        "discountedSubtotalSet",
        "refundLineItems",
        "shipping",
        "suggestedTransactions",
        "refundDuties",
        "totalDutiesSet",
    ),
    "ShippingRefund": ("amountSet", "taxSet", "maximumRefundableSet"),
    "SuggestedOrderTransaction": (
        "amountSet",
        "gateway",
        "kind",
        "parentTransaction",
        "maximumRefundableSet",
    ),
    "OrderConnection": _CONNECTION,
    "OrderEdge": _EDGE,
    "LocationConnection": _CONNECTION,
    "LocationEdge": _EDGE,
    "Location": ("id", "legacyResourceId", "name", "isActive"),
    "PageInfo": ("hasNextPage", "hasPreviousPage", "startCursor", "endCursor"),
    "MoneyBag": ("shopMoney", "presentmentMoney"),
    "MoneyV2": ("amount", "currencyCode"),
    "RefundCreatePayload": ("refund", "order", "userErrors"),
    "UserError": ("field", "message"),
    # returns (returns.py)
    "Fulfillment": ("id", "status", "fulfillmentLineItems(after,first)"),
    "FulfillmentLineItemConnection": _CONNECTION,
    "FulfillmentLineItemEdge": _EDGE,
    "FulfillmentLineItem": ("id", "quantity", "lineItem"),
    "ReturnConnection": _CONNECTION,
    "ReturnEdge": _EDGE,
    "Return": (
        "id",
        "name",
        "status",
        "createdAt",
        "closedAt",
        "totalQuantity",
        "returnLineItems(after,first)",
        "reverseFulfillmentOrders(after,first)",
        "refunds(after,first)",
        "transactions(after,first)",
    ),
    "ReturnLineItemTypeConnection": _CONNECTION,
    "ReturnLineItemTypeEdge": _EDGE,
    "ReturnLineItemType": (
        "id",
        "quantity",
        "processedQuantity",
        "processableQuantity",
        "unprocessedQuantity",
        "refundedQuantity",
        "refundableQuantity",
        "returnReasonNote",
        "customerNote",
    ),
    "ReturnLineItem": (
        "id",
        "quantity",
        "processedQuantity",
        "processableQuantity",
        "unprocessedQuantity",
        "refundedQuantity",
        "refundableQuantity",
        "returnReasonNote",
        "customerNote",
        "fulfillmentLineItem",
    ),
    "ReverseFulfillmentOrderConnection": _CONNECTION,
    "ReverseFulfillmentOrderEdge": _EDGE,
    "ReverseFulfillmentOrder": ("id", "status", "lineItems(after,first)"),
    "ReverseFulfillmentOrderLineItemConnection": _CONNECTION,
    "ReverseFulfillmentOrderLineItemEdge": _EDGE,
    "ReverseFulfillmentOrderLineItem": (
        "id",
        "totalQuantity",
        "fulfillmentLineItem",
        "dispositions",
    ),
    "ReverseFulfillmentOrderDisposition": ("id", "quantity", "type", "location", "createdAt"),
    "RefundConnection": _CONNECTION,
    "RefundEdge": _EDGE,
    "ReturnCreatePayload": ("return", "userErrors"),
    "ReturnProcessPayload": ("return", "userErrors"),
    "ReturnUserError": ("code", "field", "message"),
}


def _args_sdl(args: dict[str, GraphQLArgument]) -> str:
    if not args:
        return ""
    return "(" + ", ".join(print_input_value(name, arg) for name, arg in args.items()) + ")"


def _field_sdl(name: str, field: GraphQLField, allowed_args: set[str] | None) -> str:
    args = {
        arg_name: arg
        for arg_name, arg in field.args.items()
        if allowed_args is None or arg_name in allowed_args
    }
    return f"  {name}{_args_sdl(args)}: {field.type}{print_deprecated(field.deprecation_reason)}"


def _parse_entry(entry: str) -> tuple[str, set[str] | None]:
    if "(" not in entry:
        return entry, None
    name, _, rest = entry.partition("(")
    return name, set(rest.rstrip(")").split(","))


def subset_sdl(official: GraphQLSchema) -> str:
    """The SDL of the sandbox subset of ``official`` (raises KeyError on a name it lacks)."""
    blocks: list[str] = []
    referenced: set[str] = set()
    for type_name, entries in OUTPUT_FIELDS.items():
        gql_type = official.type_map[type_name]
        assert isinstance(gql_type, GraphQLObjectType | GraphQLInterfaceType)
        lines = []
        for entry in entries:
            name, allowed = _parse_entry(entry)
            field = gql_type.fields[name]
            lines.append(_field_sdl(name, field, allowed))
            referenced.add(get_named_type(field.type).name)
            for arg_name, arg in field.args.items():
                if allowed is None or arg_name in allowed:
                    referenced.add(get_named_type(arg.type).name)
        keyword = "interface" if isinstance(gql_type, GraphQLInterfaceType) else "type"
        interfaces = [i.name for i in gql_type.interfaces if i.name in OUTPUT_FIELDS]
        implements = f" implements {' & '.join(interfaces)}" if interfaces else ""
        blocks.append(f"{keyword} {type_name}{implements} {{\n" + "\n".join(lines) + "\n}")
    blocks.extend(_leaf_and_input_blocks(official, referenced))
    directive = official.get_directive("idempotent")
    assert directive is not None
    head = (
        "schema {\n  query: QueryRoot\n  mutation: Mutation\n}\n\n"
        f"directive @idempotent{_args_sdl(directive.args)} on FIELD"
    )
    return head + "\n\n" + "\n\n".join(blocks) + "\n"


def _leaf_and_input_blocks(official: GraphQLSchema, referenced: set[str]) -> list[str]:
    """Enums, scalars and input objects reachable from the output subset, in full."""
    pending = sorted(referenced - set(OUTPUT_FIELDS) - set(specified_scalar_types))
    seen: set[str] = set()
    blocks: dict[str, str] = {}
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        named: GraphQLNamedType = official.type_map[name]
        if isinstance(named, GraphQLEnumType):
            values = "\n".join(
                f"  {value_name}{print_deprecated(value.deprecation_reason)}"
                for value_name, value in named.values.items()
            )
            blocks[name] = f"enum {name} {{\n{values}\n}}"
        elif isinstance(named, GraphQLScalarType):
            blocks[name] = f"scalar {name}"
        elif isinstance(named, GraphQLInputObjectType):
            fields = "\n".join(
                f"  {print_input_value(field_name, field)}"
                for field_name, field in named.fields.items()
            )
            one_of = " @oneOf" if named.is_one_of else ""
            blocks[name] = f"input {name}{one_of} {{\n{fields}\n}}"
            for field in named.fields.values():
                inner = get_named_type(field.type).name
                if inner not in specified_scalar_types:
                    pending.append(inner)
        else:
            msg = f"{name} is an output type missing from OUTPUT_FIELDS"
            raise KeyError(msg)
    return [blocks[name] for name in sorted(blocks)]


def main() -> None:
    """Print the subset SDL built from the official schema path given as the only argument."""
    official = build_schema(Path(sys.argv[1]).read_text(encoding="utf-8"))
    sys.stdout.write(subset_sdl(official))


if __name__ == "__main__":
    main()
