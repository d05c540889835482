"""Which of a tenant's connections a request means: the named one, or its only one."""

from __future__ import annotations

from sqlalchemy.orm import Session

from returnbridge.api.problems import ApiProblem
from returnbridge.domain.errors import DomainError
from returnbridge.store.connections import chosen_connection_id
from returnbridge.store.errors import RecordNotFoundError


def connection_for(session: Session, tenant_id: str, wanted: str | None) -> str:
    """The connection id a body's optional `connection_id` designates; 422 when none fits."""
    try:
        return chosen_connection_id(session, tenant_id, wanted)
    except RecordNotFoundError as exc:
        raise ApiProblem(
            422, "UNKNOWN_CONNECTION", f"connection {wanted} not found", field="connection_id"
        ) from exc
    except DomainError as exc:
        raise ApiProblem(
            422, exc.code, f"{exc.message} in connection_id", field="connection_id"
        ) from exc
