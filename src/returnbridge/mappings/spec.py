"""The mapping file: YAML read with `yaml.safe_load`, checked by pydantic before any payload.

Every key is checked up front: canonical field paths must exist on `CanonicalReturn`, JMESPath
expressions must compile (once, here), transforms must have what they need.
"""

from __future__ import annotations

import types
from pathlib import Path
from typing import Annotated, Any, Literal, Self, Union, get_args, get_origin
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jmespath
import yaml
from jmespath.exceptions import JMESPathError
from jmespath.parser import ParsedResult
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PrivateAttr,
    ValidationError,
    model_validator,
)

from returnbridge.domain.returns import CanonicalReturn, ReturnLine
from returnbridge.mappings.errors import MappingSpecError
from returnbridge.mappings.transforms import Status, to_currency

TransformName = Literal[
    "string", "integer", "lower", "upper", "currency", "money", "date", "status"
]


def _compile(expression: str) -> ParsedResult:
    try:
        return jmespath.compile(expression)
    except JMESPathError as exc:
        why = str(exc).splitlines()[0].removeprefix("Invalid jmespath expression: ")
        raise ValueError(f"{expression!r} is not a valid JMESPath expression ({why})") from exc


def _shorthand(value: Any) -> Any:
    """A bare string is an expression: `sku: item.sku` means `sku: {expr: item.sku}`."""
    return {"expr": value} if isinstance(value, str) else value


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FieldRule(_Spec):
    """Where one canonical field's value comes from and how it is transformed."""

    expr: str | None = None
    const: Any = None
    transform: TransformName | None = None
    optional: bool = False
    currency: str | None = None
    currency_expr: str | None = None
    output: Literal["minor", "decimal"] = "minor"
    format: str = "iso8601"
    timezone: str | None = None
    table: dict[str, Status] | None = None

    _compiled: ParsedResult | None = PrivateAttr(default=None)
    _currency_compiled: ParsedResult | None = PrivateAttr(default=None)
    _zone: ZoneInfo | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if (self.expr is None) == ("const" not in self.model_fields_set):
            raise ValueError("give exactly one of expr and const")
        if self.expr is not None:
            self._compiled = _compile(self.expr)
        money = self.transform == "money"
        if money and (self.currency is None) == (self.currency_expr is None):
            raise ValueError("the money transform needs exactly one of currency, currency_expr")
        if not money and (self.currency or self.currency_expr or "output" in self.model_fields_set):
            raise ValueError("currency, currency_expr and output go with transform: money only")
        if self.currency is not None:
            to_currency(self.currency)
        if self.currency_expr is not None:
            self._currency_compiled = _compile(self.currency_expr)
        if (self.transform == "status") != (self.table is not None):
            raise ValueError("a status table goes with transform: status, and it needs one")
        is_date = self.transform == "date"
        if not is_date and {"format", "timezone"} & self.model_fields_set:
            raise ValueError("format and timezone go with transform: date only")
        if self.timezone is not None:
            try:
                self._zone = ZoneInfo(self.timezone)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ValueError(f"unknown timezone {self.timezone!r}") from exc
        return self

    @property
    def compiled(self) -> ParsedResult | None:
        return self._compiled

    @property
    def currency_compiled(self) -> ParsedResult | None:
        return self._currency_compiled

    @property
    def zone(self) -> ZoneInfo | None:
        return self._zone


_RuleEntry = Annotated[FieldRule, BeforeValidator(_shorthand)]


def model_in(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model an annotation holds (through Optional, Annotated, tuples), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if get_origin(annotation) in {Union, types.UnionType, Annotated, tuple}:
        for arg in get_args(annotation):
            found = model_in(arg)
            if found is not None:
                return found
    return None


_LABELS = {CanonicalReturn: "the canonical return", ReturnLine: "a return line"}


def _check_path(model: type[BaseModel], path: str) -> None:
    """Refuse a dotted field path that `model` does not have (metadata takes any keys)."""
    parts = path.split(".")
    for index, part in enumerate(parts):
        field = model.model_fields.get(part)
        if field is None:
            where = ".".join(parts[:index]) or _LABELS.get(model, model.__name__)
            raise ValueError(f"fields.{path}: {where} has no field {part!r}")
        if part == "metadata" and model is CanonicalReturn:
            return
        inner = model_in(field.annotation)
        last = index == len(parts) - 1
        if inner is None and not last:
            raise ValueError(f"fields.{path}: {part!r} has no fields inside")
        if inner is not None:
            model = inner


def _check_fields(model: type[BaseModel], fields: dict[str, FieldRule]) -> None:
    for path in fields:
        if path.split(".")[0] == "lines" and model is CanonicalReturn:
            raise ValueError(f"fields.{path}: lines are mapped in the lines section")
        _check_path(model, path)


class LinesRule(_Spec):
    """Return lines: one per item of the list `each` finds, each mapped by `fields`."""

    each: str
    optional: bool = False
    fields: dict[str, _RuleEntry]

    _compiled: ParsedResult = PrivateAttr()

    @model_validator(mode="after")
    def _valid(self) -> Self:
        self._compiled = _compile(self.each)
        _check_fields(ReturnLine, self.fields)
        return self

    @property
    def compiled(self) -> ParsedResult:
        return self._compiled


class MappingSpec(_Spec):
    """One mapping: canonical field paths (`order.order_number`) to rules, and the lines."""

    name: str
    description: str | None = None
    fields: dict[str, _RuleEntry]
    lines: LinesRule | None = None

    @model_validator(mode="after")
    def _valid(self) -> Self:
        _check_fields(CanonicalReturn, self.fields)
        return self


def _location(loc: tuple[int | str, ...]) -> str:
    # Pydantic names the function-validated alias in the path; readers want the keys only.
    keys = [str(part) for part in loc if part != "function-before[_shorthand()]"]
    return f"{'.'.join(keys)}: " if keys else ""


def parse_mapping(data: Any, *, origin: str = "mapping") -> MappingSpec:
    """Check an already-loaded mapping (a dict from YAML) and compile its expressions."""
    if not isinstance(data, dict):
        raise MappingSpecError(None, f"{origin}: a mapping is a YAML object with name and fields")
    try:
        return MappingSpec.model_validate(data)
    except ValidationError as exc:
        reasons = "; ".join(
            f"{_location(error['loc'])}{error['msg'].removeprefix('Value error, ')}"
            for error in exc.errors()
        )
        raise MappingSpecError(None, f"{origin}: {reasons}") from None


def load_mapping(path: Path) -> MappingSpec:
    """Read, parse and check a mapping file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise MappingSpecError(None, f"cannot read mapping {path}: {exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or "unreadable"
        raise MappingSpecError(None, f"{path} is not valid YAML: {problem}{where}") from None
    return parse_mapping(data, origin=str(path))
