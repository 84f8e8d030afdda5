-- promote.lua: move one due delayed task onto its code's wait queue.
-- KEYS[1] delayed zset  KEYS[2] lane waiting zset  KEYS[3] project waiting-lanes set
-- KEYS[4] ready-projects set
-- ARGV[1] task id  ARGV[2] admission score  ARGV[3] lane id  ARGV[4] project id
-- Returns 1 if moved, 0 if another scheduler (or a cancel) took it first.
-- Invariant: a task is in at most one of delayed / waiting; ZREM is the gate.
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then
  return 0
end
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[3])
redis.call('SADD', KEYS[4], ARGV[4])
return 1
