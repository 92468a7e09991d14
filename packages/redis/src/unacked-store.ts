import { randomUUID } from 'node:crypto';
import { MomentBatch, pythonJsonStringify } from '@tq/core/adapter';
import type { Redis } from './connection.js';
import { decodeEnvelope, markRedelivered, serializeEnvelope, type Envelope } from './envelope.js';
import { RedisKeys, priorityStep } from './keys.js';
import { ACK_UNACKED, MAX_ACKS_PER_CALL, MOVE_UNACKED, POP_AND_RECORD, RELEASE_LOCK, script } from './scripts.js';

/**
 * How long the restore lock lives if its holder never releases it (died, or its SET NX was
 * replayed by a reconnecting client after the caller gave up). kombu uses 5 minutes; a pass
 * restores at most RESTORE_BATCH entries in well under a second, and a lock stuck for 5
 * minutes would hold back a dead worker's tasks far past the 30 s visibility timeout.
 */
const MUTEX_TTL_MS = 10_000;
/** Expired deliveries restored per pass; the rest wait for the next pass. */
const RESTORE_BATCH = 100;

/**
 * kombu's ack emulation on Redis (QoS in kombu/transport/redis.py): every delivery is recorded
 * in the `unacked` hash (tag → [envelope, exchange, routing_key]) and the `unacked_index` sorted
 * set (tag → epoch seconds). Ack removes both; a delivery whose score is older than the
 * visibility timeout is pushed back to its queue by any process holding `unacked_mutex` —
 * Python workers included, since the keys are shared with them.
 */
export class UnackedStore {
  readonly #client: Redis;
  readonly #keys: RedisKeys;
  readonly #steps: readonly number[];
  readonly #visibilityTimeoutMs: number;
  readonly #acks = new MomentBatch<string>(
    (_, tags) => script(this.#client, 'tqAckUnacked', ACK_UNACKED, 2)(this.#keys.unacked, this.#keys.unackedIndex, ...tags),
    { maxItems: MAX_ACKS_PER_CALL },
  );

  readonly #foreignVisibilityTimeoutMs: number;

  constructor(client: Redis, keys: RedisKeys, steps: readonly number[], visibilityTimeoutMs: number, foreignVisibilityTimeoutMs = visibilityTimeoutMs) {
    this.#client = client;
    this.#keys = keys;
    this.#steps = steps;
    this.#visibilityTimeoutMs = visibilityTimeoutMs;
    this.#foreignVisibilityTimeoutMs = Math.max(visibilityTimeoutMs, foreignVisibilityTimeoutMs);
  }

  /**
   * Pops up to `wanted` messages from `lists` (in order) and records each as unacked, the k-th
   * under the tag `${tagPrefix}${firstTag + k}`, atomically. Acks `ackTags` first (at most
   * MAX_ACKS_PER_CALL). Returns [list, message] pairs in pop order.
   */
  async popAndRecord(
    queue: string,
    lists: readonly string[],
    tagPrefix: string,
    firstTag: number,
    wanted: number,
    ackTags: readonly string[] = [],
  ): Promise<Array<[string, string]>> {
    const flat = (await script(this.#client, 'tqPopAndRecord', POP_AND_RECORD, 2 + lists.length)(
      this.#keys.unacked,
      this.#keys.unackedIndex,
      ...lists,
      nowSeconds(),
      pythonJsonStringify(queue),
      tagPrefix,
      firstTag,
      wanted,
      ...ackTags,
    )) as string[];
    const pairs: Array<[string, string]> = [];
    for (let i = 0; i + 1 < flat.length; i += 2) pairs.push([flat[i]!, flat[i + 1]!]);
    // Emptied once read: ioredis keeps its reply reachable after the command settles (through
    // what, not found), and at c=100 that kept every message text of a drain alive into the old
    // space: 0.9 against 0.1 KB promoted a task (docs/benchmarks.md, "Where the extra memory is").
    flat.length = 0;
    return pairs;
  }

  /** Forgets a delivery for good (kombu's QoS.ack). The acks of one moment share one script call. */
  ack(tag: string): Promise<void> {
    return this.#acks.add('', tag);
  }

  /** Pushes the delivery's lease forward; false when it was already restored or settled. */
  async extend(tag: string): Promise<boolean> {
    const changed = await this.#client.zadd(this.#keys.unackedIndex, 'XX', 'CH', nowSeconds(), tag);
    return Number(changed) === 1;
  }

  /**
   * Puts an unacked delivery back on its queue, flagged redelivered. `end`: 'front' is served
   * next (kombu's restore), 'back' queues behind everything (kombu's reject with requeue).
   */
  async requeue(tag: string, envelope: Envelope, queue: string, end: 'front' | 'back'): Promise<boolean> {
    const list = this.#keys.queue(queue, priorityStep(this.#steps, Number(envelope.properties.priority) || 0));
    return this.#move(tag, list, await this.#text(tag, envelope, true), end === 'front' ? 'right' : 'left', '');
  }

  /** Moves an unacked delivery to a dead-letter list, unchanged (`payload`: an envelope, or the raw text of an unreadable one). */
  async deadLetter(tag: string, payload: Envelope | string, list: string): Promise<boolean> {
    return this.#move(tag, this.#keys.queue(list, 0), typeof payload === 'string' ? payload : await this.#text(tag, payload, false), 'left', '');
  }

  /**
   * The envelope's text to push back, flagged redelivered when asked. An envelope too deeply
   * nested to write again (JSON.parse reads any depth, writing recurses) goes back as the text
   * it arrived with, taken from its unacked entry: unflagged, but neither lost nor stuck.
   */
  async #text(tag: string, envelope: Envelope, redelivered: boolean, entry?: string): Promise<string> {
    try {
      return serializeEnvelope(redelivered ? markRedelivered(envelope) : envelope);
    } catch (error) {
      if (!(error instanceof RangeError)) throw error;
      const parts = unackedEntryParts(entry ?? (await this.#client.hget(this.#keys.unacked, tag)) ?? '');
      if (parts === null) throw error;
      return parts.envelope;
    }
  }

  async #move(tag: string, list: string, payload: string, side: 'left' | 'right', maxScore: string): Promise<boolean> {
    const moved = await script(this.#client, 'tqMoveUnacked', MOVE_UNACKED, 3)(this.#keys.unacked, this.#keys.unackedIndex, list, tag, payload, side, maxScore);
    return Number(moved) === 1;
  }

  /**
   * kombu's restore_visible: under the shared mutex, every delivery not acked or extended
   * within the visibility timeout goes back to the front of its queue. Returns how many.
   * tq's own deliveries (tq extends them while it runs or holds them) after visibilityTimeoutMs;
   * other clients' (Python workers, which never extend and hold ETA tasks unacked until due)
   * only after foreignVisibilityTimeoutMs, kombu's own rule: see isTqTag.
   */
  async restoreExpired(): Promise<number> {
    const token = randomUUID();
    const locked = await this.#client.set(this.#keys.unackedMutex, token, 'PX', MUTEX_TTL_MS, 'NX');
    if (locked !== 'OK') return 0;
    let restored = 0;
    try {
      const now = nowSeconds();
      const ceiling = String(now - this.#visibilityTimeoutMs / 1000);
      const foreignCeiling = String(now - this.#foreignVisibilityTimeoutMs / 1000);
      let tags = await this.#client.zrangebyscore(this.#keys.unackedIndex, '-inf', foreignCeiling, 'LIMIT', 0, RESTORE_BATCH);
      if (tags.length < RESTORE_BATCH && foreignCeiling !== ceiling) {
        // Between the two ceilings only tq's own tags are due; foreign ones there are skipped.
        for (let offset = 0; offset < RESTORE_SCAN_LIMIT && tags.length < RESTORE_BATCH; offset += RESTORE_BATCH) {
          const page = await this.#client.zrangebyscore(this.#keys.unackedIndex, `(${foreignCeiling}`, ceiling, 'LIMIT', offset, RESTORE_BATCH);
          tags = [...tags, ...page.filter(isTqTag)];
          if (page.length < RESTORE_BATCH) break;
        }
      }
      for (const tag of tags) {
        const entry = await this.#client.hget(this.#keys.unacked, tag);
        if (entry === null) {
          await this.#client.zrem(this.#keys.unackedIndex, tag);
          continue;
        }
        const target = await this.#destination(entry);
        if (!target) continue; // not kombu's [envelope, exchange, routing key]: nothing can restore it
        const list = this.#keys.queue(target.queue, priorityStep(this.#steps, Number(target.envelope.properties.priority) || 0));
        const payload = await this.#text(tag, target.envelope, true, entry);
        if (await this.#move(tag, list, payload, 'right', isTqTag(tag) ? ceiling : foreignCeiling)) restored++;
      }
    } finally {
      await this.#client.eval(RELEASE_LOCK, 1, this.#keys.unackedMutex, token);
    }
    return restored;
  }

  /** kombu's _lookup for a restore: the anonymous exchange routes by queue name, a direct exchange by its binding set. */
  async #destination(entry: string): Promise<{ queue: string; envelope: Envelope } | null> {
    const parts = unackedEntryParts(entry);
    if (!parts) return null;
    const { exchange, routingKey } = parts;
    let envelope: Envelope;
    try {
      envelope = decodeEnvelope(parts.envelope).envelope;
    } catch {
      return null;
    }
    if (!exchange) return { queue: routingKey || undeliverableQueue, envelope };
    const members = await this.#client.smembers(this.#keys.binding(String(exchange)));
    for (const member of members) {
      const [rk, , queue] = member.split('\x06\x16');
      if (rk === routingKey && queue) return { queue, envelope };
    }
    // As kombu's _lookup: a message no queue is bound for goes to its dead-letter queue.
    return { queue: undeliverableQueue, envelope };
  }
}

/** kombu's virtual transport's deadletter_queue: where a restore sends what no binding routes. */
const undeliverableQueue = 'ae.undeliver';

/** The two strings that end kombu's unacked entry: `, "<exchange>", "<routing key>"]`. */
const entryTail = /, ("(?:[^"\\]|\\.)*"), ("(?:[^"\\]|\\.)*")\]$/;

/**
 * An unacked entry's parts ([envelope, exchange, routing key], written by concatenation (tq) or
 * json.dumps (kombu)), the envelope as its own text: not parsed here, nor parsed and written
 * again (an envelope too deep to write must go back as it is). Null when it has another shape.
 */
export function unackedEntryParts(entry: string): { envelope: string; exchange: string; routingKey: string } | null {
  if (!entry.startsWith('[')) return null;
  const tail = entryTail.exec(entry);
  if (!tail) return null;
  try {
    return { envelope: entry.slice(1, tail.index), exchange: JSON.parse(tail[1]!) as string, routingKey: JSON.parse(tail[2]!) as string };
  } catch {
    return null; // a quoted tail that is not JSON (a bad escape)
  }
}

/** Unacked entries looked at between the two ceilings per pass, at most. */
const RESTORE_SCAN_LIMIT = 10_000;

/**
 * tq records its deliveries under "<uuid>.<n>" (RedisConsumer); kombu under the message's
 * delivery_tag, a bare uuid4. Only tq's are extended while alive.
 */
export function isTqTag(tag: string): boolean {
  return /^[0-9a-f-]{36}\.\d+$/.test(tag);
}

/** kombu scores unacked deliveries with Python's time(): epoch seconds as a float. */
export function nowSeconds(): number {
  return Date.now() / 1000;
}
