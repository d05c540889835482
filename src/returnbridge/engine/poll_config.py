"""How to poll one vendor: endpoint, auth, cursor, pagination and schedule, checked on create.

Stored as a poll source's ``config`` (no secrets: those are encrypted apart and named by
`required_secrets`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import httpx
from croniter import croniter
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from returnbridge.domain.errors import DomainError


class AuthKind(StrEnum):
    NONE = "none"
    BEARER = "bearer"
    BASIC = "basic"
    HMAC = "hmac"
    """HMAC-SHA256 of ``"{timestamp}.{METHOD}.{path}?{query}"``, sent with the timestamp."""


class CursorKind(StrEnum):
    UPDATED_SINCE = "updated_since"
    """A timestamp watermark: ask for records changed after it, minus the overlap window."""
    OPAQUE = "opaque"
    """The vendor's own change-feed cursor, kept from the last page of each sync."""


class Pagination(StrEnum):
    PAGE = "page"
    """``page=1,2,..`` until a short page."""
    CURSOR = "cursor"
    """The next page's cursor is a field of the body; none (or end of stream) ends the sync."""
    LINK = "link"
    """The next page's URL is in the ``Link`` header with ``rel="next"``."""


_SECRETS: dict[AuthKind, tuple[str, ...]] = {
    AuthKind.NONE: (),
    AuthKind.BEARER: ("token",),
    AuthKind.BASIC: ("username", "password"),
    AuthKind.HMAC: ("secret",),
}


class PollConfig(BaseModel):
    """One poll source's configuration (JSON in ``sources.config``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(pattern=r"^https?://", max_length=2000)
    auth: AuthKind = AuthKind.NONE
    cursor: CursorKind = CursorKind.UPDATED_SINCE
    pagination: Pagination = Pagination.PAGE
    schedule: str = "*/5 * * * *"
    """Cron (5 fields, or 6 with seconds first)."""
    overlap_seconds: int = Field(default=300, ge=0, le=7 * 24 * 3600)
    """Re-read this much before the watermark: clock skew and late-visible writes."""
    initial_since: AwareDatetime | None = None
    """Where the first updated-since sync starts (default: everything)."""
    page_size: int = Field(default=50, ge=1, le=1000)
    records_path: str = "returns"
    """JMESPath to the list of records in a body that is an object."""
    since_param: str = "updated_since"
    page_param: str = "page"
    page_size_param: str = "per_page"
    cursor_param: str = "cursor"
    next_cursor_field: str = "next_cursor"
    end_field: str = "end_of_stream"
    signature_header: str = "X-Signature"
    timestamp_header: str = "X-Timestamp"
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        try:
            parsed = httpx.URL(value)
        except httpx.InvalidURL as exc:
            raise ValueError("not a valid URL") from exc
        if not parsed.host:
            raise ValueError("the URL has no host")
        return value

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        if not croniter.is_valid(value, second_at_beginning=len(value.split()) == 6):
            raise ValueError(f"not a cron expression: {value!r}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> PollConfig:
        if self.cursor is CursorKind.OPAQUE and self.pagination is not Pagination.CURSOR:
            raise ValueError("an opaque cursor needs pagination 'cursor'")
        return self

    @property
    def overlap(self) -> timedelta:
        return timedelta(seconds=self.overlap_seconds)

    def next_run_after(self, moment: datetime) -> datetime:
        """The first scheduled time after ``moment``."""
        seconds_first = len(self.schedule.split()) == 6
        following: datetime = croniter(
            self.schedule, moment.astimezone(UTC), second_at_beginning=seconds_first
        ).get_next(datetime)
        return following

    def check_secrets(self, secrets: dict[str, Any]) -> None:
        """Refuse secrets that lack what the auth kind needs (never echoing their values)."""
        missing = [k for k in _SECRETS[self.auth] if not secrets.get(k)]
        if missing:
            raise DomainError(
                "SOURCE_SECRETS_MISSING",
                f"auth {self.auth.value!r} needs secrets: {', '.join(missing)}",
                field="secrets",
            )


def parse_config(data: dict[str, Any]) -> PollConfig:
    """The checked config, or a DomainError naming the first bad field."""
    try:
        return PollConfig.model_validate(data)
    except ValidationError as exc:
        detail = exc.errors()[0]
        where = ".".join(str(p) for p in detail["loc"]) or "config"
        raise DomainError(
            "SOURCE_CONFIG_INVALID", f"config.{where}: {detail['msg']}", field=where
        ) from exc
