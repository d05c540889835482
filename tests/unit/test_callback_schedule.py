"""The callback retry schedule and the SSRF guard (pure parts of notify/callbacks)."""

from __future__ import annotations

import ipaddress
import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from returnbridge.notify.callbacks.schedule import (
    DELAYS,
    JITTER,
    MAX_ATTEMPTS,
    MIN_RETRY_SPAN,
    DisablePolicy,
    next_attempt_at,
    retry_delay,
    shortest_span,
)
from returnbridge.notify.callbacks.ssrf import CallbackUrlError, check_url, is_public


@given(seed=st.integers(min_value=0, max_value=2**32))
def test_every_schedule_retries_for_at_least_a_day_within_its_jitter(seed: int) -> None:
    rng = random.Random(seed)
    waits = [retry_delay(n, rng) for n in range(1, MAX_ATTEMPTS)]
    assert None not in waits
    spans = [w for w in waits if w is not None]
    for wait, base in zip(spans, DELAYS, strict=True):
        assert base * (1 - JITTER) <= wait <= base * (1 + JITTER)
    assert sum(spans) >= MIN_RETRY_SPAN.total_seconds()
    assert retry_delay(MAX_ATTEMPTS, rng) is None


def test_the_schedule_backs_off_and_its_shortest_span_is_over_a_day() -> None:
    assert list(DELAYS) == sorted(DELAYS)
    assert shortest_span() >= MIN_RETRY_SPAN
    with pytest.raises(ValueError, match="at least one failed attempt"):
        retry_delay(0, random.Random(1))


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254", "0.0.0.0",
     "::1", "fe80::1", "fc00::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "224.0.0.1", "240.0.0.1",
     "::", "ff02::1", "100.64.0.1", "2002:7f00:1::", "2002:a9fe:a9fe::", "64:ff9b::7f00:1",
     "2001:0:4136:e378:8000:63bf:80ff:fffe", "::127.0.0.1"],
)  # fmt: skip
def test_private_and_reserved_addresses_are_not_public(address: str) -> None:
    assert not is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "address", ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946", "2002:5db8:d822::"]
)
def test_global_addresses_are_public(address: str) -> None:
    assert is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1/x", "https://localhost/x", "http://[::1]:8080/x", "http://10.9.8.7/x"],
)
def test_check_url_refuses_private_hosts_unless_allowed(url: str) -> None:
    with pytest.raises(CallbackUrlError, match="private or reserved"):
        check_url(url, allow_private=False)
    assert check_url(url, allow_private=True).address


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/x",
        "file:///etc/passwd",
        "http:///x",
        "https://u:p@127.0.0.1/",
        "http://[::1/x",
        "http://127.0.0.1:99999/x",
        "http://a\x00b/x",
    ],
)
def test_check_url_refuses_other_schemes_and_credentials(url: str) -> None:
    with pytest.raises(CallbackUrlError):
        check_url(url, allow_private=True)


@given(
    failed=st.integers(min_value=1, max_value=MAX_ATTEMPTS + 2),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_the_next_attempt_is_within_its_bounds_after_the_clock_reading(
    failed: int, seed: int
) -> None:
    now = datetime(2026, 11, 28, 12, tzinfo=UTC)
    at = next_attempt_at(failed, now=now, rng=random.Random(seed))
    if failed > len(DELAYS):
        assert at is None
        return
    assert at is not None
    base = timedelta(seconds=DELAYS[failed - 1])
    assert now + base * (1 - JITTER) <= at <= now + base * (1 + JITTER)


def test_the_lower_bound_of_each_wait_never_falls_below_the_one_before() -> None:
    lows = [base * (1 - JITTER) for base in DELAYS]
    highs = [base * (1 + JITTER) for base in DELAYS]
    assert lows == sorted(lows)
    assert highs == sorted(highs)


def test_an_endpoint_is_disabled_only_after_a_day_and_ten_failures() -> None:
    policy = DisablePolicy()
    start = datetime(2026, 11, 28, tzinfo=UTC)
    day = start + timedelta(hours=24)
    assert policy.should_disable(failing_since=start, failures=10, now=day)
    assert not policy.should_disable(failing_since=start, failures=9, now=day)
    assert not policy.should_disable(
        failing_since=start, failures=500, now=day - timedelta(seconds=1)
    )


def test_one_delivery_given_up_makes_enough_failures_to_disable_under_the_defaults() -> None:
    # A single callback retried to the end fails MAX_ATTEMPTS times over more than a day.
    assert DisablePolicy().failures <= MAX_ATTEMPTS
    assert shortest_span() >= DisablePolicy().after
