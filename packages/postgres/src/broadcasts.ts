import type pg from 'pg';
import { DeliveryBuffer, topicMatches, type BroadcastBinding, type BroadcastRoute } from '@tq/core/adapter';
import type { Notifier } from './notifier.js';
import type { PostgresNames } from './schema.js';

/** NOTIFY payloads are limited to 8000 bytes: a larger broadcast goes through the broadcasts table. */
const maxInlinePayload = 7_900;
/** Rows of large broadcasts live this long: enough for every listener to read them. */
const keepLargeMs = 5 * 60_000;

/** A broadcast as sent on the NOTIFY channel: channel, kind, routing key, and the body or the row holding it. */
interface Envelope {
  readonly c: string;
  readonly k: string;
  readonly r: string;
  readonly b?: string;
  readonly id?: string;
}

type Fail = (error: unknown, what: string) => unknown;

/**
 * Broadcasts over LISTEN/NOTIFY: fanout, topic (AMQP patterns) and direct (exact key) channels
 * multiplexed on one NOTIFY channel and filtered by each subscriber. Nothing is kept for a
 * subscriber that is not listening (as kombu's Redis fanout); bodies over NOTIFY's limit are
 * stored in a row for a few minutes and the notification carries its id.
 */
export class Broadcasts {
  readonly #pool: pg.Pool;
  readonly #notifier: Notifier;
  readonly #names: PostgresNames;
  readonly #fail: Fail;

  constructor(pool: pg.Pool, notifier: Notifier, names: PostgresNames, fail: Fail) {
    this.#pool = pool;
    this.#notifier = notifier;
    this.#names = names;
    this.#fail = fail;
  }

  async publish(channel: string, body: Uint8Array, route?: BroadcastRoute): Promise<void> {
    const base = { c: channel, k: route?.kind ?? 'fanout', r: route?.routingKey ?? '' };
    const inline = JSON.stringify({ ...base, b: Buffer.from(body).toString('base64') } satisfies Envelope);
    try {
      if (Buffer.byteLength(inline) <= maxInlinePayload) {
        await this.#pool.query('SELECT pg_notify($1, $2)', [this.#names.broadcastChannel, inline]);
        return;
      }
      const b = this.#names.broadcasts;
      await this.#pool.query(
        `WITH old AS (
            DELETE FROM ${b} WHERE id IN (SELECT id FROM ${b} WHERE created_at < now() - interval '${keepLargeMs} milliseconds' LIMIT 100)),
          row AS (INSERT INTO ${b} (body) VALUES ($2) RETURNING id)
        SELECT pg_notify($1, json_build_object('c', $3::text, 'k', $4::text, 'r', $5::text, 'id', row.id::text)::text) FROM row`,
        [this.#names.broadcastChannel, Buffer.from(body), base.c, base.k, base.r],
      );
    } catch (error) {
      throw this.#fail(error, `broadcasting on "${channel}"`);
    }
  }

  subscribe(channel: string, signal: AbortSignal, binding?: BroadcastBinding): AsyncIterable<Uint8Array> {
    const kind = binding?.kind ?? 'fanout';
    const pattern = binding?.pattern ?? (kind === 'topic' ? '#' : '');
    const matches = (envelope: Envelope): boolean => {
      if (envelope.c !== channel) return false;
      if (kind === 'topic') return topicMatches(pattern, envelope.r);
      if (kind === 'direct') return envelope.r === pattern;
      return true;
    };
    const listening: { stop?: () => void } = {};
    const buffer = new DeliveryBuffer<Uint8Array>({ signal, onClose: () => listening.stop?.() });
    // Large bodies are read from their row: a chain keeps the subscriber's order.
    let chain = Promise.resolve();
    const stop = this.#notifier.on(this.#names.broadcastChannel, (payload) => {
      let envelope: Envelope;
      try {
        envelope = JSON.parse(payload) as Envelope;
      } catch {
        return;
      }
      if (!matches(envelope)) return;
      if (envelope.b !== undefined) {
        const body = new Uint8Array(Buffer.from(envelope.b, 'base64'));
        chain = chain.then(() => void buffer.push(body));
      } else if (envelope.id !== undefined) {
        const id = envelope.id;
        chain = chain.then(async () => {
          try {
            const { rows } = await this.#pool.query<{ body: Buffer }>(`SELECT body FROM ${this.#names.broadcasts} WHERE id = $1`, [id]);
            if (rows[0]) buffer.push(new Uint8Array(rows[0].body));
          } catch {
            // Lost, as a broadcast to a subscriber that is not listening is.
          }
        });
      }
    });
    listening.stop = stop;
    if (signal.aborted) stop();
    return buffer;
  }
}
