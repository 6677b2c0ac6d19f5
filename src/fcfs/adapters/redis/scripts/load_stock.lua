-- load_stock.lua: replace a coupon's gate state in one atomic step (DESIGN.md §4, §6b).
--
-- KEYS[1]  <prefix>:{c:<couponId>}:stock
-- KEYS[2]  <prefix>:{c:<couponId>}:users
-- KEYS[3]  <prefix>:{c:<couponId>}:users:loading:<token>   staging set, filled beforehand
-- ARGV[1]  stock: units left (non-negative integer)
-- ARGV[2]  how many users the staging set must hold (0: it must not exist)
--
-- Returns:
--   0  replaced: users := staging set (or empty), stock := ARGV[1]; neither key expires
--   1  the staging set does not hold ARGV[2] users (expired or tampered with); nothing changed
--
-- No TTL on the stock or the users: the original loaded them with a one-hour TTL into a
-- Redis that evicts keys, and an expired gate silently re-admits every user.
local expected = tonumber(ARGV[2])
if redis.call('SCARD', KEYS[3]) ~= expected then
  return 1
end
if expected > 0 then
  redis.call('RENAME', KEYS[3], KEYS[2])
  redis.call('PERSIST', KEYS[2])
else
  redis.call('DEL', KEYS[2])
end
redis.call('SET', KEYS[1], ARGV[1])
return 0
