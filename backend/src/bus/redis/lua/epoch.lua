-- Shared prelude of the scripts that read or write a channel's stream (prepended to each):
-- the epoch of the channel's history. It is the name of the stream's one consumer group,
-- 'epoch:<epoch>', so it lives inside the stream's key: created in the same script that
-- creates the stream, and lost with it (DEL, FLUSHALL, eviction, expiry, a restart without
-- persistence, a replica that never had the stream). No loss can leave a stale epoch
-- behind, and a history created again always gets a new one.
local EPOCH_GROUP = 'epoch:'

-- The epoch named by the groups of `log`, which exists; nil for a stream from before epochs.
local function group_epoch(log)
  for _, group in ipairs(redis.call('XINFO', 'GROUPS', log)) do
    for i = 1, #group, 2 do
      if group[i] == 'name' and string.sub(group[i + 1], 1, #EPOCH_GROUP) == EPOCH_GROUP then
        return string.sub(group[i + 1], #EPOCH_GROUP + 1)
      end
    end
  end
  return nil
end

-- The epoch of `log`'s history, or nil when there is no stream (or one from before epochs).
local function epoch_of(log)
  if redis.call('EXISTS', log) == 0 then
    return nil
  end
  return group_epoch(log)
end

-- The epoch of `log`'s history, creating the stream (empty) with `candidate` as its epoch
-- when it has none. Every use of the channel (a message, a join) calls it, and it keeps the
-- stream for `ttl_ms` more: a channel nobody uses expires whole, epoch included. The PEXPIRE
-- that keeps it also says whether it exists (1, or 0 for no key), sparing an EXISTS on every
-- message.
local function ensure_epoch(log, candidate, ttl_ms)
  local epoch = redis.call('PEXPIRE', log, ttl_ms) == 1 and group_epoch(log)
  if not epoch then
    redis.call('XGROUP', 'CREATE', log, EPOCH_GROUP .. candidate, '$', 'MKSTREAM')
    redis.call('PEXPIRE', log, ttl_ms)
    epoch = candidate
  end
  return epoch
end
