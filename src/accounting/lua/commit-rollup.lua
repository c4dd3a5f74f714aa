-- Replaces an hour's rollup, computed from its samples, unless samples were written to that hour
-- since the roller read it (then the hour stays pending and is rolled again).
-- KEYS[1]  pending hours (zset: hour -> writes since its last rollup)
-- KEYS[2]  the hour's rollup hash
-- ARGV[1]  hour (member of KEYS[1])
-- ARGV[2]  the pending score the roller saw
-- ARGV[3]  time to live of the rollup (ms)
-- ARGV[4…] field, value pairs
-- Returns 1 when committed, 0 when the hour changed meanwhile.
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if score ~= ARGV[2] then return 0 end
redis.call('DEL', KEYS[2])
local batch = {}
for i = 4, #ARGV, 2 do
  batch[#batch + 1] = ARGV[i]
  batch[#batch + 1] = ARGV[i + 1]
  if #batch >= 1000 then
    redis.call('HSET', KEYS[2], unpack(batch))
    batch = {}
  end
end
if #batch > 0 then redis.call('HSET', KEYS[2], unpack(batch)) end
if #ARGV >= 4 then redis.call('PEXPIRE', KEYS[2], ARGV[3]) end
redis.call('ZREM', KEYS[1], ARGV[1])
return 1
