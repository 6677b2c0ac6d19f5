-- mirror_state.lua: hold the coupon's open/paused/closed state beside its stock (docs/design.md, live controls).
--
-- KEYS[1]  <prefix>:{c:<couponId>}:state   hash {state, version}
-- ARGV[1]  state: open | paused | closed
-- ARGV[2]  its version in the database (grows by one with every change)
--
-- Returns:
--   1  written
--   0  the hash holds a newer version (a later change was mirrored first); nothing changed
--
-- The issue scripts read this hash in the same call as the admission, so once this
-- script has run, no attempt anywhere is admitted while the coupon is paused or closed.
local held = tonumber(redis.call('HGET', KEYS[1], 'version'))
if held and held > tonumber(ARGV[2]) then
  return 0
end
redis.call('HSET', KEYS[1], 'state', ARGV[1], 'version', ARGV[2])
return 1
