"""Webhook bodies signed with a shared secret: base64 HMAC-SHA256 over the raw bytes.

Shopify (`X-Shopify-Hmac-Sha256`) and WooCommerce (`X-WC-Webhook-Signature`) sign this way.
Verify on the exact bytes received, before any JSON parsing. Several secrets may be given
(a rotation); every one is compared, so timing does not tell which matched.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping


def hmac_sha256_base64(body: bytes, secret: str) -> str:
    """The base64 HMAC-SHA256 of `body` under `secret`."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify_hmac_sha256_base64(
    body: bytes, header: str | None, secrets: str | Iterable[str]
) -> bool:
    """True when `header` is the signature of `body` under one of `secrets` (constant time)."""
    if not header:
        return False
    candidates = [secrets] if isinstance(secrets, str) else list(secrets)
    received = header.strip().encode("ascii", errors="replace")
    valid = False
    for secret in candidates:
        if secret:
            expected = hmac_sha256_base64(body, secret).encode("ascii")
            valid |= hmac.compare_digest(expected, received)
    return valid


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header's value by case-insensitive name, stripped; None when absent or blank."""
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value.strip() or None
    return None
