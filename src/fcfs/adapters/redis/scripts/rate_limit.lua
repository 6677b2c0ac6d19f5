-- rate_limit.lua: count one hit in each subject's fixed window, in one atomic step.
--
-- KEYS[i]  <prefix>:{c:<couponId>}:rl:<subject>   hits in the current window (expires with it)
-- ARGV[1]  window length in milliseconds
-- ARGV[1+i]  the limit for KEYS[i]
--
-- A window opens with a subject's first hit and lasts ARGV[1]. Every hit is counted,
-- refused ones too, so hammering does not shorten the wait.
--
-- Returns:
--   0  every limit admits the hit
--   n  milliseconds until the fullest window over its limit ends
local window = tonumber(ARGV[1])
local wait = 0
for i, key in ipairs(KEYS) do
  local hits = redis.call('INCR', key)
  local ttl = redis.call('PTTL', key)
  if hits == 1 or ttl < 0 then
    redis.call('PEXPIRE', key, window)
    ttl = window
  end
  if hits > tonumber(ARGV[1 + i]) and ttl > wait then
    wait = ttl
  end
end
return wait
