"""The domain's copy of ISO 4217 agrees with the maintained table (the `iso4217` package)."""

from __future__ import annotations

import iso4217

from returnbridge.domain.currencies import ISO_4217
from returnbridge.domain.money import exponent, is_iso_currency


def test_the_domain_copy_is_the_maintained_list_of_currencies_with_minor_units() -> None:
    maintained = {c.code for c in iso4217.Currency if c.exponent is not None}
    assert maintained == ISO_4217


def test_every_currency_has_the_maintained_exponent() -> None:
    for currency in iso4217.Currency:
        if currency.exponent is not None:
            assert exponent(currency.code) == currency.exponent, currency.code


def test_only_real_money_codes_pass() -> None:
    assert is_iso_currency("USD")
    assert is_iso_currency("KWD")
    for refused in ("XXX", "XTS", "XAU", "usd", "123", "€€€", "US", "USDD", ""):
        assert not is_iso_currency(refused), refused
