"""Rate limits per token and per address, spent by cost, in process or shared in Redis."""

from __future__ import annotations

import asyncio
import math
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx
import pytest
from limits import RateLimitItemPerMinute
from limits.strategies import SlidingWindowCounterRateLimiter
from starlette.applications import Starlette

from masthead.app import close, create_app
from masthead.examples import HOME
from masthead.rate_limits import InlineExpiryStorage, RateLimits
from masthead.settings import Settings
from resolvers.access.viewer import Role
from tests.support.auth import bearer
from tests.support.live_server import live_server

REDIS_URL = "redis://127.0.0.1:6379/0"
HOME_COST = 82


@asynccontextmanager
async def _client(app: Starlette, address: str = "10.0.0.1") -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=(address, 4711))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@asynccontextmanager
async def _app(settings: Settings, **values: object) -> AsyncIterator[Starlette]:
    app = create_app(settings.model_copy(update=values))
    yield app
    await close(app)


async def _home(client: httpx.AsyncClient, **headers: str) -> httpx.Response:
    return await client.post("/graphql", json={"query": HOME}, headers=headers)


async def test_each_answer_spends_its_cost_and_says_what_is_left(settings: Settings) -> None:
    async with _app(settings, rate_limit=200) as app, _client(app) as client:
        first = await _home(client)
        assert first.status_code == 200
        assert first.headers["ratelimit-limit"] == "200"
        assert first.headers["ratelimit-remaining"] == str(200 - HOME_COST)
        assert 0 <= int(first.headers["ratelimit-reset"]) <= 60
        throttle = first.json()["extensions"]["cost"]["throttleStatus"]
        assert throttle == {"currentlyAvailable": 200 - HOME_COST, "restoreRate": 3.33}
        assert (await _home(client)).status_code == 200
        refused = await _home(client)
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) >= 1
        assert refused.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        assert "data" not in refused.json()


async def test_counting_in_process_starts_no_thread(settings: Settings) -> None:
    # limits' own storage started a thread (alive 10 ms) on nearly every request to expire
    # its keys; each thread has a name of its own.
    async with _app(settings, rate_limit=10_000) as app, _client(app) as client:
        await _home(client)
        before = {thread.name for thread in threading.enumerate()}
        started: set[str] = set()
        for _ in range(3):
            await asyncio.sleep(0.02)  # past the 10 ms after which limits' timer restarted
            assert (await _home(client)).status_code == 200
            started |= {thread.name for thread in threading.enumerate()} - before
        assert not started


def test_expired_counts_are_freed_inline() -> None:
    storage = InlineExpiryStorage()
    storage.incr("gone", expiry=0)
    storage.incr("kept", expiry=60)
    storage._next_sweep = 0.0
    storage.incr("trigger", expiry=60)  # the sweep runs inline, before this count
    assert "gone" not in storage.storage
    assert storage.storage["kept"] == 1


async def test_counting_in_process_is_the_strategy_of_limits() -> None:
    """In process the storage is counted directly; what it says is what limits' own sliding
    window strategy says of the same hits, refusals included."""
    limits = RateLimits(100, redis_url=None, namespace="test")
    item = RateLimitItemPerMinute(100, namespace="test")
    strategy = SlidingWindowCounterRateLimiter(InlineExpiryStorage())
    for identity, cost in [("a", 21), ("a", 21), ("b", 99), ("a", 50), ("b", 2), ("a", 7)] * 2:
        allowance = await limits.spend(identity, cost)
        allowed = strategy.hit(item, identity, cost=cost)
        stats = strategy.get_window_stats(item, identity)
        reset = max(0, math.ceil(stats.reset_time - time.time()))
        assert (allowance.allowed, allowance.remaining) == (allowed, stats.remaining)
        assert allowance.reset_seconds in (reset, reset + 1)
        assert allowance.limit == 100
    assert not (await limits.spend("a", 2)).allowed  # 99 of 100 spent


async def test_addresses_and_tokens_have_budgets_of_their_own(settings: Settings) -> None:
    async with _app(settings, rate_limit=100) as app:
        sessionmaker = app.state.sessionmaker
        token = await bearer(sessionmaker, Role.EDITOR)
        async with _client(app, "10.0.0.1") as one, _client(app, "10.0.0.2") as other:
            assert (await _home(one)).status_code == 200
            assert (await _home(one)).status_code == 429
            assert (await _home(other)).status_code == 200
            # A token's budget is its own, wherever it is sent from.
            assert (await _home(one, **token)).status_code == 200
            assert (await _home(other, **token)).status_code == 429


async def test_a_batch_spends_the_cost_of_each_of_its_operations(settings: Settings) -> None:
    async with _app(settings, rate_limit=300) as app, _client(app) as client:
        batch = await client.post("/graphql", json=[{"query": HOME}] * 3)
        assert batch.status_code == 200
        answers = batch.json()
        assert all("errors" not in answer for answer in answers)
        left = sorted(
            a["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] for a in answers
        )
        assert left == [300 - 3 * HOME_COST, 300 - 2 * HOME_COST, 300 - HOME_COST]
        assert batch.headers["ratelimit-remaining"] == str(300 - 3 * HOME_COST)
        # 54 is left: the batch's three operations were spent, not one.
        assert (await _home(client)).status_code == 429
    async with _app(settings, rate_limit=300) as app, _client(app) as client:
        # Over the budget within one batch: what it covers runs, the rest is refused.
        over = await client.post("/graphql", json=[{"query": HOME}] * 4)
        assert over.status_code == 429
        assert int(over.headers["retry-after"]) >= 1
        answers = over.json()
        codes = [a["errors"][0]["extensions"]["code"] for a in answers if "errors" in a]
        assert codes == ["RATE_LIMITED"]
        assert sum("data" in answer for answer in answers) == 3


async def test_zero_switches_limits_off(settings: Settings) -> None:
    async with _app(settings, rate_limit=0) as app, _client(app) as client:
        for _ in range(3):
            response = await _home(client)
            assert response.status_code == 200
            assert "ratelimit-limit" not in response.headers
            assert "throttleStatus" not in response.json()["extensions"]["cost"]


@pytest.fixture
def redis_settings(settings: Settings) -> Callable[[], Settings]:
    namespace = f"masthead-test-{uuid.uuid4().hex[:8]}"

    def shared() -> Settings:
        return settings.model_copy(
            update={"rate_limit": 200, "redis_url": REDIS_URL, "redis_namespace": namespace}
        )

    return shared


async def test_processes_share_one_budget_in_redis(
    redis_settings: Callable[[], Settings],
) -> None:
    # Two apps, as two processes would be: what one spends, the other sees.
    async with (
        _app(redis_settings()) as first,
        _app(redis_settings()) as second,
        _client(first) as one,
        _client(second) as two,
    ):
        assert (await _home(one)).headers["ratelimit-remaining"] == str(200 - HOME_COST)
        answer = await _home(two)
        assert answer.headers["ratelimit-remaining"] == str(200 - 2 * HOME_COST)
        assert (await _home(one)).status_code == 429
        assert (await _home(two)).status_code == 429


async def test_an_unreachable_redis_lets_requests_through(settings: Settings) -> None:
    unreachable = {"rate_limit": 10, "redis_url": "redis://127.0.0.1:9/0"}
    async with _app(settings, **unreachable) as app, _client(app) as client:
        assert (await _home(client)).status_code == 200


async def test_refused_tokens_spend_their_address_budget(settings: Settings) -> None:
    # Each refused token costs a fiftieth of the budget: here 50 fit, the 51st is not even
    # looked up.
    async with _app(settings, rate_limit=500) as app, _client(app, "10.0.0.9") as client:
        guess = {"Authorization": "Bearer mh_guess"}
        for _ in range(50):
            refused = await _home(client, **guess)
            assert refused.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        limited = await _home(client, **guess)
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) >= 1
        assert limited.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        async with _client(app, "10.0.0.10") as elsewhere:
            other = await _home(elsewhere, **guess)
            assert other.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


FORWARDED = "203.0.113.1"
FORWARDED_ELSEWHERE = "203.0.113.2"


@pytest.mark.parametrize(
    ("trusted_proxies", "believed"),
    [("127.0.0.1", True), ("", False), ("192.0.2.1", False)],
    ids=["peer-trusted", "none-trusted", "other-trusted"],
)
async def test_forwarded_addresses_are_believed_only_from_trusted_proxies(
    settings: Settings, trusted_proxies: str, believed: bool
) -> None:
    # Through uvicorn with ``masthead serve``'s options: it, not the app, reads the header.
    limited = settings.model_copy(update={"rate_limit": 100, "trusted_proxies": trusted_proxies})
    async with (
        live_server(limited) as server,
        httpx.AsyncClient(base_url=server.url, trust_env=False) as client,
    ):
        first = await _home(client, **{"x-forwarded-for": FORWARDED})
        assert first.status_code == 200
        assert first.headers["ratelimit-remaining"] == str(100 - HOME_COST)
        assert (await _home(client, **{"x-forwarded-for": FORWARDED})).status_code == 429
        # Believed, each forwarded address and the proxy itself have budgets of their own;
        # not, every request spends the connecting peer's one budget, whatever it claims.
        for headers in ({"x-forwarded-for": FORWARDED_ELSEWHERE}, {}):
            answer = await _home(client, **headers)
            assert answer.status_code == (200 if believed else 429), headers
            if believed:
                assert answer.headers["ratelimit-remaining"] == str(100 - HOME_COST)
