-- lane_views.lua: what admission reads of waiting lanes before it chooses among them, for
-- many lanes in one round trip (admission.AdmissionStore._lane_views): each lane's heads,
-- turn and active count, and its code's limits and active count. It only reads; admit.lua
-- checks everything again.
-- ARGV[1] heads              how many of each lane's head to read
-- ARGV[2] fields             the code hash's fields admission reads, as a JSON list
-- ARGV[3...] lanes           pairs: a project id and one of its waiting lanes
-- Returns {per lane (in order) {turn, active, task id, score, task id, score...}},
-- {per code of those lanes {code id, active, each field's value}}.

local fields = cjson.decode(ARGV[2])
local last = tonumber(ARGV[1]) - 1
local lanes, codes, seen = {}, {}, {}
for i = 3, #ARGV, 2 do
  local project_id, lane = ARGV[i], ARGV[i + 1]
  local turn = redis.call('HGET', lane_turns_key(project_id), lane)
  local view = {tonumber(turn) or 0, redis.call('SCARD', lane_active_key(lane))}
  local heads = redis.call('ZRANGE', waiting_key(lane), 0, last, 'WITHSCORES')
  for j = 1, #heads do view[j + 2] = heads[j] end
  lanes[#lanes + 1] = view
  local code_id = code_of(lane)
  if not seen[code_id] then
    seen[code_id] = true
    local code = {code_id, redis.call('SCARD', code_active_key(code_id))}
    local values = redis.call('HMGET', code_key(code_id), unpack(fields))
    for j = 1, #fields do code[j + 2] = values[j] end
    codes[#codes + 1] = code
  end
end
return {lanes, codes}
