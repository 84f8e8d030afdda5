-- claim_delivery.lua: take a due webhook delivery for a while.
-- KEYS[1] due              the due-deliveries zset
-- ARGV[1] delivery_id
-- ARGV[2] now
-- ARGV[3] until            the claim's expiry
-- Returns 1 when claimed: the delivery is hidden until the expiry, so that a deliverer that dies
-- mid-attempt leaves it to be tried again (at least once), and no two deliverers take it at once.
local due = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not due or tonumber(due) > tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
return 1
