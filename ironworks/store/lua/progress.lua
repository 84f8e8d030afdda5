-- progress.lua: record how far a running task says it has got.
-- KEYS[1] task         the task's hash
-- ARGV[1] attempt      '' = whichever attempt runs: the task itself reporting over the API
-- ARGV[2] percent      0-100
-- ARGV[3] msg
-- Returns 1 when recorded, 0 when the task is not running (or not under that attempt).
if redis.call('HGET', KEYS[1], 'status') ~= 'running' then return 0 end
if ARGV[1] ~= '' and redis.call('HGET', KEYS[1], 'attempt') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'percent', ARGV[2], 'msg', ARGV[3])
return 1
