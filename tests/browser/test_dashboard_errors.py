"""The dashboard's own words when something fails inside (over plain HTTP, a whole gateway):
never an exception's text, never the API's problem+json."""

from __future__ import annotations

import httpx
import pytest

from returnbridge.dashboard import queries
from support.gateway import Gateway


def _boom(*_args: object, **_kwargs: object) -> object:
    raise RuntimeError("internal detail: table returns at /srv/secret.db")


def test_an_unexpected_error_answers_our_page_and_hides_the_exception(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = str(gateway.api.headers["Authorization"]).removeprefix("Bearer ")
    with httpx.Client(base_url=gateway.server.url, timeout=30) as browser:
        assert browser.post("/dashboard/sign-in", data={"key": key}).status_code == 303
        assert browser.get("/dashboard/returns").status_code == 200
        monkeypatch.setattr(queries, "figures", _boom)
        broken = browser.get("/dashboard/returns")
        assert broken.status_code == 500
        assert broken.headers["content-type"].startswith("text/html")
        assert "Something went wrong" in broken.text
        assert "secret" not in broken.text
        assert "RuntimeError" not in broken.text
        assert "script-src 'self'" in broken.headers["content-security-policy"]
        # a form that does not validate: our page too, not a 422 problem+json
        bad = browser.post("/dashboard/sign-in", data={"key": "k" * 501})
        assert bad.status_code == 400
        assert "The form was not filled in as expected." in bad.text
