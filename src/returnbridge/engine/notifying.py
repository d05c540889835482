"""The notify step: the customer's email about the return's outcome, sent once.

What the customer hears: `refund_issued` with the refund's breakdown when money went back
(by us, or by the returns system that processed the return), else `return_closed`. The
email is recorded first under (return, revision, template), then sent; a retried step finds
the record sent and sends nothing (`notify/email/outbox.py`). A mail server that is down
does not hold the return: the email stays pending and the housekeeper sends it later; one
the server refuses for good is on the timeline with the reason. Tenants without email
settings (or with them switched off) skip the step, as before.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from returnbridge.domain.errors import TransientError
from returnbridge.domain.money import parse_minor
from returnbridge.domain.returns import CanonicalReturn, ReturnStatus
from returnbridge.engine import completion
from returnbridge.engine.returns_systems import display_name
from returnbridge.engine.runtime import Runtime
from returnbridge.engine.step_records import (
    StepOutcome,
    advance_through,
    load_return,
    reached,
    transaction,
)
from returnbridge.notify.email.context import EmailLine, EmailTender, ReturnEmail
from returnbridge.notify.email.messages import LOCALES, choose_locale, language_of
from returnbridge.notify.email.outbox import record_email, send_email
from returnbridge.observability import get_logger
from returnbridge.store import refunds as refund_store
from returnbridge.store import returns as return_store
from returnbridge.store import returns_system_links as links
from returnbridge.store.clock import utc_now
from returnbridge.store.connections import get_connection
from returnbridge.store.step_rows import Hop
from returnbridge.store.tables import EmailSettings, Refund, Return, ReturnsSystemLink

log = get_logger(__name__)

NO_RECIPIENT = "no customer email address to write to"


def notify(runtime: Runtime, tenant_id: str, return_id: str) -> StepOutcome:
    """Record and send the outcome email once; move the return to `notified`."""
    with runtime.reads() as session:
        # the common case first, cheaply: a tenant without email settings reads one row
        settings = session.get(EmailSettings, tenant_id)
        if settings is None or not settings.enabled:
            return completion.skip(ReturnStatus.NOTIFIED, completion.NO_NOTIFICATIONS)
        row, canonical = load_return(session, tenant_id, return_id, lock=False)
        if reached(row.status, ReturnStatus.NOTIFIED):
            return StepOutcome(row.status)
        record = return_store.get_return(session, return_id, tenant_id=tenant_id)
        rows = refund_store.refunds_for_return(session, return_id, tenant_id=tenant_id)
        link = links.get_link(session, return_id, tenant_id=tenant_id)
        manager = None
        if link is not None:
            manager = display_name(
                get_connection(session, link.connection_id, tenant_id=tenant_id).platform
            )
        default_locale = str((settings.config or {}).get("default_locale") or "en")
    email = compose(
        record,
        canonical,
        rows[-1] if rows else None,
        link=link,
        manager=manager,
        default_locale=default_locale,
    )
    if email is None:
        return completion.skip(ReturnStatus.NOTIFIED, NO_RECIPIENT)
    delivery_id, status = _record_and_send(runtime, tenant_id, return_id, record.revision, email)
    return record_notified(
        runtime, tenant_id, return_id, email, delivery_id=delivery_id, status=status
    )


def record_notified(
    runtime: Runtime,
    tenant_id: str,
    return_id: str,
    email: ReturnEmail,
    *,
    delivery_id: str,
    status: str,
) -> StepOutcome:
    """The step's last write: the email's fate on the timeline, and the return notified."""
    reasons = {
        "sent": f"{email.template} email sent to the customer",
        "pending": f"{email.template} email queued: the mail server did not take it yet",
        "failed": f"{email.template} email refused by the mail server (see the delivery log)",
        "skipped": f"{email.template} email not sent: email is switched off",
    }
    with transaction(runtime) as session:
        row, _ = load_return(session, tenant_id, return_id)
        notified = Hop(
            ReturnStatus.NOTIFIED,
            "customer_notified" if status == "sent" else "customer_notification_" + status,
            reasons.get(status, f"{email.template} email {status}"),
            {
                "template": email.template,
                "locale": email.locale,
                "delivery_id": delivery_id,
                "status": status,
            },
        )
        # a skipped sync step wrote nothing (engine/completion.py): its hop goes first
        skipped_sync = Hop(ReturnStatus.SYNCED, "step_skipped", completion.NO_RETURNS_SYSTEM)
        advance_through(session, row, [skipped_sync, notified])
    return StepOutcome(ReturnStatus.NOTIFIED)


def compose(
    record: Return,
    canonical: CanonicalReturn,
    refund: Refund | None,
    *,
    link: ReturnsSystemLink | None,
    manager: str | None,
    default_locale: str,
) -> ReturnEmail | None:
    """The outcome email's content, or None when there is nobody to write to."""
    plan: dict[str, Any] = (refund.plan if refund else None) or {}
    recipient = plan.get("customer_email") or canonical.order.customer_email
    if not recipient:
        return None
    breakdown: dict[str, Any] = plan.get("breakdown") or {}
    currency = (refund.currency if refund else None) or record.currency or "USD"
    refunded = _refunded(refund, link, currency)
    titles: dict[str, str] = plan.get("titles") or {}
    base: dict[str, Any] = {
        "locale": canonical.customer_locale or default_locale,
        "customer_name": None,
        "customer_email": str(recipient),
        "order_name": record.matched_order_name,
        "return_reference": record.external_id,
        "currency": currency,
        "managed_by": manager,
    }
    if refunded <= 0:
        return ReturnEmail(template="return_closed", lines=_lines(breakdown, titles), **base)
    fees = breakdown.get("fees") or {}
    shipping = breakdown.get("shipping") or {}
    return ReturnEmail(
        template="refund_issued",
        lines=_lines(breakdown, titles),
        shipping_minor=int(shipping.get("total", 0)),
        fees_minor=abs(int(fees.get("total", 0))),
        tax_minor=int(breakdown.get("tax_total", 0)),
        tenders=[
            EmailTender(
                label=str(t.get("gateway") or t.get("method") or ""), amount_minor=t["amount"]
            )
            for t in breakdown.get("tenders") or []
            if int(t.get("amount", 0)) > 0
        ],
        total_minor=refunded,
        **base,
    )


def _lines(breakdown: dict[str, Any], titles: dict[str, str]) -> list[EmailLine]:
    return [
        EmailLine(
            title=titles.get(str(line["line_id"]), str(line["line_id"])),
            quantity=int(line["quantity"]),
            amount_minor=int(line["total"]),
        )
        for line in breakdown.get("lines") or []
        if int(line.get("quantity", 0)) > 0
    ]


def _refunded(refund: Refund | None, link: ReturnsSystemLink | None, currency: str) -> int:
    """Minor units that went back: our refund, or what the returns system refunded."""
    if refund is None:
        return 0
    if refund.status == refund_store.SUCCEEDED:
        return refund.amount
    if refund.status == refund_store.DELEGATED and link is not None:
        amount = (link.details or {}).get("refund")
        if link.state == "closed" and amount is not None:
            return parse_minor(Decimal(str(amount)), currency)
    return 0


ORDER_NUMBER_NEEDED = "need.order_number"


def tell_customer(
    runtime: Runtime, tenant_id: str, return_id: str, template: str, *, need: str | None = None
) -> str | None:
    """Email the customer about a return that waits: `return_received` (it waits for approval
    or for the goods) or `more_information_needed` (`need`: a phrase key of what we need).

    Once per (return, revision, template), like the outcome email. Never fails the caller's
    step: a mail server that is down leaves the email pending for the housekeeper, anything
    else is logged. The email's status, or None when there was nothing to send.
    """
    try:
        with runtime.reads() as session:
            settings = session.get(EmailSettings, tenant_id)
            if settings is None or not settings.enabled:
                return None
            _, canonical = load_return(session, tenant_id, return_id, lock=False)
            record = return_store.get_return(session, return_id, tenant_id=tenant_id)
            default_locale = str((settings.config or {}).get("default_locale") or "en")
        recipient = canonical.order.customer_email
        if not recipient:
            return None
        locale = choose_locale(canonical.customer_locale, default_locale)
        email = ReturnEmail(
            template=template,
            locale=locale,
            customer_email=str(recipient),
            order_name=record.matched_order_name or canonical.order.order_number,
            return_reference=record.external_id,
            currency=record.currency or "USD",
            lines=[
                EmailLine(title=ln.sku or ln.line_id or "", quantity=ln.quantity, amount_minor=0)
                for ln in canonical.lines
            ],
            reason=LOCALES[language_of(locale)].get(need) if need else None,
        )
        return _record_and_send(runtime, tenant_id, return_id, record.revision, email)[1]
    except Exception as error:  # an email must never stop the return
        log.error("customer email not recorded", template=template, error=str(error))
        return None


def _record_and_send(
    runtime: Runtime, tenant_id: str, return_id: str, revision: int, email: ReturnEmail
) -> tuple[str, str]:
    """Record the email once for this revision, then send it unless it went already; its
    delivery id and status (`pending` when the mail server could not take it now)."""
    with transaction(runtime) as session:
        delivery = record_email(
            session,
            tenant_id=tenant_id,
            return_id=return_id,
            revision=revision,
            email=email,
            clock=utc_now,
        )
        delivery_id = delivery.id
    try:
        status = send_email(
            runtime.sessions,
            runtime.cipher,
            delivery_id,
            clock=utc_now,
            timeout=runtime.settings.http_timeout,
        )
    except TransientError as error:
        log.warning("customer email delayed", delivery_id=delivery_id, error=str(error))
        status = "pending"
    return delivery_id, status
