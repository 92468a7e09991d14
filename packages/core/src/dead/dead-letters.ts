import type { Broker, Delivery, HeaderValue, MessageHeaders } from '../broker/broker.js';
import { TqError, UnsupportedError } from '../errors.js';
import { deadLetterHeaders } from '../worker/dead-letter.js';

/** Header a replayed message carries: how many times it was replayed from the dead letters. */
export const replayCountHeader = 'x-tq-replays';

/** Which dead letters of one queue an operation touches. Every field narrows the selection. */
export interface DeadLetterFilter {
  /** The queue the messages were dead-lettered from (its dead-letter store is "<queue><suffix>"). */
  readonly queue: string;
  /** Only messages of this task name. */
  readonly task?: string;
  /** Only messages dead-lettered at or after this time. A dead letter with no recorded time does not match. */
  readonly since?: Date;
  /** Only these task ids. */
  readonly ids?: readonly string[];
  /** At most this many matches (list, replay, purge). Default: every match. */
  readonly limit?: number;
}

/** One dead letter as read from the broker's dead-letter store. */
export interface DeadLetter {
  /** The task id (Celery's `id` header); null when the message has none (garbage moved by the broker). */
  readonly id: string | null;
  readonly task: string | null;
  /** The queue it was dead-lettered from. */
  readonly queue: string;
  /** Why, as core recorded it (x-tq-dead-reason); null when the broker moved it on its own. */
  readonly reason: string | null;
  /** Error code (TQ_REJECTED, TQ_POISON_MESSAGE, TQ_MESSAGE_MALFORMED, …) or null. */
  readonly code: string | null;
  /** When it was dead-lettered, or null when not recorded. */
  readonly deadAt: Date | null;
  /** How many times it was replayed before (x-tq-replays). */
  readonly replays: number;
  /** Celery's argsrepr/kwargsrepr when the producer wrote them. */
  readonly argsrepr: string | null;
  readonly kwargsrepr: string | null;
  readonly headers: MessageHeaders;
  readonly contentType: string;
  readonly body: Uint8Array;
}

/** A dead letter as listings show it (`tq dead list`, the dashboard): everything but headers and body, JSON-ready. */
export function deadLetterSummary(letter: DeadLetter): Record<string, string | number | null> {
  return {
    id: letter.id,
    task: letter.task,
    queue: letter.queue,
    deadAt: letter.deadAt?.toISOString() ?? null,
    code: letter.code,
    reason: letter.reason,
    replays: letter.replays,
    argsrepr: letter.argsrepr,
    kwargsrepr: letter.kwargsrepr,
  };
}

export interface DeadLetterOptions {
  /** The dead-letter queue suffix (config deadLetterSuffix, '.dead'). */
  readonly suffix: string;
  /** Most dead letters one operation reads (held unacked while it runs). Default 10 000. */
  readonly scanLimit?: number;
  /** The store is taken as read to the end after this long without a delivery. Default 1500 ms. */
  readonly idleMs?: number;
}

type Verdict = 'hold' | 'taken';

/** How long a sweep waits for more once it has read as many messages as the broker counted. */
const graceMs = 300;
/** How long a sweep waits for messages the broker counts but has not delivered yet. */
const countedWaitMs = 5_000;

/**
 * The dead letters of a queue, on any broker: every adapter keeps them in a queue named
 * "<queue><suffix>" (a Redis list, an AMQP queue, a JetStream subject of <stream>_DLQ, a Kafka
 * topic, a memory queue), so one sweep over the broker contract serves them all. A sweep
 * consumes that queue, takes what matches (replay: publish to the original queue, then ack;
 * purge: ack) and holds the rest unacked until the end, then gives it back with reject(true).
 * At-least-once like everything else: a crash between a replay's publish and its ack leaves
 * the message both replayed and still dead; never lost.
 */
export class DeadLetters {
  readonly #broker: () => Promise<Broker>;
  readonly #suffix: string;
  readonly #scanLimit: number;
  readonly #idleMs: number;

  constructor(broker: () => Promise<Broker>, options: DeadLetterOptions) {
    this.#broker = broker;
    this.#suffix = options.suffix;
    this.#scanLimit = options.scanLimit ?? 10_000;
    this.#idleMs = options.idleMs ?? 1_500;
  }

  /** The dead-letter queue of `queue`. */
  queueOf(queue: string): string {
    return `${queue}${this.#suffix}`;
  }

  /** The dead letters that match, oldest first where the broker keeps order; leaves them in place. */
  async list(filter: DeadLetterFilter): Promise<DeadLetter[]> {
    const found: DeadLetter[] = [];
    await this.#sweep(filter, async (letter) => {
      found.push(letter);
      return 'hold';
    });
    return found;
  }

  /** One dead letter by task id, or null. */
  async show(queue: string, id: string): Promise<DeadLetter | null> {
    const [letter] = await this.list({ queue, ids: [id], limit: 1 });
    return letter ?? null;
  }

  /**
   * Re-publishes the matching dead letters to the queue they died on, with their original id,
   * headers and body, minus the dead-letter headers, plus x-tq-replays incremented.
   */
  async replay(filter: DeadLetterFilter): Promise<DeadLetter[]> {
    const broker = await this.#broker();
    const replayed: DeadLetter[] = [];
    await this.#sweep(filter, async (letter, delivery) => {
      const headers: Record<string, HeaderValue> = { ...letter.headers };
      for (const name of Object.values(deadLetterHeaders)) delete headers[name];
      headers[replayCountHeader] = letter.replays + 1;
      const { message } = delivery;
      await broker.publish(letter.queue, { body: message.body, properties: message.properties, headers });
      await delivery.ack();
      replayed.push(letter);
      return 'taken';
    });
    return replayed;
  }

  /** Deletes the matching dead letters for good. */
  async purge(filter: DeadLetterFilter): Promise<DeadLetter[]> {
    const purged: DeadLetter[] = [];
    await this.#sweep(filter, async (letter, delivery) => {
      await delivery.ack();
      purged.push(letter);
      return 'taken';
    });
    return purged;
  }

  async #sweep(filter: DeadLetterFilter, act: (letter: DeadLetter, delivery: Delivery) => Promise<Verdict>): Promise<void> {
    validate(filter);
    const broker = await this.#broker();
    if (!broker.capabilities.requeueInPlace) {
      throw new UnsupportedError('this broker cannot give a message back in place (capabilities.requeueInPlace), so its dead letters cannot be read without rewriting them');
    }
    const deadQueue = this.queueOf(filter.queue);
    // Where the broker counts, stop after reading that many (unacked too: a message given back
    // a moment ago may still count as unacked); else the idle timeout ends the sweep.
    const counted = broker.capabilities.queueStats && broker.queueStats !== undefined;
    const count = async () => {
      const stats = await broker.queueStats!(deadQueue);
      return stats.ready + (stats.unacked ?? 0);
    };
    const present = counted ? await count() : this.#scanLimit;
    const toRead = Math.min(present, this.#scanLimit);
    if (toRead === 0) return;
    const limit = filter.limit ?? Number.POSITIVE_INFINITY;
    const held: Delivery[] = [];
    const stop = new AbortController();
    const prefetch = counted ? toRead : this.#scanLimit;
    const deliveries = broker.consume(deadQueue, { prefetch, signal: stop.signal })[Symbol.asyncIterator]();
    let pending: Promise<IteratorResult<Delivery>> | undefined;
    let read = 0;
    let matched = 0;
    const seen = new Set<string>();
    const taken = new Set<string>();
    try {
      while (matched < limit) {
        pending = deliveries.next();
        // The count is a floor, not a bound: a count read while another reader was giving
        // messages back can be short, so past it a brief quiet period ends the sweep.
        // Below the count, messages another reader is still giving back may take a while
        // (NATS hands them back when its pull ends), so wait longer for them.
        const waitMs = !counted ? this.#idleMs : read < toRead ? countedWaitMs : graceMs;
        let timer: ReturnType<typeof setTimeout> | undefined;
        const idle = new Promise<'idle'>((resolve) => (timer = setTimeout(() => resolve('idle'), waitMs)));
        const next = await Promise.race([pending, idle]).finally(() => clearTimeout(timer));
        if (next === 'idle') break;
        pending = undefined;
        if (next.done) break;
        read++;
        const delivery = next.value;
        const letter = describe(delivery, filter.queue);
        // A letter seen before in this sweep came back (a visibility timeout, a redelivery):
        // everything has been read once.
        const key = letter.id === null ? null : `${letter.id}|${letter.deadAt?.getTime() ?? ''}|${letter.replays}`;
        if (read > this.#scanLimit || (key !== null && seen.has(key))) {
          held.push(delivery);
          break;
        }
        if (key !== null) seen.add(key);
        // A letter replayed by this sweep may die again before the sweep ends: never twice.
        if (matched < limit && matches(letter, filter) && (letter.id === null || !taken.has(letter.id))) {
          matched++;
          if ((await act(letter, delivery)) === 'hold') held.push(delivery);
          else if (letter.id !== null) taken.add(letter.id);
        } else {
          held.push(delivery);
        }
      }
    } finally {
      // Stop reading first, then give back what was only looked at: with the consumer's pull
      // complete (prefetch = the count), a message given back is free for the next reader at
      // once instead of being pushed into this reader's open pull (JetStream).
      stop.abort();
      if (pending) void pending.then((late) => (late.done ? undefined : late.value.reject(true))).catch(() => undefined);
      await deliveries.return?.().catch(() => undefined);
      await Promise.allSettled(held.map((delivery) => delivery.reject(true)));
    }
    // Return once the broker counts what was given back (an AMQP requeue lands asynchronously),
    // so the next sweep does not read a short count.
    if (counted && held.length > 0) {
      const until = Date.now() + countedWaitMs;
      while (Date.now() < until && (await count()) < held.length) await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

function validate(filter: DeadLetterFilter): void {
  if (typeof filter.queue !== 'string' || filter.queue === '') throw new TqError('TQ_CONFIG_INVALID', 'dead letters: queue must be a non-empty string');
  if (filter.since !== undefined && !(filter.since instanceof Date && Number.isFinite(filter.since.getTime()))) {
    throw new TqError('TQ_CONFIG_INVALID', 'dead letters: since must be a valid Date');
  }
  if (filter.limit !== undefined && !(Number.isInteger(filter.limit) && filter.limit >= 1)) {
    throw new TqError('TQ_CONFIG_INVALID', `dead letters: limit must be a positive integer, got ${String(filter.limit)}`);
  }
}

function text(value: HeaderValue | undefined): string | null {
  return typeof value === 'string' ? value : null;
}

function describe(delivery: Delivery, queue: string): DeadLetter {
  const { headers, properties, body } = delivery.message;
  const at = text(headers[deadLetterHeaders.at]);
  const deadAt = at === null ? null : new Date(at);
  const replays = headers[replayCountHeader];
  return {
    id: text(headers['id']),
    task: text(headers['task']),
    queue: text(headers[deadLetterHeaders.queue]) ?? queue,
    reason: text(headers[deadLetterHeaders.reason]),
    code: text(headers[deadLetterHeaders.code]),
    deadAt: deadAt && Number.isFinite(deadAt.getTime()) ? deadAt : null,
    replays: typeof replays === 'number' && Number.isInteger(replays) && replays >= 0 ? replays : 0,
    argsrepr: text(headers['argsrepr']),
    kwargsrepr: text(headers['kwargsrepr']),
    headers,
    contentType: properties.contentType,
    body,
  };
}

function matches(letter: DeadLetter, filter: DeadLetterFilter): boolean {
  if (filter.task !== undefined && letter.task !== filter.task) return false;
  if (filter.ids !== undefined && (letter.id === null || !filter.ids.includes(letter.id))) return false;
  if (filter.since !== undefined && (letter.deadAt === null || letter.deadAt < filter.since)) return false;
  return true;
}
