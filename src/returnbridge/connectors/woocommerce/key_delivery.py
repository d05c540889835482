"""Getting a REST API key from a WooCommerce site: its key delivery, ``/wc-auth/v1/authorize``.

The shop manager is sent to the site's authorize page with our ``app_name``, the ``scope``
we need, a ``user_id`` of our choosing (it comes back to us untouched), a ``return_url`` for
the browser and a ``callback_url``. On approval the site POSTs the new key as JSON to the
callback, and only once that answered 200 sends the browser to ``return_url?success=1``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from returnbridge.connectors.woocommerce.client import site_base_url
from returnbridge.domain.errors import DomainError

SCOPE = "read_write"
"""Refunds write orders; finding them reads them."""


def authorize_url(
    store_url: str,
    *,
    app_name: str,
    user_id: str,
    return_url: str,
    callback_url: str,
    scope: str = SCOPE,
) -> str:
    """The site's page where the shop manager approves (or denies) our key."""
    params = {
        "app_name": app_name,
        "scope": scope,
        "user_id": user_id,
        "return_url": return_url,
        "callback_url": callback_url,
    }
    return f"{site_base_url(store_url)}/wc-auth/v1/authorize?{urlencode(params)}"


@dataclass(frozen=True, slots=True)
class DeliveredKey:
    """The key a site POSTed to our callback; the secret stays out of the repr."""

    user_id: str
    consumer_key: str
    consumer_secret: str = field(repr=False)
    permissions: str
    key_id: int | None = None

    @property
    def credentials(self) -> dict[str, str]:
        """What a WooCommerce connection stores."""
        return {"consumer_key": self.consumer_key, "consumer_secret": self.consumer_secret}


def _text(body: Mapping[str, Any], name: str) -> str:
    value = body.get(name)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or not value.strip():
        raise DomainError("INVALID_KEY_DELIVERY", f"the delivered key has no {name}", field=name)
    return value.strip()


def parse_delivery(body: Any) -> DeliveredKey:
    """The callback's JSON body: ``{key_id, user_id, consumer_key, consumer_secret,
    key_permissions}``; DomainError (naming the field, never a value) otherwise."""
    if not isinstance(body, Mapping):
        raise DomainError("INVALID_KEY_DELIVERY", "the key delivery must be a JSON object")
    key_id = body.get("key_id")
    return DeliveredKey(
        user_id=_text(body, "user_id"),
        consumer_key=_text(body, "consumer_key"),
        consumer_secret=_text(body, "consumer_secret"),
        permissions=_text(body, "key_permissions"),
        key_id=key_id if isinstance(key_id, int) and not isinstance(key_id, bool) else None,
    )
