"""`returnbridge mapping test`: try a mapping on a sample payload before a source uses it."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

mapping_app = typer.Typer(help="Try mappings of vendor payloads.", no_args_is_help=True)
_errors = Console(stderr=True)


def _fail(lines: list[str], *, code: int) -> NoReturn:
    for line in lines:
        _errors.print(f"[red]error:[/] {escape(line)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _read_payload(path: Path) -> Any:
    """The payload as JSON, numbers kept exact (Decimal, never float)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
    except (OSError, UnicodeDecodeError) as exc:
        _fail([f"cannot read payload {path}: {exc}"], code=2)
    except json.JSONDecodeError as exc:
        _fail([f"{path} is not valid JSON: {exc}"], code=2)


@mapping_app.command("test")
def mapping_test(
    mapping: Annotated[Path, typer.Option(help="the mapping file (YAML)")],
    payload: Annotated[Path, typer.Option(help="a sample payload (JSON)")],
) -> None:
    """Print the canonical return a mapping makes of a payload, or each field that failed."""
    from returnbridge.mappings import MappingError, MappingSpecError, apply_mapping, load_mapping

    try:
        spec = load_mapping(mapping)
    except MappingSpecError as exc:
        _fail([exc.message], code=2)
    document = _read_payload(payload)
    try:
        canonical = apply_mapping(spec, document)
    except MappingError as exc:
        _fail([str(issue) for issue in exc.issues], code=1)
    typer.echo(canonical.model_dump_json(indent=2))
