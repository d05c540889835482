"""`/v1/email`: the tenant's SMTP settings and branding, template overrides, previews, and the
customer email delivery log.

The SMTP password goes in once, encrypted, and is never answered back (`password_set`
says whether one is stored). A template override is rendered with sample data before it is
saved, so a broken one is a 422 naming the part and line, never a failed email later.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, ConfigDict, Field

from returnbridge.api.deps import RuntimeDep, TenantDep
from returnbridge.api.problems import ApiProblem
from returnbridge.api.routing import TenantRoute
from returnbridge.api.schemas import reject_unstorable
from returnbridge.domain.errors import DomainError
from returnbridge.notify.email.context import TEMPLATES, sample
from returnbridge.notify.email.messages import LOCALES
from returnbridge.notify.email.render import EmailBranding, TemplateSource, check_override, render
from returnbridge.store import email as store
from returnbridge.store.tables import EmailDelivery, EmailSettings

_EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
router = APIRouter(prefix="/v1/email", tags=["email"], route_class=TenantRoute)

TemplateName = Annotated[
    Literal["return_received", "refund_issued", "return_closed", "more_information_needed"],
    Path(description="one of the built-in templates"),
]
LocaleName = Annotated[
    str, Path(pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})?$", description="e.g. en, de, fr-CA")
]


class EmailSettingsIn(BaseModel):
    """Where the tenant's mail goes out, and how it looks."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    host: str = Field(min_length=1, max_length=255)
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = Field(default=None, max_length=320)
    password: str | None = Field(
        default=None, max_length=1000, description="write-only; omit to keep the stored one"
    )
    from_address: str = Field(max_length=320, pattern=_EMAIL)
    from_name: str | None = Field(default=None, max_length=200)
    reply_to: str | None = Field(default=None, max_length=320, pattern=_EMAIL)
    logo_url: str | None = Field(default=None, max_length=2000, pattern=r"^https://")
    primary_colour: str = Field(default="#222222", pattern=r"^#[0-9a-fA-F]{6}$")
    default_locale: str = Field(default="en", pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})?$")


class EmailSettingsOut(BaseModel):
    enabled: bool
    host: str
    port: int
    security: str
    username: str | None
    password_set: bool
    from_address: str
    from_name: str | None
    reply_to: str | None
    logo_url: str | None
    primary_colour: str
    default_locale: str
    updated_at: datetime


class TemplateIn(BaseModel):
    """Jinja sources (sandboxed); `html` omitted keeps the built-in layout."""

    model_config = ConfigDict(extra="forbid")

    subject: str = Field(min_length=1, max_length=500)
    text: str = Field(min_length=1, max_length=50_000)
    html: str | None = Field(default=None, max_length=200_000)


class TemplateOut(BaseModel):
    name: str
    locale: str
    subject: str
    text: str
    html: str | None
    updated_at: datetime


class PreviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    template: Literal[
        "return_received", "refund_issued", "return_closed", "more_information_needed"
    ]
    locale: str = Field(default="en", pattern=r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})?$")
    currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$")


class PreviewOut(BaseModel):
    subject: str
    text: str
    html: str
    override: bool


class DeliveryOut(BaseModel):
    id: str
    return_id: str
    revision: int
    template: str
    locale: str
    recipient: str
    subject: str | None
    status: str
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    next_attempt_at: datetime | None


class DeliveryPage(BaseModel):
    items: list[DeliveryOut]


def _settings_out(row: EmailSettings, *, password_set: bool) -> EmailSettingsOut:
    config = row.config or {}
    return EmailSettingsOut(
        enabled=row.enabled,
        host=config.get("host", ""),
        port=int(config.get("port", 587)),
        security=config.get("security", "starttls"),
        username=config.get("username"),
        password_set=password_set,
        from_address=config.get("from_address", ""),
        from_name=config.get("from_name"),
        reply_to=config.get("reply_to"),
        logo_url=config.get("logo_url"),
        primary_colour=config.get("primary_colour", "#222222"),
        default_locale=config.get("default_locale", "en"),
        updated_at=row.updated_at,
    )


@router.put("/settings", summary="Set the tenant's SMTP server and branding")
def put_settings(body: EmailSettingsIn, tenant: TenantDep, runtime: RuntimeDep) -> EmailSettingsOut:
    reject_unstorable(body)
    config = body.model_dump(mode="json", exclude={"password", "enabled"})
    with runtime.sessions.begin() as session:
        row = store.save_settings(
            session,
            tenant.id,
            enabled=body.enabled,
            config=config,
            password=body.password,
            cipher=runtime.cipher,
            keep_password=body.password is None,
        )
        has_password = store.settings_password(row, cipher=runtime.cipher) is not None
    return _settings_out(row, password_set=has_password)


@router.get("/settings", summary="The tenant's email settings (never the password)")
def get_settings(tenant: TenantDep, runtime: RuntimeDep) -> EmailSettingsOut:
    with runtime.reads() as session:
        row = store.get_settings(session, tenant.id)
        if row is None:
            raise ApiProblem(
                404, "NOT_FOUND", "no email settings yet: PUT /v1/email/settings", kind="email"
            )
        has_password = store.settings_password(row, cipher=runtime.cipher) is not None
    return _settings_out(row, password_set=has_password)


@router.put("/templates/{name}/{locale}", summary="Override one template in one locale")
def put_template(
    name: TemplateName, locale: LocaleName, body: TemplateIn, tenant: TenantDep, runtime: RuntimeDep
) -> TemplateOut:
    reject_unstorable(body)
    try:
        check_override(name, locale, TemplateSource(body.subject, body.text, body.html))
    except DomainError as error:
        raise ApiProblem(422, error.code, error.message, field="template") from None
    with runtime.sessions.begin() as session:
        row = store.save_template(
            session,
            tenant.id,
            name,
            locale,
            subject=body.subject,
            text_body=body.text,
            html_body=body.html,
        )
    return TemplateOut(
        name=row.name,
        locale=row.locale,
        subject=row.subject,
        text=row.text_body,
        html=row.html_body,
        updated_at=row.updated_at,
    )


@router.delete(
    "/templates/{name}/{locale}", status_code=204, summary="Back to the built-in template"
)
def delete_template(
    name: TemplateName, locale: LocaleName, tenant: TenantDep, runtime: RuntimeDep
) -> Response:
    with runtime.sessions.begin() as session:
        if not store.delete_template(session, tenant.id, name, locale):
            raise ApiProblem(404, "NOT_FOUND", f"no override of {name} in {locale}")
    return Response(status_code=204)


@router.get("/templates", summary="The built-in templates, locales, and the tenant's overrides")
def list_templates(tenant: TenantDep, runtime: RuntimeDep) -> dict[str, object]:
    with runtime.reads() as session:
        rows = store.list_templates(session, tenant.id)
    return {
        "templates": list(TEMPLATES),
        "locales": sorted(LOCALES),
        "overrides": [{"name": r.name, "locale": r.locale} for r in rows],
    }


@router.post("/preview", summary="Render a template with sample data and the tenant's look")
def preview(body: PreviewIn, tenant: TenantDep, runtime: RuntimeDep) -> PreviewOut:
    reject_unstorable(body)
    with runtime.reads() as session:
        row = store.get_settings(session, tenant.id)
        override = store.find_override(session, tenant.id, body.template, body.locale)
    branding = EmailBranding.from_config(row.config if row else {})
    source = (
        TemplateSource(override.subject, override.text_body, override.html_body)
        if override
        else None
    )
    try:
        rendered = render(sample(body.template, body.locale, body.currency), branding, source)
    except DomainError as error:
        raise ApiProblem(422, error.code, error.message) from None
    return PreviewOut(
        subject=rendered.subject, text=rendered.text, html=rendered.html, override=bool(source)
    )


def _delivery_out(row: EmailDelivery) -> DeliveryOut:
    return DeliveryOut(
        id=row.id,
        return_id=row.return_id,
        revision=row.revision,
        template=row.template,
        locale=row.locale,
        recipient=row.recipient,
        subject=row.subject,
        status=row.status,
        attempts=row.attempts,
        last_error=row.last_error,
        created_at=row.created_at,
        sent_at=row.sent_at,
        next_attempt_at=row.next_attempt_at if row.status == store.PENDING else None,
    )


@router.get("/deliveries", summary="The customer email delivery log, newest first")
def deliveries(
    tenant: TenantDep, runtime: RuntimeDep, return_id: str | None = None, limit: int = 100
) -> DeliveryPage:
    with runtime.reads() as session:
        rows = store.list_deliveries(
            session, tenant.id, return_id=return_id, limit=max(1, min(limit, 500))
        )
    return DeliveryPage(items=[_delivery_out(r) for r in rows])
