"""Errors the storage layer raises on purpose; all sit under the domain error hierarchy."""

from __future__ import annotations

from returnbridge.domain.errors import DomainError, ReturnBridgeError


class RecordNotFoundError(DomainError):
    """No row with that id for that tenant (another tenant's row is indistinguishable)."""

    code = "NOT_FOUND"


class TransitionForbiddenError(DomainError):
    """The lifecycle does not allow moving the return from its status to the requested one."""

    code = "TRANSITION_FORBIDDEN"


class IdempotencyConflictError(DomainError):
    """An idempotency key was reused for a different operation."""

    code = "IDEMPOTENCY_CONFLICT"


class CredentialsUnreadableError(ReturnBridgeError):
    """Stored credentials cannot be decrypted: wrong key, rotated key missing, or corrupt token."""

    code = "CREDENTIALS_UNREADABLE"
