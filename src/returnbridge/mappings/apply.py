"""Run a checked mapping on a payload and build the canonical return, or say what failed.

Every field is tried, so one run names every failing field, not only the first; the built
return is then validated by `CanonicalReturn` and its errors are named the same way.
"""

from __future__ import annotations

from typing import Any

from jmespath.exceptions import JMESPathError
from jmespath.parser import ParsedResult
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from returnbridge.domain.returns import CanonicalReturn
from returnbridge.mappings import transforms
from returnbridge.mappings.errors import FieldIssue, MappingError
from returnbridge.mappings.spec import FieldRule, MappingSpec, model_in
from returnbridge.mappings.transforms import TransformError

_MISSING = object()


def _search(expression: ParsedResult, data: Any) -> Any:
    """What the expression finds; a type error inside it (join of a null) is a reason."""
    try:
        return expression.search(data)
    except JMESPathError as exc:
        raise TransformError(f"the expression failed: {exc}") from None


def _currency(rule: FieldRule, payload: Any) -> str:
    if rule.currency is not None:
        return transforms.to_currency(rule.currency)
    assert rule.currency_compiled is not None
    found = _search(rule.currency_compiled, payload)
    if found is None:
        raise TransformError(f"the currency ({rule.currency_expr}) is missing")
    try:
        return transforms.to_currency(found)
    except TransformError as exc:
        raise TransformError(f"the currency ({rule.currency_expr}): {exc}") from None


def _transform(rule: FieldRule, value: Any, payload: Any) -> Any:
    match rule.transform:
        case None:
            return value
        case "string":
            return transforms.to_string(value)
        case "integer":
            return transforms.to_integer(value)
        case "lower":
            return transforms.to_lower(value)
        case "upper":
            return transforms.to_upper(value)
        case "currency":
            return transforms.to_currency(value)
        case "money":
            currency = _currency(rule, payload)
            if rule.output == "decimal":
                return transforms.to_money_decimal(value, currency)
            return transforms.to_minor(value, currency)
        case "date":
            return transforms.to_datetime(value, rule.format, rule.zone)
        case "status":
            assert rule.table is not None
            return transforms.to_status(value, rule.table)


def _value(rule: FieldRule, context: Any, payload: Any) -> Any:
    """The rule's transformed value, `_MISSING` for an absent optional one; raises why not."""
    if rule.compiled is None:
        return rule.const
    found = _search(rule.compiled, context)
    if found is None:
        if rule.optional:
            return _MISSING
        raise TransformError("missing")
    return _transform(rule, found, payload)


def _place(target: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for key in parents:
        target = target.setdefault(key, {})
    target[last] = value


def _fill(
    rules: dict[str, FieldRule],
    *,
    context: Any,
    payload: Any,
    prefix: str,
    source: str,
    issues: list[FieldIssue],
) -> dict[str, Any]:
    built: dict[str, Any] = {}
    for path, rule in rules.items():
        try:
            value = _value(rule, context, payload)
        except TransformError as exc:
            where = f"{source}{rule.expr}" if rule.expr is not None else None
            issues.append(FieldIssue(f"{prefix}{path}", str(exc), where))
            continue
        if value is not _MISSING:
            _place(built, path, value)
    return built


def _lines(spec: MappingSpec, payload: Any, issues: list[FieldIssue]) -> list[Any] | None:
    rule = spec.lines
    if rule is None:
        return None
    try:
        items = _search(rule.compiled, payload)
    except TransformError as exc:
        issues.append(FieldIssue("lines", str(exc), rule.each))
        return None
    if items is None and rule.optional:
        return None
    if not isinstance(items, list):
        reason = "missing" if items is None else f"not a list: {items!r}"
        issues.append(FieldIssue("lines", reason, rule.each))
        return None
    return [
        _fill(
            rule.fields,
            context=item,
            payload=payload,
            prefix=f"lines[{index}].",
            source=f"{rule.each}[{index}].",
            issues=issues,
        )
        for index, item in enumerate(items)
    ]


def _source_of(spec: MappingSpec, loc: tuple[int | str, ...]) -> str | None:
    """The expression a canonical field came from, where the mapping names it."""
    if len(loc) >= 3 and loc[0] == "lines" and isinstance(loc[1], int) and spec.lines:
        rule = spec.lines.fields.get(".".join(map(str, loc[2:])))
        return f"{spec.lines.each}[{loc[1]}].{rule.expr}" if rule and rule.expr else None
    rule = spec.fields.get(".".join(map(str, loc)))
    return rule.expr if rule else None


def _field_loc(loc: tuple[int | str, ...]) -> tuple[int | str, ...] | None:
    """The error's location as canonical fields, without pydantic's union branch tags.

    None for an error of the `None` branch of an optional field: the other branch says why.
    """
    model: type[BaseModel] | None = CanonicalReturn
    kept: list[int | str] = []
    for part in loc:
        if part == "none" and kept[:1] != ["metadata"]:
            return None
        if isinstance(part, int) or kept[:1] == ["metadata"]:
            kept.append(part)
        elif model is not None and part in model.model_fields:
            kept.append(part)
            model = model_in(model.model_fields[part].annotation)
    return tuple(kept)


def _issue(spec: MappingSpec, error: ErrorDetails) -> FieldIssue | None:
    loc = _field_loc(error["loc"])
    if loc is None:
        return None
    reason = error["msg"].removeprefix("Value error, ")
    return FieldIssue(_field_name(loc), reason, _source_of(spec, loc))


def _field_name(loc: tuple[int | str, ...]) -> str:
    name = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc)
    return name.removeprefix(".") or "(return)"


def apply_mapping(spec: MappingSpec, payload: Any) -> CanonicalReturn:
    """The canonical return `spec` makes of `payload`; `MappingError` names each failing field."""
    issues: list[FieldIssue] = []
    data = _fill(spec.fields, context=payload, payload=payload, prefix="", source="", issues=issues)
    lines = _lines(spec, payload, issues)
    if lines is not None:
        data["lines"] = lines
    if issues:
        raise MappingError(issues)
    try:
        return CanonicalReturn.model_validate(data)
    except ValidationError as exc:
        found = [_issue(spec, error) for error in exc.errors()]
        named = [issue for issue in found if issue is not None]
        raise MappingError(named or [FieldIssue("(return)", str(exc))]) from None
