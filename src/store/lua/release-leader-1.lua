--[[
  Gives the leader lease up (a clean shutdown), so a standby takes over at once instead of waiting
  for the lease to expire. Only the holder can release it. The epoch is left alone: the next
  leader bumps it when it acquires.

  Input:
    KEYS[1]  the lease hash {token, address, epoch, since}
    ARGV[1]  the holder's token
  Output:
    1  released
    0  the caller did not hold the lease (nothing changed)
]]
if redis.call('HGET', KEYS[1], 'token') == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
