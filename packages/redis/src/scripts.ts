import type { Redis } from 'ioredis';

/**
 * Lua scripts for the few steps that must be atomic on the server. Each is short and keeps
 * kombu's data layout: the unacked hash is the claim ("whoever deletes the entry owns it"),
 * so an ack, a reject and a visibility-timeout restore can race safely.
 */

/**
 * Move an unacked delivery back to a list (requeue, dead-letter or restore).
 * KEYS: unacked hash, unacked_index zset, destination list.
 * ARGV: delivery tag, payload to push, "left" | "right", and a score ceiling ("" = none): when
 * set, a delivery whose index score is above it (extended meanwhile) is left alone.
 * Returns 1 when moved, 0 when someone else already settled or restored it.
 */
export const MOVE_UNACKED = `
if ARGV[4] ~= '' then
  local score = redis.call('ZSCORE', KEYS[2], ARGV[1])
  if score and tonumber(score) > tonumber(ARGV[4]) then return 0 end
end
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return 0
end
redis.call('ZREM', KEYS[2], ARGV[1])
if ARGV[3] == 'left' then
  redis.call('LPUSH', KEYS[3], ARGV[2])
else
  redis.call('RPUSH', KEYS[3], ARGV[2])
end
return 1
`;

/** Release a lock only if we still own it (redis-py's Lock.release, used by kombu's Mutex). KEYS: lock. ARGV: token. */
export const RELEASE_LOCK = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

/**
 * Take up to N messages and record them as unacked in one atomic step (kombu's RPOP + QoS.append,
 * minus the window between them), lists in priority-step order.
 * KEYS: unacked hash, unacked_index zset, then the queue's lists (step 0 first).
 * ARGV: score (epoch seconds), the queue name as JSON, a delivery-tag prefix, the first tag
 * number, how many messages are wanted, then the tags of deliveries to ack first (as
 * ACK_UNACKED: the consumer's acks ride on its take, one command and one write instead of two).
 * The k-th message taken (from 0) is recorded under the tag prefix .. (first + k): a fresh tag
 * per delivery without sending one per message.
 * The hash entry is kombu's [envelope, exchange, routing_key], built by concatenation so the
 * envelope keeps its exact bytes; exchange "" + the queue routes a restore straight back here.
 * Returns a flat array: list, message, list, message, …
 * Runs at most once per tag range: when its first tag is already recorded, it takes nothing
 * (the acks, idempotent, run again).
 * ioredis re-sends a command that was in flight when its connection dropped (a silent server
 * timed out by socket_timeout, then back): if the first run did execute, a second one would pop
 * more messages under the same tags and overwrite the first batch's records, losing those
 * messages. Their records stand instead, and the restorer returns them after the visibility
 * timeout (the consumer never saw that reply).
 */
export const POP_AND_RECORD = `
if #ARGV > 5 then
  redis.call('ZREM', KEYS[2], unpack(ARGV, 6))
  redis.call('HDEL', KEYS[1], unpack(ARGV, 6))
end
local popped = {}
local first = tonumber(ARGV[4])
local wanted = tonumber(ARGV[5])
if redis.call('HEXISTS', KEYS[1], ARGV[3] .. string.format('%d', first)) == 1 then return popped end
local list = 3
while #popped < wanted * 2 and list <= #KEYS do
  local message = redis.call('RPOP', KEYS[list])
  if message then
    local tag = ARGV[3] .. string.format('%d', first + #popped / 2)
    redis.call('HSET', KEYS[1], tag, '[' .. message .. ', "", ' .. ARGV[2] .. ']')
    redis.call('ZADD', KEYS[2], ARGV[1], tag)
    popped[#popped + 1] = KEYS[list]
    popped[#popped + 1] = message
  else
    list = list + 1
  end
end
return popped
`;

/**
 * Forget acked deliveries: both of kombu's entries in one step, so a restore running at the
 * same moment cannot see the index entry gone but the hash entry still there and requeue an
 * acked message. KEYS: unacked hash, unacked_index zset. ARGV: the delivery tags (at most
 * MAX_ACKS_PER_CALL, well inside Lua's unpack limit).
 */
export const ACK_UNACKED = `
redis.call('ZREM', KEYS[2], unpack(ARGV))
return redis.call('HDEL', KEYS[1], unpack(ARGV))
`;
export const MAX_ACKS_PER_CALL = 1000;

/**
 * Store result records and wake their watchers: SET (with an expiry unless ARGV[1] is "0") then
 * PUBLISH on the key's own channel, for each key. One call stores a whole batch: one command
 * instead of two per record. KEYS: the record keys. ARGV: the expiry in ms, then one record per key.
 */
export const STORE_RESULTS = `
local ttl = ARGV[1]
for i = 1, #KEYS do
  if ttl == '0' then
    redis.call('SET', KEYS[i], ARGV[i + 1])
  else
    redis.call('SET', KEYS[i], ARGV[i + 1], 'PX', ttl)
  end
  redis.call('PUBLISH', KEYS[i], ARGV[i + 1])
end
return #KEYS
`;

type ScriptRunner = (...keysAndArgs: (string | number | Buffer)[]) => Promise<unknown>;

/**
 * Compare-and-set of a coordination hash {v: value, n: version}: writes only when the stored
 * version is ARGV[2] ('' = the key must be absent), and returns the new version, else nil.
 * KEYS[1]: the hash. ARGV: the value, the expected version.
 */
export const COMPARE_AND_SET = `
local current = redis.call('HGET', KEYS[1], 'n')
if (current or '') ~= ARGV[2] then return false end
local version = redis.call('HINCRBY', KEYS[1], 'n', 1)
redis.call('HSET', KEYS[1], 'v', ARGV[1])
return version
`;

/**
 * Runs a Lua script by its SHA (EVALSHA, loading it on first NOSCRIPT) through ioredis's
 * defineCommand: unlike EVAL with the script text, it is small, and unlike MULTI it is
 * pipelined with the connection's other commands. `numberOfKeys` 'first-argument': the caller
 * passes the key count first (scripts taking a batch of keys).
 */
export function script(client: Redis, name: string, lua: string, numberOfKeys: number | 'first-argument'): ScriptRunner {
  const commands = client as unknown as Record<string, ScriptRunner | undefined>;
  if (typeof commands[name] !== 'function') client.defineCommand(name, numberOfKeys === 'first-argument' ? { lua } : { lua, numberOfKeys });
  return (...keysAndArgs) => (commands[name] as ScriptRunner).apply(client, keysAndArgs);
}

/** KEYS[1] = claim key, ARGV = value, ttl ms. Returns the current holder, or nil after claiming. */
export const CLAIM = `
local held = redis.call('GET', KEYS[1])
if held then return held end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return false
`;

/** KEYS[1] = claim key, ARGV[1] = value: deletes the claim only while it holds that value. */
export const RELEASE_CLAIM = `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
`;

/**
 * KEYS[1] = retention sorted set, KEYS[2] = its sizes hash (one field per member with the
 * stored size of its record, and the field '' with their total); ARGV = task id, now ms, keep
 * ('' for no count limit), result key prefix, ttl ms, byte budget ('' for none).
 * Adds the id (newest score), deletes the records of the oldest members beyond `keep`, then,
 * with a budget, the oldest while the total is over it (never the newest), and removes them;
 * the set and the hash expire with the records they index. Returns how many were removed.
 */
export const RETAIN = `
-- Scores must grow with every store: two stores in the same millisecond would otherwise tie,
-- and a tie orders by task id, not by age.
local score = tonumber(ARGV[2])
local top = redis.call('ZREVRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if top[2] and tonumber(top[2]) >= score then score = tonumber(top[2]) + 1 end
redis.call('ZADD', KEYS[1], score, ARGV[1])
local budget = tonumber(ARGV[6])
local total = 0
if budget then
  local size = redis.call('STRLEN', ARGV[4] .. ARGV[1])
  local before = tonumber(redis.call('HGET', KEYS[2], ARGV[1])) or 0
  redis.call('HSET', KEYS[2], ARGV[1], size)
  total = redis.call('HINCRBY', KEYS[2], '', size - before)
end
local removed = 0
local function drop(id)
  redis.call('DEL', ARGV[4] .. id)
  redis.call('ZREM', KEYS[1], id)
  local size = tonumber(redis.call('HGET', KEYS[2], id))
  if size then
    redis.call('HDEL', KEYS[2], id)
    total = redis.call('HINCRBY', KEYS[2], '', -size)
  end
  removed = removed + 1
end
local keep = tonumber(ARGV[3])
if keep then
  local excess = redis.call('ZCARD', KEYS[1]) - keep
  if excess > 0 then
    for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, excess - 1)) do drop(id) end
  end
end
if budget then
  -- Members kept from before the budget was set have no size: they count 0 and go first.
  while total > budget and redis.call('ZCARD', KEYS[1]) > 1 do
    drop(redis.call('ZRANGE', KEYS[1], 0, 0)[1])
  end
  redis.call('PEXPIRE', KEYS[2], ARGV[5])
end
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return removed
`;

/**
 * Cluster-wide token bucket (capacity 1, as Celery's rate limits), refilled at ARGV[1] tokens
 * per ms on the server's clock, so workers' clocks do not matter. Takes the token and returns 0,
 * or returns the ms until one is due. KEYS[1]: the bucket hash (tokens, at); it expires once idle.
 */
export const RESERVE_TOKEN = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rate = tonumber(ARGV[1])
local b = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(b[1]) or 1
local at = tonumber(b[2]) or now
tokens = math.min(1, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = math.ceil((1 - tokens) / rate) end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(1 / rate) + 60000)
return wait
`;
