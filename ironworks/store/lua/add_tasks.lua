-- add_tasks.lua: store new tasks' records, count them queued for their codes' stats and
-- announce each on the events stream. One argument for them all: Redis unpacks it, where
-- redis-py would encode every field.
-- KEYS[1] events             the events stream
-- ARGV[1] tasks              JSON: [the fields and values all the records share, then
--                            per task [its id, the rest of its record, its code's stats
--                            hash, its code's stats-seen hash]] (records flat, every value
--                            a string)
-- ARGV[2] status             'queued'
-- ARGV[3] rank               its rank (model.TaskStatus.rank)
-- Returns how many tasks were stored

local tasks = cjson.decode(ARGV[1])
local shared = table.remove(tasks, 1)
for _, task in ipairs(tasks) do
  local key = task_key(task[1])
  if #shared > 0 then redis.call('HSET', key, unpack(shared)) end
  if #task[2] > 0 then redis.call('HSET', key, unpack(task[2])) end
  count_status(task[3], task[4], task[1], ARGV[2], ARGV[3])
  announce(KEYS[1], task[1], ARGV[2])
end
return #tasks
