"""The reference verifier in docs/examples against our signer and the `standardwebhooks`
package: genuine callbacks pass both, forged or altered ones fail both, in our words."""

from __future__ import annotations

import importlib.util
import json
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import given
from hypothesis import strategies as st
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from returnbridge.standard_webhooks import new_secret, sign

VERIFIER = Path(__file__).resolve().parents[2] / "docs" / "examples" / "verify_callback.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("verify_callback", VERIFIER)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


reference = _load()
SECRET = new_secret()


def _signed(body: bytes, *, secret: str = SECRET, webhook_id: str = "msg_1") -> dict[str, str]:
    return sign(body, secrets=[secret], webhook_id=webhook_id, at=datetime.now(UTC)).as_dict()


@given(
    data=st.dictionaries(st.text(max_size=8), st.text(max_size=20), max_size=4),
    webhook_id=st.from_regex(r"msg_[A-Za-z0-9]{1,30}", fullmatch=True),
)
def test_what_we_sign_passes_the_reference_verifier_and_the_package(
    data: dict[str, str], webhook_id: str
) -> None:
    body = json.dumps({"type": "return.completed", "data": data}).encode()
    headers = _signed(body, webhook_id=webhook_id)
    assert reference.verify(SECRET, headers, body) == json.loads(body)
    assert Webhook(SECRET).verify(body, headers) == json.loads(body)


def test_a_forged_signature_fails_the_reference_verifier_and_the_package() -> None:
    body = b'{"type":"return.refunded","data":{"refund_total":100}}'
    forged = _signed(body, secret=new_secret())
    with pytest.raises(reference.InvalidCallback, match="no signature matches"):
        reference.verify(SECRET, forged, body)
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(body, forged)


def test_an_altered_body_fails_both() -> None:
    body = b'{"type":"return.refunded","data":{"refund_total":100}}'
    headers = _signed(body)
    altered = body.replace(b"100", b"900")
    with pytest.raises(reference.InvalidCallback):
        reference.verify(SECRET, headers, altered)
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(altered, headers)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("webhook-timestamp", "\u00b9"),  # a digit to str.isdigit, not to int()
        ("webhook-timestamp", "1"),
        ("webhook-timestamp", ""),
        ("webhook-signature", "v1,\u00e9t\u00e9"),
        ("webhook-signature", "v2,abc"),
        ("webhook-id", "msg_other"),
    ],
)
def test_malformed_or_moved_headers_are_refused_in_the_verifiers_words(
    name: str, value: str
) -> None:
    body = b"{}"
    headers = {**_signed(body), name: value}
    with pytest.raises(reference.InvalidCallback):
        reference.verify(SECRET, headers, body)


def test_a_missing_header_is_refused() -> None:
    headers = _signed(b"{}")
    del headers["webhook-signature"]
    with pytest.raises(reference.InvalidCallback, match="missing header"):
        reference.verify(SECRET, headers, b"{}")


def test_the_verifier_printed_in_the_docs_is_the_file_the_tests_run() -> None:
    page = (VERIFIER.parents[1] / "callbacks.md").read_text()
    assert f"```python\n{VERIFIER.read_text().rstrip()}\n```" in page
