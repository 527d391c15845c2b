"""Rate limits per token and per client address, spent by each operation's cost.

The budget is ``MASTHEAD_RATE_LIMIT`` cost a minute (a sliding window), counted in
process, or in Redis when ``MASTHEAD_REDIS_URL`` is set so that every process shares one
budget. It is the ``limits`` package's sliding-window counter; a Redis that cannot be
reached lets requests through (a limiter outage must not become an API outage). In process
the package's synchronous API counts: nothing there waits, and its coroutine wrappers cost
more than the counting (a fifth of a cache hit).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import math
import time
from dataclasses import dataclass

from limits import RateLimitItemPerMinute
from limits.aio.storage import RedisStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.storage import MemoryStorage
from limits.strategies import (
    SlidingWindowCounterRateLimiter as InProcessSlidingWindowCounterRateLimiter,
)
from starlette.requests import HTTPConnection

from masthead.authentication import TokenUser
from masthead.redis_pool import connection_pool
from schema.context import Allowance

__all__ = [
    "REFUSED_TOKENS_A_MINUTE",
    "ClientBudget",
    "InlineExpiryStorage",
    "RateLimits",
    "TokenGuesses",
]

logger = logging.getLogger("masthead.rate_limits")


class InlineExpiryStorage(MemoryStorage):
    """``limits``' in-process storage, less its expiry thread.

    The package expires keys from a ``threading.Timer`` of 10 ms that every hit restarts once
    it has run: a new thread for nearly every request, which then takes the GIL from the
    event loop to walk every key (a tenth of a millisecond a request, profiled). Counts stay
    exact without it (``get`` ignores an expired key); here the walk that frees their memory
    runs inline, at most once a second.
    """

    SWEEP_INTERVAL = 1.0

    def __init__(self) -> None:
        super().__init__()
        self.timer.cancel()
        self._next_sweep = 0.0

    # The package's hook, name-mangled (``self.__schedule_expiry()`` in MemoryStorage).
    def _MemoryStorage__schedule_expiry(self) -> None:
        now = time.monotonic()
        if now >= self._next_sweep:
            self._next_sweep = now + self.SWEEP_INTERVAL
            self._MemoryStorage__expire_events()  # type: ignore[attr-defined]  # the package's walk


class RateLimits:
    def __init__(self, per_minute: int, *, redis_url: str | None, namespace: str) -> None:
        self.per_minute = per_minute
        self._item = RateLimitItemPerMinute(per_minute, namespace=namespace)
        self._expiry = self._item.get_expiry()
        # Owned here, so that close() can release its connections.
        self._pool = connection_pool(redis_url) if redis_url else None
        self._shared: SlidingWindowCounterRateLimiter | None = None
        self._local: InProcessSlidingWindowCounterRateLimiter | None = None
        self._storage: InlineExpiryStorage | None = None
        self._keys: dict[str, str] = {}
        if self._pool is not None:
            storage = RedisStorage(
                "async+redis://",
                implementation="redispy",
                key_prefix=namespace,
                connection_pool=self._pool,  # type: ignore[arg-type]  # typed as scalars; redis-py takes a pool
            )
            self._shared = SlidingWindowCounterRateLimiter(storage)
        else:
            self._storage = InlineExpiryStorage()
            self._local = InProcessSlidingWindowCounterRateLimiter(self._storage)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()

    async def exhausted(self, identity: str, cost: int) -> int | None:
        """Seconds until ``identity`` can afford ``cost`` again, or None if it can now."""
        if self._local is not None:
            if self._local.test(self._item, identity, cost=cost):
                return None
            stats = self._local.get_window_stats(self._item, identity)
        else:
            assert self._shared is not None
            try:
                if await self._shared.test(self._item, identity, cost=cost):
                    return None
                stats = await self._shared.get_window_stats(self._item, identity)
            except Exception as error:  # the limiter's store is away: let the request through
                logger.warning("rate limits not counted: %s", error)
                return None
        return max(1, math.ceil(stats.reset_time - time.time()))

    async def spend(self, identity: str, cost: int) -> Allowance:
        """Take ``cost`` from ``identity``'s budget, if what is left covers it."""
        if self._storage is not None:
            return self._spend_here(self._storage, identity, cost)
        assert self._shared is not None
        try:
            allowed = await self._shared.hit(self._item, identity, cost=cost)
            stats = await self._shared.get_window_stats(self._item, identity)
        except Exception as error:  # the limiter's store is away: let the request through
            logger.warning("rate limits not counted: %s", error)
            return Allowance(True, self.per_minute, self.per_minute, 0)
        reset = max(0, math.ceil(stats.reset_time - time.time()))
        return Allowance(allowed, self.per_minute, max(stats.remaining, 0), reset)

    def _spend_here(self, storage: InlineExpiryStorage, identity: str, cost: int) -> Allowance:
        """``spend`` in process: the strategy's ``hit`` and ``get_window_stats`` on the
        storage itself, the identity's key made once. The strategy's layers (a key built
        twice, a wrapper per storage call) were a third of the counting, which every cache
        hit pays."""
        key = self._keys.get(identity)
        if key is None:
            if len(self._keys) >= _KEYS_REMEMBERED:
                self._keys.clear()
            key = self._keys[identity] = self._item.key_for(identity)
        amount, expiry = self._item.amount, self._expiry
        allowed = storage.acquire_sliding_window_entry(key, amount, expiry, cost)
        previous, previous_expires_in, current, current_expires_in = storage.get_sliding_window(
            key, expiry
        )
        # As SlidingWindowCounterRateLimiter.get_window_stats computes them.
        weighted = previous * previous_expires_in / expiry + current
        remaining = max(0, amount - math.floor(weighted))
        reset_in = math.inf
        if previous:
            reset_in = previous_expires_in % (expiry / previous)
        if current:
            reset_in = min(reset_in, current_expires_in % expiry)
        reset = 0 if reset_in == math.inf else max(0, math.ceil(reset_in))
        return Allowance(allowed, self.per_minute, remaining, reset)


# Identities whose storage keys a limiter remembers (client addresses and tokens).
_KEYS_REMEMBERED = 4096

# A refused token spends a fiftieth of its address's budget: 50 guesses a minute whatever
# the budget, and none once the address has spent it on queries.
REFUSED_TOKENS_A_MINUTE = 50


def _address(conn: HTTPConnection) -> str:
    # uvicorn puts the forwarded address here only for MASTHEAD_TRUSTED_PROXIES.
    return _address_key(conn.client.host if conn.client is not None else "unknown")


@functools.lru_cache(maxsize=4096)
def _address_key(host: str) -> str:
    return f"address:{hashlib.sha256(host.encode()).hexdigest()[:16]}"


@dataclass(frozen=True)
class TokenGuesses:
    """Refused tokens spend their address's budget, so tokens cannot be guessed freely."""

    limits: RateLimits

    @property
    def cost(self) -> int:
        return max(1, self.limits.per_minute // REFUSED_TOKENS_A_MINUTE)

    async def wait(self, conn: HTTPConnection) -> int | None:
        return await self.limits.exhausted(_address(conn), self.cost)

    async def refused(self, conn: HTTPConnection) -> None:
        await self.limits.spend(_address(conn), self.cost)


@dataclass(frozen=True)
class ClientBudget:
    """One request's share of the limits: whose budget it spends."""

    limits: RateLimits
    identity: str

    @classmethod
    def of(cls, limits: RateLimits, conn: HTTPConnection) -> ClientBudget:
        user = conn.scope.get("user")
        if isinstance(user, TokenUser):
            return cls(limits, f"token:{user.key}")
        return cls(limits, _address(conn))

    async def spend(self, cost: int) -> Allowance:
        return await self.limits.spend(self.identity, max(cost, 1))
