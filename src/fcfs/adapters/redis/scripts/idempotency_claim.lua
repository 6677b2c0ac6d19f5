-- idempotency_claim.lua: take an Idempotency-Key for one attempt, or read what it holds (one round trip).
--
-- KEYS[1]  <prefix>:{c:<couponId>}:idem:<owner>:<sha256 of the key>
-- ARGV[1]  the pending marker to set: "p:<fingerprint>:<nonce>"
-- ARGV[2]  the pending marker's TTL in milliseconds (an attempt that died frees the key after it)
--
-- Returns (the caller compares the fingerprint it holds: a different one is a reused key, 422):
--   nil                                the key was free; the marker is set and the caller owns the attempt
--   "p:<fingerprint>:<nonce>"          an attempt is in flight; nothing changed
--   "a:<fingerprint>:<status>:<body>"  the first answer; nothing changed
local current = redis.call('GET', KEYS[1])
if current then
  return current
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return false
