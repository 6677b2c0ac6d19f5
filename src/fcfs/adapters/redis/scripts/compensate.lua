-- compensate.lua: undo exactly one admission (docs/design.md §6.3).
--
-- KEYS[1]  <prefix>:{c:<couponId>}:stock
-- KEYS[2]  <prefix>:{c:<couponId>}:users
-- ARGV[1]  user id (decimal string)
--
-- Returns:
--   1  the user was removed and one unit given back
--   0  the user was not admitted; nothing changed (so compensating twice is harmless)
if redis.call('SREM', KEYS[2], ARGV[1]) == 1 then
  redis.call('INCR', KEYS[1])
  return 1
end
return 0
