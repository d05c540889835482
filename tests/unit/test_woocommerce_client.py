"""WooCommerce client construction: the site URL and the API root."""

from __future__ import annotations

import pytest

from returnbridge.connectors.woocommerce.auth import Credentials
from returnbridge.connectors.woocommerce.client import WooCommerceClient, site_base_url


@pytest.mark.parametrize(
    ("given", "site"),
    [
        ("shop.example.com", "https://shop.example.com"),
        ("https://shop.example.com/", "https://shop.example.com"),
        ("https://example.com/shop", "https://example.com/shop"),
        ("https://shop.example.com/wp-json/wc/v3/", "https://shop.example.com"),
        ("https://shop.example.com/wp-json", "https://shop.example.com"),
        ("http://127.0.0.1:8765", "http://127.0.0.1:8765"),
    ],
)
def test_the_site_url_is_normalised(given: str, site: str) -> None:
    assert site_base_url(given) == site


def test_the_client_pins_wc_v3_and_hides_the_secret() -> None:
    client = WooCommerceClient("shop.example.com", Credentials("ck_a", "cs_hidden"))
    try:
        assert client.endpoint == "https://shop.example.com/wp-json/wc/v3"
        assert client.auth_mode == "basic"
        assert "cs_hidden" not in repr(client)
    finally:
        client.close()
