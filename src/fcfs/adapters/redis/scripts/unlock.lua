-- unlock.lua: release a spin lock only if this holder still owns it (compare-and-delete).
--
-- KEYS[1]  <prefix>:{<name>}:lock
-- ARGV[1]  the holder's token
--
-- Returns:
--   1  the lock was this holder's and is now free
--   0  the lease had expired (the key is gone or another holder owns it); nothing deleted
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
