-- issue.lua: admit one user to a coupon in one atomic step (docs/design.md, keys and the Lua gate).
--
-- KEYS[1]  <prefix>:{c:<couponId>}:stock   integer units left
-- KEYS[2]  <prefix>:{c:<couponId>}:users   set of admitted user ids
-- KEYS[3]  <prefix>:{c:<couponId>}:state   hash {state, version}: the coupon's mirrored state (absent: open)
-- ARGV[1]  user id (decimal string)
--
-- Returns:
--   0  issued          the user was added and one unit taken
--   1  already issued  the user was admitted before; nothing changed
--   2  sold out        no unit left; nothing changed
--   3  not loaded      the stock key does not exist; nothing changed
--   4  paused          an operator paused the coupon; nothing changed
--   5  closed          an operator closed the coupon; nothing changed
--
-- Every check runs before the first write, so a refusal never leaves a partial change.
-- The state is checked first and in this same call: a pause written before this script
-- runs refuses the attempt, on every instance, at no extra round trip.
local state = redis.call('HGET', KEYS[3], 'state')
if state == 'paused' then
  return 4
end
if state == 'closed' then
  return 5
end
local stock = redis.call('GET', KEYS[1])
if not stock then
  return 3
end
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 then
  return 1
end
if tonumber(stock) <= 0 then
  return 2
end
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('DECR', KEYS[1])
return 0
