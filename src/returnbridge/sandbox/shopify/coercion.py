"""Input checks the platform runs before executing a document: global ids and input sizes.

Shopify's ``ID`` arguments take global ids (``gid://shopify/Order/1``); anything else is refused
at coercion, before any resolver runs, instead of finding nothing. Lists in inputs and page sizes
(``first``/``last``) are limited to 250 items. Static validation errors get the ``extensions.code``
of the platform's GraphQL engine (graphql-ruby), so clients can classify them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from graphql import (
    ArgumentNode,
    DocumentNode,
    FragmentDefinitionNode,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    GraphQLSchema,
    OperationDefinitionNode,
    TypeInfo,
    TypeInfoVisitor,
    Undefined,
    Visitor,
    specified_rules,
    type_from_ast,
    validate,
    value_from_ast_untyped,
    visit,
)

MAX_INPUT_SIZE = 250
MAX_PAGE_SIZE = 250
_GID = re.compile(r"gid://[^/\s]+/[^/\s]+/[^\s]+")

# graphql-ruby static validation codes, by the graphql-core rule that finds the same problem.
_RULE_CODES = {
    "FieldsOnCorrectTypeRule": "undefinedField",
    "KnownArgumentNamesRule": "argumentNotAccepted",
    "ProvidedRequiredArgumentsRule": "missingRequiredArguments",
    "KnownTypeNamesRule": "undefinedType",
    "NoUnusedVariablesRule": "variableNotUsed",
    "NoUndefinedVariablesRule": "undefinedVariable",
    "ScalarLeafsRule": "selectionMismatch",
    "VariablesInAllowedPositionRule": "variableMismatch",
    "ValuesOfCorrectTypeRule": "argumentLiteralsIncompatible",
    "KnownDirectivesRule": "undefinedDirective",
    "UniqueArgumentNamesRule": "argumentNotUnique",
    "NoUnusedFragmentsRule": "useAndDefineFragment",
    "KnownFragmentNamesRule": "undefinedFragment",
    "UniqueVariableNamesRule": "variableNotUnique",
    "OverlappingFieldsCanBeMergedRule": "fieldConflict",
}


def validation_errors(schema: GraphQLSchema, document: DocumentNode) -> list[dict[str, Any]]:
    """Static validation errors, each with ``extensions.code`` naming the broken rule."""
    errors: list[dict[str, Any]] = []
    if not validate(schema, document):
        return errors
    for rule in specified_rules:
        for error in validate(schema, document, rules=[rule]):
            formatted: dict[str, Any] = dict(error.formatted)
            code = _RULE_CODES.get(rule.__name__, "validationError")
            extensions = dict(formatted.get("extensions") or {})
            formatted["extensions"] = {**extensions, "code": code}
            errors.append(formatted)
    return errors


def is_global_id(value: object) -> bool:
    """Whether ``value`` is a global id the platform would accept for an ``ID`` input."""
    return isinstance(value, str) and _GID.fullmatch(value) is not None


def _problems(value: Any, gql_type: GraphQLInputType, path: list[str | int]) -> Iterator[Any]:
    """``("gid", path, value)`` and ``("size", path, length)`` found in one input value."""
    if isinstance(gql_type, GraphQLNonNull):
        gql_type = gql_type.of_type
    if value is None or value is Undefined:
        return
    if isinstance(gql_type, GraphQLList):
        items = value if isinstance(value, list) else [value]
        if len(items) > MAX_INPUT_SIZE:
            yield ("size", path, len(items))
            return
        for index, item in enumerate(items):
            yield from _problems(item, gql_type.of_type, [*path, index] if value is items else path)
    elif isinstance(gql_type, GraphQLInputObjectType) and isinstance(value, dict):
        for name, field in gql_type.fields.items():
            if name in value:
                yield from _problems(value[name], field.type, [*path, name])
    elif (
        isinstance(gql_type, GraphQLScalarType)
        and gql_type.name == "ID"
        and not is_global_id(value)
    ):
        yield ("gid", path, value)


def _location(node: Any) -> list[dict[str, int]]:
    loc = node.loc
    if loc is None:
        return []
    token = loc.start_token
    return [{"line": token.line, "column": token.column}]


def _variable_errors(
    schema: GraphQLSchema, operation: OperationDefinitionNode, variables: dict[str, Any]
) -> list[dict[str, Any]]:
    errors = []
    for definition in operation.variable_definitions or ():
        name = definition.variable.name.value
        gql_type = type_from_ast(schema, definition.type)
        if gql_type is None or name not in variables:
            continue
        found = list(_problems(variables[name], gql_type, []))  # type: ignore[arg-type]
        sizes = [p for p in found if p[0] == "size"]
        if sizes:
            _, path, length = sizes[0]
            errors.append(_size_error(length, [name, *path], definition))
            continue
        gids = [p for p in found if p[0] == "gid"]
        if not gids:
            continue
        where = ""
        if gids[0][1]:
            where = " for " + ".".join(str(p) for p in gids[0][1])
        errors.append(
            {
                "message": (
                    f"Variable ${name} of type {gql_type} was provided invalid value{where}"
                    f" (Invalid global id `{gids[0][2]}`)"
                    if where
                    else f"Variable ${name} of type {gql_type} was provided invalid value"
                ),
                "locations": _location(definition),
                "extensions": {
                    "value": variables[name],
                    "problems": [
                        {"path": path, "explanation": f"Invalid global id `{bad}`"}
                        for _, path, bad in gids
                    ],
                },
            }
        )
    return errors


def _size_error(length: int, path: list[Any], node: Any) -> dict[str, Any]:
    return {
        "message": (
            f"The input array size of {length} is greater than the maximum allowed of "
            f"{MAX_INPUT_SIZE}."
        ),
        "locations": _location(node),
        "path": [str(p) for p in path],
        "extensions": {"code": "MAX_INPUT_SIZE_EXCEEDED"},
    }


class _ArgumentChecker(Visitor):
    def __init__(self, type_info: TypeInfo, variables: dict[str, Any]) -> None:
        super().__init__()
        self.type_info = type_info
        self.variables = variables
        self.errors: list[dict[str, Any]] = []

    def enter_argument(self, node: ArgumentNode, *_: object) -> None:
        argument = self.type_info.get_argument()
        if argument is None:
            return
        name = node.name.value
        if name in {"first", "last"}:
            size = value_from_ast_untyped(node.value, self.variables)
            if isinstance(size, int) and (size < 0 or size > MAX_PAGE_SIZE):
                self.errors.append(
                    {
                        "message": (
                            f"The requested page size must be between 0 and {MAX_PAGE_SIZE}."
                        ),
                        "locations": _location(node),
                        "extensions": {"code": "BAD_REQUEST"},
                    }
                )
            return
        literal = value_from_ast_untyped(node.value, None)
        for kind, path, bad in _problems(literal, argument.type, []):
            if kind == "size":
                self.errors.append(_size_error(bad, [name, *path], node))
            else:
                self.errors.append(
                    {
                        "message": f"Invalid global id `{bad}`",
                        "locations": _location(node),
                        "path": [name, *(str(p) for p in path)],
                        "extensions": {
                            "code": "argumentLiteralsIncompatible",
                            "typeName": "CoercionError",
                        },
                    }
                )


def coercion_errors(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    variables: dict[str, Any],
) -> list[dict[str, Any]]:
    """Errors the platform raises while coercing the inputs of ``operation`` (none: execute)."""
    errors = _variable_errors(schema, operation, variables)
    type_info = TypeInfo(schema)
    checker = _ArgumentChecker(type_info, variables)
    visit(operation, TypeInfoVisitor(type_info, checker))
    for definition in document.definitions:
        if isinstance(definition, FragmentDefinitionNode):
            visit(definition, TypeInfoVisitor(type_info, checker))
    return errors + checker.errors
