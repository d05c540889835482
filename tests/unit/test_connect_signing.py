"""The signatures of the connect flows: Shopify's callback hmac and our signed state."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest
from cryptography.fernet import Fernet

from returnbridge.api.routes_connect import ConnectStates, StateError, new_state
from returnbridge.connectors.shopify.install import (
    InstalledToken,
    authorize_url,
    normalise_shop,
    query_signature,
    verify_callback,
)
from returnbridge.connectors.woocommerce import key_delivery
from returnbridge.domain.errors import DomainError

# The example published with Shopify's OAuth libraries (secret "hush").
EXAMPLE = {
    "code": "0907a61c0c8d55e99db179b68161bc00",
    "shop": "some-shop.myshopify.com",
    "timestamp": "1337178173",
}
EXAMPLE_HMAC = "4712bf92ffc2917d15a2f5a273e39f0116667419aa4b6ac0b3baaf26fa3c4d20"
EXAMPLE_WITH_STATE = {**EXAMPLE, "state": "0.6784241404160823"}
EXAMPLE_WITH_STATE_HMAC = "700e2dadb827fcc8609e9d5ce208b2e9cdaab9df07390d2cbca10d7c328fc4bf"


def test_shopify_signature_matches_the_published_examples() -> None:
    assert query_signature(EXAMPLE, "hush") == EXAMPLE_HMAC
    assert query_signature(EXAMPLE_WITH_STATE, "hush") == EXAMPLE_WITH_STATE_HMAC


def test_the_hmac_parameter_itself_is_left_out_of_the_signature() -> None:
    assert query_signature({**EXAMPLE, "hmac": "anything"}, "hush") == EXAMPLE_HMAC


def test_verify_callback_accepts_only_the_exact_signature() -> None:
    assert verify_callback({**EXAMPLE, "hmac": EXAMPLE_HMAC}, "hush")
    assert not verify_callback({**EXAMPLE, "hmac": EXAMPLE_HMAC}, "other secret")
    assert not verify_callback({**EXAMPLE, "hmac": EXAMPLE_HMAC.upper()}, "hush")
    assert not verify_callback({**EXAMPLE, "shop": "x.myshopify.com", "hmac": EXAMPLE_HMAC}, "hush")
    assert not verify_callback(EXAMPLE, "hush")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("acme.myshopify.com", "acme.myshopify.com"),
        ("https://Acme-Store.myshopify.com/", "acme-store.myshopify.com"),
        ("  acme2.myshopify.com ", "acme2.myshopify.com"),
    ],
)
def test_shop_domains_are_normalised(given: str, expected: str) -> None:
    assert normalise_shop(given) == expected


@pytest.mark.parametrize(
    "given",
    [
        "acme",
        "evil.com",
        "acme.myshopify.com.evil.com",
        "acme.myshopify.com:8443",
        "acme.myshopify.com/admin",
        "-acme.myshopify.com",
        "a_b.myshopify.com",
        "user@acme.myshopify.com",
    ],
)
def test_anything_but_a_myshopify_host_is_refused(given: str) -> None:
    with pytest.raises(DomainError) as refused:
        normalise_shop(given)
    assert refused.value.code == "INVALID_SHOP_DOMAIN"


def test_authorize_url_goes_to_the_shop_and_asks_for_offline_access() -> None:
    url = authorize_url(
        "acme.myshopify.com",
        client_id="cid",
        scopes="read_orders,write_orders",
        redirect_uri="https://rb.example/v1/connect/shopify/callback",
        state="s.t.u",
    )
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == (
        "https",
        "acme.myshopify.com",
        "/admin/oauth/authorize",
    )
    assert dict(parse_qsl(parts.query)) == {
        "client_id": "cid",
        "scope": "read_orders,write_orders",
        "redirect_uri": "https://rb.example/v1/connect/shopify/callback",
        "state": "s.t.u",
    }


def test_authorize_url_on_another_host_names_the_shop() -> None:
    url = authorize_url(
        "acme.myshopify.com",
        client_id="cid",
        scopes="read_orders",
        redirect_uri="http://127.0.0.1:8000/cb",
        state="s",
        base_url="http://127.0.0.1:8765/",
    )
    assert url.startswith("http://127.0.0.1:8765/admin/oauth/authorize?")
    assert dict(parse_qsl(urlsplit(url).query))["shop"] == "acme.myshopify.com"


def test_an_installed_token_stays_out_of_its_repr() -> None:
    assert "shpat_secret" not in repr(InstalledToken("shpat_secret", "read_orders"))


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


KEY = Fernet.generate_key().decode()


def test_a_state_reads_back_what_was_signed() -> None:
    states = ConnectStates(KEY)
    state = new_state(
        "shopify", tenant_id="ten_1", store="acme.myshopify.com", name="main", base_url=None
    )
    assert states.load("shopify", states.dump(state)) == state


def test_two_states_for_the_same_request_differ_by_their_nonce() -> None:
    one = new_state("woocommerce", tenant_id="ten_1", store="https://s.example", name="w")
    two = new_state("woocommerce", tenant_id="ten_1", store="https://s.example", name="w")
    assert one.nonce != two.nonce
    states = ConnectStates(KEY)
    assert states.dump(one) != states.dump(two)


def test_a_state_expires_after_ten_minutes() -> None:
    clock = Clock()
    states = ConnectStates(KEY, clock=clock)
    token = states.dump(new_state("shopify", tenant_id="t", store="a.myshopify.com", name="n"))
    clock.now += 600
    assert states.load("shopify", token).tenant_id == "t"
    clock.now += 2
    with pytest.raises(StateError, match="expired"):
        states.load("shopify", token)


def test_an_altered_state_is_refused() -> None:
    states = ConnectStates(KEY)
    token = states.dump(new_state("shopify", tenant_id="t", store="a.myshopify.com", name="n"))
    payload, _, rest = token.partition(".")
    altered = payload[:-1] + ("A" if payload[-1] != "A" else "B") + "." + rest
    with pytest.raises(StateError, match="not one this gateway signed"):
        states.load("shopify", altered)


def test_a_state_of_one_flow_or_another_key_is_refused() -> None:
    states = ConnectStates(KEY)
    token = states.dump(new_state("woocommerce", tenant_id="t", store="https://s.ex", name="n"))
    with pytest.raises(StateError):
        states.load("shopify", token)
    with pytest.raises(StateError):
        ConnectStates(Fernet.generate_key().decode()).load("woocommerce", token)


def test_a_key_delivery_is_parsed_and_its_secret_kept_out_of_repr() -> None:
    key = key_delivery.parse_delivery(
        {
            "key_id": 7,
            "user_id": "state",
            "consumer_key": "ck_abc",
            "consumer_secret": "cs_secret",
            "key_permissions": "read_write",
        }
    )
    assert key.credentials == {"consumer_key": "ck_abc", "consumer_secret": "cs_secret"}
    assert key.key_id == 7
    assert "cs_secret" not in repr(key)


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"user_id": "s", "consumer_key": "ck", "key_permissions": "read_write"},
        {"user_id": "s", "consumer_key": "", "consumer_secret": "cs", "key_permissions": "read"},
    ],
)
def test_a_malformed_key_delivery_is_refused_without_echoing_values(body: object) -> None:
    with pytest.raises(DomainError) as refused:
        key_delivery.parse_delivery(body)
    assert "cs" not in refused.value.message.replace("consumer_secret", "")


def test_woocommerce_authorize_url_asks_for_read_write() -> None:
    url = key_delivery.authorize_url(
        "shop.example.com",
        app_name="returnbridge",
        user_id="state",
        return_url="https://rb.example/done",
        callback_url="https://rb.example/callback",
    )
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == (
        "https://shop.example.com/wc-auth/v1/authorize"
    )
    assert dict(parse_qsl(parts.query))["scope"] == "read_write"
