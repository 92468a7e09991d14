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
 * kept, so a worker that sees it a few ms early waits the rest). Lateness: a mover sleeps until
 * the next due time it saw, so a few ms, up to MIN_PASS_GAP_MS when due times are dense, up to
 * DUE_POLL_MS for a delay published meanwhile by another process, plus the wait behind
 * messages already in the list. Memory: the whole set lives in
 * Redis, none of it in a worker. Durability: Redis's (AOF/RDB), as for the lists.
 */
export const DUE_POLL_MS = 200;
/**
 * Shortest pause between two passes of one mover. Between polls a mover sleeps until the next
 * due time it saw (or a delayed publish of its own process asked for), so a lone delay is moved
 * within a few ms of its time; when due times are dense this floor bounds the passes to 50 a
 * second per process.
 */
export const MIN_PASS_GAP_MS = 20;
/** Due messages moved per script call; a backlog is drained call after call in one pass. */
const MOVE_BATCH = 1000;

/**
 * KEYS: the registry set, the delayed set, then the queue's lists in priority-step order.
 * ARGV: now (epoch ms), most messages to move, the queue name. Returns how many moved and the
 * due time of the next member ('' when none is left).
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
local upcoming = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
if #upcoming == 0 then
  redis.call('SREM', KEYS[1], ARGV[3])
  return {#due, ''}
end
return {#due, upcoming[2]}
`;

/**
 * KEYS: the registry set, the delayed set. ARGV: the queue name, then due time (epoch ms) and
 * member pairs: the delayed publishes of one moment to one queue, in one step.
 */
const ADD_DELAYED = `
redis.call('ZADD', KEYS[2], unpack(ARGV, 2))
redis.call('SADD', KEYS[1], ARGV[1])
return 1
`;

export interface DelayedEntry {
  readonly notBefore: number;
  readonly member: string;
}

/** Adds delayed messages of one queue and lists the queue in the registry, in one step. */
export async function addDelayed(client: Redis, keys: RedisKeys, queue: string, entries: readonly DelayedEntry[]): Promise<void> {
  const pairs = entries.flatMap(({ notBefore, member }) => [notBefore, member]);
  await script(client, 'tqAddDelayedMany', ADD_DELAYED, 2)(delayedQueuesKey(keys), delayedKey(keys, queue), queue, ...pairs);
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

/** What one pass over a queue did: messages moved, and the due time of the next one (null: none left). */
export interface MovePass {
  readonly moved: number;
  readonly next: number | null;
}

/** Moves due messages of `queue` into its lists. */
export async function moveDue(client: Redis, keys: RedisKeys, steps: readonly number[], queue: string, now = Date.now()): Promise<MovePass> {
  const lists = steps.map((step) => keys.queue(queue, step));
  const run = script(client, 'tqMoveDueNext', MOVE_DUE, 'first-argument');
  let moved = 0;
  for (;;) {
    const [count, next] = (await run(2 + lists.length, delayedQueuesKey(keys), delayedKey(keys, queue), ...lists, now, MOVE_BATCH, queue)) as [number, string];
    moved += Number(count);
    if (Number(count) < MOVE_BATCH) return { moved, next: next === '' ? null : Number(next) };
  }
}

/**
 * Runs the due-mover over every queue listed in the registry set, one pass at a time (a slow
 * pass is not overlapped by the next): at least every DUE_POLL_MS (delays published by other
 * processes), and sooner when the next due time seen in the sets, or a delayed publish of this
 * process (nudge), is sooner — but never within MIN_PASS_GAP_MS of the last pass. Every tq
 * process that consumes, or that published a delayed message and is still connected, runs it:
 * a queue only Python workers consume still gets its due messages while any tq process is
 * connected to the Redis.
 */
export class DueMover {
  readonly #queues: () => Promise<string[]>;
  readonly #pass: (queue: string) => Promise<MovePass>;
  #timer: NodeJS.Timeout | undefined;
  #wakeAt = Number.POSITIVE_INFINITY;
  /** The soonest due time nudged while a pass ran (its sets were maybe read before the publish). */
  #nudgedDuringPass = Number.POSITIVE_INFINITY;
  #started = false;
  #running = false;
  #lastPassEnd = 0;

  constructor(queues: () => Promise<string[]>, pass: (queue: string) => Promise<MovePass>) {
    this.#queues = queues;
    this.#pass = pass;
  }

  /** Starts the passes (idempotent). */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    void this.#tick();
  }

  /** A delayed message due at `notBefore` was just added by this process: pass then, if sooner than planned. */
  nudge(notBefore: number): void {
    if (!this.#started) return;
    if (this.#running) this.#nudgedDuringPass = Math.min(this.#nudgedDuringPass, notBefore);
    else if (notBefore < this.#wakeAt) this.#arm(notBefore);
  }

  #arm(at: number): void {
    clearTimeout(this.#timer);
    const when = Math.max(at, this.#lastPassEnd + MIN_PASS_GAP_MS);
    this.#wakeAt = when;
    this.#timer = setTimeout(() => void this.#tick(), Math.max(0, when - Date.now()));
    this.#timer.unref();
  }

  async #tick(): Promise<void> {
    if (this.#running || !this.#started) return;
    this.#running = true;
    clearTimeout(this.#timer);
    this.#wakeAt = Number.POSITIVE_INFINITY;
    let next = Date.now() + DUE_POLL_MS;
    try {
      // An unreachable Redis fails the pass; the next poll tries again. Called inside then() so a
      // synchronous throw (the broker closed while a pass was under way) is caught here too,
      // not left as an unhandled rejection that would end the process.
      const queues = await Promise.resolve()
        .then(this.#queues)
        .catch(() => [] as string[]);
      for (const queue of queues) {
        if (!this.#started) break;
        const pass = await Promise.resolve(queue)
          .then(this.#pass)
          .catch(() => undefined);
        if (pass?.next != null) next = Math.min(next, pass.next);
      }
    } finally {
      this.#running = false;
      this.#lastPassEnd = Date.now();
    }
    next = Math.min(next, this.#nudgedDuringPass);
    this.#nudgedDuringPass = Number.POSITIVE_INFINITY;
    if (this.#started) this.#arm(next);
  }

  stop(): void {
    this.#started = false;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
