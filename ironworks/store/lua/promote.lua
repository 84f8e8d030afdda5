-- promote.lua: move one due delayed task onto its code's wait queue.
-- KEYS[1] delayed          the delayed zset
-- KEYS[2] waiting          its lane's waiting zset
-- KEYS[3] waiting_lanes    the project's waiting-lanes set
-- KEYS[4] ready_projects   the ready-projects set
-- ARGV[1] task_id
-- ARGV[2] score            its admission score
-- ARGV[3] lane
-- ARGV[4] project_id
-- Returns 1 if moved, 0 if another scheduler (or a cancel) took it first.
-- Invariant: a task is in at most one of delayed / waiting; ZREM is the gate.
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then
  return 0
end
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[3])
redis.call('SADD', KEYS[4], ARGV[4])
return 1
