"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives, for email tests."""

from __future__ import annotations

import email
import socket
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Inbox:
    """What the server received; `refuse_next` answers that many messages 451 (try later)."""

    messages: list[EmailMessage] = field(default_factory=list)
    refused: int = 0
    refuse_next: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._lock:
            if self.refuse_next > 0:
                self.refuse_next -= 1
                self.refused += 1
                return "451 4.3.0 try again later"
            parsed = email.message_from_bytes(envelope.content, policy=default)
            assert isinstance(parsed, EmailMessage)
            self.messages.append(parsed)
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        with self._lock:
            return [m for m in self.messages if m["To"] == address]


class SmtpServer:
    """aiosmtpd's Controller on a free loopback port, in its own thread."""

    def __init__(self) -> None:
        self.inbox = Inbox()
        self.port = free_port()
        self._controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> SmtpServer:
        self._controller.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._controller.stop()

    def settings(self, **extra: Any) -> dict[str, Any]:
        """A body for `PUT /v1/email/settings` that sends through this server."""
        return {
            "host": "127.0.0.1",
            "port": self.port,
            "security": "none",
            "from_address": "returns@shop.example",
            "from_name": "Acme Shop",
            "reply_to": "help@shop.example",
            **extra,
        }
