-- add_tasks.lua: store new tasks' records and their indexes, count them queued for their
-- codes' stats, announce each on the events stream and wake the scheduler. One argument for
-- it all: Redis unpacks it, where redis-py would encode every field and send a command per
-- index.
-- KEYS[1] events             the events stream
-- KEYS[2] wake               the scheduler's wake list
-- ARGV[1] tasks              JSON: {shared: the fields and values all the records share,
--                            tasks: per task [its id, the rest of its record, its code's
--                            stats hash, its code's stats-seen hash], zadd: per sorted set
--                            [its key, score, member, score, member...], sadd: per set [its
--                            key, member...]} (records flat, every value and score a string)
-- ARGV[2] status             'queued'
-- ARGV[3] rank               its rank (model.TaskStatus.rank)
-- Returns how many tasks were stored

local SLICE = 2000 -- values per ZADD or SADD: well under what unpack() can pass
local new = cjson.decode(ARGV[1])
for _, task in ipairs(new.tasks) do
  local key = task_key(task[1])
  if #new.shared > 0 then redis.call('HSET', key, unpack(new.shared)) end
  if #task[2] > 0 then redis.call('HSET', key, unpack(task[2])) end
  count_status(task[3], task[4], task[1], ARGV[2], ARGV[3])
  announce(KEYS[1], task[1], ARGV[2])
end
for command, lists in pairs({ZADD = new.zadd, SADD = new.sadd}) do
  for _, list in ipairs(lists) do
    for i = 2, #list, SLICE do
      redis.call(command, list[1], unpack(list, i, math.min(i + SLICE - 1, #list)))
    end
  end
end
wake(KEYS[2])
return #new.tasks
