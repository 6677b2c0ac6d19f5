-- issue_many.lua: issue.lua for a batch of attempts on one coupon, in arrival order, in one atomic step.
--
-- KEYS[1]  <prefix>:{c:<couponId>}:stock   integer units left
-- KEYS[2]  <prefix>:{c:<couponId>}:users   set of admitted user ids
-- KEYS[3]  <prefix>:{c:<couponId>}:state   hash {state, version}: the coupon's mirrored state (absent: open)
-- ARGV     user ids (decimal strings), one per attempt; a user may appear more than once
--
-- Returns a table with one code per ARGV entry, the same codes as issue.lua:
--   0 issued, 1 already issued, 2 sold out, 3 not loaded, 4 paused, 5 closed.
-- Each attempt is decided exactly as issue.lua would decide it, had the attempts run one
-- after another in ARGV order; a refusal never writes.
local codes = {}
local state = redis.call('HGET', KEYS[3], 'state')
local stock = redis.call('GET', KEYS[1])
local refused = nil
if state == 'paused' then
  refused = 4
elseif state == 'closed' then
  refused = 5
elseif not stock then
  refused = 3
end
if refused then
  for i = 1, #ARGV do codes[i] = refused end
  return codes
end
stock = tonumber(stock)
local taken = 0
for i = 1, #ARGV do
  if redis.call('SISMEMBER', KEYS[2], ARGV[i]) == 1 then
    codes[i] = 1
  elseif stock - taken <= 0 then
    codes[i] = 2
  else
    redis.call('SADD', KEYS[2], ARGV[i])
    taken = taken + 1
    codes[i] = 0
  end
end
if taken > 0 then
  redis.call('DECRBY', KEYS[1], taken)
end
return codes
