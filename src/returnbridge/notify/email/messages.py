"""The words of the built-in emails, per locale. Templates hold layout; this holds language.

Each locale has every key (a test checks it). `{order}`, `{reference}`, `{total}`,
`{shop}` and `{system}` are filled in by `render.py`; the rest is literal text.
"""

from __future__ import annotations

from types import MappingProxyType

_EN = {
    "return_received.subject": "We received your return request {reference}",
    "return_received.intro": "Thank you: we received your return request for order {order}.",
    "return_received.next": "We will let you know as soon as it has been processed.",
    "refund_issued.subject": "Your refund of {total} is on its way",
    "refund_issued.intro": "We refunded {total} for your return {reference} (order {order}).",
    "refund_issued.next": "Depending on your bank, it can take a few days to appear.",
    "return_closed.subject": "Your return {reference} is complete",
    "return_closed.intro": "Your return {reference} for order {order} has been completed.",
    "return_closed.next": "No refund was due for this return.",
    "more_information_needed.subject": "We need more information about your return {reference}",
    "more_information_needed.intro": "To process your return {reference} for order {order},"
    " we need:",
    "more_information_needed.next": "Please reply to this email.",
    "greeting": "Hello {name},",
    "greeting_anonymous": "Hello,",
    "item": "Item",
    "quantity": "Qty",
    "amount": "Amount",
    "shipping": "Shipping",
    "fees": "Fees",
    "tax": "Tax included",
    "total": "Total refunded",
    "refunded_to": "Refunded to",
    "managed_by": "Processed by {system}.",
    "closing": "Kind regards,",
    "footer": "You receive this email because you asked {shop} for a return.",
    "need.order_number": "the order number from your order confirmation",
}

_DE = {
    "return_received.subject": "Wir haben Ihre Rücksendung {reference} erhalten",
    "return_received.intro": "Vielen Dank: Wir haben Ihre Rücksendeanfrage zur Bestellung"
    " {order} erhalten.",
    "return_received.next": "Wir melden uns, sobald sie bearbeitet ist.",
    "refund_issued.subject": "Ihre Erstattung über {total} ist unterwegs",
    "refund_issued.intro": "Wir haben {total} für Ihre Rücksendung {reference} (Bestellung"
    " {order}) erstattet.",
    "refund_issued.next": "Je nach Bank kann es einige Tage dauern, bis der Betrag sichtbar ist.",
    "return_closed.subject": "Ihre Rücksendung {reference} ist abgeschlossen",
    "return_closed.intro": "Ihre Rücksendung {reference} zur Bestellung {order} ist abgeschlossen.",
    "return_closed.next": "Für diese Rücksendung war keine Erstattung fällig.",
    "more_information_needed.subject": "Wir benötigen weitere Angaben zu Ihrer Rücksendung"
    " {reference}",
    "more_information_needed.intro": "Um Ihre Rücksendung {reference} zur Bestellung {order}"
    " zu bearbeiten, benötigen wir:",
    "more_information_needed.next": "Bitte antworten Sie auf diese E-Mail.",
    "greeting": "Hallo {name},",
    "greeting_anonymous": "Hallo,",
    "item": "Artikel",
    "quantity": "Menge",
    "amount": "Betrag",
    "shipping": "Versand",
    "fees": "Gebühren",
    "tax": "Enthaltene Steuer",
    "total": "Erstattet insgesamt",
    "refunded_to": "Erstattet auf",
    "managed_by": "Bearbeitet von {system}.",
    "closing": "Mit freundlichen Grüßen",
    "footer": "Sie erhalten diese E-Mail, weil Sie bei {shop} eine Rücksendung angefragt haben.",
    "need.order_number": "die Bestellnummer aus Ihrer Bestellbestätigung",
}

_FR = {
    "return_received.subject": "Nous avons reçu votre demande de retour {reference}",
    "return_received.intro": "Merci : nous avons bien reçu votre demande de retour pour la"
    " commande {order}.",
    "return_received.next": "Nous vous tiendrons informé dès qu'elle sera traitée.",
    "refund_issued.subject": "Votre remboursement de {total} est en route",
    "refund_issued.intro": "Nous avons remboursé {total} pour votre retour {reference}"
    " (commande {order}).",
    "refund_issued.next": "Selon votre banque, il peut falloir quelques jours pour le voir.",
    "return_closed.subject": "Votre retour {reference} est terminé",
    "return_closed.intro": "Votre retour {reference} pour la commande {order} est terminé.",
    "return_closed.next": "Aucun remboursement n'était dû pour ce retour.",
    "more_information_needed.subject": "Nous avons besoin de précisions sur votre retour"
    " {reference}",
    "more_information_needed.intro": "Pour traiter votre retour {reference} de la commande"
    " {order}, il nous faut :",
    "more_information_needed.next": "Merci de répondre à cet e-mail.",
    "greeting": "Bonjour {name},",
    "greeting_anonymous": "Bonjour,",
    "item": "Article",
    "quantity": "Qté",
    "amount": "Montant",
    "shipping": "Livraison",
    "fees": "Frais",
    "tax": "Dont taxes",
    "total": "Total remboursé",
    "refunded_to": "Remboursé sur",
    "managed_by": "Traité par {system}.",
    "closing": "Cordialement,",
    "footer": "Vous recevez cet e-mail car vous avez demandé un retour à {shop}.",
    "need.order_number": "le numéro de commande figurant sur votre confirmation de commande",
}

LOCALES = MappingProxyType({"en": _EN, "de": _DE, "fr": _FR})
DEFAULT_LOCALE = "en"


def language_of(locale: str) -> str:
    """The shipped language for `locale` ("de-AT" -> "de"), or "" when none."""
    normal = locale.replace("_", "-").lower()
    if normal in LOCALES:
        return normal
    language = normal.split("-", 1)[0]
    return language if language in LOCALES else ""


def choose_locale(wanted: str | None, default: str | None) -> str:
    """The customer's locale if we speak its language, else the tenant's default, else en."""
    for candidate in (wanted, default):
        if candidate and language_of(candidate):
            return candidate.replace("_", "-")
    return DEFAULT_LOCALE
