-- step_aside.lua: a running task that waits for its children gives up its slots meanwhile,
-- so that with max_concurrency 1 its children can run (docs/flow-control.md).
-- KEYS[1] task             the task's hash
-- KEYS[2] project_active   the project's active set
-- KEYS[3] code_active      the code's active set
-- KEYS[4] lane_active      its lane's active set
-- KEYS[5] wake             the scheduler's wake list
-- ARGV[1] task_id
-- ARGV[2] attempt
-- Returns 1 when it stepped aside; 0 when it is not running under that attempt, or aside.
-- Invariant: a task aside is in none of the active sets and has `aside` set; step_back.lua
-- undoes both together, and finish.lua releases slots the same either way.
if redis.call('HGET', KEYS[1], 'status') ~= 'running'
    or redis.call('HGET', KEYS[1], 'attempt') ~= ARGV[2]
    or redis.call('HGET', KEYS[1], 'aside') == '1' then
  return 0
end
redis.call('HSET', KEYS[1], 'aside', '1')
redis.call('SREM', KEYS[2], ARGV[1])
redis.call('SREM', KEYS[3], ARGV[1])
redis.call('SREM', KEYS[4], ARGV[1])
wake(KEYS[5])
return 1
