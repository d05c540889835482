"""WP REST errors: ``{"code": ..., "message": ..., "data": {"status": N}}``."""

from __future__ import annotations

from typing import Any


class WooError(Exception):
    """An error answer of the REST API."""

    def __init__(self, status: int, code: str, message: str, **data: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.data = data

    def body(self) -> dict[str, Any]:
        """The JSON body WordPress sends."""
        return {
            "code": self.code,
            "message": self.message,
            "data": {"status": self.status, **self.data},
        }


def invalid_order_id() -> WooError:
    """``GET /orders/{id}`` of an order the store does not have."""
    return WooError(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")


def invalid_param(name: str, reason: str) -> WooError:
    """A query or body parameter outside its schema."""
    return WooError(
        400, "rest_invalid_param", f"Invalid parameter(s): {name}", params={name: reason}
    )
