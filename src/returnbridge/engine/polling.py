"""One sync of a poll source: page through the vendor's records and ingest each revision once.

Neither skipped nor repeated, while pages change under us:
- An updated-since sync asks for records changed after ``watermark - overlap`` and, once every
  page is read, moves the watermark to the time the sync *started* (never to the newest record
  seen): a record changed during the sync is read again by the next one. The overlap covers the
  vendor's clock skew and writes that become visible late.
- Pages that shift (an insert or an update moves records back a page) make a record appear
  twice; each revision is ingested with the key (source, external id, revision), so the store
  answers the second sighting as a duplicate.
- After each page the resume point (page, cursor or next link, with the sync's window) is
  committed; a failed page stops the sync without moving the watermark, and the next run carries
  on from that page. An opaque change-feed cursor is committed page by page.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import httpx
import yaml
from pydantic import ValidationError

from returnbridge.domain.errors import ConnectorError, DomainError, ReturnBridgeError
from returnbridge.domain.returns import CanonicalReturn
from returnbridge.engine.ingest import submit_return
from returnbridge.engine.poll_config import CursorKind, PollConfig, parse_config
from returnbridge.engine.poll_http import Page, build_auth, fetch_page
from returnbridge.engine.runtime import Runtime
from returnbridge.mappings import MappingSpec, apply_mapping, parse_mapping
from returnbridge.observability import get_logger
from returnbridge.store import sources as source_store
from returnbridge.store.clock import Clock, utc_now
from returnbridge.store.tables import Source

log = get_logger(__name__)

MAX_KEY_LENGTH: Final = 255
MAX_PAGES_PER_RUN: Final = 1000
"""A run stops here (resuming next time), so a vendor that never ends a listing cannot pin it."""
ERROR_SAMPLES: Final = 5
UNUSABLE_RETRY: Final = timedelta(minutes=5)
"""When a source cannot be used as stored (config, mapping, secrets), try again this late."""


def poll_key(source_id: str, external_id: str, revision: int) -> str:
    """The idempotency key of one revision from one source: a re-fetch is a duplicate."""
    key = f"poll:{source_id}:{external_id}:{revision}"
    if len(key) <= MAX_KEY_LENGTH:
        return key
    digest = hashlib.sha256(f"{external_id}\x00{revision}".encode()).hexdigest()
    return f"poll:{source_id}:sha256:{digest}"


@dataclass
class RunCounts:
    """What one sync did: records read, revisions new to us, duplicates, records refused."""

    fetched: int = 0
    new: int = 0
    duplicate: int = 0
    failed: int = 0
    pages: int = 0

    def add_to(self, totals: dict[str, int]) -> dict[str, int]:
        keys = ("fetched", "new", "duplicate", "failed")
        return {k: int(totals.get(k, 0)) + getattr(self, k) for k in keys}


@dataclass
class SyncReport:
    """A run's outcome: ``succeeded``, ``failed`` (resumes next run) or ``paused``."""

    source_id: str
    outcome: str
    counts: RunCounts
    cursor: str | None
    error: str | None = None
    resumed: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Run:
    """The state of a sync between pages (what `stats["resume"]` stores)."""

    started_at: datetime
    since: datetime | None
    position: str | None
    page_number: int
    cursor: str | None
    resumed: bool
    counts: RunCounts = field(default_factory=RunCounts)
    errors: list[str] = field(default_factory=list)

    def resume_point(self) -> dict[str, Any]:
        return {
            "started_at": self.started_at.isoformat(),
            "since": self.since.isoformat() if self.since else None,
            "position": self.position,
            "page_number": self.page_number,
        }


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _begin(source: Source, config: PollConfig, now: datetime) -> _Run:
    """Carry on an unfinished sync, or start one from the committed cursor."""
    stats = source.stats or {}
    resume = stats.get("resume")
    if resume:
        last = stats.get("last_run", {})
        return _Run(
            started_at=datetime.fromisoformat(resume["started_at"]),
            since=datetime.fromisoformat(resume["since"]) if resume["since"] else None,
            position=resume["position"],
            page_number=int(resume["page_number"]),
            cursor=source.cursor,
            resumed=True,
            counts=RunCounts(**{k: int(last.get(k, 0)) for k in asdict(RunCounts())}),
            errors=list(stats.get("errors", [])),
        )
    if config.cursor is CursorKind.OPAQUE:
        return _Run(now, None, source.cursor, 1, source.cursor, resumed=False)
    if source.cursor:
        since: datetime | None = datetime.fromisoformat(source.cursor) - config.overlap
    else:
        since = config.initial_since
    return _Run(now, since, None, 1, source.cursor, resumed=False)


def _mapping(source: Source) -> MappingSpec | None:
    if source.mapping is None:
        return None
    try:
        data = yaml.safe_load(source.mapping)
    except yaml.YAMLError as exc:
        raise DomainError("MAPPING_INVALID", "the source's mapping is not YAML") from exc
    return parse_mapping(data, origin=f"source {source.name}")


class _Ingest:
    """Turns a page's records into stored revisions, counting what happened to each."""

    def __init__(self, runtime: Runtime, source: Source, spec: MappingSpec | None) -> None:
        self.runtime = runtime
        self.source = source
        self.spec = spec

    def canonical(self, record: Any) -> CanonicalReturn:
        if self.spec is not None:
            return apply_mapping(self.spec, record)
        return CanonicalReturn.model_validate(record)

    def page(self, page: Page, run: _Run) -> None:
        for index, record in enumerate(page.records):
            run.counts.fetched += 1
            try:
                canonical = self.canonical(record)
                submitted = submit_return(
                    self.runtime,
                    self.source.tenant_id,
                    connection_id=self.source.connection_id,
                    canonical=canonical,
                    idempotency_key=poll_key(
                        self.source.id, canonical.external_id, canonical.revision
                    ),
                    source="poll",
                )
            except (DomainError, ValidationError) as exc:
                run.counts.failed += 1
                if len(run.errors) < ERROR_SAMPLES:
                    run.errors.append(f"page {run.page_number}, record {index + 1}: {_say(exc)}")
                continue
            if submitted.duplicate:
                run.counts.duplicate += 1
            else:
                run.counts.new += 1


def _say(exc: Exception) -> str:
    """Our sentence for a refused record (a pydantic error names fields, never values)."""
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "record"
        return f"{where}: {first['msg']}"
    return exc.message if isinstance(exc, DomainError) else type(exc).__name__


def _stats(
    source: Source, run: _Run, *, outcome: str, resume: bool, page: RunCounts
) -> dict[str, Any]:
    stats = dict(source.stats or {})
    stats["totals"] = page.add_to(stats.get("totals", {}))
    stats["last_run"] = {
        "started_at": run.started_at.isoformat(),
        "outcome": outcome,
        "resumed": run.resumed,
        **asdict(run.counts),
    }
    stats["errors"] = run.errors
    stats["resume"] = run.resume_point() if resume else None
    stats["runs"] = int(stats.get("runs", 0)) + (0 if outcome == "running" else 1)
    return stats


def _save(
    runtime: Runtime,
    source: Source,
    run: _Run,
    *,
    outcome: str,
    resume: bool,
    page: RunCounts,
    error: str | None,
    now: datetime,
    next_run_at: datetime | None,
) -> None:
    with runtime.sessions.begin() as session:
        fresh = source_store.get_source(session, source.id, tenant_id=source.tenant_id)
        source_store.save_sync_state(
            session,
            source.id,
            tenant_id=source.tenant_id,
            stats=_stats(fresh, run, outcome=outcome, resume=resume, page=page),
            cursor=run.cursor,
            last_error=error,
            last_run_at=now,
            last_success_at=now if outcome == "succeeded" else None,
            next_run_at=next_run_at,
        )


def run_sync(
    runtime: Runtime,
    tenant_id: str,
    source_id: str,
    *,
    client: httpx.Client | None = None,
    clock: Clock = utc_now,
) -> SyncReport:
    """Run (or carry on) one sync of the poll source; its state is committed page by page."""
    with runtime.reads() as session:
        source = source_store.get_source(
            session, source_id, tenant_id=tenant_id, kind=source_store.POLL
        )
    now = clock()
    try:
        config = parse_config(source.config)
        spec = _mapping(source)
        secrets = source_store.source_secrets(source, cipher=runtime.cipher)
    except ReturnBridgeError as exc:  # a bad stored config or mapping, or unreadable secrets
        run = _begin(source, PollConfig(url="http://invalid"), now)
        _save(
            runtime,
            source,
            run,
            outcome="failed",
            resume=run.resumed,
            page=RunCounts(),
            error=exc.message,
            now=now,
            next_run_at=now + UNUSABLE_RETRY,
        )
        return SyncReport(source.id, "failed", run.counts, run.cursor, exc.message)
    run = _begin(source, config, now)
    owned = client is None
    http = client or httpx.Client(timeout=config.timeout_seconds)
    try:
        return _pages(
            runtime,
            source,
            config=config,
            run=run,
            http=http,
            spec=spec,
            secrets=secrets,
            clock=clock,
        )
    finally:
        if owned:
            http.close()


def _pages(
    runtime: Runtime,
    source: Source,
    *,
    config: PollConfig,
    run: _Run,
    http: httpx.Client,
    spec: MappingSpec | None,
    secrets: dict[str, Any],
    clock: Clock,
) -> SyncReport:
    ingest = _Ingest(runtime, source, spec)
    auth = build_auth(config, secrets)
    for _ in range(MAX_PAGES_PER_RUN):
        try:
            page = fetch_page(
                http,
                config,
                since=run.since,
                position=run.position,
                page_number=run.page_number,
                auth=auth,
            )
        except ConnectorError as exc:
            now = clock()
            _save(
                runtime,
                source,
                run,
                outcome="failed",
                resume=True,
                page=RunCounts(),
                error=exc.message,
                now=now,
                next_run_at=config.next_run_after(now),
            )
            log.warning(
                "poll_failed",
                source_id=source.id,
                tenant_id=source.tenant_id,
                page=run.page_number,
                error=exc.message,
            )
            return SyncReport(source.id, "failed", run.counts, run.cursor, exc.message, run.resumed)
        before = RunCounts(**asdict(run.counts))
        ingest.page(page, run)
        run.counts.pages += 1
        done = RunCounts(**{k: getattr(run.counts, k) - getattr(before, k) for k in asdict(before)})
        if config.cursor is CursorKind.OPAQUE:
            run.cursor = page.feed_cursor
        now = clock()
        if page.next_position is None:
            if config.cursor is CursorKind.UPDATED_SINCE:
                run.cursor = _aware(run.started_at).isoformat()
            _save(
                runtime,
                source,
                run,
                outcome="succeeded",
                resume=False,
                page=done,
                error=None,
                now=now,
                next_run_at=config.next_run_after(now),
            )
            log.info(
                "poll_synced", source_id=source.id, tenant_id=source.tenant_id, **asdict(run.counts)
            )
            return SyncReport(source.id, "succeeded", run.counts, run.cursor, None, run.resumed)
        run.position = page.next_position
        run.page_number += 1
        _save(
            runtime,
            source,
            run,
            outcome="running",
            resume=True,
            page=done,
            error=None,
            now=now,
            next_run_at=None,
        )
    now = clock()
    _save(
        runtime,
        source,
        run,
        outcome="failed",
        resume=True,
        page=RunCounts(),
        error=f"stopped after {MAX_PAGES_PER_RUN} pages; the next run carries on",
        now=now,
        next_run_at=now,
    )
    return SyncReport(source.id, "failed", run.counts, run.cursor, "page limit", run.resumed)
