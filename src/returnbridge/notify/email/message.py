"""The MIME message: multipart/alternative (text, then HTML), headers from the tenant's settings."""

from __future__ import annotations

from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

from returnbridge.notify.email.render import RenderedEmail


def message_id(delivery_id: str, sender: str) -> str:
    """The same delivery always gets the same Message-ID, so a repeat is recognisable."""
    domain = sender.rpartition("@")[2] or "returnbridge.local"
    return f"<{delivery_id}@{domain}>"


def build(
    rendered: RenderedEmail,
    *,
    config: dict[str, Any],
    recipient: str,
    delivery_id: str,
    language: str | None = None,
) -> EmailMessage:
    sender = str(config.get("from_address") or "returns@example.com")
    message = EmailMessage()
    message["Subject"] = rendered.subject
    name = config.get("from_name")
    message["From"] = Address(display_name=str(name), addr_spec=sender) if name else sender
    message["To"] = recipient
    if config.get("reply_to"):
        message["Reply-To"] = str(config["reply_to"])
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = message_id(delivery_id, sender)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    if language:  # after the body: setting content drops earlier Content-* headers
        message["Content-Language"] = language
    return message
