-- add_stock.lua: a top-up, raising a loaded coupon's stock in one atomic step (docs/design.md, live controls).
--
-- KEYS[1]  <prefix>:{c:<couponId>}:stock
-- ARGV[1]  units to add (positive integer)
--
-- Returns the new stock, or nil when the stock is not loaded (nothing is created: loading
-- it later computes the stock from the raised total).
if redis.call('EXISTS', KEYS[1]) == 0 then
  return false
end
return redis.call('INCRBY', KEYS[1], ARGV[1])
