"""A client for a sandbox's `/_sandbox` control surface (any platform's)."""

from __future__ import annotations

from typing import Any

import httpx


class ControlSurface:
    """Seeding, faults and the journal of one sandbox; every call must succeed."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx.Client(base_url=url, timeout=10.0)

    def post(self, path: str, payload: dict[str, Any]) -> Any:
        response = self.http.post(path, json=payload)
        assert response.status_code < 300, response.text
        return response.json()

    def get(self, path: str, **params: Any) -> Any:
        response = self.http.get(path, params=params)
        assert response.status_code < 300, response.text
        return response.json()

    def close(self) -> None:
        self.http.close()
