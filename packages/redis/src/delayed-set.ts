import type { DelayedMessage } from '@tq/core/adapter';
import type { Redis } from './connection.js';
import { decodeEnvelope } from './envelope.js';
import { RedisKeys, priorityStep } from './keys.js';
import { script } from './scripts.js';

/**
 * Durable countdown/ETA on Redis: a sorted set per queue ("_tq.delayed.<queue>"), each member
 * a kombu envelope prefixed by the index of its priority list, scored by its due time (epoch
 * ms). Every worker that consumes the queue runs the due-mover below a few times a second, so
 * delays do not depend on any single process; the move is one Lua script (ZREM + LPUSH), so
 * two workers never move the same message twice. A due message lands in the queue's ordinary
 * kombu list, where Python Celery workers run it as well as tq workers (its eta header is
 * kept, so a worker that sees it a few ms early waits the rest). Lateness: up to one poll
 * interval plus the wait behind messages already in the list. Memory: the whole set lives in
 * Redis, none of it in a worker. Durability: Redis's (AOF/RDB), as for the lists.
 */
export const DUE_POLL_MS = 200;
/** Due messages moved per script call; a backlog is drained call after call in one pass. */
const MOVE_BATCH = 1000;

/**
 * KEYS: the registry set, the delayed set, then the queue's lists in priority-step order.
 * ARGV: now (epoch ms), most messages to move, the queue name. Returns how many moved.
 * A set left empty leaves the registry in the same step (ADD_DELAYED adds both back atomically).
 */
const MOVE_DUE = `
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, member in ipairs(due) do
  redis.call('ZREM', KEYS[2], member)
  local sep = string.find(member, ':', 1, true)
  local list = KEYS[3 + tonumber(string.sub(member, 1, sep - 1))]
  redis.call('LPUSH', list, string.sub(member, sep + 1))
end
if redis.call('ZCARD', KEYS[2]) == 0 then redis.call('SREM', KEYS[1], ARGV[3]) end
return #due
`;

/** KEYS: the registry set, the delayed set. ARGV: due time (epoch ms), member, queue name. */
const ADD_DELAYED = `
redis.call('ZADD', KEYS[2], ARGV[1], ARGV[2])
redis.call('SADD', KEYS[1], ARGV[3])
return 1
`;

/** Adds a delayed message and lists its queue in the registry, in one step. */
export async function addDelayed(client: Redis, keys: RedisKeys, queue: string, notBefore: number, member: string): Promise<void> {
  await script(client, 'tqAddDelayed', ADD_DELAYED, 2)(delayedQueuesKey(keys), delayedKey(keys, queue), notBefore, member, queue);
}

export function delayedKey(keys: RedisKeys, queue: string): string {
  return `${keys.prefix}_tq.delayed.${queue}`;
}

/** The set of queues that have (or had) a delayed set: what every mover walks. */
export function delayedQueuesKey(keys: RedisKeys): string {
  return `${keys.prefix}_tq.delayed`;
}

/** The member stored for `payload` (a kombu envelope) bound for the list of `wirePriority`. */
export function delayedMember(steps: readonly number[], wirePriority: number, payload: string): string {
  return `${steps.indexOf(priorityStep(steps, wirePriority))}:${payload}`;
}

/** The envelope inside a member. */
export function payloadOf(member: string): string {
  return member.slice(member.indexOf(':') + 1);
}

/**
 * The soonest `limit` members of the queue's delayed set, read (ZRANGE … WITHSCORES: one
 * command, O(log n + limit)), not moved. A member that does not decode is skipped.
 */
export async function listDelayed(client: Redis, keys: RedisKeys, queue: string, limit: number): Promise<DelayedMessage[]> {
  const flat = await client.zrange(delayedKey(keys, queue), '0', String(limit - 1), 'WITHSCORES');
  const listed: DelayedMessage[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) {
    try {
      listed.push({ notBefore: Number(flat[i + 1]), headers: decodeEnvelope(payloadOf(flat[i]!)).message.headers });
    } catch {
      // Written by something else than tq: not ours to show.
    }
  }
  return listed;
}

/** Moves due messages of `queue` into its lists; returns how many. */
export async function moveDue(client: Redis, keys: RedisKeys, steps: readonly number[], queue: string, now = Date.now()): Promise<number> {
  const lists = steps.map((step) => keys.queue(queue, step));
  const run = script(client, 'tqMoveDue', MOVE_DUE, 'first-argument');
  let total = 0;
  for (;;) {
    const moved = Number(await run(2 + lists.length, delayedQueuesKey(keys), delayedKey(keys, queue), ...lists, now, MOVE_BATCH, queue));
    total += moved;
    if (moved < MOVE_BATCH) return total;
  }
}

/**
 * Runs the due-mover every DUE_POLL_MS over every queue listed in the registry set, one pass at
 * a time (a slow pass is not overlapped by the next). Every tq process that consumes, or that
 * published a delayed message and is still connected, runs it: a queue only Python workers
 * consume still gets its due messages while any tq process is connected to the Redis.
 */
export class DueMover {
  readonly #queues: () => Promise<string[]>;
  readonly #pass: (queue: string) => Promise<unknown>;
  #timer: NodeJS.Timeout | undefined;
  #running = false;

  constructor(queues: () => Promise<string[]>, pass: (queue: string) => Promise<unknown>) {
    this.#queues = queues;
    this.#pass = pass;
  }

  /** Starts the timer (idempotent). */
  start(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => void this.#tick(), DUE_POLL_MS);
    this.#timer.unref();
    void this.#tick();
  }

  async #tick(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    try {
      // An unreachable Redis fails the pass; the next tick tries again.
      const queues = await this.#queues().catch(() => [] as string[]);
      for (const queue of queues) await this.#pass(queue).catch(() => undefined);
    } finally {
      this.#running = false;
    }
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
