"""Standard Webhooks signatures for inbound pushes: the functions live in
`returnbridge.standard_webhooks`, shared with the outbound vendor callbacks."""

from returnbridge.standard_webhooks import (
    DEFAULT_TOLERANCE,
    MAX_ID_LENGTH,
    SECRET_PREFIX,
    SignatureError,
    SignedHeaders,
    new_secret,
    secret_key,
    sign,
    signature,
    verify,
)

__all__ = [
    "DEFAULT_TOLERANCE",
    "MAX_ID_LENGTH",
    "SECRET_PREFIX",
    "SignatureError",
    "SignedHeaders",
    "new_secret",
    "secret_key",
    "sign",
    "signature",
    "verify",
]
