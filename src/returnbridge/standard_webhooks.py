"""Standard Webhooks signatures (https://www.standardwebhooks.com/): sign and verify.

A delivery carries `webhook-id`, `webhook-timestamp` (integer Unix seconds) and
`webhook-signature`: space-separated `v1,<base64 HMAC-SHA256>` entries over
`{id}.{timestamp}.{body}`, keyed by the secret's bytes (`whsec_` + base64). It passes when any
`v1` entry matches any active secret (two during a rotation) and the timestamp is within the
tolerance of our clock.

Written here rather than taken from the `standardwebhooks` package: that one reads the wall
clock (no injectable time), accepts one secret per verifier, and raises bare exceptions on a
malformed header (a 500 for a forged request). The package is the test oracle instead.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets as random_secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret
SECRET_BYTES = 32
"""Random bytes in a secret we generate (the spec asks for 24 to 64)."""
DEFAULT_TOLERANCE = timedelta(minutes=5)
MAX_ID_LENGTH = 255
"""`source_deliveries.delivery_id` holds this many characters."""


class SignatureError(Exception):
    """A delivery that does not authenticate; `code` is stable, `message` safe to show."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class SignedHeaders:
    """The three Standard Webhooks headers of one delivery."""

    webhook_id: str
    webhook_timestamp: str
    webhook_signature: str

    def as_dict(self) -> dict[str, str]:
        return {
            "webhook-id": self.webhook_id,
            "webhook-timestamp": self.webhook_timestamp,
            "webhook-signature": self.webhook_signature,
        }


def new_secret() -> str:
    """A fresh signing secret, `whsec_` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(random_secrets.token_bytes(SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key of a `whsec_` secret; ValueError if it is not one."""
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError("a signing secret starts with whsec_")
    try:
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("a signing secret is whsec_ followed by base64") from None
    if not key:
        raise ValueError("a signing secret may not be empty")
    return key


def signature(secret: str, *, webhook_id: str, timestamp: str, body: bytes) -> str:
    """The `v1,<base64>` signature of one delivery under `secret`."""
    signed = b".".join((webhook_id.encode(), timestamp.encode(), body))
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def sign(body: bytes, *, secrets: Iterable[str], webhook_id: str, at: datetime) -> SignedHeaders:
    """Headers for `body` signed with each of `secrets` (a sender mid-rotation signs with two)."""
    timestamp = str(int(at.timestamp()))
    signatures = [
        signature(secret, webhook_id=webhook_id, timestamp=timestamp, body=body)
        for secret in secrets
    ]
    if not signatures:
        raise ValueError("sign with at least one secret")
    return SignedHeaders(webhook_id, timestamp, " ".join(signatures))


def _header(headers: Mapping[str, str | None], name: str) -> str:
    value = (headers.get(name) or "").strip()
    if not value:
        raise SignatureError(
            "SIGNATURE_MISSING",
            "send the webhook-id, webhook-timestamp and webhook-signature headers",
        )
    return value


def _timestamp(value: str, *, now: datetime, tolerance: timedelta) -> None:
    if not value.isascii() or not value.isdigit() or len(value) > 12:
        raise SignatureError(
            "SIGNATURE_TIMESTAMP_INVALID", "webhook-timestamp must be integer Unix seconds"
        )
    skew = abs(int(value) - now.timestamp())
    if skew > tolerance.total_seconds():
        raise SignatureError(
            "SIGNATURE_EXPIRED",
            f"webhook-timestamp is more than {int(tolerance.total_seconds())} s away from our"
            " clock: the delivery expired (or the sender's clock is wrong); sign each attempt"
            " when it is sent",
        )


def _presented(header: str) -> list[bytes]:
    """The decoded `v1` signatures of a header; other versions and garbage are ignored."""
    found = []
    for entry in header.split(" "):
        version, _, encoded = entry.partition(",")
        if version != "v1":
            continue
        try:
            found.append(base64.b64decode(encoded, validate=True))
        except (binascii.Error, ValueError):
            continue
    return found


def verify(
    body: bytes,
    headers: Mapping[str, str | None],
    *,
    secrets: Iterable[str],
    now: datetime,
    tolerance: timedelta = DEFAULT_TOLERANCE,
) -> str:
    """The delivery's `webhook-id` if it is authentic and fresh; SignatureError otherwise.

    `headers` is keyed by lower-case header name. Every secret is compared against every
    signature in constant time.
    """
    webhook_id = _header(headers, "webhook-id")
    timestamp = _header(headers, "webhook-timestamp")
    header = _header(headers, "webhook-signature")
    if len(webhook_id) > MAX_ID_LENGTH or not webhook_id.isascii():
        raise SignatureError(
            "SIGNATURE_INVALID", f"webhook-id must be ASCII of at most {MAX_ID_LENGTH} characters"
        )
    _timestamp(timestamp, now=now, tolerance=tolerance)
    presented = _presented(header)
    matched = False
    for secret in secrets:
        expected = signature(secret, webhook_id=webhook_id, timestamp=timestamp, body=body)
        digest = base64.b64decode(expected.removeprefix("v1,"))
        for candidate in presented:
            matched |= hmac.compare_digest(digest, candidate)
    if not matched:
        raise SignatureError(
            "SIGNATURE_INVALID", "no webhook-signature matches this source's signing secrets"
        )
    return webhook_id
