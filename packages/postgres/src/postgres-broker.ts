import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import {
  brokerCapabilities,
  ClosedError,
  loggerOf,
  type AdapterOptions,
  type BroadcastBinding,
  type BroadcastRoute,
  type Broker,
  type BrokerCapabilities,
  type BrokerMessage,
  type ConsumeOptions,
  type Consumer,
  type DelayedMessage,
  type ListDelayedOptions,
  type Logger,
  type MessageHeaders,
  type MessageProperties,
  type QueueStats,
} from '@tq/core/adapter';
import { Broadcasts } from './broadcasts.js';
import { createPool, endPool } from './connection.js';
import { toTqError } from './errors.js';
import { Notifier } from './notifier.js';
import type { PostgresOptions } from './options.js';
import { PostgresDelivery, type LeaseActions, type Settlement } from './postgres-delivery.js';
import { asQueryable } from './outbox.js';
import { PublishBatch } from './publish-batch.js';
import { QueueConsumer } from './queue-consumer.js';
import { brokerMigrations, migrate, PostgresNames } from './schema.js';

/** Celery's priority scale: 0..9, higher first. */
const maxPriority = 9;

interface QueuedPublish {
  queue: string;
  message: BrokerMessage;
}

interface MessageRow {
  id: string;
  queue: string;
  deliveries: number;
  headers: MessageHeaders;
  properties: MessageProperties;
  body: Buffer;
}

interface Connected {
  readonly pool: pg.Pool;
  readonly notifier: Notifier;
  readonly broadcasts: Broadcasts;
}

/**
 * Broker over one PostgreSQL table: publish is an INSERT (plus a NOTIFY for the queue's
 * consumers, sent at commit), consume claims rows with FOR UPDATE SKIP LOCKED and leases them
 * for leaseMs. See index.ts for the guarantees.
 */
export class PostgresBroker implements Broker {
  readonly capabilities: BrokerCapabilities;
  readonly names: PostgresNames;
  /** This instance's lease owner id: close() returns every lease it holds. */
  readonly owner = randomUUID();
  readonly #options: PostgresOptions;
  readonly #logger: Logger | undefined;
  readonly #consumers = new Set<QueueConsumer>();
  readonly #byQueue = new Map<string, Set<QueueConsumer>>();
  readonly #actions: LeaseActions;
  #connected: Connected | undefined;
  #closed = false;
  readonly #sql: ReturnType<typeof statements>;
  readonly #publishes = new PublishBatch<QueuedPublish>((batch) => this.#insert(batch), { maxInFlight: 2, maxRows: 200 });
  #sweptAt = 0;

  constructor(options: PostgresOptions, adapterOptions: AdapterOptions = {}) {
    this.#options = options;
    this.#logger = loggerOf(adapterOptions);
    this.names = new PostgresNames(options);
    this.#sql = statements(this.names, options.leaseMs);
    this.capabilities = brokerCapabilities({
      delayedDelivery: true,
      maxPriority,
      broadcast: true,
      redeliversUnacked: true,
      redeliveryWindowMs: options.leaseMs,
      deadLetter: true,
      fifo: true,
      // bytea holds up to 1 GB; a message is sent in one protocol message, so stay well below.
      maxMessageBytes: 256 * 1024 * 1024,
      purge: true,
      // Delayed messages are rows of their queue (visible_at ahead): purge deletes them, listDelayed selects them.
      purgeDelayed: true,
      listDelayed: true,
      queueStats: true,
      transactionalPublish: true,
      // A row per deduplicated publish, inserted in the message's own statement (publishOnce).
      publishDeduplicationMs,
    });
    this.#actions = {
      settle: (delivery, outcome) => this.#settle(delivery, outcome),
      extend: (delivery) => this.#extend(delivery),
    };
  }

  /** The pool, for tests and tools (and for transactional enqueue in the same database). */
  get pool(): pg.Pool | undefined {
    return this.#connected?.pool;
  }

  #fail(error: unknown, what: string, connecting = false): unknown {
    return toTqError(error, what, { displayUrl: this.#options.redacted, connecting });
  }

  async connect(): Promise<void> {
    if (this.#closed) throw new ClosedError('postgres broker');
    if (this.#connected) return;
    const pool = createPool(this.#options, this.#logger, 'tq-broker');
    const notifier = new Notifier(this.#options, [this.names.queueChannel, this.names.broadcastChannel], () => this.#wakeAll(), this.#logger);
    try {
      await migrate(pool, this.names.schema, `tq-broker:${this.#options.schema}:${this.#options.tablePrefix}`, brokerMigrations(this.names), this.names.migrations);
      await notifier.start();
    } catch (error) {
      await notifier.close(1_000);
      await endPool(pool, 1_000);
      throw this.#fail(error, 'preparing the schema', true);
    }
    notifier.on(this.names.queueChannel, (queue) => {
      const consumers = this.#byQueue.get(queue);
      if (consumers) for (const consumer of consumers) consumer.notify();
    });
    const broadcasts = new Broadcasts(pool, notifier, this.names, (error, what) => this.#fail(error, what));
    this.#connected = { pool, notifier, broadcasts };
    if (this.#closed) await this.#shutdown(this.#connected);
  }

  #live(): Connected {
    if (this.#closed) throw new ClosedError('postgres broker');
    if (!this.#connected) throw new ClosedError('postgres broker (not connected)');
    return this.#connected;
  }

  async publish(queue: string, message: BrokerMessage): Promise<void> {
    this.#live();
    if (message.deduplicationId !== undefined) return this.#publishOnce(queue, message, message.deduplicationId);
    await this.#publishes.add({ queue, message });
  }

  /**
   * A deduplicated publish: the id's row and the message go in in one statement, so no crash
   * falls between them; a repeat within the window inserts neither. Expired ids are swept a
   * hundred at a time, at most once a minute per broker.
   */
  async #publishOnce(queue: string, message: BrokerMessage, id: string): Promise<void> {
    const { pool } = this.#live();
    await this.#query(pool, `publishing to queue "${queue}"`, this.#sql.publishOnce, [...publishParams(queue, message, this.names.queueChannel), id, publishDeduplicationMs]);
    if (Date.now() - this.#sweptAt > 60_000) {
      this.#sweptAt = Date.now();
      await this.#query(pool, 'forgetting expired deduplication ids', this.#sql.sweepPublished, []).catch((error: unknown) => this.#logger?.warn(`postgres: ${(error as Error).message}`));
    }
  }

  /** One INSERT for the whole batch (see PublishBatch); rows keep the order they were sent in. */
  async #insert(batch: QueuedPublish[]): Promise<void> {
    const { pool } = this.#live();
    const channel = this.names.queueChannel;
    if (batch.length === 1) {
      const [{ queue, message }] = batch as [QueuedPublish];
      await this.#query(pool, `publishing to queue "${queue}"`, this.#sql.publish, publishParams(queue, message, channel));
      return;
    }
    const columns: unknown[][] = [[], [], [], [], [], [], []];
    for (const { queue, message } of batch) publishParams(queue, message, channel).slice(0, 7).forEach((value, i) => columns[i]!.push(value));
    const queues = [...new Set(batch.map((entry) => entry.queue))];
    await this.#query(pool, `publishing ${batch.length} messages to ${queues.map((q) => `"${q}"`).join(', ')}`, this.#sql.publishMany, [...columns, channel]);
  }

  /**
   * The INSERT (and its NOTIFY, sent at commit) on the caller's own client inside the caller's
   * transaction: the message exists if and only if that transaction commits. Not retried.
   */
  async publishInTransaction(transaction: unknown, queue: string, message: BrokerMessage): Promise<void> {
    this.#live();
    await asQueryable(transaction).query(this.#sql.publish, publishParams(queue, message, this.names.queueChannel));
  }

  consume(queue: string, options: ConsumeOptions): Consumer {
    const { pool } = this.#live();
    const consumer = new QueueConsumer(queue, options.prefetch, options.signal, {
      claim: (q, limit) => this.#claim(pool, q, limit),
      nextVisibleInMs: async (q) => {
        const { rows } = await this.#query<{ wait_ms: number | null }>(pool, `looking at queue "${q}"`, this.#sql.nextVisible, [q]);
        return rows[0]?.wait_ms ?? null;
      },
      handBack: (deliveries) => this.#handBack(pool, deliveries),
      pollIntervalMs: this.#options.pollIntervalMs,
      ...(this.#logger ? { logger: this.#logger } : {}),
      onStop: (c) => this.#forget(c),
    });
    this.#consumers.add(consumer);
    let set = this.#byQueue.get(queue);
    if (!set) this.#byQueue.set(queue, (set = new Set()));
    set.add(consumer);
    if (consumer.stopped) this.#forget(consumer);
    return {
      setPrefetch: (prefetch) => consumer.setPrefetch(prefetch),
      [Symbol.asyncIterator]: () => consumer.buffer[Symbol.asyncIterator](),
    };
  }

  #forget(consumer: QueueConsumer): void {
    this.#consumers.delete(consumer);
    const set = this.#byQueue.get(consumer.queue);
    set?.delete(consumer);
    if (set?.size === 0) this.#byQueue.delete(consumer.queue);
  }

  #wakeAll(): void {
    for (const consumer of this.#consumers) consumer.notify();
  }

  async #claim(pool: pg.Pool, queue: string, limit: number): Promise<PostgresDelivery[]> {
    const { rows } = await this.#query<MessageRow>(pool, `claiming from queue "${queue}"`, this.#sql.claim, [queue, limit, this.owner]);
    // RETURNING has no order: restore the claim's (priority, then publish order).
    rows.sort((a, b) => {
      const pa = rowPriority(a);
      const pb = rowPriority(b);
      if (pa !== pb) return pb - pa;
      return BigInt(a.id) < BigInt(b.id) ? -1 : 1;
    });
    return rows.map((row) => {
      const body = new Uint8Array(row.body.buffer, row.body.byteOffset, row.body.byteLength);
      return new PostgresDelivery(row, { body, headers: row.headers, properties: row.properties }, this.#actions);
    });
  }

  async #handBack(pool: pg.Pool, deliveries: readonly PostgresDelivery[]): Promise<void> {
    if (deliveries.length === 0) return;
    await this.#query(pool, 'giving back unread deliveries', this.#sql.handBack, [deliveries.map((d) => d.id), this.owner, this.names.queueChannel]);
  }

  async #settle(delivery: PostgresDelivery, outcome: Settlement): Promise<void> {
    const { pool } = this.#live();
    const fence = [delivery.id, this.owner, delivery.deliveries];
    try {
      switch (outcome) {
        case 'ack':
          await this.#query(pool, `acking a delivery from "${delivery.queue}"`, this.#sql.ack, [delivery.id]);
          break;
        case 'requeue':
          await this.#query(pool, `requeueing a delivery on "${delivery.queue}"`, this.#sql.requeue, [...fence, this.names.queueChannel]);
          break;
        case 'dead':
          await this.#query(pool, `dead-lettering a delivery from "${delivery.queue}"`, this.#sql.deadLetter, [...fence, this.names.queueChannel]);
          break;
      }
    } finally {
      for (const consumer of this.#byQueue.get(delivery.queue) ?? []) consumer.released(delivery);
    }
  }

  async #extend(delivery: PostgresDelivery): Promise<void> {
    const { pool } = this.#live();
    const { rowCount } = await this.#query(pool, `extending a lease on "${delivery.queue}"`, this.#sql.extend, [delivery.id, this.owner, delivery.deliveries]);
    if (rowCount === 0) this.#logger?.warn(`postgres: the lease of a delivery from "${delivery.queue}" had already expired and was taken over; the task may run twice`);
  }

  async purge(queue: string): Promise<number> {
    const { rowCount } = await this.#query(this.#live().pool, `purging queue "${queue}"`, this.#sql.purge, [queue]);
    return rowCount ?? 0;
  }

  async queueStats(queue: string): Promise<QueueStats> {
    const { rows } = await this.#query<{ ready: string; unacked: string; dead: string; delayed: string }>(this.#live().pool, `counting queue "${queue}"`, this.#sql.stats, [queue, `${queue}.dead`]);
    const row = rows[0]!;
    return { ready: Number(row.ready), unacked: Number(row.unacked), dead: Number(row.dead), consumers: null, delayed: Number(row.delayed) };
  }

  /** Unleased rows whose visible_at is ahead, soonest first: one indexed SELECT (queue, visible_at). */
  async listDelayed(queue: string, options: ListDelayedOptions): Promise<DelayedMessage[]> {
    const { rows } = await this.#query<{ not_before: number; headers: MessageHeaders }>(this.#live().pool, `listing delayed messages of "${queue}"`, this.#sql.listDelayed, [queue, options.limit]);
    return rows.map((row) => ({ notBefore: Math.round(row.not_before), headers: row.headers }));
  }

  broadcast(channel: string, body: Uint8Array, route?: BroadcastRoute): Promise<void> {
    return this.#live().broadcasts.publish(channel, body, route);
  }

  subscribe(channel: string, signal: AbortSignal, binding?: BroadcastBinding): AsyncIterable<Uint8Array> {
    return this.#live().broadcasts.subscribe(channel, signal, binding);
  }

  async #query<R extends pg.QueryResultRow = pg.QueryResultRow>(pool: pg.Pool, what: string, text: string, values: unknown[]): Promise<pg.QueryResult<R>> {
    try {
      return await pool.query<R>(text, values);
    } catch (error) {
      throw this.#fail(error, what);
    }
  }

  /** Consumers stop, every lease this instance holds returns to its queue at once, connections close. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const connected = this.#connected;
    if (connected) await this.#shutdown(connected);
  }

  async #shutdown({ pool, notifier }: Connected): Promise<void> {
    const consumers = [...this.#consumers];
    await Promise.all(consumers.map((consumer) => consumer.stop()));
    const bound = this.#options.queryTimeoutMs + this.#options.connectTimeoutMs;
    try {
      await pool.query(this.#sql.releaseAll, [this.owner, this.names.queueChannel]);
    } catch {
      // Unreachable: the leases end by themselves after leaseMs.
    }
    await notifier.close(1_000);
    await endPool(pool, Math.min(bound, 5_000));
  }
}

function rowPriority(row: MessageRow): number {
  return clampPriority(row.properties?.priority);
}

function clampPriority(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? Math.max(0, Math.min(maxPriority, Math.round(value))) : 0;
}

function publishParams(queue: string, message: BrokerMessage, channel: string): unknown[] {
  const taskId = message.headers['id'];
  return [
    queue,
    clampPriority(message.properties.priority),
    message.notBefore ?? null,
    typeof taskId === 'string' ? taskId : null,
    JSON.stringify(message.headers),
    JSON.stringify(message.properties),
    Buffer.from(message.body.buffer, message.body.byteOffset, message.body.byteLength),
    channel,
  ];
}

/** How long a deduplication id is remembered (capabilities.publishDeduplicationMs), as on Redis. */
const publishDeduplicationMs = 3_600_000;

/** Every statement the broker runs, built once per table layout. */
function statements(n: PostgresNames, leaseMs: number) {
  const lease = `now() + interval '${leaseMs} milliseconds'`;
  // A message row's columns, and their values from publishParams' $1..$7 (publish, publishOnce).
  const insertColumns = '(queue, priority, visible_at, task_id, headers, properties, body)';
  const messageValues = '$1, $2, COALESCE(to_timestamp($3::double precision / 1000), now()), $4, $5::json, $6::json, $7';
  return {
    publish: `WITH m AS (
        INSERT INTO ${n.messages} ${insertColumns}
        VALUES (${messageValues})
        RETURNING queue)
      SELECT pg_notify($8, queue) FROM m`,
    // publish's row, inserted only when the id's row is ($9, for $10 ms).
    publishOnce: `WITH d AS (
        INSERT INTO ${n.published} (id, expires_at) VALUES ($9, now() + $10::double precision * interval '1 millisecond')
        ON CONFLICT (id) DO UPDATE SET expires_at = EXCLUDED.expires_at WHERE ${n.published}.expires_at < now()
        RETURNING id),
      m AS (
        INSERT INTO ${n.messages} ${insertColumns}
        SELECT ${messageValues} FROM d
        RETURNING queue)
      SELECT pg_notify($8, queue) FROM m`,
    sweepPublished: `DELETE FROM ${n.published} WHERE id IN (SELECT id FROM ${n.published} WHERE expires_at < now() LIMIT 100)`,
    publishMany: `WITH m AS (
        INSERT INTO ${n.messages} ${insertColumns}
        SELECT q, p, COALESCE(to_timestamp(nb / 1000), now()), t, h::json, pr::json, b
        FROM unnest($1::text[], $2::smallint[], $3::float8[], $4::text[], $5::text[], $6::text[], $7::bytea[])
          WITH ORDINALITY AS u(q, p, nb, t, h, pr, b, n)
        ORDER BY n
        RETURNING queue)
      SELECT pg_notify($8, queue) FROM (SELECT DISTINCT queue FROM m) q`,
    claim: `WITH c AS (
        SELECT id FROM ${n.messages}
        WHERE queue = $1 AND visible_at <= now()
        ORDER BY priority DESC, id
        LIMIT $2
        FOR UPDATE SKIP LOCKED)
      UPDATE ${n.messages} m SET visible_at = ${lease}, lease_owner = $3, deliveries = m.deliveries + 1
      FROM c WHERE m.id = c.id
      RETURNING m.id, m.queue, m.deliveries, m.headers, m.properties, m.body`,
    nextVisible: `SELECT GREATEST(0, ceil(extract(epoch FROM (min(visible_at) - now())) * 1000))::float8 AS wait_ms
      FROM ${n.messages} WHERE queue = $1`,
    ack: `DELETE FROM ${n.messages} WHERE id = $1`,
    requeue: `WITH u AS (
        UPDATE ${n.messages} SET visible_at = now(), lease_owner = NULL
        WHERE id = $1 AND lease_owner = $2 AND deliveries = $3
        RETURNING queue)
      SELECT pg_notify($4, queue) FROM u`,
    // Never read by anyone: not counted as a delivery, so the next one is not "redelivered".
    handBack: `WITH u AS (
        UPDATE ${n.messages} SET visible_at = now(), lease_owner = NULL, deliveries = GREATEST(0, deliveries - 1)
        WHERE id = ANY($1::bigint[]) AND lease_owner = $2
        RETURNING queue)
      SELECT pg_notify($3, queue) FROM (SELECT DISTINCT queue FROM u) q`,
    releaseAll: `WITH u AS (
        UPDATE ${n.messages} SET visible_at = now(), lease_owner = NULL
        WHERE lease_owner = $1 AND visible_at > now()
        RETURNING queue)
      SELECT pg_notify($2, queue) FROM (SELECT DISTINCT queue FROM u) q`,
    deadLetter: `WITH d AS (
        DELETE FROM ${n.messages} WHERE id = $1 AND lease_owner = $2 AND deliveries = $3
        RETURNING queue, priority, task_id, headers, properties, body),
      i AS (
        INSERT INTO ${n.messages} (queue, priority, task_id, headers, properties, body)
        SELECT queue || '.dead', priority, task_id, headers, properties, body FROM d
        RETURNING queue)
      SELECT pg_notify($4, queue) FROM i`,
    extend: `UPDATE ${n.messages} SET visible_at = ${lease} WHERE id = $1 AND lease_owner = $2 AND deliveries = $3`,
    purge: `DELETE FROM ${n.messages} WHERE queue = $1 AND (lease_owner IS NULL OR visible_at <= now())`,
    // Ready: visible now (never claimed, requeued, or a lease that ran out); delayed: unleased, visible later.
    stats: `SELECT
        count(*) FILTER (WHERE queue = $1 AND visible_at <= now()) AS ready,
        count(*) FILTER (WHERE queue = $1 AND lease_owner IS NOT NULL AND visible_at > now()) AS unacked,
        count(*) FILTER (WHERE queue = $1 AND lease_owner IS NULL AND visible_at > now()) AS delayed,
        count(*) FILTER (WHERE queue = $2) AS dead
      FROM ${n.messages} WHERE queue IN ($1, $2)`,
    listDelayed: `SELECT extract(epoch FROM visible_at)::float8 * 1000 AS not_before, headers
      FROM ${n.messages} WHERE queue = $1 AND lease_owner IS NULL AND visible_at > now()
      ORDER BY visible_at, id LIMIT $2`,
  };
}
