--[[
  Takes the leader lease if it is free (or already ours) and bumps the fencing epoch in the same
  atomic step, so a master holds a lease only together with the newest epoch. Every acquisition
  bumps the epoch, even a re-acquisition by the same holder: writes still in flight from its
  previous term are fenced.

  Input:
    KEYS[1]  the lease: a hash {token, address, epoch, since} with a TTL
    KEYS[2]  the fencing epoch (a counter; fenced-batch.lua checks it)
    ARGV[1]  the candidate's token (random per master process)
    ARGV[2]  lease length in ms
    ARGV[3]  the candidate's advertised address (host:port), for redirects
    ARGV[4]  '1': also take a lease held at ARGV[3] by another token. A replica starting up holds
             the listening socket of that address, so such a holder is its own dead predecessor
             (kill -9, crash) and waiting out its lease would only keep the cluster leaderless.
  Output:
    {1, epoch}                                   acquired; epoch is the new fencing epoch
    {0, token, address, epoch, since, pttl}      held by another master; pttl = ms left
]]
local holder = redis.call('HGET', KEYS[1], 'token')
if holder and holder ~= ARGV[1] and not (ARGV[4] == '1' and redis.call('HGET', KEYS[1], 'address') == ARGV[3]) then
  local h = redis.call('HMGET', KEYS[1], 'token', 'address', 'epoch', 'since')
  return {0, h[1], h[2] or '', h[3] or '0', h[4] or '0', redis.call('PTTL', KEYS[1])}
end
local epoch = redis.call('INCR', KEYS[2])
local t = redis.call('TIME')
local since = tostring(tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'token', ARGV[1], 'address', ARGV[3], 'epoch', tostring(epoch), 'since', since)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return {1, epoch}
