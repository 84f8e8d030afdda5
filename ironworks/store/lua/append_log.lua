-- append_log.lua: append output to a running task's log, fenced and capped.
-- KEYS[1] task         the task's hash
-- KEYS[2] log          the task's log string
-- ARGV[1] attempt
-- ARGV[2] chunk
-- ARGV[3] max_bytes
-- ARGV[4] mark         the truncation mark line
-- Returns 1 appended, 0 the cap is reached (the chunk was cut and the mark written, or it
-- was reached before), -1 refused (the task is not running under this attempt: a runner that
-- lost its lease must not write).
-- Invariant: the log never exceeds max bytes plus the mark, and the mark is its last line.
if redis.call('HGET', KEYS[1], 'status') ~= 'running'
    or redis.call('HGET', KEYS[1], 'attempt') ~= ARGV[1] then
  return -1
end
if redis.call('HGET', KEYS[1], 'log_truncated') == '1' then return 0 end
local room = tonumber(ARGV[3]) - redis.call('STRLEN', KEYS[2])
local chunk = ARGV[2]
if #chunk <= room then
  redis.call('APPEND', KEYS[2], chunk)
  return 1
end
redis.call('APPEND', KEYS[2], string.sub(chunk, 1, math.max(room, 0)) .. ARGV[4])
redis.call('HSET', KEYS[1], 'log_truncated', '1')
return 0
