-- count_status.lua: keep a code's per-status task counts from the events stream.
-- KEYS[1] stats        the code's stats hash
-- KEYS[2] seen         the code's stats-seen hash
-- ARGV[1] task_id
-- ARGV[2] status
-- ARGV[3] rank         the status's rank (queued 0, running 1, ended 2)
-- Returns 1 when counted, 0 when the event is not newer than what was counted for the task.
-- Invariant: each task is counted once, in the latest status seen; a task's status only moves
-- up in rank, so replayed or reordered events (a consumer restart, several consumers in the
-- group) can never count a task twice or move it back.
local seen = redis.call('HGET', KEYS[2], ARGV[1])
local seen_rank, seen_status = -1, nil
if seen then
  local sep = string.find(seen, ':', 1, true)
  seen_rank, seen_status = tonumber(string.sub(seen, 1, sep - 1)), string.sub(seen, sep + 1)
end
if tonumber(ARGV[3]) <= seen_rank then return 0 end
if seen_status then redis.call('HINCRBY', KEYS[1], seen_status, -1) end
redis.call('HINCRBY', KEYS[1], ARGV[2], 1)
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3] .. ':' .. ARGV[2])
return 1
