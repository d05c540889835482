"""Credential encryption at rest (Fernet: AES-128-CBC + HMAC-SHA256, with a timestamp).

Connection credentials are stored as a Fernet token and decrypted only when a caller asks.
Earlier keys may be given so a key rotation can read old tokens while writing new ones.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from returnbridge.store.errors import CredentialsUnreadableError


class CredentialCipher:
    """Encrypts credential dicts with the current key; decrypts with it or any previous key."""

    __slots__ = ("_fernet",)

    def __init__(self, key: str, *, previous_keys: Iterable[str] = ()) -> None:
        try:
            keys = [Fernet(key), *(Fernet(old) for old in previous_keys)]
        except (ValueError, TypeError) as exc:
            raise CredentialsUnreadableError(
                "INVALID_CREDENTIAL_KEY",
                "credential key is not a valid Fernet key (32 url-safe base64-encoded bytes); "
                "create one with `CredentialCipher.generate_key()`",
            ) from exc
        self._fernet = MultiFernet(keys)

    def __repr__(self) -> str:
        return "CredentialCipher(key=<redacted>)"

    @staticmethod
    def generate_key() -> str:
        """A new random key, suitable for ``RETURNBRIDGE_SECRET_KEY``."""
        return Fernet.generate_key().decode("ascii")

    def encrypt(self, credentials: dict[str, Any]) -> str:
        """Serialise and encrypt ``credentials``; the token is safe to store and log."""
        plaintext = json.dumps(credentials, sort_keys=True, separators=(",", ":"))
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> dict[str, Any]:
        """The credentials inside ``token``; raises CredentialsUnreadableError on a wrong key."""
        try:
            plaintext = self._fernet.decrypt(token.encode("ascii"))
        except (InvalidToken, UnicodeEncodeError):
            raise CredentialsUnreadableError(
                message=(
                    "stored credentials could not be decrypted: the secret key differs from the "
                    "one they were encrypted with (pass the old key as a previous key to rotate), "
                    "or the token is corrupt"
                )
            ) from None
        value = json.loads(plaintext)
        if not isinstance(value, dict):
            raise CredentialsUnreadableError(message="stored credentials are not a JSON object")
        return value

    def rotate(self, token: str) -> str:
        """Re-encrypt ``token`` under the current key (for key rotation)."""
        try:
            return self._fernet.rotate(token.encode("ascii")).decode("ascii")
        except (InvalidToken, UnicodeEncodeError):
            raise CredentialsUnreadableError(
                message="stored credentials could not be decrypted for rotation"
            ) from None
