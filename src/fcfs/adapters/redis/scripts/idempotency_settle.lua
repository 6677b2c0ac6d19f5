-- idempotency_settle.lua: store the first answer for a claimed key, or release the claim.
--
-- KEYS[1]  <prefix>:{c:<couponId>}:idem:<owner>:<sha256 of the key>
-- ARGV[1]  the caller's pending marker "p:<fingerprint>:<nonce>"
-- ARGV[2]  the answer "a:<fingerprint>:<status>:<body>", or "" to release the claim (nothing worth replaying)
-- ARGV[3]  the answer's TTL in milliseconds
--
-- Returns:
--   1  settled
--   0  the marker is no longer the caller's (it expired, maybe retaken); nothing changed
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
if ARGV[2] == '' then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
end
return 1
