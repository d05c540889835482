"""A tenant's email settings and template overrides, and the customer email delivery log.

A delivery row is keyed by (return, revision, template): recording the same email twice
finds the first row, which is how an email is sent at most once per return revision.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from returnbridge.store.clock import Clock, utc_now
from returnbridge.store.crypto import CredentialCipher
from returnbridge.store.ids import new_id
from returnbridge.store.tables import EmailDelivery, EmailSettings, EmailTemplate

PENDING = "pending"
SENT = "sent"
FAILED = "failed"
SKIPPED = "skipped"


def get_settings(session: Session, tenant_id: str) -> EmailSettings | None:
    return session.get(EmailSettings, tenant_id)


def save_settings(
    session: Session,
    tenant_id: str,
    *,
    enabled: bool,
    config: dict[str, Any],
    password: str | None,
    cipher: CredentialCipher,
    keep_password: bool,
    clock: Clock = utc_now,
) -> EmailSettings:
    """Create or replace the tenant's settings; `keep_password` keeps the stored one."""
    row = session.get(EmailSettings, tenant_id)
    secrets = {"password": password} if password else {}
    if row is not None and keep_password and password is None:
        secrets = cipher.decrypt(row.secrets_encrypted)
    if row is None:
        row = EmailSettings(tenant_id=tenant_id)
        session.add(row)
    row.enabled = enabled
    row.config = dict(config)
    row.secrets_encrypted = cipher.encrypt(secrets)
    row.updated_at = clock()
    session.flush()
    return row


def settings_password(row: EmailSettings, *, cipher: CredentialCipher) -> str | None:
    value = cipher.decrypt(row.secrets_encrypted).get("password")
    return str(value) if value else None


def get_template(session: Session, tenant_id: str, name: str, locale: str) -> EmailTemplate | None:
    return session.scalar(
        select(EmailTemplate).where(
            EmailTemplate.tenant_id == tenant_id,
            EmailTemplate.name == name,
            EmailTemplate.locale == locale,
        )
    )


def find_override(session: Session, tenant_id: str, name: str, locale: str) -> EmailTemplate | None:
    """The tenant's override for `locale`, else for its language ("de-AT" -> "de")."""
    for candidate in dict.fromkeys([locale, locale.split("-", 1)[0]]):
        found = get_template(session, tenant_id, name, candidate)
        if found is not None:
            return found
    return None


def save_template(
    session: Session,
    tenant_id: str,
    name: str,
    locale: str,
    *,
    subject: str,
    text_body: str,
    html_body: str | None,
    clock: Clock = utc_now,
) -> EmailTemplate:
    row = get_template(session, tenant_id, name, locale)
    if row is None:
        row = EmailTemplate(id=new_id("tpl"), tenant_id=tenant_id, name=name, locale=locale)
        session.add(row)
    row.subject, row.text_body, row.html_body = subject, text_body, html_body
    row.updated_at = clock()
    session.flush()
    return row


def delete_template(session: Session, tenant_id: str, name: str, locale: str) -> bool:
    row = get_template(session, tenant_id, name, locale)
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True


def list_templates(session: Session, tenant_id: str) -> list[EmailTemplate]:
    return list(
        session.scalars(
            select(EmailTemplate)
            .where(EmailTemplate.tenant_id == tenant_id)
            .order_by(EmailTemplate.name, EmailTemplate.locale)
        )
    )


def find_delivery(
    session: Session, return_id: str, revision: int, template: str
) -> EmailDelivery | None:
    return session.scalar(
        select(EmailDelivery).where(
            EmailDelivery.return_id == return_id,
            EmailDelivery.revision == revision,
            EmailDelivery.template == template,
        )
    )


def add_delivery(
    session: Session,
    *,
    tenant_id: str,
    return_id: str,
    revision: int,
    template: str,
    locale: str,
    recipient: str,
    context: dict[str, Any],
    now: datetime,
) -> EmailDelivery:
    """The delivery for (return, revision, template): the existing one, or a new pending one.

    A concurrent insert of the same key loses to the unique constraint inside a savepoint,
    and the winner's row is returned.
    """
    found = find_delivery(session, return_id, revision, template)
    if found is not None:
        return found
    delivery_id = new_id("eml")
    row = EmailDelivery(
        id=delivery_id,
        tenant_id=tenant_id,
        return_id=return_id,
        revision=revision,
        template=template,
        locale=locale,
        recipient=recipient,
        subject=None,
        message_id=delivery_id,
        status=PENDING,
        attempts=0,
        next_attempt_at=now,
        last_error=None,
        context=context,
        created_at=now,
        sent_at=None,
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        winner = find_delivery(session, return_id, revision, template)
        if winner is None:
            raise
        return winner
    return row


def get_delivery(
    session: Session, delivery_id: str, *, tenant_id: str | None = None, lock: bool = False
) -> EmailDelivery | None:
    statement = select(EmailDelivery).where(EmailDelivery.id == delivery_id)
    if tenant_id is not None:
        statement = statement.where(EmailDelivery.tenant_id == tenant_id)
    if lock:
        statement = statement.with_for_update()
    return session.scalar(statement.execution_options(populate_existing=True))


def due_deliveries(session: Session, *, now: datetime, limit: int = 50) -> list[str]:
    """Ids of pending deliveries whose next attempt is due (the housekeeper sends them)."""
    return list(
        session.scalars(
            select(EmailDelivery.id)
            .where(EmailDelivery.status == PENDING, EmailDelivery.next_attempt_at <= now)
            .order_by(EmailDelivery.next_attempt_at)
            .limit(limit)
        )
    )


def list_deliveries(
    session: Session, tenant_id: str, *, return_id: str | None = None, limit: int = 100
) -> list[EmailDelivery]:
    statement = select(EmailDelivery).where(EmailDelivery.tenant_id == tenant_id)
    if return_id is not None:
        statement = statement.where(EmailDelivery.return_id == return_id)
    return list(
        session.scalars(
            statement.order_by(EmailDelivery.created_at.desc(), EmailDelivery.id.desc()).limit(
                limit
            )
        )
    )
