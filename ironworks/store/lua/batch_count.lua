-- batch_count.lua: keep a batch's per-status counts and final-item counters from the events
-- stream, and release one held item each time an item becomes final.
-- KEYS[1] batch            the batch's hash
-- KEYS[2] seen             the batch's seen hash
-- KEYS[3] counts           the batch's counts hash
-- KEYS[4] items            the batch's items hash
-- KEYS[5] held             the batch's held zset
-- KEYS[6] waiting          the code's waiting zset
-- KEYS[7] waiting_lanes    the project's waiting-lanes set
-- KEYS[8] ready_projects   the ready-projects set
-- KEYS[9] wake             the scheduler's wake list
-- ARGV[1] index            the item's index
-- ARGV[2] task_id
-- ARGV[3] status
-- ARGV[4] order            retry_count * 10 + rank
-- ARGV[5] final            '1' if the status is final for the item (terminal, no retry follows)
-- ARGV[6] failed           '1' if final and not complete
-- ARGV[7] code_id
-- ARGV[8] project_id
-- Returns {batch status, done, size}: what the caller needs to decide what comes next.
-- Invariants: an item is counted once, in the status of its latest task; a retry's events
-- outrank its predecessor's, so replayed or reordered events never count an item twice or
-- move it back; `done` counts each item once, when it becomes final.
local function progress()
  return redis.call('HMGET', KEYS[1], 'status', 'done', 'size')
end

local seen = redis.call('HGET', KEYS[2], ARGV[1])
local seen_order, seen_status, seen_final = -1, 'queued', '0'
if seen then
  local a = string.find(seen, ':', 1, true)
  local b = string.find(seen, ':', a + 1, true)
  seen_order = tonumber(string.sub(seen, 1, a - 1))
  seen_status = string.sub(seen, a + 1, b - 1)
  seen_final = string.sub(seen, b + 1)
end
if tonumber(ARGV[4]) <= seen_order then return progress() end
local final = ARGV[5] == '1' and '1' or '0'
redis.call('HINCRBY', KEYS[3], seen_status, -1)
redis.call('HINCRBY', KEYS[3], ARGV[3], 1)
redis.call('HSET', KEYS[2], ARGV[1], ARGV[4] .. ':' .. ARGV[3] .. ':' .. final)
redis.call('HSET', KEYS[4], ARGV[1], ARGV[2])
if final == '0' or seen_final == '1' then return progress() end

redis.call('HINCRBY', KEYS[1], 'done', 1)
if ARGV[6] == '1' then redis.call('HINCRBY', KEYS[1], 'failed', 1) end
if redis.call('HGET', KEYS[1], 'status') ~= 'running' then return progress() end
-- One slot of the batch's max_concurrency is free: the next held item that is still queued
-- (one cancelled on its own stays out) goes to its code's wait queue.
while true do
  local head = redis.call('ZPOPMIN', KEYS[5])
  if not head[1] then break end
  if redis.call('HGET', task_key(head[1]), 'status') == 'queued' then
    redis.call('ZADD', KEYS[6], head[2], head[1])
    redis.call('SADD', KEYS[7], ARGV[7])
    redis.call('SADD', KEYS[8], ARGV[8])
    wake(KEYS[9])
    break
  end
end
return progress()
