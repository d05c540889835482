"""Bulk import: a file of returns stored and queued as if each had been pushed, resumably.

Each return's idempotency key is `{external_id}:r{revision}`, the key `POST /v1/returns` uses
when none is sent: a return already pushed, polled or imported from another file is a
duplicate, whichever file or row it is in, and a re-run creates nothing new.

Rows are stored in batches, one transaction each; after a batch commits its workflows are
queued (a worker or `returnbridge up` runs them), its bad rows are appended to the report and
the checkpoint (`<file>.import-state.json`) records the byte offset and row after it. An
interrupted import (Ctrl-C, a crash) resumes from the checkpoint; a batch that committed
without its checkpoint is read again and found duplicate, and the report is cut back to the
size the checkpoint recorded, so no bad row is reported twice.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import threading
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any, Final, Literal

from sqlalchemy import select
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session

from returnbridge.domain.errors import DomainError
from returnbridge.domain.returns import CanonicalReturn
from returnbridge.engine.import_rows import (
    Format,
    Record,
    RowIssue,
    builtin_records,
    canonical_record,
    check_builtin_columns,
    csv_header,
    mapped_record,
    read_csv,
    read_jsonl,
)
from returnbridge.engine.ingest import default_key
from returnbridge.engine.queueing import enqueue
from returnbridge.engine.redrive import UNFINISHED, heal
from returnbridge.engine.runtime import Runtime
from returnbridge.engine.workflows import workflow_id_for
from returnbridge.mappings import MappingSpec
from returnbridge.store import returns as return_store
from returnbridge.store.connections import get_connection, list_connections
from returnbridge.store.errors import IdempotencyConflictError, RecordNotFoundError
from returnbridge.store.tables import Tenant

BATCH_SIZE: Final = 100
"""Returns per transaction: short enough for a running gateway's writers to interleave."""
STATE_VERSION: Final = 1
SOURCE: Final = "import"


class ImportBusyError(DomainError):
    """Another import of the same file into the same report is running."""

    code = "IMPORT_BUSY"


class ImportTargetError(DomainError):
    """The tenant or connection to import into cannot be told (none, several, unknown)."""

    code = "IMPORT_TARGET"


@dataclass
class Counts:
    new: int = 0
    updated: int = 0
    """A later revision of a stored return: applied, its workflow queued."""
    stale: int = 0
    """An older revision than the stored one: kept in its history, not applied."""
    duplicate: int = 0
    bad: int = 0


@dataclass(frozen=True, slots=True)
class ImportJob:
    """What to import, where to, and where its report and checkpoint go."""

    path: Path
    format: Format
    tenant_id: str
    connection_id: str
    report_path: Path
    state_path: Path
    mapping: MappingSpec | None = None
    mapping_digest: str | None = None


@dataclass
class Progress:
    """Where the import is: bytes of the file read, last row read, the counts so far."""

    offset: int
    row: int
    counts: Counts = field(default_factory=Counts)


@dataclass(frozen=True, slots=True)
class ImportResult:
    progress: Progress
    resumed_from_row: int | None
    """The row after which this run resumed an interrupted one (None: from the start)."""
    interrupted: bool
    restart_reason: str | None = None
    """Why a checkpoint found was not used (the file or the target changed)."""


def default_paths(path: Path, report: Path | None) -> tuple[Path, Path]:
    """The report (default `<file>.import-report.jsonl`) and checkpoint beside it."""
    report_path = report or path.with_name(f"{path.name}.import-report.jsonl")
    return report_path, report_path.with_name(f"{path.name}.import-state.json")


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def resolve_target(
    runtime: Runtime, *, tenant: str | None, connection: str | None
) -> tuple[str, str]:
    """(tenant id, connection id): as named, or the only one there is."""
    with runtime.reads() as session:
        if tenant is None:
            tenants = list(session.scalars(select(Tenant.id).limit(2)))
            if len(tenants) != 1:
                raise ImportTargetError(
                    message=f"there are {'no' if not tenants else 'several'} tenants: "
                    "name one with --tenant"
                )
            tenant = tenants[0]
        elif session.get(Tenant, tenant) is None:
            raise ImportTargetError(message=f"no tenant {tenant}")
        if connection is not None:
            with contextlib.suppress(RecordNotFoundError):
                return tenant, get_connection(session, connection, tenant_id=tenant).id
        found = list_connections(session, tenant)
        if connection is not None:
            found = [c for c in found if c.name == connection]
            if not found:
                raise ImportTargetError(
                    message=f"tenant {tenant} has no connection named or with id {connection}"
                )
        if len(found) != 1:
            raise ImportTargetError(
                message=f"tenant {tenant} has {len(found)} connections: name one with --connection"
            )
        return tenant, found[0].id


# -- checkpoint -----------------------------------------------------------------------------


def _fingerprint(job: ImportJob, digest: str) -> dict[str, Any]:
    return {
        "version": STATE_VERSION,
        "file": str(job.path.resolve()),
        "sha256": digest,
        "format": job.format,
        "mapping_sha256": job.mapping_digest,
        "tenant_id": job.tenant_id,
        "connection_id": job.connection_id,
    }


def _load_state(path: Path) -> dict[str, Any] | None:
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) else None


def _save_state(path: Path, state: dict[str, Any]) -> None:
    """Write the checkpoint whole or not at all (temporary file, fsync, rename)."""
    temporary = path.with_name(f".{path.name}.tmp")
    with temporary.open("w", encoding="utf-8") as stream:
        json.dump(state, stream, indent=2)
        stream.flush()
        os.fsync(stream.fileno())
    temporary.replace(path)


def _lock(report: IO[str], job: ImportJob) -> None:
    """One import per report at a time: two would write one checkpoint over the other."""
    try:
        fcntl.flock(report.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise ImportBusyError(
            message=f"another import of {job.path.name} is running (it writes {job.report_path})"
        ) from None


def _restart_reason(state: dict[str, Any], expected: dict[str, Any]) -> str | None:
    if state.get("version") != STATE_VERSION:
        return "the checkpoint is from another version"
    for key, what in (
        ("sha256", "the file changed"),
        ("format", "the format changed"),
        ("mapping_sha256", "the mapping changed"),
        ("tenant_id", "the tenant changed"),
        ("connection_id", "the connection changed"),
    ):
        if state.get(key) != expected[key]:
            return f"{what} since the interrupted run"
    return None


# -- reading --------------------------------------------------------------------------------


def _records(job: ImportJob, stream: IO[bytes], *, row: int, offset: int) -> Iterator[Record]:
    if job.format == "jsonl":
        stream.seek(offset)
        exact: Literal["float", "decimal"] = "decimal" if job.mapping is not None else "float"
        for item in read_jsonl(stream, exact=exact, row=row, offset=offset):
            yield mapped_record(item, job.mapping) if job.mapping else canonical_record(item)
        return
    columns, header_end = csv_header(stream)
    if job.mapping is None:
        check_builtin_columns(columns)
    start = max(offset, header_end)
    stream.seek(start)
    rows = read_csv(stream, columns, row=max(row, 1), offset=start)
    if job.mapping is None:
        yield from builtin_records(rows)
    else:
        spec = job.mapping
        for item in rows:
            yield mapped_record(item, spec)


def check_readable(job: ImportJob) -> None:
    """Raise `ImportFileError` now for a file the format cannot read at all (bad header)."""
    if job.format == "csv":
        with job.path.open("rb") as stream:
            columns, _ = csv_header(stream)
        if job.mapping is None:
            check_builtin_columns(columns)


# -- storing --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoredReturn:
    """What storing one row did (the store's outcome) and what queueing its workflow needs."""

    outcome: str
    return_id: str
    revision: int
    status: str
    workflow_id: str
    connection_id: str
    order_ref: dict[str, Any]
    payload_matches: bool


POSTGRES_STORE_THREADS: Final = 4
"""Lanes storing a batch at once on PostgreSQL, whose round trips and commits then overlap.
SQLite has one writer: one lane."""


def store_threads(runtime: Runtime) -> int:
    return 1 if runtime.engine.dialect.name == "sqlite" else POSTGRES_STORE_THREADS


def _ingest(
    session: Session, tenant_id: str, connection_id: str, canonical: CanonicalReturn
) -> StoredReturn:
    key = default_key(canonical)
    result = return_store.ingest_return(
        session,
        tenant_id,
        connection_id=connection_id,
        channel=canonical.channel.value,
        source=SOURCE,
        external_id=canonical.external_id,
        revision=canonical.revision,
        idempotency_key=key,
        payload=canonical.model_dump(mode="json"),
        order_ref=canonical.order.model_dump(mode="json", exclude_none=True),
        currency=canonical.refund.currency,
        actor=SOURCE,
        workflow_id=workflow_id_for(tenant_id, key),
        connection_checked=True,
    )
    record = result.record
    return StoredReturn(
        outcome=result.outcome,
        return_id=record.id,
        revision=record.revision,
        status=record.status,
        workflow_id=workflow_id_for(tenant_id, result.revision.idempotency_key),
        connection_id=record.connection_id,
        order_ref=dict(record.order_ref or {}),
        payload_matches=result.payload_matches,
    )


def _conflict(error: IdempotencyConflictError) -> RowIssue:
    return RowIssue("external_id", f"{error.message} (return {error.details.get('return_id')})")


def _store_one(
    runtime: Runtime, tenant_id: str, connection_id: str, canonical: CanonicalReturn
) -> StoredReturn | RowIssue:
    try:
        with runtime.sessions.begin() as session:
            return _ingest(session, tenant_id, connection_id, canonical)
    except IdempotencyConflictError as exc:
        return _conflict(exc)
    except (DataError, IntegrityError) as exc:
        return RowIssue("(return)", f"the database refused it: {exc.orig}")


def store_batch(
    runtime: Runtime, tenant_id: str, *, connection_id: str, returns: list[CanonicalReturn]
) -> list[StoredReturn | RowIssue]:
    """Store returns in one transaction, then queue the workflows of those stored anew.

    A row the database refuses (a value it cannot hold, a constraint) spoils its transaction:
    the batch is then stored one return per transaction, so only that row fails. Any other
    database error (unreachable, locked) is raised: the checkpoint stays where it was.
    """
    try:
        results: list[StoredReturn | RowIssue] = []
        with runtime.sessions.begin() as session:
            for canonical in returns:
                try:
                    results.append(_ingest(session, tenant_id, connection_id, canonical))
                except IdempotencyConflictError as exc:
                    results.append(_conflict(exc))
    except (DataError, IntegrityError):
        results = [_store_one(runtime, tenant_id, connection_id, c) for c in returns]
    for stored in results:
        if isinstance(stored, RowIssue):
            continue
        if stored.outcome in ("created", "new_revision"):
            enqueue(
                tenant_id,
                stored.return_id,
                stored.revision,
                stored.workflow_id,
                connection_id=stored.connection_id,
                order_ref=stored.order_ref,
            )
        elif stored.status in UNFINISHED:
            # As for a duplicate push: an unfinished return whose workflow is gone moves again.
            heal(runtime, tenant_id, stored.return_id, why="imported again while not moving")
    return results


# -- the run --------------------------------------------------------------------------------


def _report_line(record: Record, issues: tuple[RowIssue, ...]) -> str:
    entry: dict[str, Any] = {"row": record.first_row}
    if record.last_row != record.first_row:
        entry["last_row"] = record.last_row
    entry["external_id"] = record.external_id
    entry["errors"] = [issue.as_json() for issue in issues]
    return json.dumps(entry, ensure_ascii=False) + "\n"


def _mismatch(stored: StoredReturn, canonical: CanonicalReturn) -> RowIssue:
    return RowIssue(
        "revision",
        f"external_id {canonical.external_id!r} revision {canonical.revision} is already stored"
        f" (return {stored.return_id}) with a different content; give it a higher revision"
        " to change it",
    )


def _count(counts: Counts, stored: StoredReturn) -> None:
    match stored.outcome:
        case "created":
            counts.new += 1
        case "new_revision":
            counts.updated += 1
        case "stale_revision":
            counts.stale += 1
        case _:
            counts.duplicate += 1


class _Run:
    """One pass over the file from a starting point; flushes a batch at a time."""

    def __init__(
        self, runtime: Runtime, job: ImportJob, *, report: IO[str], state: dict[str, Any]
    ) -> None:
        self.runtime = runtime
        self.job = job
        self.report = report
        self.state = state
        self.progress = Progress(
            offset=state["offset"], row=state["row"], counts=Counts(**state["counts"])
        )
        self.pending: list[Record] = []
        self.ways = store_threads(runtime)
        self.pool = ThreadPoolExecutor(self.ways, thread_name_prefix="import")

    def close(self) -> None:
        self.pool.shutdown()

    def _store(self, returns: list[CanonicalReturn]) -> list[StoredReturn | RowIssue]:
        """Store the batch, split over the pool's threads by external id (file order kept
        for each return, so its revisions arrive in order)."""
        ways = self.ways
        if ways == 1:
            return store_batch(
                self.runtime,
                self.job.tenant_id,
                connection_id=self.job.connection_id,
                returns=returns,
            )
        lanes: list[list[int]] = [[] for _ in range(ways)]
        for index, canonical in enumerate(returns):
            lanes[zlib.crc32(canonical.external_id.encode()) % ways].append(index)
        futures = [
            (
                lane,
                self.pool.submit(
                    store_batch,
                    self.runtime,
                    self.job.tenant_id,
                    connection_id=self.job.connection_id,
                    returns=[returns[i] for i in lane],
                ),
            )
            for lane in lanes
            if lane
        ]
        results: list[StoredReturn | RowIssue | None] = [None] * len(returns)
        for lane, future in futures:
            for index, stored in zip(lane, future.result(), strict=True):
                results[index] = stored
        return [stored for stored in results if stored is not None]

    def add(self, record: Record) -> None:
        self.pending.append(record)
        if len(self.pending) >= BATCH_SIZE:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        records, self.pending = self.pending, []
        good = [r for r in records if r.canonical is not None]
        results = self._store([r.canonical for r in good if r.canonical is not None])
        outcome = dict(zip((id(r) for r in good), results, strict=True))
        counts = self.progress.counts
        for record in records:
            issues = record.issues
            stored = outcome.get(id(record))
            if isinstance(stored, RowIssue):
                issues = (stored,)
            elif stored is not None and not stored.payload_matches:
                assert record.canonical is not None
                issues = (_mismatch(stored, record.canonical),)
            if issues:
                counts.bad += 1
                self.report.write(_report_line(record, issues))
            elif isinstance(stored, StoredReturn):
                _count(counts, stored)
        self.report.flush()
        os.fsync(self.report.fileno())
        last = records[-1]
        self.progress.offset, self.progress.row = last.end_offset, last.last_row
        self.checkpoint(done=False)

    def checkpoint(self, *, done: bool) -> None:
        self.state.update(
            offset=self.progress.offset,
            row=self.progress.row,
            counts=asdict(self.progress.counts),
            report_bytes=self.report.tell(),
            done=done,
        )
        _save_state(self.job.state_path, self.state)

    def finish(self) -> None:
        self.flush()
        self.checkpoint(done=True)


def run_import(
    runtime: Runtime,
    job: ImportJob,
    *,
    stop: threading.Event,
    on_progress: Callable[[Progress], None] = lambda _progress: None,
    on_start: Callable[[int | None, str | None], None] = lambda _row, _why: None,
    restart: bool = False,
) -> ImportResult:
    """Import `job.path` from its checkpoint (or the start) until done or `stop` is set.

    When `stop` is set the rows already read are stored, the checkpoint is saved and the
    result says `interrupted`; running the same job again carries on from there. `on_start`
    hears the row it resumes after (None: from the start) and why a checkpoint was not used.
    """
    with (
        job.report_path.open("a", encoding="utf-8") as report,
        job.path.open("rb") as stream,
    ):
        _lock(report, job)
        expected = _fingerprint(job, file_digest(job.path))
        found = None if restart else _load_state(job.state_path)
        restart_reason = None
        if found is not None and not found.get("done"):
            restart_reason = _restart_reason(found, expected)
        resume = found is not None and not found.get("done") and restart_reason is None
        if resume:
            assert found is not None
            state = found
        else:
            state = expected | {"offset": 0, "row": 0, "counts": asdict(Counts()), "done": False}
        # Lines written after the checkpoint belong to rows the resumed run reads again.
        report.truncate(int(state.get("report_bytes", 0)) if resume else 0)
        report.seek(0, os.SEEK_END)
        resumed_from = state["row"] if resume else None
        on_start(resumed_from, restart_reason)
        run = _Run(runtime, job, report=report, state=state)
        try:
            if not resume:
                run.checkpoint(done=False)  # an interruption before the first batch resumes too
            on_progress(run.progress)
            interrupted = False
            for record in _records(job, stream, row=state["row"], offset=state["offset"]):
                run.add(record)
                on_progress(Progress(record.end_offset, record.last_row, run.progress.counts))
                if stop.is_set():
                    interrupted = True
                    break
            if interrupted:
                run.flush()
            else:
                run.finish()
        finally:
            run.close()
    on_progress(run.progress)
    return ImportResult(
        progress=run.progress,
        resumed_from_row=resumed_from,
        interrupted=interrupted,
        restart_reason=restart_reason,
    )
