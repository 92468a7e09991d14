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
  /**
   * `chordSetSize`/`chordPartReturn` count chord header results atomically in the backend, so
   * the header task that completes a chord applies its body (Celery's native join on Redis).
   * Default false: the producer sends Celery's `celery.chord_unlock` polling task instead.
   */
  readonly chordJoin?: boolean;
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
}

/**
 * The result backend contract. Records are opaque bytes serialized by core (Celery's
 * result meta as JSON); the backend stores the latest record per task id.
 */
export interface ResultBackend {
  readonly capabilities: ResultBackendCapabilities;
  connect(options?: { signal?: AbortSignal }): Promise<void>;
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
