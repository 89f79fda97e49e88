package wallet

import "github.com/redis/go-redis/v9"

// issueScript accepts a reward exactly once. KEYS: order record, pending hash, the account's
// received total for the per-user cap (one slot). ARGV: content, token, pending order JSON,
// order number, record TTL (ms), issued-at (ms), cap (0: none), the total the database knows
// ("-": unknown), total TTL (ms).
// Returns {outcome, token, status, issuedAtMs}: outcome 0 new, 1 replay, 2 conflict, 3 over the
// per-user cap, -1 the cap's total must be seeded first.
var issueScript = redis.NewScript(`
local c = redis.call('HGET', KEYS[1], 'c')
if c then
  if c ~= ARGV[1] then return {2, '', 0, 0} end
  local r = redis.call('HMGET', KEYS[1], 'tok', 'st', 'at')
  return {1, r[1] or '', tonumber(r[2] or '1'), tonumber(r[3] or '0')}
end
local cap = tonumber(ARGV[7])
if cap > 0 then
  local amount = cjson.decode(ARGV[3])['m']
  local total = redis.call('GET', KEYS[3])
  if not total then
    if ARGV[8] == '-' then return {-1, '', 0, 0} end
    -- Seed from what the database settled plus what is pending here (an entry in both, in
    -- the moment between commit and cleanup, is counted twice: the cap errs on the safe side).
    total = tonumber(ARGV[8])
    for _, v in ipairs(redis.call('HVALS', KEYS[2])) do total = total + cjson.decode(v)['m'] end
    redis.call('SET', KEYS[3], total, 'PX', ARGV[9])
  end
  if tonumber(total) + amount > cap then return {3, '', 0, 0} end
  redis.call('INCRBY', KEYS[3], amount)
end
redis.call('HSET', KEYS[1], 'c', ARGV[1], 'tok', ARGV[2], 'st', 1, 'at', ARGV[6])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('HSET', KEYS[2], ARGV[4], ARGV[3])
return {0, ARGV[2], 1, tonumber(ARGV[6])}
`)

// markScript moves the still-pending orders of one account to "processing" (token status 2)
// and returns their JSON (false for those no longer pending). KEYS: pending hash, then one
// order record per ARGV order number.
var markScript = redis.NewScript(`
local out = {}
for i, o in ipairs(ARGV) do
  local v = redis.call('HGET', KEYS[1], o)
  if v then
    if redis.call('EXISTS', KEYS[i+1]) == 1 then redis.call('HSET', KEYS[i+1], 'st', 2) end
    out[i] = v
  else
    out[i] = false
  end
end
return out
`)

// doneScript clears settled orders from the pending hash and records token status 8.
// KEYS: pending hash, then one order record per ARGV order number.
var doneScript = redis.NewScript(`
for i, o in ipairs(ARGV) do
  redis.call('HDEL', KEYS[1], o)
  if redis.call('EXISTS', KEYS[i+1]) == 1 then redis.call('HSET', KEYS[i+1], 'st', 8) end
end
return #ARGV
`)
