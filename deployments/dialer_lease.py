"""One dialer at a time: a lease in Redis, held while it works and renewed every tick.

A deploy may run two dialer replicas side by side for a while (a surge, a replacement
starting before the old one is gone). Two dialers would each count the other's calls
late and could resume an attempt the other is still placing, so only the lease holder
works. A holder that dies keeps the lease until it lapses (`lease_s`); its successor
then takes it and resumes what was left (`dialer.Dialer.resume_unplaced`).
"""

from __future__ import annotations

import redis.asyncio as aioredis

# KEYS: the lease. ARGV: holder, ttl in ms. 1 if `holder` holds it now.
_HOLD = """
local current = redis.call('GET', KEYS[1])
if current == false then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
if current == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""
# KEYS: the lease. ARGV: holder. Lets go only of one's own lease.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class DialerLease:
    def __init__(self, redis: aioredis.Redis, prefix: str, holder: str, lease_s: float) -> None:
        self.key = f"{prefix}:dialer:lease"
        self.holder = holder
        self._ttl_ms = int(lease_s * 1000)
        self._hold = redis.register_script(_HOLD)
        self._release = redis.register_script(_RELEASE)

    async def hold(self) -> bool:
        """Take the lease or renew it; whether this holder has it."""
        return bool(await self._hold(keys=[self.key], args=[self.holder, self._ttl_ms]))

    async def release(self) -> None:
        await self._release(keys=[self.key], args=[self.holder])
