-- finish.lua: move a task to a terminal status, release its slots, record the event.
-- KEYS[1] task hash           KEYS[2] index of the status it leaves  KEYS[3] index of the new status
-- KEYS[4] project active set  KEYS[5] code active set                KEYS[6] lane waiting zset
-- KEYS[7] delayed zset        KEYS[8] events stream                  KEYS[9] scheduler wake list
-- KEYS[10] leases zset         KEYS[11] the task's ended channel (pub/sub; waiting readers)
-- ARGV[1] task id  ARGV[2] expected current status  ARGV[3] attempt ('' = unfenced, for cancel)
-- ARGV[4] new status  ARGV[5] exit code ('' = none)  ARGV[6] msg  ARGV[7] now  ARGV[8] result
-- ARGV[9] '1' when the reaper ends the task: only if its lease has run out by ARGV[7]
-- ARGV[10] resource use (JSON, '' = unknown)
-- KEYS[12] project hash  KEYS[13] expiring zset  ARGV[11] default retention (s): the ended
-- task is deleted (tasks/retention) after its project's task_retention_s, or the default.
-- KEYS[14] the task's lane active set (its concurrency key's; else the code's again)
-- KEYS[15] its cluster's dispatched set (a task admitted and not started may end: cancel)
-- (KEYS[6] is the task's lane's waiting zset: its code's, or its concurrency key's)
-- Returns 1 when done; 0 when the task's status or attempt is not what the caller expected
-- (a late write from a runner that lost the task, or a race the caller re-reads and retries).
-- Invariant: the status change, the slot release and the event happen together or not at all.
local status = redis.call('HGET', KEYS[1], 'status')
if status ~= ARGV[2] then return 0 end
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
redis.call('ZADD', KEYS[13], tonumber(ARGV[7]) + tonumber(keep), 'task:' .. ARGV[1])
local owner = redis.call('HMGET', KEYS[1], 'project_id', 'code_id', 'attempt')
redis.call('XADD', KEYS[8], 'MAXLEN', '~', 1000000, '*', 'task_id', ARGV[1],
           'project_id', owner[1], 'code_id', owner[2], 'status', ARGV[4], 'attempt', owner[3])
redis.call('LPUSH', KEYS[9], '1')
redis.call('LTRIM', KEYS[9], 0, 99)
redis.call('PUBLISH', KEYS[11], ARGV[4])
return 1
