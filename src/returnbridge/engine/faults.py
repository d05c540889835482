"""What a failure means for a return: retry it, or say in our own words why it stopped.

Steps retry transient failures (a platform that did not answer, a database that was busy or
briefly unreachable). Whatever reaches a return's timeline is one of our own sentences with a
stable code: exception text, SQL, pool messages and platform response bodies go to the logs.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from returnbridge.domain.errors import (
    AuthError,
    DomainError,
    NotFound,
    PermanentError,
    Rejected,
    TransientError,
)


def is_database_unavailable(error: BaseException) -> bool:
    """The database was locked, busy, restarting or out of connections: worth another try."""
    if isinstance(error, OperationalError | PoolTimeoutError):
        return True
    return isinstance(error, DBAPIError) and error.connection_invalidated


def is_transient(error: BaseException) -> bool:
    """True for failures that the same step may get past by trying again."""
    return isinstance(error, TransientError) or is_database_unavailable(error)


@dataclass(frozen=True, slots=True)
class PublicReason:
    """A failure as a tenant may read it."""

    code: str
    sentence: str


_CONNECTOR_SENTENCES: dict[type[Exception], PublicReason] = {
    AuthError: PublicReason(
        "PLATFORM_AUTH_FAILED",
        "the platform refused the connection's credentials; update them, then retry",
    ),
    NotFound: PublicReason("PLATFORM_NOT_FOUND", "the platform does not know a record we asked"),
    TransientError: PublicReason(
        "PLATFORM_UNAVAILABLE", "the platform did not answer after several attempts"
    ),
    PermanentError: PublicReason(
        "PLATFORM_ERROR", "the platform could not carry out the request; a person should look"
    ),
}


def public_reason(error: BaseException) -> PublicReason:
    """Our sentence for `error`.

    Domain errors are ours already, and a platform's business refusal (`Rejected`) keeps the
    platform's own message because the person reviewing needs it; anything else gets a
    fixed sentence per kind.
    """
    if isinstance(error, DomainError):
        return PublicReason(error.code, error.message)
    if isinstance(error, Rejected):
        return PublicReason("PLATFORM_REJECTED", f"the platform refused: {error.message}")
    for kind, reason in _CONNECTOR_SENTENCES.items():
        if isinstance(error, kind):
            return reason
    if is_database_unavailable(error):
        return PublicReason(
            "DATABASE_UNAVAILABLE", "our database was unavailable after several attempts"
        )
    return PublicReason("INTERNAL_ERROR", "an unexpected error stopped the return; it is logged")
