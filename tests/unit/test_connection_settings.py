"""Connection settings the engine reads are checked when the connection is made."""

from __future__ import annotations

from typing import Any

import pytest

from returnbridge.connectors.settings import check_settings
from returnbridge.domain.errors import DomainError


def test_known_settings_of_the_right_type_and_unknown_ones_pass() -> None:
    check_settings(
        {
            "cross_check": False,
            "cross_check_tolerance": 2,
            "rounding": "HALF_EVEN",
            "on_cap_exceeded": "clamp",
            "restock_location_id": "gid://shopify/Location/2",
            "shopify_returns": True,
            "a_platform_option": [1, 2],
        }
    )


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"cross_check_tolerance": -1}, "cross_check_tolerance"),
        ({"cross_check_tolerance": "1"}, "cross_check_tolerance"),
        ({"cross_check_tolerance": True}, "cross_check_tolerance"),
        ({"cross_check": "no"}, "cross_check"),
        ({"rounding": "half_up"}, "rounding"),
        ({"on_cap_exceeded": "ignore"}, "on_cap_exceeded"),
        ({"restock_location_id": " "}, "restock_location_id"),
    ],
)
def test_a_wrong_setting_is_refused_by_name(settings: dict[str, Any], named: str) -> None:
    with pytest.raises(DomainError) as refused:
        check_settings(settings)
    assert refused.value.code == "INVALID_SETTING"
    assert repr(named) in refused.value.message
