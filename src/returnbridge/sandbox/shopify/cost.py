"""Calculated query cost, the unit of Shopify's GraphQL rate limit.

Requested cost (charged up front): leaves 0, objects 1, a field with ``first`` multiplies its
element cost by ``first``, a connection adds 2 (inside it ``nodes`` and ``edges{node}`` count one
object per element and ``pageInfo`` is free), a mutation costs 10 plus its payload's fields.
Actual cost applies the same rules to the elements really returned, never above the requested cost.
Selections left out by ``@include(if: false)`` or ``@skip(if: true)`` cost nothing.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionNode,
    SelectionSetNode,
    get_named_type,
    get_nullable_type,
    is_leaf_type,
    value_from_ast_untyped,
)

MUTATION_COST = 10
CONNECTION_COST = 2

_Composite = GraphQLObjectType | GraphQLInterfaceType


class _Walker:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDefinitionNode],
        variables: dict[str, Any],
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables

    def fields(
        self, parent: GraphQLNamedType, selection_set: SelectionSetNode | None
    ) -> list[tuple[FieldNode, GraphQLField]]:
        """Field nodes of a selection with their definitions, fragments flattened."""
        found: list[tuple[FieldNode, GraphQLField]] = []
        if selection_set is None or not isinstance(parent, _Composite):
            return found
        for selection in selection_set.selections:
            if not self.included(selection):
                continue
            if isinstance(selection, FieldNode):
                definition = parent.fields.get(selection.name.value)
                if definition is not None:
                    found.append((selection, definition))
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                target = self.schema.get_type(condition.name.value) if condition else parent
                if target is not None:
                    found.extend(self.fields(target, selection.selection_set))
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments.get(selection.name.value)
                if fragment is not None:
                    target = self.schema.get_type(fragment.type_condition.name.value)
                    if target is not None:
                        found.extend(self.fields(target, fragment.selection_set))
        return found

    def included(self, node: SelectionNode) -> bool:
        """Whether ``@skip``/``@include`` keep the selection, as execution would."""
        for directive in node.directives or ():
            condition = next((a for a in directive.arguments or () if a.name.value == "if"), None)
            value = value_from_ast_untyped(condition.value, self.variables) if condition else None
            if directive.name.value == "skip" and value is True:
                return False
            if directive.name.value == "include" and value is False:
                return False
        return True

    def first(self, node: FieldNode) -> int | None:
        for argument in node.arguments or ():
            if argument.name.value == "first":
                value = value_from_ast_untyped(argument.value, self.variables)
                return value if isinstance(value, int) else None
        return None

    def requested(self, node: FieldNode, definition: GraphQLField, *, in_connection: bool) -> int:
        named = get_named_type(definition.type)
        if is_leaf_type(named):
            return 0
        name = node.name.value
        children = sum(
            self.requested(child, child_def, in_connection=named.name.endswith("Connection"))
            for child, child_def in self.fields(named, node.selection_set)
        )
        if in_connection and name == "pageInfo":
            return 0
        if in_connection and name == "edges":
            return children
        if named.name.endswith("Connection"):
            return CONNECTION_COST + (self.first(node) or 0) * children
        first = self.first(node)
        if first is not None and isinstance(get_nullable_type(definition.type), GraphQLList):
            return first * (1 + children)
        return 1 + children

    def actual(
        self, node: FieldNode, definition: GraphQLField, value: Any, *, in_connection: bool
    ) -> int:
        named = get_named_type(definition.type)
        if is_leaf_type(named) or value is None:
            return 0
        name = node.name.value
        if in_connection and name == "pageInfo":
            return 0
        if isinstance(value, list):
            return sum(
                self.actual(node, definition, element, in_connection=in_connection)
                for element in value
            )
        children = 0
        for child, child_def in self.fields(named, node.selection_set):
            key = child.alias.value if child.alias else child.name.value
            if isinstance(value, dict) and key in value:
                children += self.actual(
                    child,
                    child_def,
                    value[key],
                    in_connection=named.name.endswith("Connection"),
                )
        if in_connection and name == "edges":
            return children
        if named.name.endswith("Connection"):
            return CONNECTION_COST + children
        return 1 + children


def _walker(
    schema: GraphQLSchema,
    document_fragments: list[FragmentDefinitionNode],
    variables: dict[str, Any],
) -> _Walker:
    return _Walker(schema, {f.name.value: f for f in document_fragments}, variables)


def _root(schema: GraphQLSchema, operation: OperationDefinitionNode) -> GraphQLObjectType:
    root = schema.mutation_type if operation.operation.value == "mutation" else schema.query_type
    assert root is not None
    return root


def requested_cost(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: list[FragmentDefinitionNode],
    variables: dict[str, Any],
) -> int:
    """Cost charged before executing ``operation``."""
    walker = _walker(schema, fragments, variables)
    root = _root(schema, operation)
    mutation = operation.operation.value == "mutation"
    cost = 0
    for node, definition in walker.fields(root, operation.selection_set):
        field_cost = walker.requested(node, definition, in_connection=False)
        cost += MUTATION_COST + max(field_cost - 1, 0) if mutation else field_cost
    return cost


def actual_cost(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: list[FragmentDefinitionNode],
    variables: dict[str, Any],
    data: dict[str, Any] | None,
) -> int:
    """Cost of what was returned (capped at the requested cost)."""
    requested = requested_cost(schema, operation, fragments, variables)
    if data is None:
        return requested if operation.operation.value == "mutation" else 0
    walker = _walker(schema, fragments, variables)
    root = _root(schema, operation)
    mutation = operation.operation.value == "mutation"
    cost = 0
    for node, definition in walker.fields(root, operation.selection_set):
        key = node.alias.value if node.alias else node.name.value
        field_cost = walker.actual(node, definition, data.get(key), in_connection=False)
        cost += MUTATION_COST + max(field_cost - 1, 0) if mutation else field_cost
    return min(cost, requested)
