--[[
  fill: writes the cached parts of a card that the gateway loaded from PostgreSQL/MongoDB.

  mode `fill` (after a CACHE_MISS): each part is written only when it is absent, so a fill that
  raced with a newer write (a worker update or an invalidation refill) never puts older data
  back; the live ledger hash in particular is only ever created here, never overwritten.

  mode `refresh` (refresh-ahead, before the parts expire): each part still present is rewritten
  whole (a field the store no longer has, such as a removed limit, goes too) with a fresh TTL. A
  part that is absent (expired, or deleted by an invalidation) is left absent: the next decision
  fills it as after any miss. An invalidation that lands between the load and this write is
  repaired by the management API's second delete (API_CACHE_REDELETE_MS), which is why the
  gateway gives up a refresh that took longer than its fill budget. The live ledger is never
  written by a refresh, and the balance never goes back to an older balance_version.

  KEYS[1] user             hash   (TTL ARGV[3])
  KEYS[2] card             hash   (TTL ARGV[4], or ARGV[8] for a missing-card marker)
  KEYS[3] limits           hash   (TTL ARGV[5])
  KEYS[4] balance          string (TTL ARGV[6])
  KEYS[5] balance version  string: balance_version of KEYS[4] when the management API wrote it
  KEYS[6] ledger           hash   (no TTL: money state, never evictable; decide-10.lua)

  ARGV[1] mode: fill | refresh
  ARGV[2] JSON {user?: {...}, card: {...}, limits?: {...}, balance?: "minor", balance_version?: n,
                ledger?: {...}}
  ARGV[3..7] TTLs in seconds: user, card, limits, balance, missing card

  Returns the number of parts written.
]]
local rcall = redis.call
local mode = ARGV[1]
local parts = cjson.decode(ARGV[2])
local ttl_user, ttl_card, ttl_limits = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local ttl_balance, ttl_missing = tonumber(ARGV[6]), tonumber(ARGV[7])
local refresh = mode == 'refresh'
if not refresh and mode ~= 'fill' then return redis.error_reply('fill: unknown mode ' .. tostring(mode)) end

local function write_hash(key, fields, ttl)
  if type(fields) ~= 'table' then return 0 end
  local present = rcall('EXISTS', key) == 1
  -- fill writes what is absent; refresh rewrites what is present.
  if present ~= refresh then return 0 end
  local flat = {}
  for field, value in pairs(fields) do
    flat[#flat + 1] = field
    flat[#flat + 1] = tostring(value)
  end
  if #flat == 0 then return 0 end
  if refresh then rcall('DEL', key) end
  rcall('HSET', key, unpack(flat))
  if ttl then rcall('EXPIRE', key, ttl) end
  return 1
end

local card = parts['card']
local missing_card = type(card) == 'table' and card['missing']
-- A card that is now missing from the stores is not refreshed: its cached part expires.
if refresh and (type(card) ~= 'table' or missing_card) then return 0 end
local written = write_hash(KEYS[2], card, missing_card and ttl_missing or ttl_card)
written = written + write_hash(KEYS[1], parts['user'], ttl_user)
written = written + write_hash(KEYS[3], parts['limits'], ttl_limits)
local balance = parts['balance']
if type(balance) == 'string' then
  if not refresh then
    if rcall('SET', KEYS[4], balance, 'NX', 'EX', ttl_balance) then written = written + 1 end
  elseif rcall('EXISTS', KEYS[4]) == 1 then
    -- The balance is versioned by the management API's loads: never put an older one back.
    local version = tonumber(parts['balance_version'] or 0)
    if tonumber(rcall('GET', KEYS[5]) or '0') <= version then
      rcall('SET', KEYS[4], balance, 'EX', ttl_balance)
      if rcall('EXISTS', KEYS[5]) == 1 then rcall('SET', KEYS[5], version, 'EX', ttl_balance) end
      written = written + 1
    end
  end
end
if not refresh then written = written + write_hash(KEYS[6], parts['ledger'], nil) end
return written
