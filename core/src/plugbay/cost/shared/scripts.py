"""Lua scripts: each runs atomically inside Redis, so concurrent processes cannot both
pass a check and then both count (the overspend / over-admit race)."""

from __future__ import annotations

__all__ = ["BUDGET_RESERVE", "BUDGET_SETTLE", "LIMIT_ACQUIRE"]

# KEYS: counter hashes {spent, reserved}. ARGV[1]: amount; ARGV[1+i]: limit of key i ("" =
# soft); ARGV[1+n+i]: ttl of key i. Returns {failed index or 0, spent_1, reserved_1, ...}.
BUDGET_RESERVE = """
local n = #KEYS
local amount = tonumber(ARGV[1])
local failed = 0
for i, k in ipairs(KEYS) do
  local lim = ARGV[1 + i]
  if lim ~= '' then
    local s = tonumber(redis.call('HGET', k, 'spent') or '0')
    local r = tonumber(redis.call('HGET', k, 'reserved') or '0')
    if s + r + amount > tonumber(lim) + 1e-12 then failed = i break end
  end
end
if failed == 0 then
  for i, k in ipairs(KEYS) do
    redis.call('HINCRBYFLOAT', k, 'reserved', ARGV[1])
    redis.call('EXPIRE', k, tonumber(ARGV[1 + n + i]))
  end
end
local out = {failed}
for _, k in ipairs(KEYS) do
  table.insert(out, redis.call('HGET', k, 'spent') or '0')
  table.insert(out, redis.call('HGET', k, 'reserved') or '0')
end
return out
"""

# KEYS: counter hashes. ARGV[1]: reserved amount to release; ARGV[2]: actual cost.
# Returns each key's new {spent, reserved} as strings.
BUDGET_SETTLE = """
local out = {}
for _, k in ipairs(KEYS) do
  local r = tonumber(redis.call('HINCRBYFLOAT', k, 'reserved', '-' .. ARGV[1]))
  if r < 0 then redis.call('HSET', k, 'reserved', '0') r = 0 end
  table.insert(out, redis.call('HINCRBYFLOAT', k, 'spent', ARGV[2]))
  table.insert(out, tostring(r))
end
return out
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

