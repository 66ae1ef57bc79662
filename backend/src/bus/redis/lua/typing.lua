-- Passes a `typing` on at most once per window per client and channel, whichever instance its
-- connections are on: the first instance to set the client's marker publishes, the others
-- find it set and drop theirs.
-- KEYS[1]: the client's typing marker in the channel
-- ARGV[1]: the window, in ms   ARGV[2]: events pub/sub channel   ARGV[3]: the event
if redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then
  redis.call('PUBLISH', ARGV[2], ARGV[3])
  return 1
end
return 0
