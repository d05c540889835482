"""WooCommerce key authentication: which mode, and what each puts on the request."""

from __future__ import annotations

import base64
import logging
from urllib.parse import parse_qsl

import pytest

from returnbridge.connectors.woocommerce.auth import (
    AuthMode,
    BasicAuth,
    Credentials,
    OAuth1,
    QueryAuth,
    choose_mode,
    normalised_url,
    signer_for,
)
from returnbridge.domain.errors import PermanentError
from returnbridge.sandbox.woocommerce import oauth as sandbox_oauth
from returnbridge.sandbox.woocommerce.state import Store

KEY, SECRET = "ck_unit", "cs_unit_secret"
CREDENTIALS = Credentials(KEY, SECRET)


@pytest.mark.parametrize(
    ("url", "setting", "mode"),
    [
        ("https://shop.example.com", None, AuthMode.BASIC),
        ("https://shop.example.com", "", AuthMode.BASIC),
        ("https://shop.example.com", "auto", AuthMode.BASIC),
        ("http://shop.example.com", None, AuthMode.OAUTH1),
        ("HTTP://127.0.0.1:8765", "auto", AuthMode.OAUTH1),
        ("https://shop.example.com", "oauth1", AuthMode.OAUTH1),
        ("https://shop.example.com", "QUERY", AuthMode.QUERY),
        ("http://shop.example.com", "query", AuthMode.QUERY),
    ],
)
def test_auto_is_basic_over_https_and_oauth_over_http(
    url: str, setting: str | None, mode: AuthMode
) -> None:
    assert choose_mode(url, setting) is mode


def test_basic_over_plain_http_and_unknown_modes_are_refused() -> None:
    with pytest.raises(PermanentError, match="https") as insecure:
        choose_mode("http://shop.example.com", "basic")
    assert insecure.value.code == "INSECURE_AUTH"
    with pytest.raises(PermanentError) as unknown:
        choose_mode("https://shop.example.com", "jwt")
    assert unknown.value.code == "INVALID_SETTING"


def test_basic_sends_key_and_secret_in_the_header_only() -> None:
    signer = signer_for(AuthMode.BASIC, CREDENTIALS)
    assert isinstance(signer, BasicAuth)
    token = signer.headers["Authorization"].removeprefix("Basic ")
    assert base64.b64decode(token).decode() == f"{KEY}:{SECRET}"
    assert signer.params("GET", "https://x/wp-json/wc/v3/orders", [("page", "1")]) == [
        ("page", "1")
    ]
    assert SECRET in signer.secrets
    assert token in signer.secrets


def test_query_mode_appends_the_keys() -> None:
    signer = signer_for(AuthMode.QUERY, CREDENTIALS)
    assert isinstance(signer, QueryAuth)
    assert signer.headers == {}
    assert signer.params("GET", "https://x/orders", [("search", "1001")]) == [
        ("search", "1001"),
        ("consumer_key", KEY),
        ("consumer_secret", SECRET),
    ]


def test_query_mode_masks_the_secret_in_httpx_request_logs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    signer_for(AuthMode.QUERY, CREDENTIALS)
    with caplog.at_level(logging.INFO, logger="httpx"):
        logging.getLogger("httpx").info(
            'HTTP Request: %s %s "%s"',
            "GET",
            f"https://x/orders?consumer_key={KEY}&consumer_secret={SECRET}&page=1",
            "HTTP/1.1 200 OK",
        )
    assert SECRET not in caplog.text
    assert "consumer_secret=[REDACTED]&page=1" in caplog.text


def test_oauth_signature_is_the_one_woocommerce_checks() -> None:
    """Checked with the sandbox's verifier (written apart from the connector, as core does)."""
    signer = OAuth1(CREDENTIALS, clock=lambda: 1_767_000_000.7, nonce=lambda: "n" * 32)
    url = "http://127.0.0.1:8765/wp-json/wc/v3/orders"
    params = signer.params("get", url, [("search", "jane+1@example.com"), ("page", "2")])
    assert signer.headers == {}
    sent = dict(params)
    assert sent["oauth_consumer_key"] == KEY
    assert sent["oauth_signature_method"] == "HMAC-SHA256"
    assert (sent["oauth_timestamp"], sent["oauth_nonce"]) == ("1767000000", "n" * 32)
    assert "oauth_version" not in sent
    store = Store(name="s", consumer_key=KEY, consumer_secret=SECRET, permissions="read", user_id=1)
    sandbox_oauth.verify(
        store, secret=SECRET, method="GET", url=url, params=sent, now=1_767_000_000
    )
    forged = {**sent, "page": "3"}
    with pytest.raises(sandbox_oauth.WooError):
        sandbox_oauth.verify(
            store, secret=SECRET, method="GET", url=url, params=forged, now=1_767_000_000
        )


def test_each_oauth_request_gets_a_fresh_nonce() -> None:
    signer = OAuth1(CREDENTIALS)
    first = dict(signer.params("GET", "http://x/orders", []))
    second = dict(signer.params("GET", "http://x/orders", []))
    assert first["oauth_nonce"] != second["oauth_nonce"]
    assert len(first["oauth_nonce"]) == 32


def test_the_signed_url_drops_default_ports_and_the_query() -> None:
    assert normalised_url("HTTP://Shop.Example.com:80/wp-json/wc/v3/orders?x=1") == (
        "http://shop.example.com/wp-json/wc/v3/orders"
    )
    assert normalised_url("https://shop.example.com:443/a") == "https://shop.example.com/a"
    assert normalised_url("http://127.0.0.1:8765/a") == "http://127.0.0.1:8765/a"


def test_secrets_stay_out_of_reprs() -> None:
    for text in (
        repr(CREDENTIALS),
        repr(BasicAuth(CREDENTIALS)),
        repr(QueryAuth(CREDENTIALS)),
        repr(OAuth1(CREDENTIALS)),
    ):
        assert SECRET not in text
        assert base64.b64encode(f"{KEY}:{SECRET}".encode()).decode() not in text


def test_credentials_need_both_values() -> None:
    assert Credentials.from_mapping({"consumer_key": KEY, "consumer_secret": SECRET}) == (
        CREDENTIALS
    )
    for broken in ({}, {"consumer_key": KEY}, {"consumer_key": KEY, "consumer_secret": ""}):
        with pytest.raises(PermanentError) as missing:
            Credentials.from_mapping(broken)
        assert missing.value.code == "MISSING_CREDENTIALS"


def test_parse_qsl_round_trip_keeps_signed_values() -> None:
    """What httpx sends is what was signed: values survive query encoding unchanged."""
    from urllib.parse import urlencode

    signer = OAuth1(CREDENTIALS, nonce=lambda: "abc")
    params = signer.params("GET", "http://x/orders", [("search", "a b+c@d.e/~")])
    assert parse_qsl(urlencode(params)) == params
