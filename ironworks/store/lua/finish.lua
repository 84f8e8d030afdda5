-- finish.lua: move a task to a terminal status, release its slots, record the event.
-- KEYS[1] task             the task's hash
-- KEYS[2] from_index       the project's index of the status it leaves
-- KEYS[3] to_index         the project's index of the new status
-- KEYS[4] project_active   the project's active set
-- KEYS[5] code_active      the code's active set
-- KEYS[6] waiting          its lane's waiting zset (its code's, or its concurrency key's)
-- KEYS[7] delayed          the delayed zset
-- KEYS[8] events           the events stream
-- KEYS[9] wake             the scheduler's wake list
-- KEYS[10] leases          the leases zset
-- KEYS[11] ended           the task's ended channel (pub/sub; waiting readers)
-- KEYS[12] project         the project's hash
-- KEYS[13] expiring        the expiring zset
-- KEYS[14] lane_active     its lane's active set (its concurrency key's; else the code's again)
-- KEYS[15] dispatched      its cluster's dispatched set (a task admitted, not started may end)
-- ARGV[1] task_id
-- ARGV[2] expected         the status it must be in
-- ARGV[3] attempt          '' = unfenced, for cancel
-- ARGV[4] status           the new status
-- ARGV[5] exit_code        '' = none
-- ARGV[6] msg
-- ARGV[7] now
-- ARGV[8] result
-- ARGV[9] reaped           '1' when the reaper ends the task: only if its lease ran out by now
-- ARGV[10] usage           resource use (JSON, '' = unknown)
-- ARGV[11] retention_s     the default retention: the ended task is deleted (tasks/retention)
--                          after its project's task_retention_s, or this
-- Returns 1 when done; 0 when the task's status or attempt is not what the caller expected
-- (a late write from a runner that lost the task, or a race the caller re-reads and retries).
-- Invariant: the status change, the slot release and the event happen together or not at all.
local status = redis.call('HGET', KEYS[1], 'status')
if status ~= ARGV[2] then return 0 end
check_move(status, ARGV[4])
if ARGV[3] ~= '' and redis.call('HGET', KEYS[1], 'attempt') ~= ARGV[3] then return 0 end
if ARGV[9] == '1' then
  local expiry = redis.call('ZSCORE', KEYS[10], ARGV[1])
  if expiry and tonumber(expiry) > tonumber(ARGV[7]) then return 0 end -- renewed meanwhile
end

redis.call('HSET', KEYS[1], 'status', ARGV[4], 'exit_code', ARGV[5], 'msg', ARGV[6],
           'end_time', ARGV[7], 'result', ARGV[8], 'usage', ARGV[10])
local seq = redis.call('HGET', KEYS[1], 'seq')
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[3], seq, ARGV[1])
redis.call('SREM', KEYS[4], ARGV[1])
redis.call('SREM', KEYS[5], ARGV[1])
redis.call('SREM', KEYS[14], ARGV[1])
redis.call('SREM', KEYS[15], ARGV[1])
redis.call('ZREM', KEYS[6], ARGV[1])
redis.call('ZREM', KEYS[7], ARGV[1])
redis.call('ZREM', KEYS[10], ARGV[1])
local keep = redis.call('HGET', KEYS[12], 'task_retention_s')
if not keep or keep == '' then keep = ARGV[11] end
redis.call('ZADD', KEYS[13], tonumber(ARGV[7]) + tonumber(keep), expiring_member('task', ARGV[1]))
announce(KEYS[8], ARGV[1], ARGV[4])
wake(KEYS[9])
redis.call('PUBLISH', KEYS[11], ARGV[4])
return 1
