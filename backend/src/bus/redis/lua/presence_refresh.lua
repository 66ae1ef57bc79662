-- Pushes back the expiry of this instance's connections in one channel, then announces the
-- leave of anybody whose connections all expired.
-- A channel with members is in use: its log stream (if it has one) is kept for the channel
-- TTL from now, as a message or a join would.
-- KEYS[1]: online set   KEYS[2..n-1]: one client's connections per member
-- KEYS[n]: the channel's log stream
-- ARGV[1]: TTL in ms    ARGV[2]: events pub/sub channel   ARGV[3]: key prefix of connections
-- ARGV[2k+2], ARGV[2k+3]: client id and connection key of KEYS[k+1]
-- ARGV[2n]: the channel TTL in ms
local now = now_ms()
local expiry = now + tonumber(ARGV[1])
local log = KEYS[#KEYS]
redis.call('PEXPIRE', log, ARGV[2 * #KEYS])
-- The online set takes every member's new expiry in one ZADD (a few hundred at a time, well
-- within Lua's limit on unpacked arguments) rather than one call per member.
local members = {}
local function add_members()
  if #members > 0 then
    redis.call('ZADD', KEYS[1], 'GT', unpack(members))
    members = {}
  end
end
for i = 2, #KEYS - 1 do
  redis.call('ZADD', KEYS[i], expiry, ARGV[2 * i + 1])
  redis.call('PEXPIRE', KEYS[i], ARGV[1])
  members[#members + 1] = expiry
  members[#members + 1] = ARGV[2 * i]
  if #members >= 400 then
    add_members()
  end
end
add_members()
redis.call('PEXPIRE', KEYS[1], ARGV[1])
redis.call('PEXPIRE', names_of(KEYS[1]), ARGV[1])
prune(KEYS[1], ARGV[3], ARGV[2], now)
return #KEYS - 2
