"""Recording and sending customer emails, each at most once per (return, revision, template).

`record_email` writes the delivery row (or finds it); `send_email` claims it, renders it with
the tenant's branding and overrides, hands it to SMTP and marks it sent. The claim moves the
row's next attempt into the future inside a locked transaction before anything is sent, so
a retried step, a second worker or the housekeeper never send it again meanwhile; a mail
server that is down leaves it pending for the housekeeper, with backoff, for about a day.

The one window: a process that dies after the server accepted the message and before
`sent` is written sends it again at the next attempt. The Message-ID is the delivery id
both times, so mail clients that deduplicate on it show one message.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from returnbridge.domain.errors import PermanentError, TransientError
from returnbridge.notify.email import smtp
from returnbridge.notify.email.context import ReturnEmail
from returnbridge.notify.email.message import build
from returnbridge.notify.email.messages import choose_locale
from returnbridge.notify.email.render import (
    EmailBranding,
    TemplateInvalidError,
    TemplateSource,
    render,
)
from returnbridge.observability import get_logger
from returnbridge.store import email as store
from returnbridge.store.clock import Clock
from returnbridge.store.crypto import CredentialCipher
from returnbridge.store.tables import EmailDelivery

log = get_logger(__name__)

BACKOFF = (30, 120, 600, 1800, 3600, 7200, 14400, 28800, 28800, 28800)
"""Seconds before each next attempt; after the last one (about 25 hours) the email fails."""


def record_email(
    session: Session,
    *,
    tenant_id: str,
    return_id: str,
    revision: int,
    email: ReturnEmail,
    clock: Clock,
) -> EmailDelivery:
    """The delivery of `email` for this return revision, recorded once."""
    return store.add_delivery(
        session,
        tenant_id=tenant_id,
        return_id=return_id,
        revision=revision,
        template=email.template,
        locale=email.locale,
        recipient=email.customer_email,
        context=email.model_dump(mode="json"),
        now=clock(),
    )


def send_email(
    sessions: sessionmaker[Session],
    cipher: CredentialCipher,
    delivery_id: str,
    *,
    clock: Clock,
    timeout: float = 10.0,
) -> str:
    """Send the delivery unless it was sent, refused or claimed already; its status after.

    Raises TransientError when the server could not take it now (the row stays pending,
    with its next attempt set); a permanent refusal marks it failed.
    """
    with sessions.begin() as session:
        delivery = store.get_delivery(session, delivery_id, lock=True)
        if delivery is None:
            raise PermanentError("EMAIL_UNKNOWN", f"no email delivery {delivery_id}")
        now = clock()
        if delivery.status != store.PENDING:
            return delivery.status
        if delivery.next_attempt_at is not None and delivery.next_attempt_at > now:
            return store.PENDING  # claimed by another sender, or waiting for its next attempt
        settings = store.get_settings(session, delivery.tenant_id)
        if settings is None or not settings.enabled:
            delivery.status = store.SKIPPED
            delivery.last_error = "email is switched off for this tenant"
            return store.SKIPPED
        email = ReturnEmail.model_validate(delivery.context)
        row = store.find_override(session, delivery.tenant_id, email.template, email.locale)
        override = TemplateSource(row.subject, row.text_body, row.html_body) if row else None
        config = dict(settings.config)
        password = store.settings_password(settings, cipher=cipher)
        delivery.attempts += 1
        attempt = delivery.attempts
        delivery.next_attempt_at = now + timedelta(seconds=_backoff(attempt))
        recipient = delivery.recipient
    branding = EmailBranding.from_config(config)
    try:
        rendered = render(email, branding, override)
    except TemplateInvalidError as error:
        log.warning(
            "template override failed; built-in used", delivery_id=delivery_id, error=str(error)
        )
        rendered = render(email, branding)
    message = build(
        rendered,
        config=config,
        recipient=recipient,
        delivery_id=delivery_id,
        language=choose_locale(email.locale, branding.default_locale),
    )
    try:
        smtp.send(smtp.SmtpServer.from_config(config, password), message, timeout=timeout)
    except TransientError as error:
        gave_up = attempt >= len(BACKOFF)
        _finish(sessions, delivery_id, store.FAILED if gave_up else None, error.message, now)
        if gave_up:
            return store.FAILED
        raise
    except PermanentError as error:
        _finish(sessions, delivery_id, store.FAILED, error.message, now)
        return store.FAILED
    _finish(sessions, delivery_id, store.SENT, None, clock(), subject=rendered.subject)
    log.info("customer email sent", delivery_id=delivery_id, template=email.template)
    return store.SENT


def send_due(
    sessions: sessionmaker[Session],
    cipher: CredentialCipher,
    *,
    clock: Clock,
    timeout: float,
    reads: sessionmaker[Session] | None = None,
) -> int:
    """Send pending emails whose next attempt is due (the housekeeper's round); how many sent.
    The look uses `reads` (no write lock on SQLite) when given."""
    with (reads or sessions)() as session:
        due = store.due_deliveries(session, now=clock())
    sent = 0
    for delivery_id in due:
        try:
            sent += (
                send_email(sessions, cipher, delivery_id, clock=clock, timeout=timeout) == "sent"
            )
        except TransientError as error:
            log.warning(
                "customer email still delayed", delivery_id=delivery_id, error=error.message
            )
    return sent


def _backoff(attempt: int) -> int:
    return BACKOFF[min(attempt, len(BACKOFF)) - 1]


def _finish(
    sessions: sessionmaker[Session],
    delivery_id: str,
    status: str | None,
    error: str | None,
    at: datetime,
    *,
    subject: str | None = None,
) -> None:
    with sessions.begin() as session:
        delivery = store.get_delivery(session, delivery_id, lock=True)
        if delivery is None:
            return
        if status is not None:
            delivery.status = status
        delivery.last_error = error
        if status == store.SENT:
            delivery.sent_at = at
            delivery.subject = subject
