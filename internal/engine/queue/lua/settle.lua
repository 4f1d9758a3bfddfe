--- internal/engine/queue/lua/settle.lua
--- prelude: prelude.lua
--- KEYS[1] <ns>:queue:{name}          the queue HASH: counters, paused, seq, tp_b*/tp_n*
--- KEYS[2] <ns>:queue:{name}:ready    ZSET of ids, score rank * 1e13 + first-failed Unix ms
--- KEYS[3] <ns>:queue:{name}:delayed  ZSET of ids, score due Unix ms
--- KEYS[4] <ns>:queue:{name}:leased   ZSET of ids, score lease deadline Unix ms
--- KEYS[5] <ns>:queue:{name}:dead     ZSET of ids, score died Unix ms
--- KEYS[6] <ns>:queue:{name}:ops      HASH id -> entry (see enqueue.lua)
--- KEYS[7] <ns>:queue:{name}:lease    HASH id -> fencing token of its lease
--- KEYS[8] <ns>:queue:{name}:errors   HASH id -> last error
--- KEYS[9] <ns>:queue:{name}:done     completion log LIST: "@ <Unix ms>" markers, each then ids
--- ARGV[1] retention, ms: completed entries older are deleted
--- ARGV[2] retry backoff base, ms
--- ARGV[3] retry backoff factor
--- ARGV[4] retry backoff cap, ms
--- ARGV[5] ndone: how many done outcomes follow
--- ARGV[6..] ndone triples (id, token, first-failed Unix ms, or "<ms>:<attempts>"
---   after failed attempts), then quintuples (id, token, kind: retry, dead,
---   defer or release, x: the jitter in [0,1) for retry, the delay ms for
---   defer, else 0, text: the error)
--- reply: per outcome, in that order: "done", "retry:<due ms>", "dead",
---   "defer:<due ms>", "release" or "stale" (the token is not the lease's)
-- settleScript records the outcomes of claimed operations. ARGV:
-- retention ms, backoff base ms, factor, cap ms, the number of done
-- outcomes, then per done outcome: id, token, first-failed ms (followed
-- by ":<attempts>" if it had failed attempts); then per other outcome: id, token,
-- kind (retry|dead|defer|release), x, text. For retry x is the jitter
-- fraction in [0,1); for defer the delay in ms. An outcome whose token is
-- not the current lease's is ignored ("stale"): another drainer owns the
-- operation now. Reply per outcome, in that order: "done",
-- "retry:<due ms>", "dead", "defer:<due ms>", "release" or "stale".
local retention, base, factor, cap, ndone = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local ids, tokens = {}, {}
for a = 6, 5 + 3 * ndone, 3 do
  ids[#ids + 1] = ARGV[a]; tokens[#tokens + 1] = ARGV[a+1]
end
for a = 6 + 3 * ndone, #ARGV, 5 do
  ids[#ids + 1] = ARGV[a]; tokens[#tokens + 1] = ARGV[a+1]
end
local out = {}
if #ids == 0 then return out end
local held = redis.call('HMGET', LEASE, unpack(ids))
local mark = 'done ' .. now
local mine, marks, log, cleared = {}, {}, {'@ ' .. now}, {}
local done, retry_ms = 0, 0
for i = 1, ndone do
  local id = ids[i]
  if held[i] ~= tokens[i] then
    out[i] = 'stale'
  else
    mine[#mine + 1] = id
    local f = ARGV[5 + 3 * i]
    local first = tonumber(f)
    if first then
      marks[#marks + 1] = id; marks[#marks + 1] = mark
    else
      local ms, att = string.match(f, '^(%d+):(%d+)$')
      first = tonumber(ms)
      cleared[#cleared + 1] = id
      marks[#marks + 1] = id; marks[#marks + 1] = mark .. ' ' .. (tonumber(att) + 1)
    end
    log[#log + 1] = id
    done = done + 1
    retry_ms = retry_ms + (now - first)
    out[i] = 'done'
  end
end
for i = ndone + 1, #ids do
  local id = ids[i]
  local a = 6 + 3 * ndone + (i - ndone - 1) * 5
  local kind, x, text = ARGV[a+2], tonumber(ARGV[a+3]) or 0, ARGV[a+4]
  if held[i] ~= tokens[i] then
    out[i] = 'stale'
  else
    mine[#mine + 1] = id
    if kind == 'defer' then
      local due = now + math.floor(x)
      redis.call('ZADD', DELAYED, due, id)
      redis.call('HINCRBY', Q, 'deferred', 1)
      out[i] = 'defer:' .. due
    else
      local v = redis.call('HGET', OPS, id)
      local c = parse(v)
      if not c then
        if kind == 'release' then text = unreadable(v) end
        bury(id, text)
        out[i] = 'dead'
      elseif kind == 'retry' then
        c.att = c.att + 1
        put(id, c)
        if c.att >= c.max then
          bury(id, text .. ' (attempt ' .. c.att .. ' of ' .. c.max .. ')')
          out[i] = 'dead'
        else
          local ceil = math.min(cap, base * factor ^ (c.att - 1))
          local due = now + math.floor(x * ceil)
          redis.call('ZADD', DELAYED, due, id)
          redis.call('HSET', ERRS, id, text)
          redis.call('HINCRBY', Q, 'retried', 1)
          out[i] = 'retry:' .. due
        end
      elseif kind == 'dead' then
        c.att = c.att + 1
        put(id, c)
        bury(id, text)
        out[i] = 'dead'
      else
        redis.call('ZADD', READY, c.score, id)
        out[i] = 'release'
      end
    end
  end
end
if #mine > 0 then
  redis.call('ZREM', LEASED, unpack(mine))
  redis.call('HDEL', LEASE, unpack(mine))
end
if done > 0 then
  -- a completed operation's entry shrinks to "done <ms>[ <attempts>]",
  -- attempts when more than one (for deduplication and inspect),
  -- and its id goes to the done log after a time marker "@<ms>"; entries
  -- older than the retention are deleted from the head of the log
  redis.call('HSET', OPS, unpack(marks))
  redis.call('RPUSH', DONE, unpack(log))
  local cutoff = now - retention
  local first = redis.call('LINDEX', DONE, 0)
  local head = {}
  if string.sub(first, 1, 2) ~= '@ ' or (tonumber(string.sub(first, 3)) or 0) <= cutoff then
    head = redis.call('LRANGE', DONE, 0, 2047)
  end
  local cut, old = 0, {}
  for j, e in ipairs(head) do
    if string.sub(e, 1, 2) == '@ ' then
      local t = tonumber(string.sub(e, 3))
      if not t or t > cutoff then break end
    else
      old[#old + 1] = e
    end
    cut = j
  end
  if cut > 0 then
    -- only ids still completed then: one pushed again since is kept
    if #old > 0 then
      local vs = redis.call('HMGET', OPS, unpack(old))
      local del = {}
      for j, v in ipairs(vs) do
        local at = v and tonumber(string.match(v, '^done (%d+)') or '')
        if at and at <= cutoff then del[#del + 1] = old[j] end
      end
      if #del > 0 then redis.call('HDEL', OPS, unpack(del)) end
    end
    redis.call('LTRIM', DONE, cut, -1)
  end
  -- a completed operation's last error goes (a failed attempt's, or a
  -- stall's: a stall is no attempt, so any completion may have one)
  redis.call('HDEL', ERRS, unpack(log, 2))
  if #cleared > 0 then redis.call('HINCRBY', Q, 'completed_after_retry', #cleared) end
  redis.call('HINCRBY', Q, 'completed', done)
  redis.call('HINCRBY', Q, 'retry_ms_total', retry_ms)
  -- recent throughput: completions in 10 s buckets, a ring of 8
  local bucket = math.floor(now / 10000)
  local slot = bucket % 8
  if tonumber(redis.call('HGET', Q, 'tp_b' .. slot) or '-1') ~= bucket then
    redis.call('HSET', Q, 'tp_b' .. slot, bucket, 'tp_n' .. slot, done)
  else
    redis.call('HINCRBY', Q, 'tp_n' .. slot, done)
  end
end
return out
