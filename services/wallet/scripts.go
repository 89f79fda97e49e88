package wallet

import "github.com/redis/go-redis/v9"

// Script outcomes: each script answers {outcome, values...} (decoded by luascript.Run).
const (
	outcomeNew      = "new"      // issue: recorded
	outcomeReplay   = "replay"   // issue: known with the same content
	outcomeConflict = "conflict" // issue: known with other content
	outcomeOverCap  = "over_cap" // issue: past the activity's per-user cap
	outcomeSeed     = "seed"     // issue, reserve: a counter is missing; seed it and run again
	outcomeReserved = "reserved" // reserve: taken from the budgets
	outcomeRefused  = "refused"  // reserve: the budget cannot cover it
	outcomeLost     = "lost"     // issue, reserve: the slot's epoch marker is gone (Redis lost data)
	outcomeCheck    = "check"    // issue: Redis cannot vouch that the order is new; ask the database
)

// issueScript accepts a reward exactly once. KEYS: order record, pending hash, the account's
// received total for the per-user cap, the slot's epoch marker (one slot). ARGV: content,
// token, pending order JSON, order number, record TTL (ms), issued-at (ms), cap (0: none), the
// total the database knows ("-": unknown), total TTL (ms), the earliest an order of the
// activity may have been issued (ms), checked ("1": the database was asked and does not know
// the order).
// An order without a record is new only if Redis can vouch for it: the slot's marker is there
// (else "lost") and dates from before the activity's earliest order (else "check", unless the
// database was asked already); otherwise its record may have been lost with Redis's data.
// Returns {outcome, token, status, issuedAtMs}.
var issueScript = redis.NewScript(`
local c = redis.call('HGET', KEYS[1], 'c')
if c then
  if c ~= ARGV[1] then return {'conflict', '', 0, 0} end
  local r = redis.call('HMGET', KEYS[1], 'tok', 'st', 'at')
  return {'replay', r[1] or '', tonumber(r[2] or '1'), tonumber(r[3] or '0')}
end
local since = redis.call('GET', KEYS[4])
if not since then return {'lost', '', 0, 0} end
if ARGV[11] ~= '1' and tonumber(since) >= tonumber(ARGV[10]) then return {'check', '', 0, 0} end
local cap = tonumber(ARGV[7])
if cap > 0 then
  local amount = cjson.decode(ARGV[3])['m']
  local total = redis.call('GET', KEYS[3])
  if not total then
    if ARGV[8] == '-' then return {'seed', '', 0, 0} end
    -- Seed from what the database knows plus what is pending here (the caller left out what
    -- it saw pending; an entry settled meanwhile is counted twice: the cap errs on the safe side).
    total = tonumber(ARGV[8])
    for _, v in ipairs(redis.call('HVALS', KEYS[2])) do total = total + cjson.decode(v)['m'] end
    redis.call('SET', KEYS[3], total, 'PX', ARGV[9])
  end
  if tonumber(total) + amount > cap then return {'over_cap', '', 0, 0} end
  redis.call('INCRBY', KEYS[3], amount)
end
redis.call('HSET', KEYS[1], 'c', ARGV[1], 'tok', ARGV[2], 'st', 1, 'at', ARGV[6])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('HSET', KEYS[2], ARGV[4], ARGV[3])
return {'new', ARGV[2], 1, tonumber(ARGV[6])}
`)

// rememberScript writes the record of an order the database has settled but Redis forgot, so
// that its next replays are answered from Redis. KEYS: order record. ARGV: content, token,
// status, issued-at (ms), TTL (ms).
var rememberScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return {'replay'} end
redis.call('HSET', KEYS[1], 'c', ARGV[1], 'tok', ARGV[2], 'st', ARGV[3], 'at', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return {'new'}
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

// reserveScript reserves ARGV[1] fen. KEYS: scene counter, activity counter, the slot's epoch
// marker. ARGV: amount, scene limit (total − reserve), activity limit (−1: none), force (1:
// reserve even past the limit, for a token already promised), scene seed, activity seed.
// A counter that does not exist (a new scene, or Redis lost its data) starts at its seed, the
// issued total the database knows; without seeds ("-") the script answers seed and the caller
// computes them, so the database is read only when a counter is missing. A counter missing
// with the slot's marker is data lost: the script answers lost, and the caller seeds only
// once the database knows everything issued before the loss (epoch.go).
// Returns {outcome, scene issued}.
var reserveScript = redis.NewScript(`
for i = 1, 2 do
  if redis.call('HEXISTS', KEYS[i], 'issued') == 0 then
    if redis.call('EXISTS', KEYS[3]) == 0 then return {'lost', 0} end
    if ARGV[4 + i] == '-' then return {'seed', 0} end
    redis.call('HSET', KEYS[i], 'issued', ARGV[4 + i])
  end
end
local amount = tonumber(ARGV[1])
local scene = tonumber(redis.call('HGET', KEYS[1], 'issued'))
local all = tonumber(redis.call('HGET', KEYS[2], 'issued'))
if ARGV[4] ~= '1' then
  if scene + amount > tonumber(ARGV[2]) then return {'refused', scene} end
  local cap = tonumber(ARGV[3])
  if cap >= 0 and all + amount > cap then return {'refused', scene} end
end
redis.call('HINCRBY', KEYS[2], 'issued', amount)
return {'reserved', redis.call('HINCRBY', KEYS[1], 'issued', amount)}
`)

// releaseScript gives a reservation back (the order turned out to be a replay or a conflict).
var releaseScript = redis.NewScript(`
redis.call('HINCRBY', KEYS[1], 'issued', -tonumber(ARGV[1]))
redis.call('HINCRBY', KEYS[2], 'issued', -tonumber(ARGV[1]))
return 1
`)
