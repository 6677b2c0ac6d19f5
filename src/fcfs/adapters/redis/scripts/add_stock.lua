-- add_stock.lua: a top-up, raising a loaded coupon's stock in one atomic step (docs/design.md, live controls).
--
-- KEYS[1]  <prefix>:{c:<couponId>}:stock
-- KEYS[2]  <prefix>:{c:<couponId>}:state   hash; field `total`: the total the stock accounts for
-- ARGV[1]  units to add (positive integer)
-- ARGV[2]  the coupon's total after the top-up, or '' (the units are added as they are)
--
-- Returns the new stock, or nil when the stock is not loaded (nothing is added: loading it
-- later computes the stock from the raised total).
--
-- Why `total`: a top-up and a stock load running at once each write the stock from a
-- total they read earlier. Once a load recorded the total its stock accounts for, a
-- top-up adds only what its total brings above it (a load that read the raised total
-- already counted those units), and load_stock.lua adds what a recorded total above the
-- load's own brings (a top-up that ran meanwhile is not overwritten). Either order ends
-- with the stock the newest total allows, never more. Without a recorded total (stock
-- loaded without one) the units are added as they are.
local units = tonumber(ARGV[1])
local loaded = redis.call('EXISTS', KEYS[1]) == 1
if ARGV[2] ~= '' then
  local total = tonumber(ARGV[2])
  local held = tonumber(redis.call('HGET', KEYS[2], 'total'))
  if held then
    units = math.max(total - held, 0)
    if held < total then
      redis.call('HSET', KEYS[2], 'total', ARGV[2])
    end
  elseif not loaded then
    redis.call('HSET', KEYS[2], 'total', ARGV[2])  -- for the load that may have read an older total
  end
end
if not loaded then
  return false
end
return redis.call('INCRBY', KEYS[1], units)
