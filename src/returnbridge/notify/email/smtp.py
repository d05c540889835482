"""Handing a message to the tenant's SMTP server (stdlib smtplib), with errors in our words.

`security`: `starttls` (plain connection upgraded with STARTTLS, port 587), `tls` (TLS from
the first byte, port 465) or `none` (local relays and tests only). Connection failures,
timeouts and 4xx replies are transient (try later); 5xx replies are permanent. The password
never appears in an error or a log.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any, Literal

from returnbridge.domain.errors import AuthError, PermanentError, TransientError

Security = Literal["starttls", "tls", "none"]


@dataclass(frozen=True, slots=True)
class SmtpServer:
    host: str
    port: int = 587
    security: Security = "starttls"
    username: str | None = None
    password: str | None = None
    verify_tls: bool = True

    @classmethod
    def from_config(cls, config: dict[str, Any], password: str | None) -> SmtpServer:
        return cls(
            host=str(config["host"]),
            port=int(config.get("port") or 587),
            security=config.get("security") or "starttls",
            username=config.get("username") or None,
            password=password or None,
            verify_tls=bool(config.get("verify_tls", True)),
        )

    def __repr__(self) -> str:  # never the password
        return f"SmtpServer(host={self.host!r}, port={self.port}, security={self.security!r})"


def send(server: SmtpServer, message: EmailMessage, *, timeout: float = 10.0) -> None:
    """Deliver `message` to `server`; raises TransientError or PermanentError on failure."""
    where = f"{server.host}:{server.port}"
    context = ssl.create_default_context()
    if not server.verify_tls:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    try:
        client: smtplib.SMTP
        if server.security == "tls":
            client = smtplib.SMTP_SSL(server.host, server.port, timeout=timeout, context=context)
        else:
            client = smtplib.SMTP(server.host, server.port, timeout=timeout)
        with client:
            if server.security == "starttls":
                client.starttls(context=context)
            if server.username:
                client.login(server.username, server.password or "")
            client.send_message(message)
    except smtplib.SMTPAuthenticationError:
        raise AuthError(
            "SMTP_AUTH", f"the mail server {where} refused the username or password"
        ) from None
    except smtplib.SMTPResponseException as error:
        kind = TransientError if 400 <= error.smtp_code < 500 else PermanentError
        raise kind("SMTP_REFUSED", f"the mail server {where} answered {error.smtp_code}") from None
    except smtplib.SMTPRecipientsRefused as error:
        codes = sorted({code for code, _ in error.recipients.values()})
        kind = TransientError if all(400 <= c < 500 for c in codes) else PermanentError
        raise kind(
            "SMTP_RECIPIENT_REFUSED",
            f"the mail server {where} refused the recipient ({', '.join(map(str, codes))})",
        ) from None
    except smtplib.SMTPNotSupportedError:
        raise PermanentError(
            "SMTP_NO_STARTTLS", f"the mail server {where} does not offer STARTTLS"
        ) from None
    except ssl.SSLError as error:
        raise PermanentError(
            "SMTP_TLS", f"TLS with the mail server {where} failed ({error.reason})"
        ) from None
    except (TimeoutError, OSError, smtplib.SMTPException):
        raise TransientError(
            "SMTP_UNREACHABLE", f"the mail server {where} could not be reached"
        ) from None
