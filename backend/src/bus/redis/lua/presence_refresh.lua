-- Pushes back the expiry of this instance's connections in one channel.
-- KEYS[1]: online set   KEYS[2..n]: one client's connections per member
-- ARGV[1]: TTL in ms    ARGV[2k], ARGV[2k+1]: client id and connection key of KEYS[k+1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local expiry = now + tonumber(ARGV[1])
for i = 2, #KEYS do
  redis.call('ZADD', KEYS[i], expiry, ARGV[2 * i - 1])
  redis.call('PEXPIRE', KEYS[i], ARGV[1])
  redis.call('ZADD', KEYS[1], 'GT', expiry, ARGV[2 * i - 2])
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return #KEYS - 1
