"""The budget's Lua scripts: every change to the budget counters is one atomic script.

Why Lua and not MULTI/WATCH: a premium grant is check-then-reserve against a counter that
every call shares (the day's); under WATCH, 200 concurrent requests would retry each
other many times over, while a script runs each request whole, one after the other, on
the Redis server. Nothing is kept in the process, so any ledger instance (a restarted
one, a second replica) continues from the same counters.

All money is integer micro-dollars (µ$). Redis Lua numbers are doubles, which are exact
for integers below 2^53; `cost` refuses anything larger instead of rounding silently,
and every value handed back to Redis is formatted as an integer (`int`), because Lua
would print large doubles in exponent notation.

Keys (the ledger builds the names):
- call hash: `tier`, `pinned` (an admin set the tier), `ended`, `seq` (decisions so far),
  `held` (µ$ of the grant's reservation not yet spent), `hold_day` (the day the hold
  counts against), `u_<part>` (units used: ms, ms, characters, tokens, tokens),
  `c_<part>` (µ$ of those units), `cost` (µ$, the call's total);
- day hash: `c_<part>`, `cost`, `premium_spent` (µ$ of premium tokens), `held`
  (outstanding reservations), `reserved` (every reservation made that day), and the
  counts `granted`, `refused`, `forced`, `revoked`, `downgraded`, `expired`;
- holds sorted set: one member per call holding premium (its CallSid), scored by the
  time (Unix seconds) its lease ends. A grant adds the call, a renewal moves its score
  later (never earlier: ledgers on different machines may disagree on the time by a
  little), and every release of the hold removes it, so the set is exactly the calls
  with a live premium hold and the expired ones are a range query away.

Leases: a call that holds premium and is still live (a usage update, a request, a
renewal) has its lease extended; `RELEASE_EXPIRED` releases a hold only if, inside the
script, its lease is still over and its hold day is the one the ledger read, so a
renewal that lands first always wins and no hold is released twice.

Scripts that touch the call's hold are passed the hold day's key (read beforehand) and
the day they expect; if the call's hold moved in between they return `retry`, so every
key a script touches is declared in KEYS.
"""

from __future__ import annotations

# Usage parts, in the order RECORD_USAGE takes their (units, numerator, denominator).
USAGE_PARTS = ("telephony", "stt", "tts", "llm_economy", "llm_premium")

_COMMON = """
local function num(value) return tonumber(value) or 0 end
local function int(value) return string.format('%d', value) end
local EXACT = 9007199254740992  -- 2^53

-- round_half_up(units * n / d) in integers, exact while units * n < 2^53
local function cost(units, n, d)
  local product = units * n
  if product >= EXACT then error('budget: usage too large to price exactly') end
  local q = math.floor(product / d)
  local r = product - q * d
  -- the double division may land one off an integer; fix with exact remainders
  while r < 0 do q = q - 1; r = r + d end
  while r >= d do q = q + 1; r = r - d end
  if 2 * r >= d then q = q + 1 end
  return q
end

-- give back what is left of the call's reservation to the day it was taken from; the
-- lease goes with it
local function release_hold(call, holdday, holds, sid)
  local held = num(redis.call('HGET', call, 'held'))
  if held > 0 then redis.call('HINCRBY', holdday, 'held', int(-held)) end
  redis.call('HDEL', call, 'held', 'hold_day')
  redis.call('ZREM', holds, sid)
end

local function hold(call, today, date, reservation, holds, sid, expiry)
  redis.call('HSET', call, 'tier', 'premium', 'held', int(reservation), 'hold_day', date)
  redis.call('HINCRBY', today, 'held', int(reservation))
  redis.call('HINCRBY', today, 'reserved', int(reservation))
  redis.call('ZADD', holds, expiry, sid)
end

-- a live premium call's lease ends no sooner than `expiry`
local function renew(call, holds, sid, expiry)
  if redis.call('HGET', call, 'tier') ~= 'premium' or redis.call('HGET', call, 'ended') == '1' then
    return
  end
  local current = redis.call('ZSCORE', holds, sid)
  if not current or tonumber(current) < tonumber(expiry) then
    redis.call('ZADD', holds, expiry, sid)
  end
end

local function next_seq(call)
  return redis.call('HINCRBY', call, 'seq', 1) - 1
end

local function committed(today)
  return num(redis.call('HGET', today, 'premium_spent')) + num(redis.call('HGET', today, 'held'))
end

local function hold_moved(call, expected)
  return (redis.call('HGET', call, 'hold_day') or '') ~= expected
end
"""

# KEYS: call, today, hold day, the call's set of applied update ids, holds
# ARGV: expected hold day, update id, call ttl, day ttl, per-call cap µ$, daily budget µ$,
#       call sid, lease expiry, then (units, numerator, denominator) for each of USAGE_PARTS
# Returns: status ('ok' | 'duplicate' | 'retry'), tier, downgrade reason ('' for none),
#          downgrade seq (-1 for none), c_<part> for each of USAGE_PARTS, call cost,
#          day cost
RECORD_USAGE = _COMMON + """
local call, today, holdday, applied, holds = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
if hold_moved(call, ARGV[1]) then return {'retry'} end
local call_ttl, day_ttl = ARGV[3], ARGV[4]
local cap, budget = num(ARGV[5]), num(ARGV[6])
local sid, expiry = ARGV[7], ARGV[8]
local parts = {'telephony', 'stt', 'tts', 'llm_economy', 'llm_premium'}

-- Price everything before writing anything: a script that fails half-way keeps the
-- writes it made. The call's cumulative units are priced, so many small updates cost
-- exactly what one update of their sum would: rounding happens once per call and part.
local priced = {}
for i, part in ipairs(parts) do
  local base = 8 + (i - 1) * 3
  local delta = num(ARGV[base + 1])
  if delta > 0 then
    local units = num(redis.call('HGET', call, 'u_' .. part)) + delta
    priced[part] = {units, cost(units, num(ARGV[base + 2]), num(ARGV[base + 3]))}
  end
end

-- an update seen before (a retried request) changes nothing
local status = 'duplicate'
local downgrade, seq = '', -1
if redis.call('SADD', applied, ARGV[2]) == 1 then
  status = 'ok'
  local total, premium = 0, 0
  for _, part in ipairs(parts) do
    local entry = priced[part]
    if entry then
      local old = num(redis.call('HGET', call, 'c_' .. part))
      local new = entry[2]
      redis.call('HSET', call, 'u_' .. part, int(entry[1]), 'c_' .. part, int(new))
      redis.call('HINCRBY', today, 'c_' .. part, int(new - old))
      total = total + new - old
      if part == 'llm_premium' then premium = new - old end
    end
  end
  redis.call('HINCRBY', call, 'cost', int(total))
  redis.call('HINCRBY', today, 'cost', int(total))

  -- premium tokens are drawn from the call's reservation first
  if premium > 0 then
    redis.call('HINCRBY', today, 'premium_spent', int(premium))
    local used = math.min(num(redis.call('HGET', call, 'held')), premium)
    if used > 0 then
      redis.call('HINCRBY', call, 'held', int(-used))
      redis.call('HINCRBY', holdday, 'held', int(-used))
    end
  end

  -- premium lasts while the cap and the day allow; an admin's choice stands, and an
  -- ended call's late usage changes no tier
  local live = redis.call('HGET', call, 'ended') ~= '1'
  if live and redis.call('HGET', call, 'tier') == 'premium'
      and redis.call('HGET', call, 'pinned') ~= '1' then
    if num(redis.call('HGET', call, 'cost')) >= cap then
      downgrade = 'per_call_cap'
    elseif num(redis.call('HGET', call, 'held')) == 0 and committed(today) >= budget then
      -- spending beyond its reservation, and the day has nothing left unreserved
      downgrade = 'daily_budget'
    end
    if downgrade ~= '' then
      release_hold(call, holdday, holds, sid)
      redis.call('HSET', call, 'tier', 'economy')
      redis.call('HINCRBY', today, 'downgraded', 1)
      seq = next_seq(call)
    end
  end
end
-- usage, even a retried update, shows the call is alive
renew(call, holds, sid, expiry)
redis.call('EXPIRE', applied, call_ttl)
redis.call('EXPIRE', call, call_ttl)
redis.call('EXPIRE', today, day_ttl)

local reply = {status, redis.call('HGET', call, 'tier') or 'economy', downgrade, seq}
for _, part in ipairs(parts) do
  reply[#reply + 1] = num(redis.call('HGET', call, 'c_' .. part))
end
reply[#reply + 1] = num(redis.call('HGET', call, 'cost'))
reply[#reply + 1] = num(redis.call('HGET', today, 'cost'))
return reply
"""

# KEYS: call, today, holds
# ARGV: eligible ('1' | '0'), per-call cap µ$, daily budget µ$, reservation µ$, today's
#       date, call ttl, day ttl, call sid, lease expiry
# Returns: verdict, seq (-1 when nothing was decided), call cost µ$, day committed µ$
#   verdict: already_premium | call_ended | not_eligible | pinned | per_call_cap |
#            daily_budget | granted
REQUEST_PREMIUM = _COMMON + """
local call, today, holds = KEYS[1], KEYS[2], KEYS[3]
local cap, budget, reservation = num(ARGV[2]), num(ARGV[3]), num(ARGV[4])
local sid, expiry = ARGV[8], ARGV[9]
local spent = num(redis.call('HGET', call, 'cost'))
local ended = redis.call('HGET', call, 'ended') == '1'
-- a retried or repeated request for a premium call reserves nothing more, but shows the
-- call is alive
if not ended and redis.call('HGET', call, 'tier') == 'premium' then
  renew(call, holds, sid, expiry)
  return {'already_premium', -1, spent, committed(today)}
end

local verdict
if ended then
  verdict = 'call_ended'
elseif ARGV[1] ~= '1' then
  verdict = 'not_eligible'
elseif redis.call('HGET', call, 'pinned') == '1' then
  verdict = 'pinned'
elseif spent >= cap then
  verdict = 'per_call_cap'
elseif committed(today) + reservation > budget then
  verdict = 'daily_budget'
else
  verdict = 'granted'
  hold(call, today, ARGV[5], reservation, holds, sid, expiry)
end
redis.call('HINCRBY', today, verdict == 'granted' and 'granted' or 'refused', 1)
local seq = next_seq(call)
redis.call('EXPIRE', call, ARGV[6])
redis.call('EXPIRE', today, ARGV[7])
return {verdict, seq, spent, committed(today)}
"""

# KEYS: call, today, hold day, holds
# ARGV: expected hold day, tier ('premium' | 'economy'), reservation µ$, today's date,
#       call ttl, day ttl, call sid, lease expiry
# Returns: verdict ('forced' | 'call_ended' | 'retry'), seq, previous tier
FORCE_TIER = _COMMON + """
local call, today, holdday, holds = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
if hold_moved(call, ARGV[1]) then return {'retry'} end
local sid, expiry = ARGV[7], ARGV[8]
local previous = redis.call('HGET', call, 'tier') or 'economy'
local seq = next_seq(call)
if redis.call('HGET', call, 'ended') == '1' then return {'call_ended', seq, previous} end
if ARGV[2] == 'premium' then
  -- an admin's grant still reserves, so the day's books show it (it may exceed the budget)
  if previous ~= 'premium' then
    hold(call, today, ARGV[4], num(ARGV[3]), holds, sid, expiry)
    redis.call('HINCRBY', today, 'forced', 1)
  else
    renew(call, holds, sid, expiry)
  end
else
  release_hold(call, holdday, holds, sid)
  redis.call('HSET', call, 'tier', 'economy')
  if previous == 'premium' then redis.call('HINCRBY', today, 'revoked', 1) end
end
-- pinned: automatic requests and downgrades leave the admin's choice alone
redis.call('HSET', call, 'pinned', '1')
redis.call('EXPIRE', call, ARGV[5])
redis.call('EXPIRE', today, ARGV[6])
return {'forced', seq, previous}
"""

# KEYS: call, hold day, holds
# ARGV: expected hold day, call ttl, call sid
# Returns: status ('ok' | 'retry'), µ$ released
END_CALL = _COMMON + """
local call, holdday, holds = KEYS[1], KEYS[2], KEYS[3]
if hold_moved(call, ARGV[1]) then return {'retry'} end
local released = num(redis.call('HGET', call, 'held'))
release_hold(call, holdday, holds, ARGV[3])
redis.call('HSET', call, 'ended', '1')
redis.call('EXPIRE', call, ARGV[2])
return {'ok', released}
"""

# KEYS: call, holds
# ARGV: call sid, lease expiry
# Returns: the call's tier
RENEW_HOLD = _COMMON + """
renew(KEYS[1], KEYS[2], ARGV[1], ARGV[2])
return redis.call('HGET', KEYS[1], 'tier') or 'economy'
"""

# KEYS: holds, today, then (call, hold day) for each candidate
# ARGV: now, call ttl, day ttl, then (call sid, expected hold day) for each candidate
# Returns: one {call sid, seq (-1: no decision), µ$ released, lease expiry, hold day,
#          pinned ('1' | '0')} per released hold; candidates renewed or released since
#          they were read are left alone
RELEASE_EXPIRED = _COMMON + """
local holds, today = KEYS[1], KEYS[2]
local now = tonumber(ARGV[1])
local released = {}
for j = 1, (#KEYS - 2) / 2 do
  local call, holdday = KEYS[1 + 2 * j], KEYS[2 + 2 * j]
  local sid, expected = ARGV[2 + 2 * j], ARGV[3 + 2 * j]
  local expiry = redis.call('ZSCORE', holds, sid)
  -- checked here, not by the ledger: a renewal between its read and this script wins
  if expiry and tonumber(expiry) <= now and not hold_moved(call, expected) then
    local amount = num(redis.call('HGET', call, 'held'))
    local premium = redis.call('HGET', call, 'tier') == 'premium'
        and redis.call('HGET', call, 'ended') ~= '1'
    local pinned = redis.call('HGET', call, 'pinned') == '1'
    release_hold(call, holdday, holds, sid)
    local seq = -1
    if premium then
      -- an admin's premium lasted only as long as its lease: the pin goes with it, so
      -- the call is under the policy again if it turns out to be alive
      redis.call('HSET', call, 'tier', 'economy')
      redis.call('HDEL', call, 'pinned')
      redis.call('HINCRBY', today, 'expired', 1)
      seq = next_seq(call)
      redis.call('EXPIRE', call, ARGV[2])
      redis.call('EXPIRE', today, ARGV[3])
    end
    released[#released + 1] = {sid, seq, int(amount), expiry, expected, pinned and '1' or '0'}
  end
end
return released
"""
