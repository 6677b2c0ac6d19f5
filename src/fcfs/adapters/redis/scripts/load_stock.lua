-- load_stock.lua: replace a coupon's gate state in one atomic step (docs/design.md, keys and the Lua gate).
--
-- KEYS[1]  <prefix>:{c:<couponId>}:stock
-- KEYS[2]  <prefix>:{c:<couponId>}:users
-- KEYS[3]  <prefix>:{c:<couponId>}:users:loading:<token>   staging set, filled beforehand
-- KEYS[4]  <prefix>:{c:<couponId>}:state   hash {state, version, total}
-- ARGV[1]  stock: units left (non-negative integer)
-- ARGV[2]  how many users the staging set must hold (0: it must not exist)
-- ARGV[3]  the coupon's state to mirror (open | paused | closed), or '' to leave the mirror as it is
-- ARGV[4]  that state's version; a mirror holding a newer version is kept
-- ARGV[5]  the coupon's total the stock was computed from, or '' (field `total` of KEYS[4]);
--          when the gate holds a higher one (a top-up ran meanwhile), its units are added
--          to ARGV[1] instead of being overwritten (see add_stock.lua)
--
-- Returns:
--   0  replaced: users := staging set (or empty), stock := ARGV[1] (+ a newer top-up); neither key expires
--   1  the staging set does not hold ARGV[2] users (expired or tampered with); nothing changed
--
-- No TTL on the stock or the users: the original loaded them with a one-hour TTL into a
-- Redis that evicts keys, and an expired gate silently re-admits every user. The state is
-- written with the stock, so stock reloaded after a Redis loss never admits while paused.
local expected = tonumber(ARGV[2])
if redis.call('SCARD', KEYS[3]) ~= expected then
  return 1
end
if ARGV[3] ~= '' then
  local held = tonumber(redis.call('HGET', KEYS[4], 'version'))
  if not held or held <= tonumber(ARGV[4]) then
    redis.call('HSET', KEYS[4], 'state', ARGV[3], 'version', ARGV[4])
  end
end
if expected > 0 then
  redis.call('RENAME', KEYS[3], KEYS[2])
  redis.call('PERSIST', KEYS[2])
else
  redis.call('DEL', KEYS[2])
end
local stock = tonumber(ARGV[1])
if ARGV[5] and ARGV[5] ~= '' then
  local total = tonumber(ARGV[5])
  local held = tonumber(redis.call('HGET', KEYS[4], 'total'))
  if held and held > total then
    stock = stock + held - total
  else
    redis.call('HSET', KEYS[4], 'total', ARGV[5])
  end
end
redis.call('SET', KEYS[1], stock)
return 0
