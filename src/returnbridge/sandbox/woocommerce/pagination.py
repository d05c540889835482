"""``page``/``per_page`` and the ``X-WP-Total``, ``X-WP-TotalPages`` and ``Link`` headers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from starlette.datastructures import URL

from returnbridge.sandbox.woocommerce.errors import invalid_param

T = TypeVar("T")
DEFAULT_PER_PAGE = 10
MAX_PER_PAGE = 100


@dataclass(frozen=True)
class Page:
    """Which slice of a listing was asked for."""

    page: int
    per_page: int
    offset: int | None = None


def _int(raw: str | None, name: str, *, default: int) -> int:
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise invalid_param(name, f"{name} is not of type integer.") from exc


def read_page(params: dict[str, str]) -> Page:
    """The paging parameters of a list call, validated like WordPress does."""
    page = _int(params.get("page"), "page", default=1)
    per_page = _int(params.get("per_page"), "per_page", default=DEFAULT_PER_PAGE)
    if page < 1:
        raise invalid_param("page", "page must be greater than or equal to 1")
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise invalid_param(
            "per_page", f"per_page must be between 1 (inclusive) and {MAX_PER_PAGE} (inclusive)"
        )
    offset = params.get("offset")
    return Page(page, per_page, None if offset is None else _int(offset, "offset", default=0))


def paginate(items: list[T], page: Page, url: URL) -> tuple[list[T], dict[str, str]]:
    """The requested slice and its headers (``Link`` with ``prev``/``next`` as WordPress does)."""
    total = len(items)
    pages = -(-total // page.per_page)
    start = page.offset if page.offset is not None else (page.page - 1) * page.per_page
    headers = {"X-WP-Total": str(total), "X-WP-TotalPages": str(pages)}
    links = []
    if page.page > 1 and pages:
        prev_page = min(page.page - 1, pages)
        links.append(f'<{url.include_query_params(page=prev_page)}>; rel="prev"')
    if page.page < pages:
        links.append(f'<{url.include_query_params(page=page.page + 1)}>; rel="next"')
    if links:
        headers["Link"] = ", ".join(links)
    return items[start : start + page.per_page], headers
