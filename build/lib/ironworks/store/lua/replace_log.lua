-- replace_log.lua: put the complete output in place of what was streamed while the task ran.
-- KEYS[1] task hash  KEYS[2] log string
-- ARGV[1] attempt  ARGV[2] the whole output  ARGV[3] max bytes  ARGV[4] truncation mark line
-- Returns 1 when replaced, -1 refused (the task is not running under this attempt).
-- Why: the engine's live stream may miss or end early on lines a fast writer wrote; its
-- stored log does not. Invariant as for append_log: at most max bytes plus the mark.
if redis.call('HGET', KEYS[1], 'status') ~= 'running'
    or redis.call('HGET', KEYS[1], 'attempt') ~= ARGV[1] then
  return -1
end
local max = tonumber(ARGV[3])
if #ARGV[2] <= max then
  redis.call('SET', KEYS[2], ARGV[2])
  redis.call('HDEL', KEYS[1], 'log_truncated')
else
  redis.call('SET', KEYS[2], string.sub(ARGV[2], 1, max) .. ARGV[4])
  redis.call('HSET', KEYS[1], 'log_truncated', '1')
end
return 1
