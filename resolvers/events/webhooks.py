"""Managing webhooks (admin only): create, change, delete, rotate the secret, list, and
their deliveries, with redelivery.

The secret is made here, returned by create and rotate alone, and kept as is: signing
needs it (``delivery.signature``). A redelivery is a new delivery of the same event (same
event id, so receivers can drop a duplicate), due at once; the one it repeats keeps its
history.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import ColumnElement, Select, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import DeliveryStatus, OutboxEvent, Webhook, WebhookDelivery
from resolvers.access.permissions import require_admin
from resolvers.access.viewer import Role, Viewer
from resolvers.errors import ErrorCode, Rejected, UserError, UserErrors
from resolvers.events.types import EventType
from resolvers.events.url_policy import UrlPolicy
from resolvers.pagination import Page, PageRequest, SortKey
from resolvers.transaction import Actor
from resolvers.write_inputs import pk_of

__all__ = [
    "DELIVERY_ORDER",
    "Created",
    "DeliveryRow",
    "WebhookFields",
    "create_webhook",
    "delete_webhook",
    "deliveries_page",
    "delivery_count",
    "delivery_row",
    "event_types",
    "list_deliveries",
    "list_webhooks",
    "redeliver",
    "rotate_secret",
    "update_webhook",
]

DELIVERY_ORDER = SortKey("NEWEST", (WebhookDelivery.id,), ("int",), descending=True)
"""Deliveries newest first."""


@dataclass(frozen=True)
class WebhookFields:
    """``CreateWebhookInput``/``UpdateWebhookInput``: None is "not given"."""

    url: str | None = None
    events: Sequence[EventType] | None = None
    active: bool | None = None


@dataclass(frozen=True)
class Created:
    """A webhook and its secret, which only this answer shows."""

    webhook: Webhook
    secret: str


def event_types(webhook: Webhook) -> list[EventType]:
    return [EventType.named(name) for name in webhook.events.strip(",").split(",") if name]


def _new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


async def _validated(
    fields: WebhookFields, policy: UrlPolicy, *, creating: bool
) -> dict[str, object]:
    errors = UserErrors()
    values: dict[str, object] = {}
    if fields.url is not None:
        refusal = await policy.refusal(fields.url)
        if refusal is not None:
            errors.add(["url"], refusal, ErrorCode.INVALID)
        values["url"] = fields.url
    elif creating:
        errors.add(["url"], "A URL is required.", ErrorCode.REQUIRED)
    if fields.events is not None:
        if not fields.events:
            errors.add(["events"], "Name at least one event type.", ErrorCode.REQUIRED)
        chosen = sorted({event.name for event in fields.events})
        values["events"] = "," + ",".join(chosen) + ","
    if fields.active is not None:
        values["active"] = fields.active
    errors.raise_any()
    return values


async def create_webhook(
    session: AsyncSession, actor: Actor, *, fields: WebhookFields, policy: UrlPolicy
) -> Created:
    require_admin(actor.viewer, "manage webhooks")
    values = await _validated(fields, policy, creating=True)
    secret = _new_secret()
    values.setdefault("active", True)
    webhook = Webhook(
        **values,
        secret=secret,
        created_at=actor.now,
    )
    session.add(webhook)
    await session.flush()
    return Created(webhook, secret)


async def _webhook(session: AsyncSession, webhook_id: str) -> Webhook:
    pk = pk_of(webhook_id, "Webhook")
    webhook = await session.get(Webhook, pk, with_for_update=True) if pk is not None else None
    if webhook is None:
        raise Rejected(
            [UserError(("id",), f"No webhook with id {webhook_id!r}.", ErrorCode.NOT_FOUND)]
        )
    return webhook


async def update_webhook(
    session: AsyncSession,
    actor: Actor,
    *,
    webhook_id: str,
    fields: WebhookFields,
    policy: UrlPolicy,
) -> Webhook:
    require_admin(actor.viewer, "manage webhooks")
    webhook = await _webhook(session, webhook_id)
    for key, value in (await _validated(fields, policy, creating=False)).items():
        setattr(webhook, key, value)
    await session.flush()
    return webhook


async def delete_webhook(session: AsyncSession, actor: Actor, *, webhook_id: str) -> int:
    """The webhook and its deliveries go."""
    require_admin(actor.viewer, "manage webhooks")
    webhook = await _webhook(session, webhook_id)
    await session.execute(delete(Webhook).where(Webhook.id == webhook.id))
    return webhook.id


async def rotate_secret(session: AsyncSession, actor: Actor, *, webhook_id: str) -> Created:
    """A new secret; deliveries from now on are signed with it."""
    require_admin(actor.viewer, "manage webhooks")
    webhook = await _webhook(session, webhook_id)
    webhook.secret = _new_secret()
    await session.flush()
    return Created(webhook, webhook.secret)


async def redeliver(session: AsyncSession, actor: Actor, *, delivery_id: str) -> WebhookDelivery:
    """Send a delivery's event again, as a new delivery due now."""
    require_admin(actor.viewer, "redeliver webhooks")
    pk = pk_of(delivery_id, "WebhookDelivery")
    original = await session.get(WebhookDelivery, pk) if pk is not None else None
    if original is None:
        raise Rejected(
            [
                UserError(
                    ("deliveryId",),
                    f"No webhook delivery with id {delivery_id!r}.",
                    ErrorCode.NOT_FOUND,
                )
            ]
        )
    again = WebhookDelivery(
        webhook_id=original.webhook_id,
        event_id=original.event_id,
        status=DeliveryStatus.PENDING.value,
        attempts=0,
        created_at=actor.now,
        next_attempt_at=actor.now,
    )
    session.add(again)
    await session.flush()
    return again


async def list_webhooks(session: AsyncSession, viewer: Viewer) -> list[Webhook]:
    require_admin(viewer, "see webhooks")
    return list(await session.scalars(select(Webhook).order_by(Webhook.id)))


@dataclass(frozen=True)
class DeliveryRow:
    """A delivery with its event's id and type."""

    delivery: WebhookDelivery
    event_id: str
    event_type: EventType

    @property
    def id(self) -> int:  # the sort key's column, read by cursors
        return self.delivery.id


def _conditions(webhook_id: int | None, status: DeliveryStatus | None) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if webhook_id is not None:
        conditions.append(WebhookDelivery.webhook_id == webhook_id)
    if status is not None:
        conditions.append(WebhookDelivery.status == status.value)
    return conditions


async def deliveries_page(
    session: AsyncSession,
    *,
    webhook_id: int | None,
    status: DeliveryStatus | None,
    request: PageRequest,
) -> Page[DeliveryRow]:
    """Deliveries, newest first, of one webhook (None: all), perhaps of one status."""
    window = request.window(DELIVERY_ORDER)
    statement = cast(
        Select[Any],
        select(WebhookDelivery, OutboxEvent.event_id, OutboxEvent.type)
        .join(OutboxEvent, OutboxEvent.id == WebhookDelivery.event_id)
        .where(*_conditions(webhook_id, status)),
    )
    statement = window.apply(statement, DELIVERY_ORDER)
    rows = [
        DeliveryRow(delivery, event_id, EventType(event_type))
        for delivery, event_id, event_type in await session.execute(statement)
    ]
    return window.page(rows, DELIVERY_ORDER)


async def delivery_count(
    session: AsyncSession, *, webhook_id: int | None, status: DeliveryStatus | None
) -> int:
    count = await session.scalar(
        select(func.count()).select_from(WebhookDelivery).where(*_conditions(webhook_id, status))
    )
    return count or 0


async def list_deliveries(
    session: AsyncSession, *, status: DeliveryStatus | None, limit: int
) -> list[tuple[DeliveryRow, str]]:
    """The newest deliveries of every webhook with its URL (``masthead webhook deliveries``)."""
    statement = (
        select(WebhookDelivery, OutboxEvent.event_id, OutboxEvent.type, Webhook.url)
        .join(OutboxEvent, OutboxEvent.id == WebhookDelivery.event_id)
        .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
        .where(*_conditions(None, status))
        .order_by(WebhookDelivery.id.desc())
        .limit(limit)
    )
    return [
        (DeliveryRow(delivery, event_id, EventType(event_type)), url)
        for delivery, event_id, event_type, url in await session.execute(statement)
    ]


def _delivery_with_event(delivery_id: int) -> Select[Any]:
    return cast(
        Select[Any],
        select(WebhookDelivery, OutboxEvent.event_id, OutboxEvent.type)
        .join(OutboxEvent, OutboxEvent.id == WebhookDelivery.event_id)
        .where(WebhookDelivery.id == delivery_id),
    )


async def delivery_row(session: AsyncSession, delivery_id: int) -> DeliveryRow:
    """One delivery with its event's id and type."""
    delivery, event_id, event_type = (
        await session.execute(_delivery_with_event(delivery_id))
    ).one()
    return DeliveryRow(delivery, event_id, EventType(event_type))


async def webhook_node(session: AsyncSession, viewer: Viewer, webhook_id: int) -> Webhook | None:
    """The webhook ``node(id)`` names: admins only, so None for anyone else, as for none."""
    if viewer.role is not Role.ADMIN:
        return None
    return await session.get(Webhook, webhook_id)


async def delivery_node(
    session: AsyncSession, viewer: Viewer, delivery_id: int
) -> DeliveryRow | None:
    """The delivery ``node(id)`` names: admins only, so None for anyone else, as for none."""
    if viewer.role is not Role.ADMIN:
        return None
    found = (await session.execute(_delivery_with_event(delivery_id))).one_or_none()
    if found is None:
        return None
    delivery, event_id, event_type = found
    return DeliveryRow(delivery, event_id, EventType(event_type))
