-- fire.lua: record that a schedule fired for its due time, and when it fires next.
-- KEYS[1] schedule     the schedule's hash
-- KEYS[2] due          the due-schedules zset
-- ARGV[1] schedule_id
-- ARGV[2] seen_next    the next_start the caller read
-- ARGV[3] now
-- ARGV[4] next_due     the next due time ('' = the schedule is over)
-- ARGV[5] why          why it is over
-- Returns 1 when recorded; 0 when another scheduler fired it first, or it was cancelled.
-- Invariant: each due time is recorded once, so every scheduler may try every due schedule.
if redis.call('HGET', KEYS[1], 'status') ~= 'scheduled'
    or redis.call('HGET', KEYS[1], 'next_start') ~= ARGV[2] then
  return 0
end
redis.call('HINCRBY', KEYS[1], 'run_count', 1)
redis.call('HSET', KEYS[1], 'last_run_time', ARGV[3])
if ARGV[4] == '' then
  redis.call('HSET', KEYS[1], 'status', 'complete', 'msg', ARGV[5], 'next_start', '')
  redis.call('ZREM', KEYS[2], ARGV[1])
else
  redis.call('HSET', KEYS[1], 'next_start', ARGV[4])
  redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
end
return 1
