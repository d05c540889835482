"""Reference verifier for returnbridge callbacks (Standard Webhooks), standard library only.

    verify(secret, headers, body)  # raises InvalidCallback, or returns the parsed JSON

`secret` is the `whsec_...` value shown when the subscription was created; `headers` the
request's headers (any case); `body` the raw request body, exactly as received.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

TOLERANCE = 300
"""Seconds a timestamp may be away from our clock."""


class InvalidCallback(Exception):
    """The request is not a genuine, fresh callback: drop it (answer 401)."""


def verify(secret: str, headers: Mapping[str, str], body: bytes) -> Any:
    lower = {name.lower(): value for name, value in headers.items()}
    try:
        msg_id, stamp, signatures = (
            lower["webhook-id"],
            lower["webhook-timestamp"],
            lower["webhook-signature"],
        )
    except KeyError as missing:
        raise InvalidCallback(f"missing header {missing}") from None
    if not (stamp.isascii() and stamp.isdigit()) or abs(time.time() - int(stamp)) > TOLERANCE:
        raise InvalidCallback("timestamp missing or too far from now")
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{msg_id}.{stamp}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    for entry in signatures.split():
        version, _, value = entry.partition(",")
        if version == "v1" and hmac.compare_digest(value.encode(), expected.encode()):
            return json.loads(body)
    raise InvalidCallback("no signature matches")
