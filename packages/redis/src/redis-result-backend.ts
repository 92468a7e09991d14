import { isAscii } from 'node:buffer';
import type { BroadcastBinding, BroadcastRoute, ChordPart, ResultBackend, ResultBackendCapabilities, StoreOptions, VersionedValue } from '@tq/core/adapter';
import { ClosedError, DeliveryBuffer, MomentBatch } from '@tq/core/adapter';
import { RedisBroadcasts } from './broadcasts.js';
import { MAX_COMMAND_BYTES } from './command-size.js';
import { closeConnection, openConnection, type Redis } from './connection.js';
import { toTqError, translated, type ErrorContext } from './errors.js';
import { RedisKeys } from './keys.js';
import { PubSubChannels } from './pub-sub.js';
import { CLAIM, COMPARE_AND_SET, RELEASE_CLAIM, RESERVE_TOKEN, RETAIN, script, STORE_RESULTS } from './scripts.js';
import type { RedisOptions } from './options.js';

interface PendingStore {
  readonly key: string;
  readonly value: Buffer | string;
}

/**
 * Celery's Redis result backend layout: the record (Celery's JSON result meta) at
 * `celery-task-meta-<id>`, written with an expiry (default 1 day, Celery's result_expires), and
 * PUBLISHed on a channel of the same name after each store so waiting clients wake at once —
 * Celery's own AsyncResult.get() listens there too.
 */
export class RedisResultBackend implements ResultBackend {
  readonly capabilities: ResultBackendCapabilities = { watch: true, expiry: true, broadcast: true, claim: true, retain: true, retainBytes: true, rateLimit: true, compareAndSet: true, chordJoin: true };
  readonly options: RedisOptions;
  readonly #keys: RedisKeys;
  readonly #context: ErrorContext;
  readonly #pubSub: PubSubChannels;
  readonly #broadcasts: RedisBroadcasts;
  readonly #fetches = new MomentBatch<string, Buffer | null>((_, keys) => this.#open().mgetBuffer(...keys), { maxItems: 500 });
  readonly #stores = new MomentBatch<PendingStore>((ttlMs, stores) => this.#storeAll(ttlMs, stores), {
    maxItems: 500,
    maxBytes: MAX_COMMAND_BYTES,
    sizeOf: (store) => store.value.length,
  });
  #client: Redis | undefined;
  #closed = false;

  constructor(options: RedisOptions) {
    this.options = options;
    this.#keys = new RedisKeys(options.keyPrefix, options.db);
    this.#context = { displayUrl: options.displayUrl, backend: true };
    this.#pubSub = new PubSubChannels(() => openConnection(options, 'blocking', 'tq:results:watch', this.#context));
    this.#broadcasts = new RedisBroadcasts({
      keys: this.#keys,
      context: this.#context,
      pubSub: this.#pubSub,
      commands: () => this.#open(),
      openBlocking: () => openConnection(options, 'blocking', 'tq:results:direct', this.#context),
    });
  }

  async connect(options?: { signal?: AbortSignal }): Promise<void> {
    if (this.#closed) throw new ClosedError('redis result backend');
    if (this.#client) return;
    this.#client = await openConnection(this.options, 'command', 'tq:results', this.#context, options?.signal);
  }

  #open(): Redis {
    if (this.#closed) throw new ClosedError('redis result backend');
    if (!this.#client) throw new ClosedError('redis result backend (not connected)');
    return this.#client;
  }

  store(taskId: string, record: Uint8Array, options: StoreOptions): Promise<void> {
    this.#open(); // refuses a closed or unconnected backend now, not at the end of the moment
    const key = this.#keys.result(taskId);
    const ttlMs = options.ttlMs ?? this.options.resultTtlMs;
    // A copy (it is sent after this call returns). Celery records are ASCII JSON: as a string,
    // the whole batch goes out as text, which ioredis writes in one piece.
    const value = isAscii(record) ? Buffer.from(record.buffer, record.byteOffset, record.byteLength).toString('latin1') : Buffer.from(record);
    const expiry = String(ttlMs > 0 ? Math.ceil(ttlMs) : 0);
    // A watch opened on this instance is subscribed before the record can be published.
    const subscribed = this.#pubSub.subscribed(key);
    const stored = subscribed
      ? subscribed.catch(() => undefined).then(() => this.#stores.add(expiry, { key, value }))
      : this.#stores.add(expiry, { key, value });
    return stored.catch((error: unknown) => {
      throw toTqError(error, this.#context);
    });
  }

  /**
   * The stores of one moment (with the same expiry) as one script call: SET then PUBLISH per
   * record, so a watcher woken by the PUBLISH reads the new record.
   */
  #storeAll(ttlMs: string, stores: readonly PendingStore[]): Promise<unknown> {
    const keys = stores.map((s) => s.key);
    const values = stores.map((s) => s.value);
    return script(this.#open(), 'tqStoreResults', STORE_RESULTS, 'first-argument')(keys.length, ...keys, ttlMs, ...values);
  }

  /** A token bucket per key in one script call, on the server's clock (see core's rateLimitScope). */
  async reserveToken(key: string, perMs: number): Promise<number> {
    try {
      const wait = await script(this.#open(), 'tqReserveToken', RESERVE_TOKEN, 1)(`${this.#keys.prefix}${key}`, String(perMs));
      return Number(wait);
    } catch (error) {
      throw toTqError(error, this.#context);
    }
  }

  /** The reads of one moment share one MGET (a worker without broadcast reads a record per task). */
  fetch(taskId: string): Promise<Uint8Array | null> {
    this.#open();
    return this.#fetches.add('', this.#keys.result(taskId)).then(
      (value) => (value === null ? null : new Uint8Array(value)),
      (error: unknown) => {
        throw toTqError(error, this.#context);
      },
    );
  }

  /** SET NX with GET in one script (SET … NX GET needs Redis 7): the current holder, or null when this call claimed it. */
  async claim(key: string, value: string, ttlMs: number): Promise<string | null> {
    try {
      const held = await script(this.#open(), 'tqClaim', CLAIM, 1)(this.#keys.claim(key), value, String(Math.max(1, Math.ceil(ttlMs))));
      return held === null || held === undefined ? null : String(held);
    } catch (error) {
      throw toTqError(error, this.#context);
    }
  }

  /**
   * ZADD, then the members beyond the newest `keep`, and with `maxBytes` the oldest while the
   * group's records add up to more, lose their records and their place, in one script (sizes
   * are tracked in a hash beside the sorted set, so a trim reads no record).
   */
  async retain(group: string, taskId: string, keep: number | null, maxBytes?: number): Promise<void> {
    try {
      const ttlMs = String(Math.max(1, Math.ceil(this.options.resultTtlMs)));
      await script(this.#open(), 'tqRetain', RETAIN, 2)(
        this.#keys.retention(group),
        this.#keys.retentionSizes(group),
        taskId,
        String(Date.now()),
        keep === null ? '' : String(keep),
        this.#keys.result(''),
        ttlMs,
        maxBytes === undefined ? '' : String(maxBytes),
      );
    } catch (error) {
      throw toTqError(error, this.#context);
    }
  }

  async releaseClaim(key: string, value: string): Promise<void> {
    try {
      await script(this.#open(), 'tqReleaseClaim', RELEASE_CLAIM, 1)(this.#keys.claim(key), value);
    } catch (error) {
      throw toTqError(error, this.#context);
    }
  }

  /** Subscribes first, then reads the current record, so no update between the two is missed. */
  watch(taskId: string, signal: AbortSignal): AsyncIterable<Uint8Array> {
    const client = this.#open();
    const key = this.#keys.result(taskId);
    /** The last record pushed from pub/sub, to drop the same record arriving again from the initial GET. */
    let lastPublished: Buffer | undefined;
    const listening = this.#pubSub.listen(key, {
      push: (message) => {
        lastPublished = message;
        buffer.push(new Uint8Array(message));
      },
      end: () => buffer.end(),
    });
    const buffer = new DeliveryBuffer<Uint8Array>({ signal, onClose: listening.remove });
    listening.subscribed
      .then(() => client.getBuffer(key))
      .then((value) => {
        if (value && !lastPublished?.equals(value)) buffer.push(new Uint8Array(value));
      })
      .catch((error: unknown) => buffer.fail(error));
    return buffer;
  }

  /** Broadcasts on the channels a Redis broker of the same server, db and prefix uses for its own. */
  broadcast(channel: string, body: Uint8Array, route?: BroadcastRoute): Promise<void> {
    this.#open();
    return this.#broadcasts.broadcast(channel, body, route);
  }

  subscribe(channel: string, signal: AbortSignal, binding?: BroadcastBinding): AsyncIterable<Uint8Array> {
    this.#open();
    return this.#broadcasts.subscribe(channel, signal, binding);
  }

  /** A hash per record: `v` the value, `n` a counter bumped by every write (the version). */
  async getVersioned(key: string): Promise<VersionedValue | null> {
    const client = this.#open();
    const [value, version] = await translated(this.#context, () => client.hmgetBuffer(this.#keys.coordination(key), 'v', 'n'));
    return value && version ? { value: new Uint8Array(value), version: version.toString('latin1') } : null;
  }

  async compareAndSet(key: string, value: Uint8Array, expected: string | null): Promise<string | null> {
    const client = this.#open();
    const written = await translated(this.#context, () =>
      script(client, 'tqCompareAndSet', COMPARE_AND_SET, 1)(this.#keys.coordination(key), Buffer.from(value), expected ?? ''),
    );
    return written === null ? null : String(written);
  }

  #expirySeconds(ttlMs: number | undefined): number {
    const ms = ttlMs ?? this.options.resultTtlMs;
    return ms > 0 ? Math.ceil(ms / 1000) : 0;
  }

  /** Celery's set_chord_size: SET celery-taskset-meta-<gid>.s with the result expiry. */
  async chordSetSize(groupId: string, size: number, options: { ttlMs?: number }): Promise<void> {
    const client = this.#open();
    const key = this.#keys.group(groupId, '.s');
    const expiry = this.#expirySeconds(options.ttlMs);
    await translated(this.#context, () => (expiry > 0 ? client.set(key, String(size), 'EX', expiry) : client.set(key, String(size))));
  }

  /**
   * Celery's on_chord_part_return (redis backend, result_chord_ordered): in one MULTI, ZADD the
   * part to `.j` scored by group_index ('+inf' without one), ZCOUNT it, GET `.t` and `.s`, and
   * refresh the expiry. The call that sees the count reach size + `.t` reads every part (ZRANGE)
   * and deletes the keys; a Python worker doing the same on the same keys takes part in the count.
   */
  async chordPartReturn(groupId: string, part: ChordPart, options: { ttlMs?: number }): Promise<readonly Uint8Array[] | null> {
    const client = this.#open();
    const jkey = this.#keys.group(groupId, '.j');
    const tkey = this.#keys.group(groupId, '.t');
    const skey = this.#keys.group(groupId, '.s');
    const expiry = this.#expirySeconds(options.ttlMs);
    const score = part.groupIndex === null ? '+inf' : String(part.groupIndex);
    const replies = await translated(this.#context, () => {
      const multi = client.multi().zadd(jkey, score, Buffer.from(part.encoded)).zcount(jkey, '-inf', '+inf').get(tkey).get(skey);
      if (expiry > 0) multi.expire(jkey, expiry).expire(tkey, expiry).expire(skey, expiry);
      return multi.exec();
    });
    if (!replies) return null;
    for (const [error] of replies) if (error) throw toTqError(error, this.#context);
    const readyCount = Number(replies[1]![1]);
    const totalDiff = Number(replies[2]![1] ?? 0);
    const size = replies[3]![1];
    if (size === null || size === undefined) return null;
    if (readyCount !== Number(size) + totalDiff) return null;
    const parts = await translated(this.#context, () => client.zrangeBuffer(jkey, '0', '-1'));
    await translated(this.#context, () => client.del(jkey, tkey, skey));
    return parts.map((p) => new Uint8Array(p));
  }

  /** Celery's _save_group: the group record at celery-taskset-meta-<gid>, with the result expiry. */
  async saveGroup(groupId: string, record: Uint8Array, options: { ttlMs?: number }): Promise<void> {
    const client = this.#open();
    const key = this.#keys.group(groupId);
    const expiry = this.#expirySeconds(options.ttlMs);
    const value = Buffer.from(record);
    await translated(this.#context, () => (expiry > 0 ? client.set(key, value, 'EX', expiry) : client.set(key, value)));
  }

  async fetchGroup(groupId: string): Promise<Uint8Array | null> {
    const client = this.#open();
    const value = await translated(this.#context, () => client.getBuffer(this.#keys.group(groupId)));
    return value ? new Uint8Array(value) : null;
  }

  async forgetGroup(groupId: string): Promise<void> {
    const client = this.#open();
    await translated(this.#context, () => client.del(this.#keys.group(groupId)));
  }

  async forget(taskId: string): Promise<void> {
    const client = this.#open();
    await translated(this.#context, () => client.del(this.#keys.result(taskId)));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#broadcasts.close();
    await this.#pubSub.close();
    if (this.#client) await closeConnection(this.#client, this.options.socketTimeoutMs);
  }
}
