--- internal/engine/health/lua/prelude.lua
--- shared code: a script naming this file as its prelude runs as this file's text followed by its own
--- KEYS: none
--- ARGV: none (now_ms takes the script's clock argument)
--- defines: now_ms(arg)
-- nowMs is Redis' clock, or the caller's when it passes one (tests inject
-- their clock this way; Options.Now).
local function now_ms(arg)
  if arg ~= nil and arg ~= '' then return tonumber(arg) end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
