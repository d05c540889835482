"""Standard Webhooks signing and verification, checked against the spec's vector and the
reference `standardwebhooks` package (an oracle that shares none of our code)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks.webhooks import Webhook

from returnbridge.api.signatures import (
    SignatureError,
    new_secret,
    secret_key,
    sign,
    signature,
    verify,
)

# The vector of the Standard Webhooks reference libraries' tests.
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

NOW = datetime(2026, 3, 14, 18, 40, tzinfo=UTC)
BODY = b'{"external_id":"TCK-1"}'


def headers_for(body: bytes, *secrets: str, at: datetime = NOW, webhook_id: str = "msg_1") -> dict:
    return sign(body, secrets=secrets, webhook_id=webhook_id, at=at).as_dict()


def refused(code: str, body: bytes, headers: dict, *secrets: str, now: datetime = NOW) -> None:
    with pytest.raises(SignatureError) as caught:
        verify(body, headers, secrets=secrets, now=now)
    assert caught.value.code == code


def test_signature_matches_the_spec_vector() -> None:
    made = signature(SPEC_SECRET, webhook_id=SPEC_ID, timestamp=str(SPEC_TIMESTAMP), body=SPEC_BODY)
    assert made == SPEC_SIGNATURE


def test_the_spec_vector_verifies_at_its_time() -> None:
    headers = {
        "webhook-id": SPEC_ID,
        "webhook-timestamp": str(SPEC_TIMESTAMP),
        "webhook-signature": SPEC_SIGNATURE,
    }
    at = datetime.fromtimestamp(SPEC_TIMESTAMP, tz=UTC)
    assert verify(SPEC_BODY, headers, secrets=[SPEC_SECRET], now=at) == SPEC_ID


def test_reference_library_accepts_what_we_sign() -> None:
    secret = new_secret()
    headers = headers_for(BODY, secret, at=datetime.now(UTC))
    assert Webhook(secret).verify(BODY, headers) == {"external_id": "TCK-1"}


def test_we_accept_what_the_reference_library_signs() -> None:
    secret = new_secret()
    reference = Webhook(secret).sign("msg_ref", NOW, BODY.decode())
    headers = {
        "webhook-id": "msg_ref",
        "webhook-timestamp": str(int(NOW.timestamp())),
        "webhook-signature": reference,
    }
    assert verify(BODY, headers, secrets=[secret], now=NOW) == "msg_ref"


def test_new_secrets_are_whsec_base64_of_32_random_bytes() -> None:
    first, second = new_secret(), new_secret()
    assert first.startswith("whsec_")
    assert len(secret_key(first)) == 32
    assert first != second


@pytest.mark.parametrize("bad", ["MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_", "whsec_!!notbase64"])
def test_a_secret_that_is_not_whsec_base64_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="secret"):
        secret_key(bad)


def test_any_matching_signature_among_several_passes() -> None:
    secret = new_secret()
    headers = headers_for(BODY, new_secret(), secret)
    headers["webhook-signature"] = "v1a,ZWQyNTUxOQ== " + headers["webhook-signature"]
    assert verify(BODY, headers, secrets=[secret], now=NOW) == "msg_1"


def test_either_of_two_active_secrets_verifies() -> None:
    old, new = new_secret(), new_secret()
    assert verify(BODY, headers_for(BODY, old), secrets=[old, new], now=NOW) == "msg_1"
    assert verify(BODY, headers_for(BODY, new), secrets=[old, new], now=NOW) == "msg_1"


def test_a_signature_by_another_secret_is_forged() -> None:
    refused("SIGNATURE_INVALID", BODY, headers_for(BODY, new_secret()), new_secret())


@pytest.mark.parametrize("part", ["body", "webhook-id", "webhook-timestamp"])
def test_changing_any_signed_part_breaks_the_signature(part: str) -> None:
    secret = new_secret()
    headers = headers_for(BODY, secret)
    body = BODY
    if part == "body":
        body = BODY.replace(b"TCK-1", b"TCK-2")
    elif part == "webhook-id":
        headers["webhook-id"] = "msg_2"
    else:
        headers["webhook-timestamp"] = str(int(NOW.timestamp()) + 1)
    refused("SIGNATURE_INVALID", body, headers, secret)


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_a_missing_header_is_refused(missing: str) -> None:
    secret = new_secret()
    headers = headers_for(BODY, secret)
    headers[missing] = ""
    refused("SIGNATURE_MISSING", BODY, headers, secret)


@pytest.mark.parametrize(
    "skew", [timedelta(minutes=-5, seconds=-1), timedelta(minutes=5, seconds=1)]
)
def test_a_timestamp_outside_five_minutes_is_expired(skew: timedelta) -> None:
    secret = new_secret()
    refused("SIGNATURE_EXPIRED", BODY, headers_for(BODY, secret, at=NOW + skew), secret)


@pytest.mark.parametrize("skew", [timedelta(minutes=-5), timedelta(minutes=5)])
def test_a_timestamp_at_the_edge_of_the_window_passes(skew: timedelta) -> None:
    secret = new_secret()
    assert verify(BODY, headers_for(BODY, secret, at=NOW + skew), secrets=[secret], now=NOW)


def test_the_tolerance_is_the_callers_choice() -> None:
    secret = new_secret()
    headers = headers_for(BODY, secret, at=NOW - timedelta(seconds=61))
    with pytest.raises(SignatureError, match="60 s"):
        verify(BODY, headers, secrets=[secret], now=NOW, tolerance=timedelta(seconds=60))


@pytest.mark.parametrize("value", ["soon", "1.7e9", "-1", "1614265330.5", "١٦١٤٢٦٥٣٣٠", "9" * 40])
def test_a_timestamp_that_is_not_integer_seconds_is_refused(value: str) -> None:
    secret = new_secret()
    headers = headers_for(BODY, secret)
    headers["webhook-timestamp"] = value
    refused("SIGNATURE_TIMESTAMP_INVALID", BODY, headers, secret)


@pytest.mark.parametrize("value", ["v1", "v1,", "v1,!!!", "garbage", "v2,abcd", ",", "v1,a,b"])
def test_malformed_signatures_are_forged_not_errors(value: str) -> None:
    secret = new_secret()
    headers = headers_for(BODY, secret)
    headers["webhook-signature"] = value
    refused("SIGNATURE_INVALID", BODY, headers, secret)


def test_no_active_secret_verifies_nothing() -> None:
    refused("SIGNATURE_INVALID", BODY, headers_for(BODY, new_secret()))


def test_a_non_ascii_or_overlong_webhook_id_is_refused() -> None:
    secret = new_secret()
    for webhook_id in ("msg_é", "m" * 256):
        headers = headers_for(BODY, secret, webhook_id=webhook_id)
        refused("SIGNATURE_INVALID", BODY, headers, secret)


def test_signatures_are_base64_of_a_sha256_digest() -> None:
    made = headers_for(BODY, new_secret())["webhook-signature"]
    version, encoded = made.split(",")
    assert version == "v1"
    assert len(base64.b64decode(encoded)) == 32
