"""What a mapping reports when it cannot be read, or cannot turn a payload into a return."""

from __future__ import annotations

from dataclasses import dataclass

from returnbridge.domain.errors import DomainError


@dataclass(frozen=True, slots=True)
class FieldIssue:
    """One canonical field that failed: where it was read from and why."""

    field: str
    reason: str
    source: str | None = None

    def __str__(self) -> str:
        origin = f" (from {self.source})" if self.source else ""
        return f"{self.field}{origin}: {self.reason}"


class MappingError(DomainError):
    """A payload did not map onto a canonical return; `issues` names every failing field."""

    code = "MAPPING_FAILED"

    def __init__(self, issues: list[FieldIssue]) -> None:
        super().__init__(None, "; ".join(map(str, issues)), field=issues[0].field)
        self.issues = tuple(issues)


class MappingSpecError(DomainError):
    """A mapping file is not a valid mapping (bad YAML, unknown key, bad expression)."""

    code = "INVALID_MAPPING"
