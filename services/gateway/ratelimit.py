"""Per-user rate limit in Redis: a token bucket updated atomically by one Lua script.

Key ``<prefix>rl:<tenant>:<user>`` (a hash of ``tokens`` and ``ts``) expires once the bucket would be
full again, so idle users leave nothing behind. The script reads the clock with ``TIME`` on the Redis
server, so every gateway instance shares one clock and one bucket per user.
"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import quote

from redis.asyncio import Redis

# KEYS[1] bucket; ARGV: capacity, refill per second, cost. Returns {allowed 0/1, retry_after_ms}.
_TOKEN_BUCKET = """
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = capacity
  ts = now
end
tokens = math.min(capacity, tokens + math.max(0, now - ts) * rate / 1000)
local allowed = 0
local retry_ms = 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
else
  retry_ms = math.ceil((cost - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((capacity - tokens) * 1000 / rate) + 1000)
return {allowed, retry_ms}
"""


class RateLimiter:
    """``capacity`` asks at once per user, refilled at ``capacity / per_s`` asks per second."""

    def __init__(self, redis: Redis, capacity: int = 20, per_s: float = 60.0, prefix: str = "ragstream:gw:"):
        if capacity < 1 or per_s <= 0:
            raise ValueError("capacity must be >= 1 and per_s > 0")
        self.redis = redis
        self.capacity = capacity
        self.rate = capacity / per_s
        self.prefix = prefix
        self._script: Any = redis.register_script(_TOKEN_BUCKET)

    def key(self, tenant: str, user: str) -> str:
        """One bucket per (tenant, user): a colon in either is escaped, so tenant "a" with user "b:c"
        and tenant "a:b" with user "c" are two buckets."""
        return f"{self.prefix}rl:{quote(tenant, safe='')}:{quote(user, safe='')}"

    async def allow(self, tenant: str, user: str, cost: int = 1) -> tuple[bool, float]:
        """(allowed, seconds to wait before the next ask can pass; 0.0 when allowed)."""
        allowed, retry_ms = await self._script(
            keys=[self.key(tenant, user)], args=[self.capacity, repr(self.rate), cost]
        )
        return bool(int(allowed)), 0.0 if int(allowed) else math.ceil(int(retry_ms) / 100) / 10
