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
  /** Delete the record. */
  forget(taskId: string): Promise<void>;
  /** Idempotent. */
  close(): Promise<void>;
}
