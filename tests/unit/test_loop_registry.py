"""A `loop` connection: creatable, built as a returns system, never as an order connector."""

from __future__ import annotations

from typing import Any

import pytest

from returnbridge.connectors import registry
from returnbridge.connectors.base.returns_system import ReturnsSystem
from returnbridge.connectors.loop.connector import LoopConnector
from returnbridge.domain.errors import DomainError, PermanentError


def test_loop_is_a_supported_returns_system_with_an_api_key() -> None:
    registry.require_supported("loop")
    assert "loop" in registry.platforms()
    assert registry.is_returns_system("loop")
    assert [f.name for f in registry.credential_fields("loop")] == ["api_key"]
    assert registry.capabilities("loop") == frozenset()
    with pytest.raises(DomainError, match="api_key"):
        registry.require_credentials("loop", {"api_key": " "})


def test_loop_is_never_built_as_an_order_connector() -> None:
    with pytest.raises(PermanentError):
        registry.build_connector(
            "loop", "http://127.0.0.1:1", {"api_key": "k"}, timeout=1, state={}
        )
    with pytest.raises(PermanentError):
        registry.build_returns_system(
            "shopify", "http://127.0.0.1:1", {"access_token": "t"}, timeout=1, state={}
        )


def test_one_budget_per_connection_shared_by_its_clients() -> None:
    state: dict[str, Any] = {}
    first = registry.build_returns_system(
        "loop", "http://127.0.0.1:1", {"api_key": "k"}, timeout=1, state=state
    )
    second = registry.build_returns_system(
        "loop", "http://127.0.0.1:1", {"api_key": "k"}, timeout=1, state=state
    )
    assert isinstance(first, LoopConnector)
    assert isinstance(second, LoopConnector)
    assert first._budget is second._budget is state["loop_budget"]
    system: ReturnsSystem = first
    assert system.platform == "loop"
