--[[
  refresh: rewrites the cached parts of a card that are still present, ahead of their expiry
  (refresh-ahead), with what the gateway just loaded from PostgreSQL/MongoDB. A part that is
  absent (expired, or deleted by an invalidation) is left absent: the next decision fills it
  as after any miss. An invalidation that lands between our load and this write is repaired by
  the management API's second delete (API_CACHE_REDELETE_MS), which is why the gateway gives up
  a refresh that took longer than its fill budget. The live ledger is never written here.

  KEYS[1] user             hash   (TTL ARGV[2])
  KEYS[2] card             hash   (TTL ARGV[3])
  KEYS[3] limits           hash   (TTL ARGV[4])
  KEYS[4] balance          string (TTL ARGV[5])
  KEYS[5] balance version  string: balance_version of KEYS[4] when the management API wrote it

  ARGV[1] JSON {user?: {...}, card: {...}, limits?: {...}, balance?: "minor", balance_version?: n}
  ARGV[2..5] TTLs in seconds: user, card, limits, balance

  Returns the number of parts rewritten.
]]
local rcall = redis.call
local parts = cjson.decode(ARGV[1])
local ttl_user, ttl_card, ttl_limits, ttl_balance = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]),
  tonumber(ARGV[5])

-- Replaces a present hash whole, so a field the store no longer has (a removed limit) goes too.
local function rewrite_hash(key, fields, ttl)
  if type(fields) ~= 'table' or rcall('EXISTS', key) == 0 then return 0 end
  local flat = {}
  for field, value in pairs(fields) do
    flat[#flat + 1] = field
    flat[#flat + 1] = tostring(value)
  end
  if #flat == 0 then return 0 end
  rcall('DEL', key)
  rcall('HSET', key, unpack(flat))
  rcall('EXPIRE', key, ttl)
  return 1
end

local card = parts['card']
-- A card that is now missing from the stores is not refreshed: its cached part expires.
if type(card) ~= 'table' or card['missing'] then return 0 end
local written = rewrite_hash(KEYS[2], card, ttl_card)
written = written + rewrite_hash(KEYS[1], parts['user'], ttl_user)
written = written + rewrite_hash(KEYS[3], parts['limits'], ttl_limits)
-- The balance is versioned by the management API's loads: never put an older one back.
local balance, version = parts['balance'], tonumber(parts['balance_version'] or 0)
if type(balance) == 'string' and rcall('EXISTS', KEYS[4]) == 1 then
  local cached_version = tonumber(rcall('GET', KEYS[5]) or '0')
  if cached_version <= version then
    rcall('SET', KEYS[4], balance, 'EX', ttl_balance)
    if rcall('EXISTS', KEYS[5]) == 1 then rcall('SET', KEYS[5], version, 'EX', ttl_balance) end
    written = written + 1
  end
end
return written
