"""Registered apps and their pending installs: what the OAuth routes (``install.py``) keep.

An app is known by its client id and secret (the Dev Dashboard's credentials). Approving an
install issues a one-time authorization code, which the app exchanges for an offline access
token; the token is then registered with the shop (``Shop.app_tokens``) and works on the
Admin GraphQL API like a seeded one.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field

CODE_LIFETIME = 600.0
"""Seconds an authorization code can be exchanged. Shopify publishes no figure; this is the
most RFC 6749 (section 4.1.2) recommends."""


@dataclass(frozen=True, slots=True)
class App:
    """A registered app: its credentials and the redirect URLs it allows (none: any)."""

    client_id: str
    client_secret: str
    redirect_urls: tuple[str, ...] = ()

    def allows(self, redirect_uri: str) -> bool:
        """Whether an install may send the merchant back to ``redirect_uri``."""
        return not self.redirect_urls or redirect_uri in self.redirect_urls


@dataclass(frozen=True, slots=True)
class Grant:
    """An approved install waiting for its code to be exchanged."""

    code: str
    client_id: str
    shop: str
    scope: str
    issued_at: float


@dataclass
class Installs:
    """Apps by client id and unexchanged codes; guard with the world's lock."""

    apps: dict[str, App] = field(default_factory=dict)
    grants: dict[str, Grant] = field(default_factory=dict)

    def take_grant(self, code: str, *, client_id: str, now: float) -> Grant | None:
        """The grant of ``code`` for this app, used up now; None if unknown, used or expired.

        A code presented by another app is not used up: only its own app may spend it.
        """
        grant = self.grants.get(code)
        if grant is None or grant.client_id != client_id:
            return None
        del self.grants[code]
        if now - grant.issued_at > CODE_LIFETIME:
            return None
        return grant

    def clear(self) -> None:
        """Forget every app and code."""
        self.apps.clear()
        self.grants.clear()


def query_hmac(params: Mapping[str, str], secret: str) -> str:
    """Shopify's signature of a redirect's query: hex HMAC-SHA256, keyed with the app's
    client secret, over the ``key=value`` pairs but ``hmac`` itself, sorted and joined by
    ``&`` (values decoded, as they were sent)."""
    message = "&".join(f"{key}={value}" for key, value in sorted(params.items()) if key != "hmac")
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()
