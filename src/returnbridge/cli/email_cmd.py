"""`returnbridge email`: preview the customer emails, list templates and locales.

`preview` renders a template with sample data (or a tenant's override files) and shows the
subject and text part; `--html` and `--eml` write the HTML part and the whole message.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel

from returnbridge.notify.email.context import TEMPLATES, sample
from returnbridge.notify.email.message import build
from returnbridge.notify.email.messages import LOCALES
from returnbridge.notify.email.render import (
    EmailBranding,
    TemplateInvalidError,
    TemplateSource,
    render,
)

email_app = typer.Typer(help="Customer emails: preview templates.", no_args_is_help=True)
_out = Console()
_errors = Console(stderr=True)


@email_app.command("templates")
def templates() -> None:
    """List the built-in templates and the locales they speak."""
    _out.print(f"templates: {', '.join(TEMPLATES)}")
    _out.print(f"locales:   {', '.join(sorted(LOCALES))} (a region such as de-AT uses de)")


@email_app.command("preview")
def preview(
    *,
    template: Annotated[str, typer.Option(help=f"one of {', '.join(TEMPLATES)}")] = "refund_issued",
    locale: Annotated[str, typer.Option(help="the customer's locale, e.g. de-DE")] = "en",
    currency: Annotated[str, typer.Option(help="ISO currency of the sample amounts")] = "EUR",
    shop: Annotated[str, typer.Option(help="the shop name in the email")] = "Demo Outfitters",
    override_dir: Annotated[
        Path | None,
        typer.Option(
            help="a tenant override to try: a directory with subject.txt, text.txt and"
            " (optionally) html.html",
            exists=True,
            file_okay=False,
        ),
    ] = None,
    html: Annotated[Path | None, typer.Option(help="write the HTML part here")] = None,
    eml: Annotated[Path | None, typer.Option(help="write the whole message (.eml) here")] = None,
) -> None:
    """Render a template with sample data and show it."""
    if template not in TEMPLATES:
        _errors.print(f"[red]no template {template!r}[/]; choose from {', '.join(TEMPLATES)}")
        raise typer.Exit(2)
    source = None
    if override_dir is not None:
        html_file = override_dir / "html.html"
        source = TemplateSource(
            subject=(override_dir / "subject.txt").read_text(),
            text=(override_dir / "text.txt").read_text(),
            html=html_file.read_text() if html_file.exists() else None,
        )
    branding = EmailBranding(shop_name=shop, primary_colour="#0b6e4f")
    try:
        rendered = render(sample(template, locale, currency.upper()), branding, source)
    except TemplateInvalidError as error:
        _errors.print(f"[red]{escape(error.message)}[/]")
        raise typer.Exit(1) from None
    _out.print(Panel(escape(rendered.text), title=escape(f"Subject: {rendered.subject}")))
    if html is not None:
        html.write_text(rendered.html)
        _out.print(f"HTML part written to {html}")
    if eml is not None:
        config = {"from_address": "returns@demo.example", "from_name": shop}
        message = build(
            rendered, config=config, recipient="jane@example.com", delivery_id="preview"
        )
        eml.write_bytes(message.as_bytes())
        _out.print(f"message written to {eml}")
