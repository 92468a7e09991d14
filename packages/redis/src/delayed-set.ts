import type { Redis } from './connection.js';
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
 * KEYS: the delayed set, then the queue's lists in priority-step order.
 * ARGV: now (epoch ms), most messages to move. Returns how many moved.
 */
const MOVE_DUE = `
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, member in ipairs(due) do
  redis.call('ZREM', KEYS[1], member)
  local sep = string.find(member, ':', 1, true)
  local list = KEYS[2 + tonumber(string.sub(member, 1, sep - 1))]
  redis.call('LPUSH', list, string.sub(member, sep + 1))
end
return #due
`;

export function delayedKey(keys: RedisKeys, queue: string): string {
  return `${keys.prefix}_tq.delayed.${queue}`;
}

/** The member stored for `payload` (a kombu envelope) bound for the list of `wirePriority`. */
export function delayedMember(steps: readonly number[], wirePriority: number, payload: string): string {
  return `${steps.indexOf(priorityStep(steps, wirePriority))}:${payload}`;
}

/** The envelope inside a member. */
export function payloadOf(member: string): string {
  return member.slice(member.indexOf(':') + 1);
}

/** Moves due messages of `queue` into its lists; returns how many. */
export async function moveDue(client: Redis, keys: RedisKeys, steps: readonly number[], queue: string, now = Date.now()): Promise<number> {
  const lists = steps.map((step) => keys.queue(queue, step));
  const run = script(client, 'tqMoveDue', MOVE_DUE, 'first-argument');
  let total = 0;
  for (;;) {
    const moved = Number(await run(1 + lists.length, delayedKey(keys, queue), ...lists, now, MOVE_BATCH));
    total += moved;
    if (moved < MOVE_BATCH) return total;
  }
}

/**
 * Runs the due-mover for every queue this broker consumes, every DUE_POLL_MS, one pass at a
 * time (a slow pass is not overlapped by the next).
 */
export class DueMover {
  readonly #queues = new Map<string, number>();
  readonly #pass: (queue: string) => Promise<unknown>;
  #timer: NodeJS.Timeout | undefined;
  #running = false;

  constructor(pass: (queue: string) => Promise<unknown>) {
    this.#pass = pass;
  }

  /** Moves `queue`'s due messages while the returned function has not been called. */
  watch(queue: string): () => void {
    this.#queues.set(queue, (this.#queues.get(queue) ?? 0) + 1);
    if (!this.#timer) {
      this.#timer = setInterval(() => void this.#tick(), DUE_POLL_MS);
      this.#timer.unref();
    }
    void this.#tick();
    let watching = true;
    return () => {
      if (!watching) return;
      watching = false;
      const count = (this.#queues.get(queue) ?? 1) - 1;
      if (count > 0) this.#queues.set(queue, count);
      else this.#queues.delete(queue);
    };
  }

  async #tick(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    try {
      // An unreachable Redis fails the pass; the next tick tries again.
      for (const queue of [...this.#queues.keys()]) await this.#pass(queue).catch(() => undefined);
    } finally {
      this.#running = false;
    }
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#queues.clear();
  }
}
