"""Customer email rendering: every template in every locale, money per locale, escaping,
the sandbox for tenant overrides, the locale fallback chain."""

from __future__ import annotations

import pytest

from returnbridge.notify.email.context import TEMPLATES, ReturnEmail, sample
from returnbridge.notify.email.message import build
from returnbridge.notify.email.messages import LOCALES, choose_locale
from returnbridge.notify.email.render import (
    EmailBranding,
    TemplateInvalidError,
    TemplateSource,
    money,
    render,
)


def _plain(text: str) -> str:
    return text.replace("\xa0", " ").replace("\u202f", " ")


def test_every_locale_has_every_phrase() -> None:
    keys = set(LOCALES["en"])
    for locale, phrases in LOCALES.items():
        assert set(phrases) == keys, locale


@pytest.mark.parametrize("template", TEMPLATES)
@pytest.mark.parametrize("locale", sorted(LOCALES))
def test_every_template_renders_in_every_locale(template: str, locale: str) -> None:
    rendered = render(sample(template, locale), EmailBranding(shop_name="Acme"))
    assert rendered.subject
    assert "\n" not in rendered.subject
    assert "RET-1001" in rendered.text or "RET-1001" in rendered.subject
    assert f'<html lang="{locale}">' in rendered.html
    assert "Acme" in rendered.text


@pytest.mark.parametrize(
    ("minor", "currency", "locale", "expected"),
    [
        (123450, "EUR", "de-DE", "1.234,50 €"),
        (123450, "EUR", "fr", "1 234,50 €"),
        (123450, "USD", "en", "$1,234.50"),
        (1234, "JPY", "en", "¥1,234"),
        (1234, "KWD", "en", "KWD1.234"),
        (-500, "EUR", "de", "-5,00 €"),
    ],
)
def test_money_follows_the_currency_exponent_and_the_locale(
    minor: int, currency: str, locale: str, expected: str
) -> None:
    assert _plain(money(minor, currency, locale)) == expected


def test_the_refund_breakdown_adds_up_as_shown() -> None:
    email = sample("refund_issued", "en", "USD")
    text = render(email, EmailBranding()).text
    for line in email.lines:
        assert (
            f"{line.quantity} × {line.title}: {_plain(money(line.amount_minor, 'USD', 'en'))}"
            in _plain(text)
        )
    assert "Shipping: $5.90" in text
    assert "Fees: -$5.00" in text
    assert "Total refunded: $1,295.30" in text
    assert "Refunded to Visa •••• 4242: $1,295.30" in text


def test_a_hostile_customer_name_is_escaped_in_html_and_kept_one_line_in_subject() -> None:
    email = sample("refund_issued").model_copy(
        update={"customer_name": "<script>alert(1)</script>", "return_reference": "R\nBcc: x@y"}
    )
    rendered = render(email, EmailBranding())
    assert "<script>" not in rendered.html
    assert "&lt;script&gt;" in rendered.html
    assert "\n" not in rendered.subject


def test_branding_accepts_only_a_hex_colour_and_an_https_logo() -> None:
    branding = EmailBranding.from_config(
        {"primary_colour": "red;background:url(x)", "logo_url": "javascript:alert(1)"}
    )
    assert branding.primary_colour == "#222222"
    assert branding.logo_url is None
    html = render(sample("return_closed"), branding).html
    assert "javascript:" not in html


def test_an_override_renders_in_the_sandbox_with_the_same_variables() -> None:
    source = TemplateSource(
        subject="{{ shop }}: {{ total }} back for {{ return_reference }}",
        text="Hi {{ customer_name }}, {{ lines|length }} lines, {{ t.total }} {{ total }}",
    )
    rendered = render(sample("refund_issued", "de"), EmailBranding(shop_name="Acme"), source)
    assert _plain(rendered.subject) == "Acme: 1.295,30 € back for RET-1001"
    assert _plain(rendered.text) == "Hi Jane Doe, 2 lines, Erstattet insgesamt 1.295,30 €"
    assert "<html" in rendered.html  # no HTML override: the built-in layout


@pytest.mark.parametrize(
    "hostile",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ customer_name.__class__.__init__.__globals__ }}",
        "{% for x in () %}{% endfor %}{{ undefined_thing }}",
        "{{ broken",
    ],
)
def test_an_override_that_escapes_the_sandbox_or_breaks_is_refused_in_our_words(
    hostile: str,
) -> None:
    with pytest.raises(TemplateInvalidError, match="does not render"):
        render(sample("refund_issued"), EmailBranding(), TemplateSource("s", hostile))


@pytest.mark.parametrize(
    ("wanted", "default", "chosen"),
    [("de-AT", "en", "de-AT"), ("pt-BR", "fr", "fr"), (None, "de", "de"), ("xx", "yy", "en")],
)
def test_the_locale_falls_back_from_customer_to_tenant_to_english(
    wanted: str | None, default: str, chosen: str
) -> None:
    assert choose_locale(wanted, default) == chosen


def test_the_message_has_both_parts_a_stable_id_and_its_language() -> None:
    email = ReturnEmail(
        template="return_closed", customer_email="a@example.com", return_reference="R-1"
    )
    rendered = render(email, EmailBranding())
    config = {"from_address": "returns@shop.example", "from_name": "Shop", "reply_to": "h@x.io"}
    first = build(
        rendered, config=config, recipient="a@example.com", delivery_id="eml_1", language="en"
    )
    again = build(rendered, config=config, recipient="a@example.com", delivery_id="eml_1")
    assert first["Message-ID"] == again["Message-ID"] == "<eml_1@shop.example>"
    assert first["Content-Language"] == "en"
    assert first.get_body(("plain",)) is not None
    assert first.get_body(("html",)) is not None
    assert first["From"] == "Shop <returns@shop.example>"
