"""Sending one delivery: the signed POST (SPEC, Events) and when to try again.

The signature is Stripe's scheme: ``Masthead-Signature: t=<unix seconds>,v1=<hex
HMAC-SHA256 of "<t>.<raw body>">`` keyed by the webhook's secret, so a receiver checks the
exact bytes it got and refuses old timestamps (replays). Any answer but 2xx, a timeout or a
connection that fails is a failed attempt. Redirects are not followed (``url_policy``).

Retries: attempt ``n`` failed, the next is due ``base x 2^(n-1)`` seconds later, stretched
by a random factor in [1, 1.5) so receivers coming back are not hit by every delivery at
once. With the defaults (30 s, 8 attempts) the first retry comes within a minute and the
eighth attempt at least 63.5 minutes after the first. The schedule lives in the database
(``next_attempt_at``), not in a process, because it must outlast restarts: that is why no
in-process retry library (tenacity, backoff) is used here.
"""

from __future__ import annotations

import hashlib
import hmac
import random
from dataclasses import dataclass
from datetime import timedelta

import httpx

from resolvers.events.url_policy import UrlPolicy

__all__ = ["Attempt", "Outcome", "retry_delay", "send", "signature"]

_ERROR_LENGTH = 500


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The ``Masthead-Signature`` header's value."""
    signed = str(timestamp).encode() + b"." + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def retry_delay(attempts: int, *, base: float, rng: random.Random | None = None) -> timedelta:
    """How long after failed attempt number ``attempts`` (1 for the first) the next is due."""
    jitter = (rng or random).uniform(1.0, 1.5)
    return timedelta(seconds=base * 2 ** (attempts - 1) * jitter)


@dataclass(frozen=True)
class Attempt:
    """One delivery to send."""

    delivery_id: str
    event_id: str
    event_type: str
    url: str
    secret: str
    body: bytes


@dataclass(frozen=True)
class Outcome:
    """How an attempt went: ``response_status`` None when no answer came."""

    delivered: bool
    response_status: int | None
    error: str | None


async def send(
    client: httpx.AsyncClient, attempt: Attempt, *, policy: UrlPolicy, timestamp: int
) -> Outcome:
    """POST the delivery once (the client's timeout bounds it); never raises for the
    receiver's failures."""
    refusal = await policy.refusal(attempt.url)
    if refusal is not None:
        return Outcome(False, None, refusal)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Masthead-Webhooks",
        "Masthead-Event-Type": attempt.event_type,
        "Masthead-Event-Id": attempt.event_id,
        "Masthead-Delivery-Id": attempt.delivery_id,
        "Masthead-Signature": signature(attempt.secret, timestamp, attempt.body),
    }
    try:
        response = await client.post(attempt.url, content=attempt.body, headers=headers)
    except httpx.TimeoutException:
        return Outcome(False, None, "No answer within the time limit.")
    except httpx.HTTPError as error:
        return Outcome(False, None, f"{type(error).__name__}: {error}"[:_ERROR_LENGTH])
    if 200 <= response.status_code < 300:
        return Outcome(True, response.status_code, None)
    return Outcome(
        False, response.status_code, f"Answered {response.status_code}, not 2xx."[:_ERROR_LENGTH]
    )
