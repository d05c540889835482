"""`returnbridge import FILE`: store a file of returns and queue their workflows, resumably.

Exit codes: 0 every row imported (new or already there), 1 some rows are bad (see the
report), 2 usage error (unreadable file, mapping or header; unknown tenant or connection;
the same import already running), 3 stopped by a database error (the checkpoint is kept),
130 interrupted by Ctrl-C or SIGTERM (the checkpoint is
saved: the same command resumes).
"""

from __future__ import annotations

import hashlib
import os
import shlex
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

if TYPE_CHECKING:
    from returnbridge.engine.bulk_import import Counts, ImportResult
    from returnbridge.engine.import_rows import Format

EXIT_BAD_ROWS = 1
EXIT_USAGE = 2
EXIT_FAILED = 3
EXIT_INTERRUPTED = 130

_console = Console()
_errors = Console(stderr=True)


def _fail(message: str, *, code: int = EXIT_USAGE) -> NoReturn:
    _errors.print(f"[red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _format_of(path: Path, given: str | None) -> Format:
    name = (given or path.suffix.removeprefix(".")).lower()
    if name in ("jsonl", "ndjson"):
        return "jsonl"
    if name == "csv":
        return "csv"
    _fail(f"cannot tell the format of {path.name}: give --format jsonl or --format csv")


def _counts_text(counts: Counts) -> str:
    text = f"new {counts.new} · updated {counts.updated} · duplicate {counts.duplicate}"
    if counts.stale:
        text += f" · older revision {counts.stale}"
    return text + f" · bad {counts.bad}"


def _short_counts(counts: Counts) -> str:
    return f"new {counts.new} · dup {counts.duplicate + counts.stale} · upd {counts.updated}" + (
        f" · bad {counts.bad}"
    )


def _summary(result: ImportResult, *, report: Path, seconds: float) -> None:
    progress = result.progress
    verb = "stopped at" if result.interrupted else "done:"
    _console.print(
        f"{verb} row {progress.row} · {_counts_text(progress.counts)} · {seconds:.1f}s",
        highlight=False,
    )
    if progress.counts.bad:
        _console.print(f"bad rows: {escape(str(report))}", highlight=False)


def import_file(
    file: Annotated[
        Path, typer.Argument(help="JSON Lines or CSV file of returns", show_default=False)
    ],
    *,
    mapping: Annotated[
        Path | None, typer.Option(help="mapping (YAML) from each row's payload to a return")
    ] = None,
    file_format: Annotated[
        str | None,
        typer.Option("--format", help="jsonl or csv (default: from the file's extension)"),
    ] = None,
    tenant: Annotated[str | None, typer.Option(help="tenant id (default: the only tenant)")] = None,
    connection: Annotated[
        str | None,
        typer.Option(help="connection name or id (default: the tenant's only connection)"),
    ] = None,
    report: Annotated[
        Path | None,
        typer.Option(help="where bad rows go (default FILE.import-report.jsonl)"),
    ] = None,
    restart: Annotated[
        bool, typer.Option("--restart", help="ignore a checkpoint and read from the first row")
    ] = False,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            help="where embedded data lives (default ./.returnbridge)", show_default=False
        ),
    ] = None,
) -> None:
    """Import returns from a file; bad rows go to a report, Ctrl-C resumes later.

    Each return is stored and its workflow queued, as if pushed to the API: a running
    `returnbridge up` or `worker` processes them. Rows already imported (from this or any
    file, or pushed) are duplicates: a re-run creates nothing new.
    """
    from sqlalchemy.exc import SQLAlchemyError

    from returnbridge.cli.main import _open, _settings
    from returnbridge.engine import bulk_import
    from returnbridge.engine.import_rows import ImportFileError
    from returnbridge.engine.launch import launch_dbos, shutdown_dbos

    if not file.is_file():
        _fail(f"no file {file}")
    fmt = _format_of(file, file_format)
    spec, digest = _load_mapping(mapping)
    settings = _settings(data_dir)
    runtime = _open(settings)
    try:
        tenant_id, connection_id = bulk_import.resolve_target(
            runtime, tenant=tenant, connection=connection
        )
    except bulk_import.ImportTargetError as exc:
        _fail(exc.message)
    report_path, state_path = bulk_import.default_paths(file, report)
    if not report_path.parent.is_dir():
        _fail(f"no directory {report_path.parent} for the report")
    job = bulk_import.ImportJob(
        path=file,
        format=fmt,
        tenant_id=tenant_id,
        connection_id=connection_id,
        report_path=report_path,
        state_path=state_path,
        mapping=spec,
        mapping_digest=digest,
    )
    try:
        bulk_import.check_readable(job)
    except ImportFileError as exc:
        _fail(f"{file}: {exc}")
    stop = threading.Event()
    previous = {number: signal.signal(number, _stopper(stop)) for number in _STOP_SIGNALS}
    # An executor id of its own: DBOS recovers its executor's pending workflows at launch,
    # and those of the embedded "local" worker must stay with that worker.
    launch_dbos(settings.model_copy(update={"executor_id": f"import-{os.getpid()}"}), work=False)
    started = time.monotonic()
    try:
        result = _run_with_progress(runtime, job, stop=stop, restart=restart)
        elapsed = time.monotonic() - started
    except bulk_import.ImportBusyError as exc:
        _fail(exc.message)
    except OSError as exc:
        _fail(f"cannot import: {exc.filename}: {exc.strerror}")
    except SQLAlchemyError as exc:
        _fail(
            f"the database failed ({type(exc).__name__}: {exc.args[0] if exc.args else ''});"
            f" the checkpoint is kept: run the same command again to resume ({_again()})",
            code=EXIT_FAILED,
        )
    except KeyboardInterrupt:
        _console.print(
            f"stopped at once; the checkpoint in {escape(str(state_path))} is kept: run the same"
            f" command again to resume ({escape(_again())})",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(EXIT_INTERRUPTED) from None
    finally:
        shutdown_dbos()
        for number, handler in previous.items():
            signal.signal(number, handler)
    _summary(result, report=report_path, seconds=elapsed)
    if result.interrupted:
        _console.print(
            f"interrupted after row {result.progress.row}: checkpoint saved in"
            f" {escape(str(state_path))}; to resume, run the same command again:"
            f" {escape(_again())}",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(EXIT_INTERRUPTED)
    if result.progress.counts.bad:
        raise typer.Exit(EXIT_BAD_ROWS)


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _again() -> str:
    """This very command line, to copy and run again."""
    return shlex.join(["returnbridge", *sys.argv[1:]])


def _stopper(stop: threading.Event) -> Callable[[int, FrameType | None], None]:
    """First signal: finish the batch and save the checkpoint. Second: stop at once."""

    def handle(_number: int, _frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        _errors.print("stopping after the current batch (again to stop at once)")

    return handle


def _load_mapping(path: Path | None) -> tuple[Any, str | None]:
    if path is None:
        return None, None
    from returnbridge.mappings import MappingSpecError, load_mapping

    try:
        spec = load_mapping(path)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except MappingSpecError as exc:
        _fail(exc.message)
    except OSError as exc:
        _fail(f"cannot read mapping {path}: {exc.strerror}")
    return spec, digest


def _run_with_progress(
    runtime: Any, job: Any, *, stop: threading.Event, restart: bool
) -> ImportResult:
    from returnbridge.engine import bulk_import

    columns = (
        BarColumn(bar_width=20),
        TaskProgressColumn(),
        TextColumn("row {task.fields[row]} · {task.fields[rate]} rows/s · {task.fields[counts]}"),
        TimeElapsedColumn(),
    )
    total = job.path.stat().st_size
    with Progress(*columns, console=_console, transient=False) as bar:
        task = bar.add_task("import", total=total or 1, row=0, rate="-", counts="")
        first: dict[str, float] = {}

        def show(progress: bulk_import.Progress) -> None:
            now = time.monotonic()
            first.setdefault("row", progress.row)
            first.setdefault("at", now)
            elapsed = now - first["at"]
            rate = f"{(progress.row - first['row']) / elapsed:.0f}" if elapsed > 0.5 else "-"
            bar.update(
                task,
                completed=progress.offset,
                row=progress.row,
                rate=rate,
                counts=_short_counts(progress.counts),
            )

        def started(row: int | None, why: str | None) -> None:
            if why:
                bar.console.print(f"checkpoint not used: {why}; reading from the first row")
            elif row is not None:
                bar.console.print(f"resuming after row {row}", highlight=False)

        return bulk_import.run_import(
            runtime, job, stop=stop, on_progress=show, on_start=started, restart=restart
        )
