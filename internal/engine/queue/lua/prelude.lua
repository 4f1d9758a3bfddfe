--- internal/engine/queue/lua/prelude.lua
--- shared code: a script naming this file as its prelude runs as this file's text followed by its own
--- reads (every script built on it passes all nine):
--- KEYS[1] <ns>:queue:{name}          the queue HASH: counters, paused, seq, tp_b*/tp_n*
--- KEYS[2] <ns>:queue:{name}:ready    ZSET of ids, score rank * 1e13 + first-failed Unix ms
--- KEYS[3] <ns>:queue:{name}:delayed  ZSET of ids, score due Unix ms
--- KEYS[4] <ns>:queue:{name}:leased   ZSET of ids, score lease deadline Unix ms
--- KEYS[5] <ns>:queue:{name}:dead     ZSET of ids, score died Unix ms
--- KEYS[6] <ns>:queue:{name}:ops      HASH id -> entry (see enqueue.lua)
--- KEYS[7] <ns>:queue:{name}:lease    HASH id -> fencing token of its lease
--- KEYS[8] <ns>:queue:{name}:errors   HASH id -> last error
--- KEYS[9] <ns>:queue:{name}:done     completion log LIST: "@ <Unix ms>" markers, each then ids
--- ARGV: none
--- defines: Q, READY, DELAYED, LEASED, DEAD, OPS, LEASE, ERRS, DONE, now (Redis TIME, Unix ms), BAND, parse(), put(), unreadable(), ENTRYMAX, chunk(), fetch(), bury()
-- The scripts built on prelude (claim, settle, retry, remove_dead) take
-- the nine queue keys of queueKeys, in the order of the header. The others
-- take fewer, each listed in its header. Every
-- key is one queue's, under its hash tag, and comes in KEYS: no script
-- builds a key itself (but upgrade.lua's ":v1" rename, under the same tag).
--
-- Scores: ready = rank*1e13 + first-failed ms (priority, then age);
-- delayed = due ms; leased = lease deadline ms; dead = died ms. done is a
-- LIST: "@ <completed ms>" markers (ids have no spaces), each followed by
-- the ids completed then.
-- Times are Redis' clock. An operation's entry in ops is
-- "<ready score> <attempts> <max attempts> <service>[ <stalls>]\n<meta
-- JSON>\n<data>": the first line is all a script parses, and only on the
-- slow paths (retry, reap, release, the service filter); the drainer
-- parses the rest.
local Q, READY, DELAYED, LEASED, DEAD, OPS, LEASE, ERRS, DONE =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local BAND = 1e13

local function parse(v)
  if not v then return nil end
  local score, att, max, svc, st, pos = string.match(v, '^(%d+) (%d+) (%d+) (%S+) ?(%d*)\n()')
  if not score or tonumber(score) >= 4 * BAND then return nil end
  return {st = tonumber(st) or 0, score = tonumber(score), att = tonumber(att), max = tonumber(max), svc = svc, v = v, pos = pos}
end
local function put(id, c)
  local line = string.format('%d %d %d %s', c.score, c.att, c.max, c.svc)
  if c.st > 0 then line = line .. ' ' .. c.st end
  redis.call('HSET', OPS, id, line .. '\n' .. string.sub(c.v, c.pos))
end
local function unreadable(v)
  if not v then return "the operation's entry is missing" end
  return "the operation's entry is corrupt: no readable control line"
end
-- chunk is how many entries one HMGET may read with left bytes of budget
-- left, when an entry holds up to ENTRYMAX bytes (1 to 64).
local ENTRYMAX = 1
local function chunk(left)
  return math.max(1, math.min(64, math.floor(left / ENTRYMAX)))
end
-- fetch reads the entries of ids in chunks, stopping once about budget
-- bytes are read (at most budget plus one entry): it returns the entries
-- of the first k ids (k >= 1 when ids is not empty). A missing entry is
-- false.
local function fetch(ids, budget)
  local vs, bytes, k = {}, 0, 0
  while k < #ids and bytes < budget do
    local got = redis.call('HMGET', OPS, unpack(ids, k + 1, math.min(k + chunk(budget - bytes), #ids)))
    for x = 1, #got do
      k = k + 1
      vs[k] = got[x]
      if got[x] then bytes = bytes + #got[x] end
      if bytes >= budget then break end
    end
  end
  return vs, k
end
local function bury(id, why)
  redis.call('ZADD', DEAD, now, id)
  redis.call('HSET', ERRS, id, why)
  redis.call('HINCRBY', Q, 'died', 1)
end
