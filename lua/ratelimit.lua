-- GCRA rate limiting over any number of limits, atomically (DESIGN.md §3).
--
-- Each limit is one key holding its theoretical arrival time (TAT) in
-- microseconds of Redis TIME, so gateway clocks never matter. A limit with
-- `interval` microseconds per unit and a burst of `burst` units admits a cost
-- while TAT + cost*interval - now <= burst*interval.
--
-- KEYS[i]: the key of limit i. All keys share one hash tag (Redis Cluster).
-- ARGV[1]: mode, "take" or "adjust".
-- ARGV[2 + 3(i-1) ..]: interval_us, burst, amount of limit i.
--   take:   amount is the cost; all limits admit it, or none is charged.
--   adjust: amount is a signed correction (actual - estimated), applied
--           without a decision; TAT never falls below now.
--
-- Returns {allowed (1/0), denied limit index (0 = none), retry_after_us,
--          then remaining_units, reset_us for each limit}.

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local mode = ARGV[1]
local n = #KEYS

local function limit(i)
  local base = 2 + 3 * (i - 1)
  return tonumber(ARGV[base]), tonumber(ARGV[base + 1]), tonumber(ARGV[base + 2])
end

local function tat_of(i)
  local stored = tonumber(redis.call('GET', KEYS[i]))
  if stored == nil or stored < now then
    return now
  end
  return stored
end

local tats = {}
local allowed = 1
local denied = 0
local retry_after = 0

for i = 1, n do
  local interval, burst, amount = limit(i)
  local tat = tat_of(i)
  if mode == 'adjust' then
    tats[i] = math.max(tat + amount * interval, now)
  else
    local new_tat = tat + amount * interval
    local over = new_tat - now - burst * interval
    if over > 0 then
      allowed = 0
      if over > retry_after then
        retry_after = over
        denied = i
      end
    end
    tats[i] = new_tat
  end
end

local out = {allowed, denied, math.ceil(retry_after)}
for i = 1, n do
  local interval, burst, amount = limit(i)
  local tat = tats[i]
  if mode == 'take' and allowed == 0 then
    tat = tat_of(i)
  elseif amount ~= 0 then
    local ttl_ms = math.ceil((tat - now) / 1000) + 1000
    redis.call('SET', KEYS[i], string.format('%.0f', tat), 'PX', ttl_ms)
  end
  local remaining = math.floor((burst * interval - (tat - now)) / interval)
  if remaining < 0 then
    remaining = 0
  end
  table.insert(out, remaining)
  table.insert(out, math.ceil(tat - now))
end
return out
