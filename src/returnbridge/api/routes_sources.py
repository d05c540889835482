"""`/v1/sources`: create poll sources, list and inspect sources, pause, resume, run now.

A source's secrets go in once, encrypted, and are never answered back. Listing shows sources of
both kinds (push sources are created at `/v1/push-sources`); the sync state of a poll source
is its cursor, its last run's counts and outcome, its totals and its last error.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import yaml
from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from returnbridge.api.connection_choice import connection_for
from returnbridge.api.deps import RuntimeDep, TenantDep
from returnbridge.api.problems import ApiProblem
from returnbridge.api.routing import TenantRoute
from returnbridge.api.schemas import reject_unstorable
from returnbridge.domain.errors import DomainError
from returnbridge.engine.poll_config import parse_config
from returnbridge.engine.poll_workflows import enqueue_poll, run_workflow_id
from returnbridge.mappings import MappingSpecError, parse_mapping
from returnbridge.store import sources as source_store
from returnbridge.store.errors import RecordNotFoundError
from returnbridge.store.tables import Source

router = APIRouter(prefix="/v1/sources", tags=["sources"], route_class=TenantRoute)


class PollSourceIn(BaseModel):
    """A poll source: where and how to call the vendor, its secrets, an optional mapping."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    connection_id: str | None = Field(default=None, max_length=40)
    config: dict[str, Any] = Field(
        description="url, auth (none|bearer|basic|hmac), cursor (updated_since|opaque), "
        "pagination (page|cursor|link), schedule (cron), overlap_seconds, page_size, ..."
    )
    secrets: dict[str, str] = Field(
        default_factory=dict,
        description="token (bearer), username + password (basic) or secret (hmac); never shown",
    )
    mapping: str | None = Field(default=None, max_length=200_000, description="mapping YAML")


class RunCountsOut(BaseModel):
    fetched: int = 0
    new: int = 0
    duplicate: int = 0
    failed: int = 0


class LastRunOut(RunCountsOut):
    started_at: str | None = None
    outcome: str | None = None
    resumed: bool = False
    pages: int = 0


class SourceOut(BaseModel):
    id: str
    name: str
    kind: str
    status: str
    connection_id: str
    config: dict[str, Any]
    has_mapping: bool
    cursor: str | None
    syncing: bool = Field(description="a sync stopped part-way and carries on at the next run")
    next_run_at: datetime | None
    last_run_at: datetime | None
    last_success_at: datetime | None
    last_error: str | None
    last_run: LastRunOut | None
    totals: RunCountsOut
    record_errors: list[str]
    created_at: datetime


class SourceList(BaseModel):
    sources: list[SourceOut]


class RunRequested(BaseModel):
    source: SourceOut
    workflow_id: str


def source_out(source: Source) -> SourceOut:
    stats = source.stats or {}
    last = stats.get("last_run")
    return SourceOut(
        id=source.id,
        name=source.name,
        kind=source.kind,
        status=source.status,
        connection_id=source.connection_id,
        config=source.config,
        has_mapping=source.mapping is not None,
        cursor=source.cursor,
        syncing=bool(stats.get("resume")),
        next_run_at=source.next_run_at,
        last_run_at=source.last_run_at,
        last_success_at=source.last_success_at,
        last_error=source.last_error,
        last_run=LastRunOut.model_validate(last) if last else None,
        totals=RunCountsOut.model_validate(stats.get("totals", {})),
        record_errors=list(stats.get("errors", [])),
        created_at=source.created_at,
    )


def _check_mapping(text: str | None) -> None:
    if text is None:
        return
    try:
        parse_mapping(yaml.safe_load(text), origin="mapping")
    except yaml.YAMLError as exc:
        raise ApiProblem(422, "MAPPING_INVALID", "mapping is not YAML", field="mapping") from exc
    except MappingSpecError as exc:
        raise ApiProblem(422, "MAPPING_INVALID", exc.message, field="mapping") from exc


def _not_found(source_id: str) -> ApiProblem:
    return ApiProblem(404, "SOURCE_NOT_FOUND", f"source {source_id} not found")


@router.post("", status_code=201, summary="Create a poll source (its secrets are never shown)")
def create_source(body: PollSourceIn, *, tenant: TenantDep, runtime: RuntimeDep) -> SourceOut:
    reject_unstorable(body)
    try:
        config = parse_config(body.config)
        config.check_secrets(body.secrets)
    except DomainError as exc:
        raise ApiProblem(422, exc.code, exc.message, field=exc.field) from exc
    _check_mapping(body.mapping)
    with runtime.sessions.begin() as session:
        connection_id = connection_for(session, tenant.id, body.connection_id)
        try:
            source = source_store.create_poll_source(
                session,
                tenant.id,
                connection_id=connection_id,
                name=body.name,
                config=config.model_dump(mode="json", exclude_defaults=True),
                secrets=body.secrets,
                cipher=runtime.cipher,
                mapping=body.mapping,
            )
        except DomainError as exc:
            raise ApiProblem(409, exc.code, exc.message, field="name") from exc
        return source_out(source)


@router.get("", summary="The tenant's sources (poll and push) with their sync state")
def list_sources(*, tenant: TenantDep, runtime: RuntimeDep, kind: str | None = None) -> SourceList:
    with runtime.reads() as session:
        found = source_store.list_sources(session, tenant.id, kind=kind)
        return SourceList(sources=[source_out(s) for s in found])


@router.get("/{source_id}", summary="One source with its sync state")
def show_source(source_id: str, *, tenant: TenantDep, runtime: RuntimeDep) -> SourceOut:
    with runtime.reads() as session:
        try:
            return source_out(source_store.get_source(session, source_id, tenant_id=tenant.id))
        except RecordNotFoundError as exc:
            raise _not_found(source_id) from exc


@router.post("/{source_id}/pause", summary="Stop scheduling a poll source")
def pause_source(source_id: str, *, tenant: TenantDep, runtime: RuntimeDep) -> SourceOut:
    with runtime.sessions.begin() as session:
        try:
            return source_out(source_store.pause_source(session, source_id, tenant_id=tenant.id))
        except RecordNotFoundError as exc:
            raise _not_found(source_id) from exc


@router.post("/{source_id}/resume", summary="Schedule a poll source again, due now")
def resume_source(source_id: str, *, tenant: TenantDep, runtime: RuntimeDep) -> SourceOut:
    with runtime.sessions.begin() as session:
        try:
            source = source_store.resume_source(session, source_id, tenant_id=tenant.id)
        except RecordNotFoundError as exc:
            raise _not_found(source_id) from exc
        due = source.next_run_at
        out = source_out(source)
    if due is not None:
        enqueue_poll(tenant.id, source_id, run_workflow_id(source_id, due))
    return out


@router.post(
    "/{source_id}/run",
    status_code=202,
    summary="Sync a poll source now (even when paused); one sync of a source runs at a time",
)
def run_source(source_id: str, *, tenant: TenantDep, runtime: RuntimeDep) -> RunRequested:
    with runtime.sessions.begin() as session:
        try:
            source = source_store.request_run(session, source_id, tenant_id=tenant.id)
        except RecordNotFoundError as exc:
            raise _not_found(source_id) from exc
        due = source.next_run_at
        out = source_out(source)
    assert due is not None  # request_run just set it
    workflow_id = enqueue_poll(tenant.id, source_id, run_workflow_id(source_id, due))
    return RunRequested(source=out, workflow_id=workflow_id)
