"""The request journal: one entry per API call, for exactly-once assertions.

An answered call is journalled under its operation (``createDraftReturn``,
``processReturn``…), with the ``effect`` it had, if any. An error answer (401, 404, 422,
429, 5xx…) is journalled under the operation ``refused``, the call's own operation in
``attempted``. A refusal inside an HTTP 200 (Loop's way for actions) keeps its operation,
with ``effect`` ``refused_in_body``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from returnbridge.sandbox.common import journal

Effect = Literal[
    "draft_created",
    "draft_item_added",
    "return_created",
    "processing_queued",
    "return_closed",
    "return_cancelled",
    "return_flagged",
    "note_created",
    "webhook_created",
    "webhook_updated",
    "webhook_deleted",
    "refused_in_body",
]
REFUSED = "refused"


@dataclass(frozen=True)
class Entry:
    seq: int
    at: float
    shop: str | None
    operation: str
    attempted: str
    method: str
    path: str
    status: int
    effect: Effect | None
    fault: str | None


class Journal(journal.Journal[Entry]):
    """Append-only list of entries, filterable by shop and operation."""

    def __init__(self) -> None:
        super().__init__(Entry, scope="shop")
