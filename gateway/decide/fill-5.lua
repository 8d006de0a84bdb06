--[[
  fill: writes what the gateway loaded from PostgreSQL/MongoDB after a CACHE_MISS.
  Each part is written only when it is absent, so a fill that raced with a newer write
  (a worker update or an invalidation refill) never puts older data back; the live
  ledger hash in particular is only ever created here, never overwritten.

  KEYS[1] user     hash   (TTL ARGV[2])
  KEYS[2] card     hash   (TTL ARGV[3], or ARGV[7] for a missing-card marker)
  KEYS[3] limits   hash   (TTL ARGV[4])
  KEYS[4] balance  string (TTL ARGV[5])
  KEYS[5] ledger   hash   (TTL ARGV[6], idle expiry)

  ARGV[1] JSON {user?: {field: value}, card: {field: value}, limits?: {...}, balance?: "minor", ledger?: {...}}
  ARGV[2..7] TTLs in seconds: user, card, limits, balance, ledger idle, missing card

  Returns the number of parts written.
]]
local rcall = redis.call
local parts = cjson.decode(ARGV[1])
local ttl_user, ttl_card, ttl_limits = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local ttl_balance, ttl_ledger, ttl_missing = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])

local function write_hash(key, fields, ttl)
  if type(fields) ~= 'table' or rcall('EXISTS', key) == 1 then return 0 end
  local flat = {}
  for field, value in pairs(fields) do
    flat[#flat + 1] = field
    flat[#flat + 1] = tostring(value)
  end
  if #flat == 0 then return 0 end
  rcall('HSET', key, unpack(flat))
  rcall('EXPIRE', key, ttl)
  return 1
end

local written = 0
local card = parts['card']
local card_ttl = ttl_card
if type(card) == 'table' and card['missing'] then card_ttl = ttl_missing end
written = written + write_hash(KEYS[2], card, card_ttl)
written = written + write_hash(KEYS[1], parts['user'], ttl_user)
written = written + write_hash(KEYS[3], parts['limits'], ttl_limits)
written = written + write_hash(KEYS[5], parts['ledger'], ttl_ledger)
if type(parts['balance']) == 'string' and rcall('SET', KEYS[4], parts['balance'], 'NX', 'EX', ttl_balance) then
  written = written + 1
end
return written
