"""Exactly-once refunds on platforms with no idempotency key.

Our key travels inside the refund: as the start of its note or reason (`returnbridge <key> ...`)
and, where the platform keeps meta data, as a field the connector reads back into
`PlatformRefund.idempotency_key`. Before any repeat of a write whose answer was lost, the
refunds of the order are searched for it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from returnbridge.connectors.base.connector import PlatformRefund
from returnbridge.domain.errors import TransientError

NOTE_PREFIX = "returnbridge"


def note_marker(key: str) -> str:
    """How a note made by us for `key` starts."""
    return f"{NOTE_PREFIX} {key} "


def key_in_note(note: str | None) -> str | None:
    """The key a note of ours carries (`returnbridge <key> ...`), else None."""
    if not note or not note.startswith(NOTE_PREFIX + " "):
        return None
    rest = note[len(NOTE_PREFIX) + 1 :]
    key = rest.split(" ", 1)[0]
    return key or None


def find_by_key(refunds: Iterable[PlatformRefund], key: str) -> PlatformRefund | None:
    """The refund made under `key`: by the platform's idempotency key or by our note."""
    return next((r for r in refunds if key in (r.idempotency_key, key_in_note(r.note))), None)


def create_once(
    write: Callable[[], PlatformRefund], refunds: Callable[[], list[PlatformRefund]], key: str
) -> PlatformRefund:
    """`write()` once; when its answer is lost (an ambiguous `TransientError`: timeout, reset
    connection, a 5xx after the request was sent) look for the refund under `key` and return
    it when the platform made it. When it is not there (yet), the original error is raised
    again, still ambiguous: the engine looks once more before it sends again.
    """
    try:
        return write()
    except TransientError as error:
        if not error.details.get("ambiguous"):
            raise
        try:
            found = find_by_key(refunds(), key)
        except TransientError:
            raise error from None
        if found is None:
            raise
        return found
