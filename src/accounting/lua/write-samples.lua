-- Writes accounting samples, each once: a sample already stored under its (agent, interval start)
-- is left as it is, so a second master or a restarted one never counts an interval twice.
-- KEYS[1]  pending hours (zset: hour -> writes since its last rollup)
-- KEYS[2]  cursor (string: end of the last interval sampled, ms)
-- KEYS[3…] sample hashes, one per hour
-- ARGV[1]  new cursor (kept only if later than the stored one)
-- ARGV[2…] groups of 5: key index (into KEYS), field (agent@start), sample JSON, time to live (ms), hour
-- Returns the number of samples newly written.
local written = 0
for i = 2, #ARGV, 5 do
  local key = KEYS[tonumber(ARGV[i])]
  if redis.call('HSETNX', key, ARGV[i + 1], ARGV[i + 2]) == 1 then
    written = written + 1
    redis.call('ZINCRBY', KEYS[1], 1, ARGV[i + 4])
    redis.call('PEXPIRE', key, ARGV[i + 3])
  end
end
local current = tonumber(redis.call('GET', KEYS[2]) or '0')
if tonumber(ARGV[1]) > current then redis.call('SET', KEYS[2], ARGV[1]) end
return written
