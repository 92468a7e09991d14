import type { BroadcastBinding, BroadcastRoute } from '../broker/broker.js';

export interface ResultBackendCapabilities {
  /** `watch` pushes updates (pub/sub, KV watch); otherwise core polls `fetch`. Default false. */
  readonly watch: boolean;
  /** Records expire after `ttlMs` by themselves. Default false (core documents no expiry). */
  readonly expiry: boolean;
  /**
   * `broadcast`/`subscribe` carry broadcasts (remote control, revocations, events) for brokers
   * that have no broadcast channel of their own, such as Kafka. Default false.
   */
  readonly broadcast?: boolean;
  /** `claim` sets a key only when absent, atomically (deduplication of sends). Default false. */
  readonly claim?: boolean;
  /** `retain` keeps the last N records of a group (retention per task name). Default false. */
  readonly retain?: boolean;
  /**
   * `retain` also honours a byte budget (its `maxBytes`): it knows the stored size of each
   * member of a group. Default false.
   */
  readonly retainBytes?: boolean;
  /** `reserveToken` keeps cluster-wide rate-limit buckets (rateLimitScope: 'cluster'). Default false. */
  readonly rateLimit?: boolean;
  /**
   * `getVersioned`/`compareAndSet` keep small durable records that change only when the writer
   * read the latest version: tq beat's leader lease, tick state and schedules live there.
   * Default false (beat then needs another store).
   */
  readonly compareAndSet?: boolean;
  /**
   * `chordSetSize`/`chordPartReturn` count chord header results atomically in the backend, so
   * the header task that completes a chord applies its body (Celery's native join on Redis).
   * Default false: the producer sends Celery's `celery.chord_unlock` polling task instead.
   */
  readonly chordJoin?: boolean;
}

/** A coordination record and the version it was read at (opaque: a counter, a stream revision). */
export interface VersionedValue {
  readonly value: Uint8Array;
  readonly version: string;
}

/** One finished chord header task, as the chord join stores it. */
export interface ChordPart {
  /** Celery's encoding of the part: JSON `[1, task_id, state, result]` (result = exception info on failure). */
  readonly encoded: Uint8Array;
  /** The task's position in the header (group_index); null = after every indexed part. */
  readonly groupIndex: number | null;
}

export interface StoreOptions {
  /** Time to live of the record; undefined = the backend's default (tq: 1 day). */
  readonly ttlMs?: number;
  /** The task message's reply_to / correlation_id, for reply-queue backends such as rpc://. */
  readonly replyTo?: string;
  readonly correlationId?: string;
  /**
   * What the task is, for backends that keep it beside the record (SQL tables read by an admin
   * page, django-celery-results' task_name/task_args/worker columns). Set by the worker when it
   * knows; a backend must work without it (records written by control commands have none).
   */
  readonly task?: StoredTaskInfo;
}

/** Celery's result_extended fields, as the worker knows them when it stores a record. */
export interface StoredTaskInfo {
  /** Registered task name (headers.task). */
  readonly name: string;
  readonly args?: readonly unknown[];
  readonly kwargs?: Readonly<Record<string, unknown>>;
  /** The worker's hostname (celery@host). */
  readonly worker?: string;
  /** Times the task was retried before this run. */
  readonly retries?: number;
}

/**
 * The result backend contract. Records are opaque bytes serialized by core (Celery's
 * result meta as JSON); the backend stores the latest record per task id.
 */
export interface ResultBackend {
  readonly capabilities: ResultBackendCapabilities;
  connect(options?: { signal?: AbortSignal }): Promise<void>;
  /**
   * Cluster-wide token bucket for `key` (capacity 1 token, refilled at `perMs` tokens per ms,
   * on the backend's clock): takes the token and resolves 0 when there is one, else resolves
   * the ms to wait and takes nothing. Atomic across every worker. When capabilities.rateLimit.
   */
  reserveToken?(key: string, perMs: number): Promise<number>;
  /** Replace the record for `taskId`. */
  store(taskId: string, record: Uint8Array, options: StoreOptions): Promise<void>;
  /** The latest record, or null when none (unknown, expired or forgotten). */
  fetch(taskId: string): Promise<Uint8Array | null>;
  /**
   * Yields each record stored for `taskId` after the call starts (and the current one, if any),
   * until `signal` aborts. When capabilities.watch.
   */
  watch?(taskId: string, signal: AbortSignal): AsyncIterable<Uint8Array>;
  /**
   * For reply-queue backends (rpc://): the address producers write into `reply_to` so results
   * come back to this client. Called after connect. Key-value backends omit it.
   */
  replyAddress?(): Promise<string>;
  /** Publish `body` to every current subscriber of `channel` (no persistence). When capabilities.broadcast. */
  broadcast?(channel: string, body: Uint8Array, route?: BroadcastRoute): Promise<void>;
  /**
   * Receive broadcasts on `channel` until `signal` aborts; subscribed from the call on, as the
   * broker's subscribe. When capabilities.broadcast.
   */
  subscribe?(channel: string, signal: AbortSignal, binding?: BroadcastBinding): AsyncIterable<Uint8Array>;
  /**
   * Atomically: when `key` is absent (or expired), set it to `value` for `ttlMs` and return null;
   * otherwise leave it and return its current value. Two concurrent claims of one key, from any
   * clients, see exactly one null. Keys live apart from task records. When capabilities.claim.
   */
  claim?(key: string, value: string, ttlMs: number): Promise<string | null>;
  /** Deletes the claim on `key` if it still holds `value` (a send that failed after claiming). When capabilities.claim. */
  releaseClaim?(key: string, value: string): Promise<void>;
  /**
   * Adds `taskId` (just stored) as the newest member of `group`, then forgets the records of the
   * group's oldest members beyond the newest `keep`, and drops them from the group. Atomic per
   * call where the store allows (Redis: one script). When capabilities.retain.
   *
   * With `maxBytes` (only passed when capabilities.retainBytes): also forgets the oldest members
   * while the stored records of the group add up to more than `maxBytes` (the size of a record is
   * the length of its stored bytes, as `store` got them); the newest member is always kept.
   * `keep` is then null when only the byte budget applies.
   */
  retain?(group: string, taskId: string, keep: number | null, maxBytes?: number): Promise<void>;
  /** The coordination record at `key` and its version; null when absent. When capabilities.compareAndSet. */
  getVersioned?(key: string): Promise<VersionedValue | null>;
  /**
   * Writes `value` at `key` only if the record's version is still `expected` (null: only if
   * absent), atomically, durably and with no expiry. Returns the new version, or null when
   * another writer got there first. Keys are [A-Za-z0-9_.-]. When capabilities.compareAndSet.
   */
  compareAndSet?(key: string, value: Uint8Array, expected: string | null): Promise<string | null>;
  /**
   * Records how many header results complete chord `groupId` (Redis: `celery-taskset-meta-<gid>.s`).
   * When capabilities.chordJoin.
   */
  chordSetSize?(groupId: string, size: number, options: { ttlMs?: number }): Promise<void>;
  /**
   * Adds one header result to chord `groupId` and counts them, atomically. Resolves to every
   * part in group order exactly once: for the call that brought the count to the chord size
   * (the chord's state is then deleted); null for every other call. When capabilities.chordJoin.
   */
  chordPartReturn?(groupId: string, part: ChordPart, options: { ttlMs?: number }): Promise<readonly Uint8Array[] | null>;
  /** Stores a group record (Celery's `celery-taskset-meta-<gid>`) for GroupResult.save(). Optional. */
  saveGroup?(groupId: string, record: Uint8Array, options: { ttlMs?: number }): Promise<void>;
  /** The stored group record, or null. With saveGroup. */
  fetchGroup?(groupId: string): Promise<Uint8Array | null>;
  /** Deletes the stored group record. With saveGroup. */
  forgetGroup?(groupId: string): Promise<void>;
  /** Delete the record. */
  forget(taskId: string): Promise<void>;
  /** Idempotent. */
  close(): Promise<void>;
}
