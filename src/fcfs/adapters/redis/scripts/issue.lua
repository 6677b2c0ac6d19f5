-- issue.lua: admit one user to a coupon in one atomic step (DESIGN.md §4).
--
-- KEYS[1]  <prefix>:{c:<couponId>}:stock   integer units left
-- KEYS[2]  <prefix>:{c:<couponId>}:users   set of admitted user ids
-- ARGV[1]  user id (decimal string)
--
-- Returns:
--   0  issued          the user was added and one unit taken
--   1  already issued  the user was admitted before; nothing changed
--   2  sold out        no unit left; nothing changed
--   3  not loaded      the stock key does not exist; nothing changed
--
-- Every check runs before the first write, so a refusal never leaves a partial change.
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
