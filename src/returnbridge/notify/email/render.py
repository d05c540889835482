"""Turning a `ReturnEmail` into a subject, a plain-text part and an HTML part.

Built-in templates (`templates/email.txt`, `templates/email.html`) hold the layout; the words
come from `messages.py` in the customer's language. HTML is autoescaped. A tenant may
override a template per locale: its Jinja source runs in Jinja's `SandboxedEnvironment`,
which refuses access to Python internals, with the same variables (docs/email.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.numbers import format_currency
from jinja2 import Environment, PackageLoader, StrictUndefined, TemplateError, select_autoescape
from jinja2.sandbox import SandboxedEnvironment

from returnbridge.domain.errors import DomainError
from returnbridge.domain.money import exponent
from returnbridge.notify.email.context import TEMPLATES, ReturnEmail, sample
from returnbridge.notify.email.messages import LOCALES, choose_locale, language_of

_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
DEFAULT_COLOUR = "#222222"


class TemplateInvalidError(DomainError):
    """A tenant's template override does not render; the message says where."""

    code = "INVALID_TEMPLATE"


@dataclass(frozen=True, slots=True)
class EmailBranding:
    """The tenant's look: shop name, logo and primary colour (only #rrggbb, so no CSS gets in)."""

    shop_name: str = "our shop"
    logo_url: str | None = None
    primary_colour: str = DEFAULT_COLOUR
    default_locale: str = "en"

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> EmailBranding:
        colour = str(config.get("primary_colour") or DEFAULT_COLOUR)
        logo = config.get("logo_url")
        return cls(
            shop_name=str(config.get("from_name") or "our shop"),
            logo_url=str(logo) if logo and str(logo).startswith("https://") else None,
            primary_colour=colour if _COLOUR.match(colour) else DEFAULT_COLOUR,
            default_locale=str(config.get("default_locale") or "en"),
        )


@dataclass(frozen=True, slots=True)
class TemplateSource:
    """A tenant's override of one template: Jinja sources of its three parts."""

    subject: str
    text: str
    html: str | None = None


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


_BUILT_IN = Environment(
    loader=PackageLoader("returnbridge.notify.email", "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
    trim_blocks=True,
)
_SANDBOX_TEXT = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
_SANDBOX_HTML = SandboxedEnvironment(undefined=StrictUndefined, autoescape=True)


def money(minor: int, currency: str, locale: str) -> str:
    """`minor` units of `currency` as the locale writes them (1234.50 EUR, de: "1.234,50 €")."""
    amount = Decimal(minor).scaleb(-exponent(currency))
    return format_currency(amount, currency.upper(), locale=_babel_locale(locale))


def _babel_locale(locale: str) -> Locale:
    try:
        return Locale.parse(locale.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        return Locale.parse(language_of(locale) or "en")


def variables(email: ReturnEmail, branding: EmailBranding) -> dict[str, Any]:
    """Everything a template may use (the list is in docs/email.md)."""
    locale = choose_locale(email.locale, branding.default_locale)
    words = LOCALES[language_of(locale)]

    def fmt(minor: int) -> str:
        return money(minor, email.currency, locale)

    fill = {
        "order": email.order_name or email.return_reference,
        "reference": email.return_reference,
        "total": fmt(email.total_minor),
        "shop": branding.shop_name,
        "system": email.managed_by or "",
        "name": email.customer_name or "",
    }
    phrases = {key: text.format_map(fill) for key, text in words.items()}
    for key in ("subject", "intro", "next"):
        phrases[key] = phrases.get(f"{email.template}.{key}", "")
    return {
        **email.model_dump(),
        "locale": locale,
        "language": language_of(locale),
        "t": phrases,
        "shop": branding.shop_name,
        "logo_url": branding.logo_url,
        "colour": branding.primary_colour,
        "lines": [
            {"title": ln.title, "quantity": ln.quantity, "amount": fmt(ln.amount_minor)}
            for ln in email.lines
        ],
        "tenders": [{"label": t.label, "amount": fmt(t.amount_minor)} for t in email.tenders],
        "shipping": fmt(email.shipping_minor),
        "fees": fmt(email.fees_minor),
        "tax": fmt(email.tax_minor),
        "total": fmt(email.total_minor),
        "subject": phrases["subject"],
    }


def render(
    email: ReturnEmail, branding: EmailBranding, override: TemplateSource | None = None
) -> RenderedEmail:
    """The email's three parts, from the tenant's override when it has one."""
    if email.template not in TEMPLATES:
        raise DomainError("UNKNOWN_TEMPLATE", f"no email template {email.template!r}")
    values = variables(email, branding)
    if override is not None:
        return _render_override(override, values)
    text = _BUILT_IN.get_template("email.txt").render(values)
    html = _BUILT_IN.get_template("email.html").render(values)
    return RenderedEmail(subject=_one_line(values["subject"]), text=text, html=html)


def _render_override(source: TemplateSource, values: dict[str, Any]) -> RenderedEmail:
    part = "subject"
    try:
        subject = _SANDBOX_TEXT.from_string(source.subject).render(values)
        part = "text"
        text = _SANDBOX_TEXT.from_string(source.text).render(values)
        part = "html"
        html = (
            _SANDBOX_HTML.from_string(source.html).render(values)
            if source.html
            else _BUILT_IN.get_template("email.html").render(values)
        )
    except TemplateError as error:
        line = getattr(error, "lineno", None)
        where = f"{part} part" + (f", line {line}" if line else "")
        raise TemplateInvalidError(
            "INVALID_TEMPLATE", f"the template override does not render ({where}): {error}"
        ) from None
    return RenderedEmail(subject=_one_line(subject), text=text, html=html)


def check_override(name: str, locale: str, source: TemplateSource) -> RenderedEmail:
    """Render an override with sample data, so a broken one is refused when it is saved."""
    return render(sample(name, locale), EmailBranding(), source)


def _one_line(subject: str) -> str:
    """Subjects are one line: a header must never carry a newline."""
    return " ".join(subject.split())[:250]
