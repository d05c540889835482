"""Sortable, prefixed identifiers ("ret_01J..."), produced by an injectable id source.

Ids are ULID-shaped: 48 bits of milliseconds then 80 random bits, in Crockford base32, so they
sort by creation time. Tests pass a deterministic source instead of the random one.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable

IdSource = Callable[[str], str]
"""Given a prefix such as ``"ret"``, return a new unique id such as ``"ret_01J9Z..."``."""

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_BODY_LENGTH = 26


def _encode(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        value, digit = divmod(value, 32)
        chars.append(_CROCKFORD[digit])
    return "".join(reversed(chars))


def new_id(prefix: str) -> str:
    """A fresh time-sortable random id with the given prefix."""
    millis = time.time_ns() // 1_000_000
    value = (millis << 80) | secrets.randbits(80)
    return f"{prefix}_{_encode(value, _BODY_LENGTH)}"


class SequentialIds:
    """Deterministic id source for tests: ``ret_0000...0001``, ``ret_0000...0002``, ...

    One counter is shared by every prefix so ids sort in issue order. Thread-safe.
    """

    def __init__(self, start: int = 1) -> None:
        self._next = start
        self._lock = threading.Lock()

    def __call__(self, prefix: str) -> str:
        with self._lock:
            value = self._next
            self._next += 1
        return f"{prefix}_{_encode(value, _BODY_LENGTH)}"
