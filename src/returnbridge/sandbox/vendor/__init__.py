"""A local helpdesk vendor whose returns returnbridge polls: pages that change between requests.

It serves return records three ways (page number, cursor in the body, ``Link`` header) plus an
ascending change feed with an opaque cursor, behind bearer, basic or HMAC-signed-request auth.
Controls under ``/_control`` seed records, turn on churn (inserts at the head, updates that move
records across pages, one record updated again and again), fail requests on demand mid-sync and
expose the revision history as an oracle. Like every sandbox it imports nothing of returnbridge.
"""

from returnbridge.sandbox.vendor.app import create_app
from returnbridge.sandbox.vendor.helpdesk import Helpdesk

__all__ = ["Helpdesk", "create_app"]
