"""Lua scripts: each runs atomically inside Redis, so concurrent processes cannot both
pass a check and then both count (the overspend / over-admit race)."""

from __future__ import annotations

__all__ = ["BUDGET_READ", "BUDGET_RESERVE", "BUDGET_SETTLE", "LIMIT_ACQUIRE"]

# Budgets: per budget, a counter hash {spent} and a sorted set of the reservations still
# open ("holds"): member "<hold id>|<amount>", score = when it lapses (Redis's clock). A
# hold that is never settled (its process was killed) lapses after the hold TTL instead
# of counting against the budget until the period ends.
_HELD = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local function held(h)
  redis.call('ZREMRANGEBYSCORE', h, '-inf', now)
  local total = 0
  for _, m in ipairs(redis.call('ZRANGE', h, 0, -1)) do
    total = total + tonumber(string.match(m, '|(.*)$'))
  end
  return total
end
"""

# KEYS: counter, holds of budget 1, counter, holds of budget 2, ... ARGV[1]: amount;
# ARGV[2]: hold id; ARGV[3]: hold TTL (s); ARGV[3+i]: limit of budget i ("" = soft);
# ARGV[3+n+i]: TTL of budget i's keys. Returns {failed index or 0, spent_1, held_1, ...}.
BUDGET_RESERVE = _HELD + """
local n = #KEYS / 2
local amount = tonumber(ARGV[1])
local failed, sums = 0, {}
for i = 1, n do
  sums[i] = held(KEYS[2 * i])
  local lim = ARGV[3 + i]
  if failed == 0 and lim ~= '' then
    local s = tonumber(redis.call('HGET', KEYS[2 * i - 1], 'spent') or '0')
    if s + sums[i] + amount > tonumber(lim) + 1e-12 then failed = i end
  end
end
if failed == 0 then
  local member = ARGV[2] .. '|' .. ARGV[1]
  for i = 1, n do
    local ttl = tonumber(ARGV[3 + n + i])
    redis.call('ZADD', KEYS[2 * i], now + tonumber(ARGV[3]), member)
    redis.call('EXPIRE', KEYS[2 * i], ttl)
    redis.call('EXPIRE', KEYS[2 * i - 1], ttl)
    sums[i] = sums[i] + amount
  end
end
local out = {failed}
for i = 1, n do
  table.insert(out, redis.call('HGET', KEYS[2 * i - 1], 'spent') or '0')
  table.insert(out, tostring(sums[i]))
end
return out
"""

# KEYS: as for BUDGET_RESERVE. ARGV[1]: the hold's member ("<id>|<amount>", "" for none);
# ARGV[2]: actual cost. Returns each budget's new {spent, held} as strings.
BUDGET_SETTLE = _HELD + """
local out = {}
for i = 1, #KEYS / 2 do
  local k, h = KEYS[2 * i - 1], KEYS[2 * i]
  if ARGV[1] ~= '' then redis.call('ZREM', h, ARGV[1]) end
  local r = held(h)
  table.insert(out, redis.call('HINCRBYFLOAT', k, 'spent', ARGV[2]))
  if redis.call('TTL', k) == -1 then redis.call('EXPIRE', k, 172800) end
  table.insert(out, tostring(r))
end
return out
"""

# KEYS: one budget's counter and holds. Returns {spent, held}.
BUDGET_READ = _HELD + """
return {redis.call('HGET', KEYS[1], 'spent') or '0', tostring(held(KEYS[2]))}
"""

# Sliding 60 s window of 1 s buckets, on Redis's own clock (TIME) so that every process
# agrees. KEYS: requests hash, tokens hash, block key. ARGV: rpm, tpm, tokens (0 = none).
# Returns {second admitted or 0, wait seconds, requests in window, tokens in window}.
LIMIT_ACQUIRE = """
local t = redis.call('TIME')
local sec = tonumber(t[1])
local now = sec + tonumber(t[2]) / 1000000
local rpm, tpm, tokens = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local blocked = tonumber(redis.call('GET', KEYS[3]) or '0')
if blocked > now then return {0, tostring(blocked - now), 0, 0} end
local function window(key)
  local all = redis.call('HGETALL', key)
  local total, list = 0, {}
  for i = 1, #all, 2 do
    local s = tonumber(all[i])
    if s <= sec - 60 then
      redis.call('HDEL', key, all[i])
    else
      total = total + tonumber(all[i + 1])
      table.insert(list, {s, tonumber(all[i + 1])})
    end
  end
  table.sort(list, function(a, b) return a[1] < b[1] end)
  return total, list
end
local reqs, rl = window(KEYS[1])
local toks, tl = window(KEYS[2])
if rpm > 0 and reqs + 1 > rpm then
  return {0, tostring(rl[1][1] + 60 - now), reqs, toks}
end
if tpm > 0 and toks > 0 and toks + tokens > tpm then
  local need, acc = toks + tokens - tpm, 0
  for _, b in ipairs(tl) do
    acc = acc + b[2]
    if acc >= need then return {0, tostring(b[1] + 60 - now), reqs, toks} end
  end
  return {0, tostring(tl[#tl][1] + 60 - now), reqs, toks}
end
redis.call('HINCRBY', KEYS[1], sec, 1)
redis.call('EXPIRE', KEYS[1], 120)
redis.call('HINCRBY', KEYS[2], sec, tokens)
redis.call('EXPIRE', KEYS[2], 120)
return {sec, '0', reqs + 1, toks + tokens}
"""

