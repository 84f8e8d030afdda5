-- count_status.lua: keep a code's per-status task counts from the events stream, and with the
-- count of a task's end, the dashboard's recent activity (store/activity.py).
-- KEYS[1] stats          the code's stats hash
-- KEYS[2] seen           the code's stats-seen hash
-- KEYS[3] minute         the project's ended-per-minute hash of the minute the task ended
-- KEYS[4] durations      the code's latest run times (a list, newest first)
-- ARGV[1] task_id
-- ARGV[2] status
-- ARGV[3] rank           the status's rank (queued 0, running 1, ended 2)
-- ARGV[4] ended          '1' when the event is the task's end, to be recorded in KEYS[3..4]
-- ARGV[5] run_s          the task's run time ('' = it never started)
-- ARGV[6] keep_minute_s  how long a minute's hash is kept
-- ARGV[7] keep_runs      how many run times a code keeps
-- Returns 1 when counted, 0 when the event is not newer than what was counted for the task.
-- Invariant: each task is counted once, in the latest status seen; a task's status only moves
-- up in rank, so replayed or reordered events (a consumer restart, several consumers in the
-- group) can never count a task twice or move it back. An end is recorded for the dashboard
-- in the same step as its count, so once: never twice, and never lost to a failure between.
local counted = count_status(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3])
if counted == 1 and ARGV[4] == '1' then
  redis.call('HINCRBY', KEYS[3], ARGV[2], 1)
  redis.call('EXPIRE', KEYS[3], ARGV[6])
  if ARGV[5] ~= '' then
    redis.call('LPUSH', KEYS[4], ARGV[5])
    redis.call('LTRIM', KEYS[4], 0, tonumber(ARGV[7]) - 1)
  end
end
return counted
