-- Where each channel's history stands, for a subscriber's baselines: returns, per key,
-- {epoch, newest entry id ('0-0' when empty)}, flattened. A channel without a history gets
-- one (empty), so its position is known even before its first message.
-- KEYS[i]: a channel's log stream   ARGV[i]: the epoch to give it if it has none
-- ARGV[#KEYS + 1]: how long each channel is kept from now, in ms
local out = {}
for i, log in ipairs(KEYS) do
  out[#out + 1] = ensure_epoch(log, ARGV[i], ARGV[#KEYS + 1])
  local newest = redis.call('XREVRANGE', log, '+', '-', 'COUNT', 1)
  out[#out + 1] = newest[1] and newest[1][1] or '0-0'
end
return out
