--[[
  balance-set: writes a personal card's posted balance into the gateway cache after a
  balance change was committed in MongoDB, unless a newer one is already there.

  The value comes from the MongoDB document as updated ($inc returning the new document),
  with the document's balance_version. Writing the absolute value (not INCRBY) cannot double
  count a load a concurrent gateway fill already read; the version keeps two concurrent
  loads from leaving the older value last; and since the gateway's fill only writes an
  absent key (SET NX), a fill that read the balance before the commit cannot overwrite ours.
  The live ledger (holds in flight) is not touched: available = balance - held stays right.

  KEYS[1] balance          string, posted balance in minor units (read by decide)
  KEYS[2] balance version  string, balance_version of the value in KEYS[1]

  ARGV[1] posted balance, minor units (integer string)
  ARGV[2] balance_version of that value (integer)
  ARGV[3] TTL of both keys, seconds

  Returns 1 when written, 0 when the cache already held this version or a newer one.
]]
local rcall = redis.call
local balance_key, version_key = KEYS[1], KEYS[2]
local balance_minor, version, ttl_s = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])

local cached_version = tonumber(rcall('GET', version_key) or '0')
if cached_version >= version and rcall('EXISTS', balance_key) == 1 then
  return 0
end
rcall('SET', balance_key, balance_minor, 'EX', ttl_s)
rcall('SET', version_key, version, 'EX', ttl_s)
return 1
