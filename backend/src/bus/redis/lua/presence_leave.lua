-- Removes one connection; publishes a leave when the client has no live connection left.
-- KEYS[1]: online set   KEYS[2]: the client's connections
-- ARGV[1]: client id   ARGV[2]: connection key   ARGV[3]: events pub/sub channel
-- ARGV[4]: key prefix of a client's connections
local now = now_ms()
redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if redis.call('ZCARD', KEYS[2]) == 0 then
  redis.call('DEL', KEYS[2])
  if redis.call('ZREM', KEYS[1], ARGV[1]) == 1 then
    local names = names_of(KEYS[1])
    local name = redis.call('HGET', names, ARGV[1])
    redis.call('HDEL', names, ARGV[1])
    redis.call('PUBLISH', ARGV[3],
      presence_event('l', ARGV[1], redis.call('ZCARD', KEYS[1]), name))
  end
end
prune(KEYS[1], ARGV[4], ARGV[3], now)
return 1
