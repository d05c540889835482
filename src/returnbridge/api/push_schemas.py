"""Request and response bodies of the push-source routes (`routes_push.py`)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from returnbridge.store.crypto import CredentialCipher
from returnbridge.store.push_sources import (
    DEFAULT_OVERLAP,
    DEFAULT_TOLERANCE_SECONDS,
    MAX_TOLERANCE_SECONDS,
    signing_secrets,
    tolerance_seconds,
)
from returnbridge.store.tables import Source

MAX_MAPPING_CHARS = 65_536
MAX_OVERLAP_SECONDS = 30 * 86_400


class PushSourceIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    connection_id: str | None = Field(
        default=None,
        max_length=40,
        description="where its returns go; may be left out when the tenant has one connection",
    )
    mapping: str | None = Field(
        default=None,
        max_length=MAX_MAPPING_CHARS,
        description="a mapping's YAML text (docs/mappings.md); none: payloads are canonical"
        " returns",
    )
    tolerance_seconds: int = Field(
        default=DEFAULT_TOLERANCE_SECONDS,
        ge=1,
        le=MAX_TOLERANCE_SECONDS,
        description="how far webhook-timestamp may be from our clock",
    )


class RotateIn(BaseModel):
    overlap_seconds: int = Field(
        default=int(DEFAULT_OVERLAP.total_seconds()),
        ge=0,
        le=MAX_OVERLAP_SECONDS,
        description="how long the secrets active now stay valid beside the new one",
    )


class SecretOut(BaseModel):
    fingerprint: str = Field(description="first 8 hex digits of the secret's SHA-256")
    created_at: datetime
    expires_at: datetime | None = Field(description="end of a rotation's overlap, if any")


class PushSourceOut(BaseModel):
    id: str
    name: str
    status: str
    connection_id: str
    mapped: bool = Field(description="whether a mapping turns its payloads into returns")
    tolerance_seconds: int
    delivery_url: str = Field(description="where the vendor sends signed deliveries")
    secrets: list[SecretOut]
    created_at: datetime
    updated_at: datetime


class PushSourceWithSecret(PushSourceOut):
    secret: str = Field(description="the new signing secret (whsec_...): shown once, store it")


def push_source_out(
    source: Source, *, base_url: str, cipher: CredentialCipher, now: datetime
) -> PushSourceOut:
    """The source as the API shows it: its secrets by fingerprint only, expired ones left out."""
    secrets = [
        SecretOut(
            fingerprint=s.fingerprint,
            created_at=s.created_at,
            expires_at=s.expires_at,
        )
        for s in signing_secrets(source, cipher=cipher)
        if s.active(now)
    ]
    return PushSourceOut(
        id=source.id,
        name=source.name,
        status=source.status,
        connection_id=source.connection_id,
        mapped=source.mapping is not None,
        tolerance_seconds=tolerance_seconds(source),
        delivery_url=f"{base_url}/v1/push-sources/{source.id}/deliveries",
        secrets=secrets,
        created_at=source.created_at,
        updated_at=source.updated_at,
    )
