"""`/v1/webhooks/{platform}/{connection_id}`: webhooks from a tenant's returns system (Loop).

No API key: the platform's signature over the raw body is the authentication (Loop:
`X-Loop-Signature`, base64 HMAC-SHA256 with the webhook secret stored in the connection's
credentials as `webhook_secret`). A missing or forged signature is a 401 and changes
nothing; a verified report updates the return it names and resumes it when it was waiting
on that system (`engine/returns_system_updates.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from returnbridge.api.deps import RuntimeDep
from returnbridge.api.openapi import PROBLEM_JSON
from returnbridge.api.problems import ApiProblem
from returnbridge.connectors.base.returns_system import ExternalReturn
from returnbridge.connectors.loop.webhooks import parse_event, verify_signature
from returnbridge.domain.errors import DomainError
from returnbridge.engine.returns_system_updates import apply_update
from returnbridge.engine.runtime import Runtime
from returnbridge.store.connections import connection_credentials
from returnbridge.store.tables import Connection


@dataclass(frozen=True, slots=True)
class _Receiver:
    header: str
    verify: Callable[[bytes, str | None, str], bool]
    parse: Callable[[bytes], tuple[str, ExternalReturn]]


RECEIVERS: dict[str, _Receiver] = {
    "loop": _Receiver("x-loop-signature", verify_signature, parse_event),
}

router = APIRouter(prefix="/v1/webhooks", tags=["returns system webhooks"])


class WebhookReceived(BaseModel):
    """What the delivery did: `resumed` a waiting return, `recorded` an update, changed
    nothing (`unchanged`), or named a return we do not know (`unknown`)."""

    trigger: str
    outcome: str
    return_id: str | None = None


def _problems() -> dict[int | str, dict[str, Any]]:
    ref = {"$ref": "#/components/schemas/Problem"}
    meaning = {
        401: "the delivery is unsigned or its signature does not verify",
        404: "no such returns-system connection",
        400: "the body is not a report we can read",
    }
    return {
        status: {"description": text, "content": {PROBLEM_JSON: {"schema": ref}}}
        for status, text in meaning.items()
    }


@router.post(
    "/{platform}/{connection_id}",
    response_model=WebhookReceived,
    summary="A signed webhook from a returns system (Loop Returns); no API key",
    responses=_problems(),
)
async def receive(
    platform: str, connection_id: str, request: Request, runtime: RuntimeDep
) -> WebhookReceived:
    raw = await request.body()  # the body size limit applies while it is read
    receiver = RECEIVERS.get(platform)
    if receiver is None:
        raise ApiProblem(404, "NOT_FOUND", f"no returns-system webhooks for {platform!r}")
    signature = request.headers.get(receiver.header)
    return await run_in_threadpool(
        partial(_handle, runtime, receiver, platform, connection_id, raw=raw, signature=signature)
    )


def _handle(
    runtime: Runtime,
    receiver: _Receiver,
    platform: str,
    connection_id: str,
    *,
    raw: bytes,
    signature: str | None,
) -> WebhookReceived:
    with runtime.reads() as session:
        connection = session.get(Connection, connection_id)
        if connection is None or connection.platform != platform:
            raise ApiProblem(
                404, "NOT_FOUND", f"no {platform} connection {connection_id}", kind="connection"
            )
        secret = connection_credentials(connection, cipher=runtime.cipher).get("webhook_secret")
    if not isinstance(secret, str) or not secret:
        raise ApiProblem(
            401,
            "WEBHOOK_SECRET_MISSING",
            f"connection {connection_id} has no webhook_secret: add Loop's webhook secret to"
            " its credentials to accept its webhooks",
        )
    if not receiver.verify(raw, signature, secret):
        raise ApiProblem(
            401, "INVALID_SIGNATURE", f"the {receiver.header} signature does not verify"
        )
    try:
        trigger, external = receiver.parse(raw)
    except DomainError as error:
        raise ApiProblem(400, error.code, error.message) from None
    applied = apply_update(runtime, connection, external, via=f"{platform} webhook")
    return WebhookReceived(trigger=trigger, outcome=applied.outcome, return_id=applied.return_id)
