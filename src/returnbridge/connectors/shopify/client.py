"""Raw GraphQL Admin API calls: pinned version, access token header, cost-aware limiting.

Documents live in `graphql/*.graphql` (one operation per file, shared fragments in
`Fragments.graphql`) and are loaded through importlib.resources, so the packaged wheel carries
them. `execute` returns the `data` object or raises a domain `ConnectorError`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from importlib.resources import files
from typing import Any

import httpx
from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    OperationDefinitionNode,
    OperationType,
    Visitor,
    parse,
    visit,
)

from returnbridge.connectors.base.http import JsonHttpClient
from returnbridge.connectors.shopify.errors import (
    SHOPIFY_STATUS_RULES,
    error_from_graphql_errors,
    is_throttled,
)
from returnbridge.connectors.shopify.limits import CostLimiter
from returnbridge.domain.errors import PermanentError, TransientError

API_VERSION = "2026-01"
FRAGMENTS_FILE = "Fragments.graphql"
_PACKAGE = "returnbridge.connectors.shopify"


def _documents_dir() -> Any:
    return files(_PACKAGE) / "graphql"


def document_names() -> list[str]:
    """Names of the operation documents shipped with the package (without `.graphql`)."""
    return sorted(
        entry.name.removesuffix(".graphql")
        for entry in _documents_dir().iterdir()
        if entry.name.endswith(".graphql") and entry.name != FRAGMENTS_FILE
    )


@functools.cache
def _fragments() -> dict[str, tuple[str, frozenset[str]]]:
    """Fragment name -> (source text, names of the fragments it spreads)."""
    source = (_documents_dir() / FRAGMENTS_FILE).read_text(encoding="utf-8")
    result: dict[str, tuple[str, frozenset[str]]] = {}
    for definition in parse(source).definitions:
        if isinstance(definition, FragmentDefinitionNode) and definition.loc is not None:
            text = source[definition.loc.start : definition.loc.end]
            result[definition.name.value] = (text, _spreads(definition))
    return result


class _SpreadCollector(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def enter_fragment_spread(self, node: FragmentSpreadNode, *_: Any) -> None:
        self.names.add(node.name.value)


def _spreads(node: Any) -> frozenset[str]:
    collector = _SpreadCollector()
    visit(node, collector)
    return frozenset(collector.names)


@functools.cache
def load_document(name: str) -> str:
    """The operation `name` followed by every fragment it uses, ready to send."""
    path = _documents_dir() / f"{name}.graphql"
    if not path.is_file():
        raise KeyError(f"no GraphQL document named {name!r}")
    source: str = path.read_text(encoding="utf-8")
    fragments = _fragments()
    needed: list[str] = []
    pending = sorted(_spreads(parse(source)))
    while pending:
        fragment = pending.pop(0)
        if fragment in needed:
            continue
        if fragment not in fragments:
            raise KeyError(f"{name}.graphql uses unknown fragment {fragment!r}")
        needed.append(fragment)
        pending.extend(sorted(fragments[fragment][1]))
    return "\n".join([source.rstrip(), *(fragments[f][0] for f in needed)]) + "\n"


@functools.cache
def _parsed(name: str) -> DocumentNode:
    return parse(load_document(name))


def warm_up() -> None:
    """Parse every shipped document now (a worker's start), not during its first returns."""
    for name in document_names():
        if name != FRAGMENTS_FILE.removesuffix(".graphql"):
            is_mutation(name)


@functools.cache
def is_mutation(name: str) -> bool:
    return any(
        isinstance(d, OperationDefinitionNode) and d.operation is OperationType.MUTATION
        for d in _parsed(name).definitions
    )


def shop_base_url(shop_url: str) -> str:
    """`https://{shop}` for a bare domain; an explicit scheme (e.g. a loopback sandbox) is kept."""
    url = shop_url.strip().rstrip("/")
    if "://" not in url:
        url = f"https://{url}"
    return url


class ShopifyGraphQLClient:
    """GraphQL over httpx for one shop, rate limited by its cost bucket."""

    def __init__(
        self,
        shop_url: str,
        access_token: str,
        *,
        http: httpx.Client | None = None,
        limiter: CostLimiter | None = None,
        timeout: float | httpx.Timeout = 30.0,
        api_version: str = API_VERSION,
        new_request_id: Callable[[], str] | None = None,
    ) -> None:
        self.api_version = api_version
        self.endpoint = f"{shop_base_url(shop_url)}/admin/api/{api_version}/graphql.json"
        self.limiter = limiter if limiter is not None else CostLimiter()
        extra: dict[str, Any] = {}
        if new_request_id is not None:
            extra["new_request_id"] = new_request_id
        self._http = JsonHttpClient(
            self.endpoint,
            headers={"X-Shopify-Access-Token": access_token},
            timeout=timeout,
            http=http,
            secrets=(access_token,),
            status_rules=SHOPIFY_STATUS_RULES,
            **extra,
        )

    def execute(self, name: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Run the document `name` with `variables`; returns `data`."""
        query = load_document(name)
        writes = is_mutation(name)
        payload = {"query": query, "variables": dict(variables or {}), "operationName": name}
        return self.limiter.call(name, lambda: self._attempt(name, payload, writes=writes))

    def _attempt(self, name: str, payload: Mapping[str, Any], *, writes: bool) -> dict[str, Any]:
        self.limiter.before_request(name)
        cost: Any = None
        try:
            response = self._http.post_json("", payload, writes=writes)
            body = response.body
            extensions = body.get("extensions") if isinstance(body, Mapping) else None
            cost = extensions.get("cost") if isinstance(extensions, Mapping) else None
        finally:
            # always, answer or not: it ends this call's turn in the connection's limiter
            self.limiter.after_response(name, cost)
        if not isinstance(body, Mapping):
            raise TransientError(
                "INVALID_RESPONSE",
                f"{name}: response body is not a JSON object",
                request_id=response.request_id,
                ambiguous=writes,
            )
        errors = body.get("errors")
        if isinstance(errors, list) and errors:
            items = [e for e in errors if isinstance(e, Mapping)]
            if is_throttled(items):
                raise self.limiter.throttled(name, cost)
            raise error_from_graphql_errors(
                items, operation=name, request_id=response.request_id, writes=writes
            )
        data = body.get("data")
        if not isinstance(data, dict):
            raise PermanentError(
                "NO_DATA", f"{name}: response has no data", request_id=response.request_id
            )
        return data

    def close(self) -> None:
        self._http.close()
