"""Webhooks over GraphQL (SPEC, Events): admin-only types, the query and the mutations."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import strawberry

from db import models
from resolvers.events import webhooks
from resolvers.events.types import EventType
from resolvers.events.url_policy import UrlPolicy
from resolvers.global_ids import encode_global_id
from resolvers.pagination import PageRequest
from resolvers.transaction import Outcome
from schema.mutation import _write
from schema.payloads import DeletePayload, UserError
from schema.types import Connection, Info, Node, connection, utc

__all__ = [
    "DeliveryStatus",
    "Webhook",
    "WebhookDelivery",
    "WebhookEventType",
    "WebhookMutation",
    "WebhookQuery",
]

# Strawberry registers the resolvers' enums themselves (and returns them): GraphQL sees the
# member names, resolvers the values.
WebhookEventType = strawberry.enum(
    EventType,
    name="WebhookEventType",
    description="What happened; a delivery's `Masthead-Event-Type` header spells it "
    "`article.published`, `category.changed`, ...",
)
DeliveryStatus = strawberry.enum(
    models.DeliveryStatus,
    name="DeliveryStatus",
    description="Where a delivery stands: still being tried, answered with 2xx, or given up.",
)


@strawberry.type(description="One event sent to one webhook, with its attempts.")
class WebhookDelivery(Node):
    event_id: str = strawberry.field(
        description="The event's id (`Masthead-Event-Id`): the same on every attempt and "
        "redelivery, so receivers can drop duplicates."
    )
    event_type: EventType = strawberry.field(description="The event's type.")
    status: models.DeliveryStatus = strawberry.field(description="Where the delivery stands.")
    attempts: int = strawberry.field(description="Attempts made so far.")
    response_status: int | None = strawberry.field(
        description="The HTTP status of the last answer; null when none came."
    )
    error: str | None = strawberry.field(description="Why the last attempt failed.")
    created_at: datetime = strawberry.field(description="When the event was queued.")
    next_attempt_at: datetime | None = strawberry.field(
        description="When the next attempt is due; null once delivered or failed."
    )
    delivered_at: datetime | None = strawberry.field(description="When a 2xx answer came.")

    @classmethod
    def from_row(cls, row: webhooks.DeliveryRow) -> WebhookDelivery:
        delivery = row.delivery
        return cls(
            id=strawberry.ID(encode_global_id("WebhookDelivery", delivery.id)),
            event_id=row.event_id,
            event_type=row.event_type,
            status=models.DeliveryStatus(delivery.status),
            attempts=delivery.attempts,
            response_status=delivery.response_status,
            error=delivery.error,
            created_at=delivery.created_at.replace(tzinfo=UTC),
            next_attempt_at=utc(delivery.next_attempt_at),
            delivered_at=utc(delivery.delivered_at),
        )


@strawberry.type(description="Where Masthead sends events, signed with the webhook's secret.")
class Webhook(Node):
    pk: strawberry.Private[int]
    url: str = strawberry.field(description="Where deliveries are POSTed.")
    events: list[EventType] = strawberry.field(description="The event types it takes.")
    active: bool = strawberry.field(description="Inactive webhooks are sent nothing.")
    created_at: datetime = strawberry.field(description="When it was created.")

    @classmethod
    def from_row(cls, row: models.Webhook) -> Webhook:
        return cls(
            id=strawberry.ID(encode_global_id("Webhook", row.id)),
            pk=row.id,
            url=row.url,
            events=webhooks.event_types(row),
            active=row.active,
            created_at=row.created_at.replace(tzinfo=UTC),
        )

    @strawberry.field(description="Its deliveries, newest first.")
    async def deliveries(
        self,
        info: Info,
        first: Annotated[int | None, strawberry.argument(description="Page size.")] = 20,
        after: Annotated[str | None, strawberry.argument(description="Cursor.")] = None,
        status: Annotated[
            models.DeliveryStatus | None, strawberry.argument(description="Only these.")
        ] = None,
    ) -> Connection[WebhookDelivery]:
        request = PageRequest(first=first, after=after)
        chosen = status
        page = await info.context.read(
            lambda session: webhooks.deliveries_page(
                session, webhook_id=self.pk, status=chosen, request=request
            )
        )
        return connection(
            page,
            WebhookDelivery.from_row,
            lambda: info.context.read(
                lambda session: webhooks.delivery_count(session, webhook_id=self.pk, status=chosen)
            ),
        )


@strawberry.input(description="A new webhook.")
class CreateWebhookInput:
    url: str = strawberry.field(description="An http:// or https:// URL.")
    events: list[EventType] = strawberry.field(description="The event types to send.")
    active: bool | None = strawberry.field(default=True, description="Send to it (default).")


@strawberry.input(description="Changes to a webhook: only what is given changes.")
class UpdateWebhookInput:
    url: str | None = strawberry.field(default=None, description="A new URL.")
    events: list[EventType] | None = strawberry.field(
        default=None, description="The event types to send from now on."
    )
    active: bool | None = strawberry.field(default=None, description="Pause or resume it.")


@strawberry.type(description="The webhook written, or why nothing was written.")
class WebhookPayload:
    webhook: Webhook | None = strawberry.field(description="The webhook; null on errors.")
    secret: str | None = strawberry.field(
        description="The signing secret: returned by create and rotate alone, so store it now."
    )
    errors: list[UserError] = strawberry.field(description="Empty when the write happened.")

    @classmethod
    def of(cls, outcome: Outcome[webhooks.Created] | Outcome[models.Webhook]) -> WebhookPayload:
        errors = [UserError.from_error(error) for error in outcome.errors]
        value = outcome.value
        if isinstance(value, webhooks.Created):
            return cls(webhook=Webhook.from_row(value.webhook), secret=value.secret, errors=errors)
        webhook = Webhook.from_row(value) if value is not None else None
        return cls(webhook=webhook, secret=None, errors=errors)


@strawberry.type(description="The delivery queued, or why nothing was.")
class WebhookDeliveryPayload:
    delivery: WebhookDelivery | None = strawberry.field(
        description="The new delivery of the same event (same `eventId`); null on errors."
    )
    errors: list[UserError] = strawberry.field(description="Empty when it was queued.")


def _policy(info: Info) -> UrlPolicy:
    policy = info.context.request.app.state.webhook_policy
    assert isinstance(policy, UrlPolicy)
    return policy


def _fields(given: CreateWebhookInput | UpdateWebhookInput) -> webhooks.WebhookFields:
    events = [EventType(event) for event in given.events] if given.events is not None else None
    return webhooks.WebhookFields(url=given.url, events=events, active=given.active)


_ID = Annotated[strawberry.ID, strawberry.argument(description="Global id of the webhook.")]


@strawberry.type
class WebhookQuery:
    @strawberry.field(description="Every webhook (admin tokens only).")
    async def webhooks(self, info: Info) -> list[Webhook]:
        viewer = info.context.viewer
        rows = await info.context.read(lambda session: webhooks.list_webhooks(session, viewer))
        return [Webhook.from_row(row) for row in rows]


@strawberry.type
class WebhookMutation:
    @strawberry.mutation(description="Create a webhook; its secret is in this answer only.")
    async def create_webhook(
        self,
        info: Info,
        input: Annotated[CreateWebhookInput, strawberry.argument(description="The webhook.")],
    ) -> WebhookPayload:
        outcome = await _write(
            info, webhooks.create_webhook, fields=_fields(input), policy=_policy(info)
        )
        return WebhookPayload.of(outcome)

    @strawberry.mutation(description="Change a webhook's URL, event types or activity.")
    async def update_webhook(
        self,
        info: Info,
        id: _ID,
        input: Annotated[UpdateWebhookInput, strawberry.argument(description="The changes.")],
    ) -> WebhookPayload:
        outcome = await _write(
            info,
            webhooks.update_webhook,
            webhook_id=id,
            fields=_fields(input),
            policy=_policy(info),
        )
        return WebhookPayload.of(outcome)

    @strawberry.mutation(description="Delete a webhook and its deliveries.")
    async def delete_webhook(self, info: Info, id: _ID) -> DeletePayload:
        outcome = await _write(info, webhooks.delete_webhook, webhook_id=id)
        return DeletePayload.of(outcome, "Webhook")

    @strawberry.mutation(description="A new signing secret, in this answer only.")
    async def rotate_webhook_secret(self, info: Info, id: _ID) -> WebhookPayload:
        outcome = await _write(info, webhooks.rotate_secret, webhook_id=id)
        return WebhookPayload.of(outcome)

    @strawberry.mutation(description="Send a delivery's event again (same event id), now.")
    async def redeliver_webhook(
        self,
        info: Info,
        delivery_id: Annotated[
            strawberry.ID, strawberry.argument(description="Global id of the delivery.")
        ],
    ) -> WebhookDeliveryPayload:
        outcome = await _write(info, webhooks.redeliver, delivery_id=delivery_id)
        errors = [UserError.from_error(error) for error in outcome.errors]
        if outcome.value is None:
            return WebhookDeliveryPayload(delivery=None, errors=errors)
        created = outcome.value
        row = await info.context.read(lambda session: webhooks.delivery_row(session, created.id))
        return WebhookDeliveryPayload(delivery=WebhookDelivery.from_row(row), errors=errors)
