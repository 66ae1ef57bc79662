-- Stores a message and publishes it in one atomic step, so the order of ids and the order
-- in which every instance receives the messages are the same.
-- KEYS[1]: the channel's log stream
-- KEYS[2]: (optional) the sender's nonce key, for exactly-once retries
-- ARGV[1]: messages to keep   ARGV[2]: events pub/sub channel
-- ARGV[3]: client id          ARGV[4]: message text
-- ARGV[5]: how long to remember the nonce, in ms
-- ARGV[6]: the epoch to give the channel's history if it has none (it is created here)
-- ARGV[7]: how long the channel is kept from now, in ms
-- ARGV[8]: the sender's display name ('' for none), stored as field 'n'
-- Published as 'm\n<id>\n<client>\n<text>' without a name (as before names existed), as
-- 'M\n<id>\n<client>\n<name>\n<text>' with one (a name has no newline).
-- Returns the message id; for a nonce seen within the window, the original message's id
-- (and nothing is stored or published again; the window starts over) — unless the original
-- was stored in a history that has been lost since (the nonce names another epoch): then it
-- is stored again, so a retried send is never acked with an id that no longer exists.
local epoch = ensure_epoch(KEYS[1], ARGV[6], ARGV[7])
if KEYS[2] then
  local original = redis.call('GET', KEYS[2])
  if original then
    local id, stored_in = string.match(original, '^([^/]+)/(.*)$')
    if not id or stored_in == epoch then
      -- Written again (a write that replicates) so that the WAIT after this retry covers
      -- everything before it, the original message included, whichever connection runs it:
      -- the retry of a send no replica had confirmed is acked only once one has it. (Redis 7.0
      -- counts a read's offset that way too; this does not depend on it.)
      redis.call('SET', KEYS[2], original, 'PX', ARGV[5])
      -- Remembered before nonces named their epoch: the id alone.
      return id or original
    end
  end
end
local id
if ARGV[8] ~= '' then
  id = redis.call('XADD', KEYS[1], '*', 'c', ARGV[3], 'm', ARGV[4], 'n', ARGV[8])
else
  id = redis.call('XADD', KEYS[1], '*', 'c', ARGV[3], 'm', ARGV[4])
end
-- Trim with XDEL rather than MAXLEN: only deletions move the stream's max-deleted-entry-id,
-- which is how history.lua knows whether a resuming client lost anything.
local excess = redis.call('XLEN', KEYS[1]) - tonumber(ARGV[1])
if excess > 0 then
  for _, entry in ipairs(redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', excess)) do
    redis.call('XDEL', KEYS[1], entry[1])
  end
end
if KEYS[2] then
  redis.call('SET', KEYS[2], id .. '/' .. epoch, 'PX', ARGV[5])
end
if ARGV[8] ~= '' then
  redis.call('PUBLISH', ARGV[2], 'M\n' .. id .. '\n' .. ARGV[3] .. '\n' .. ARGV[8] .. '\n' .. ARGV[4])
else
  redis.call('PUBLISH', ARGV[2], 'm\n' .. id .. '\n' .. ARGV[3] .. '\n' .. ARGV[4])
end
return id
