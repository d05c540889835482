"""The control routes every sandbox has: ``/_sandbox/faults`` and ``/_sandbox/journal``.

A platform includes :func:`faults_and_journal_routes` in its ``/_sandbox`` router (made by
:func:`control_router`), after its own routes. The app's ``state.simulator`` must carry
``faults`` (a :class:`~returnbridge.sandbox.common.faults.FaultQueue`) and ``journal`` (a
:class:`~returnbridge.sandbox.common.journal.Journal`), both scoped by the same name.

No ``from __future__ import annotations`` here: FastAPI must see the routes' annotations as
objects, since they refer to the factory's arguments.
"""

from collections.abc import Mapping
from typing import Annotated, Any, Protocol, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field, create_model

from returnbridge.sandbox.common.faults import Fault, FaultQueue
from returnbridge.sandbox.common.journal import Journal

Tenant = TypeVar("Tenant")


def control_router() -> APIRouter:
    """A platform's ``/_sandbox`` router, for its own control routes and then these."""
    return APIRouter(prefix="/_sandbox", tags=["sandbox control"])


def tenant(tenants: Mapping[str, Tenant], key: str, noun: str) -> Tenant:
    """The store or shop under ``key``, or a 404 ``unknown {noun} {key!r}``."""
    found = tenants.get(key)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown {noun} {key!r}")
    return found


class Sandbox(Protocol):
    """What the control routes use of a platform's simulator."""

    @property
    def faults(self) -> FaultQueue[Any]:
        """Pending faults."""
        ...

    @property
    def journal(self) -> Journal[Any]:
        """Calls served so far."""
        ...


def simulator_of(request: Request) -> Any:
    """The simulator behind the app serving ``request`` (a dependency)."""
    return request.app.state.simulator


SandboxDep = Annotated[Sandbox, Depends(simulator_of)]


class _Seed(BaseModel):
    model_config = ConfigDict(extra="forbid")


def fault_seed_model(kinds: Any, *, scope: str, doc: str) -> type[BaseModel]:
    """The ``POST /_sandbox/faults`` body: ``kind`` (one of the ``Literal`` ``kinds``),
    ``count``, ``operation``, the ``scope`` field and ``delay``; unknown fields are refused."""
    fields: dict[str, Any] = {
        "kind": (kinds, ...),
        "count": (int, Field(default=1, ge=1)),
        "operation": (str | None, None),
        scope: (str | None, None),
        "delay": (float | None, Field(default=None, ge=0)),
    }
    return create_model("FaultSeed", __base__=_Seed, __doc__=doc, **fields)


def faults_and_journal_routes(
    fault_seed: type[BaseModel], *, scope: str, calls: str, operation_name: str = "operation"
) -> APIRouter:
    """The faults and journal routes, to include in a platform's ``/_sandbox`` router.

    ``fault_seed`` is the platform's ``POST /_sandbox/faults`` body: ``kind``, ``count``,
    ``operation``, the ``scope`` field (``"store"`` or ``"shop"``) and ``delay``. ``calls``
    names what faults hit (``"API"``, ``"REST"``, ``"GraphQL"``) and ``operation_name`` what
    an operation is, for the route descriptions.
    """
    router = APIRouter()

    def read_journal(
        sandbox: SandboxDep,
        scoped: Annotated[str | None, Query(alias=scope, title=scope.title())] = None,
        operation: str | None = None,
    ) -> list[dict[str, Any]]:
        return sandbox.journal.entries(scope=scoped, operation=operation)

    def clear_journal(sandbox: SandboxDep) -> Response:
        sandbox.journal.clear()
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    def add_fault(seed: BaseModel, sandbox: SandboxDep) -> dict[str, Any]:
        fields = seed.model_dump()
        sandbox.faults.add(
            Fault(
                kind=fields["kind"],
                remaining=fields["count"],
                operation=fields["operation"],
                scope=fields[scope],
                delay=fields["delay"],
            )
        )
        return fields

    # FastAPI reads the body's model from the annotation: the platform's, not BaseModel.
    add_fault.__annotations__["seed"] = fault_seed

    def list_faults(sandbox: SandboxDep) -> list[dict[str, Any]]:
        faults = sandbox.faults
        return [faults.describe(f) for f in faults.pending()]

    def clear_faults(sandbox: SandboxDep) -> Response:
        sandbox.faults.clear()
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    no_content = status.HTTP_204_NO_CONTENT
    router.add_api_route(
        "/journal",
        read_journal,
        methods=["GET"],
        description=(
            f"Journal entries, oldest first, optionally for one {scope} and one {operation_name}."
        ),
    )
    router.add_api_route(
        "/journal",
        clear_journal,
        methods=["DELETE"],
        status_code=no_content,
        description="Forget journal entries.",
    )
    router.add_api_route(
        "/faults",
        add_fault,
        methods=["POST"],
        status_code=status.HTTP_201_CREATED,
        description=f"Make the next ``count`` matching {calls} calls fail in the given way.",
    )
    router.add_api_route(
        "/faults", list_faults, methods=["GET"], description="Faults not yet used up."
    )
    router.add_api_route(
        "/faults",
        clear_faults,
        methods=["DELETE"],
        status_code=no_content,
        description="Drop every pending fault.",
    )
    return router
