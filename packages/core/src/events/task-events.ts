import { hostname as osHostname, loadavg as osLoadavg } from 'node:os';
import type { BroadcastRoute } from '../broker/broker.js';
import type { BroadcastBus } from '../control/broadcast-bus.js';
import type { Logger } from '../logger.js';
import type { TaskRequest } from '../protocol/message.js';
import { pythonJsonString, pythonJsonStringify, pythonJsonValue, safeJsonParse } from '../serializer/json.js';
import { PythonFloat, pythonFloatText } from '../serializer/python-float.js';
import { EventBatch } from './event-batch.js';
import { InFlightSet } from '../broker/in-flight.js';

/**
 * Celery's event exchange: a durable topic exchange named "celeryev" (on Redis, kombu turns it
 * into PUBLISH on "/<db>.celeryev/<routing key>"). Routing keys are the event type with '.' for
 * '-' ("task.succeeded", "worker.heartbeat"); a batch of task events travels as "task.multi".
 */
export const eventChannel = 'celeryev';

export type TaskEventType =
  | 'task-sent'
  | 'task-received'
  | 'task-started'
  | 'task-succeeded'
  | 'task-failed'
  | 'task-retried'
  | 'task-revoked'
  | 'task-rejected'
  | 'worker-online'
  | 'worker-heartbeat'
  | 'worker-offline';

/** One event, with Celery's field names: type, hostname, timestamp (s), clock, pid, uuid, … */
export type TaskEvent = Readonly<Record<string, unknown>> & { readonly type: string; readonly hostname: string; readonly timestamp: number };

/** The binding pattern of a subscriber that wants every event ('#'), or one group ('worker.#', 'task.#'). */
export type EventPattern = string;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Celery's utcoffset(): hours west of UTC, as Python's time.timezone // 3600. Read once a minute (DST changes it). */
let offset = { hours: 0, until: 0 };
function utcoffset(now: number): number {
  if (now >= offset.until) offset = { hours: Math.floor(new Date(now).getTimezoneOffset() / 60), until: now + 60_000 };
  return offset.hours;
}

/**
 * The timestamp field's text (seconds, a Python float as Celery's time.time()): a drain sends tens of events
 * per millisecond, so the number is printed once per millisecond rather than once per event.
 */
let timestampMs = NaN;
let timestampString = '';
function timestampText(now: number): string {
  if (now !== timestampMs) {
    timestampMs = now;
    timestampString = pythonFloatText(now / 1000);
  }
  return timestampString;
}

/**
 * Task events wait this long, or until this many are waiting, and go out as one "task.multi"
 * batch: one publish for many tasks, as Celery's worker buffers its task group. Monitors see
 * them at most this late.
 */
const batchWindowMs = 50;
const batchLimit = 100;

/**
 * Publishes events exactly as Celery 5 does (worker option `events: true`, `tq worker -E`;
 * producers with `sendSentEvent`): JSON bodies on the `celeryev` topic channel with a
 * `hostname` header. Task events go out in "task.multi" batches (see batchWindowMs), as Celery's
 * worker buffers its task group. Best effort, like Celery's: an event that cannot be published
 * is logged once and dropped, never failing a task.
 */
export class EventDispatcher {
  #enabled: boolean;
  readonly hostname: string;
  readonly #bus: BroadcastBus | null;
  readonly #logger: Logger;
  readonly #headers: { readonly hostname: string };
  readonly #pending = new InFlightSet<Promise<void>>();
  /** Task events waiting for the batch to go out, and the type of the first. */
  readonly #batch = new EventBatch();
  #firstType = '';
  /** `{"hostname": …, "utcoffset": …, "pid": …, "clock": ` — the start every event shares. */
  #prefix = '';
  #prefixOffset = NaN;
  #flushTimer: NodeJS.Timeout | undefined;
  #clock = 0;
  #warned = false;

  constructor(bus: BroadcastBus | null, options: { enabled: boolean; hostname?: string; logger: Logger }) {
    this.#bus = bus;
    this.#enabled = options.enabled && bus !== null;
    this.hostname = options.hostname ?? `${process.pid}@${osHostname()}`;
    this.#headers = { hostname: this.hostname };
    this.#logger = options.logger;
    if (options.enabled && !this.#enabled) this.#logger.warn('events are enabled but neither the broker nor the result backend has a broadcast channel; no events will be sent');
  }

  get enabled(): boolean {
    return this.#enabled;
  }

  /** Turned on or off by remote control (enable_events / disable_events); never on without a bus. */
  set enabled(value: boolean) {
    this.#enabled = value && this.#bus !== null;
  }

  build(type: TaskEventType, fields: Readonly<Record<string, unknown>> = {}): TaskEvent {
    const now = Date.now();
    return { hostname: this.hostname, utcoffset: utcoffset(now), pid: process.pid, clock: ++this.#clock, ...fields, timestamp: now / 1000, type };
  }

  /**
   * `fields` may be a function, so a disabled dispatcher costs nothing per task. Task events are
   * batched (batchWindowMs, batchLimit); worker events go out at once.
   */
  send(type: TaskEventType, fields: Readonly<Record<string, unknown>> | (() => Readonly<Record<string, unknown>>) = {}): void {
    if (!this.#enabled) return;
    const event = this.build(type, typeof fields === 'function' ? fields() : fields);
    const json = pythonJsonStringify({ ...event, timestamp: new PythonFloat(event.timestamp) });
    if (type.startsWith('task-') && type !== 'task-sent') this.#add(type, json);
    else this.#publish(routingKeyOf(type), encoder.encode(json));
  }

  /**
   * task-received, task-started and task-succeeded, the events every task sends, are written
   * from templates: no object per event (the same fields build() would give, in Celery's order).
   */
  taskReceived(request: Pick<TaskRequest, 'id' | 'task' | 'headers' | 'rootId' | 'parentId' | 'retries'>): void {
    if (!this.#enabled) return;
    const now = Date.now();
    const headers = request.headers;
    const json = pythonJsonValue;
    this.#add(
      'task-received',
      `${this.#start(now)}${++this.#clock}, "uuid": ${json(request.id)}, "name": ${json(request.task)}, "args": ${json(headers['argsrepr'])}, ` +
        `"kwargs": ${json(headers['kwargsrepr'])}, "root_id": ${json(request.rootId)}, "parent_id": ${json(request.parentId)}, "retries": ${request.retries}, ` +
        `"eta": ${json(headers['eta'])}, "expires": ${json(headers['expires'])}, "timestamp": ${timestampText(now)}, "type": "task-received"}`,
    );
  }

  taskStarted(uuid: string): void {
    if (!this.#enabled) return;
    const now = Date.now();
    this.#add('task-started', `${this.#start(now)}${++this.#clock}, "uuid": ${pythonJsonValue(uuid)}, "timestamp": ${timestampText(now)}, "type": "task-started"}`);
  }

  /** task-succeeded from a template; `result` is already Python's repr() text. */
  taskSucceeded(uuid: string, result: string, runtimeSeconds: number): void {
    if (!this.#enabled) return;
    const now = Date.now();
    this.#add(
      'task-succeeded',
      `${this.#start(now)}${++this.#clock}, "uuid": ${pythonJsonValue(uuid)}, "result": ${pythonJsonValue(result)}, "runtime": ${pythonFloatText(runtimeSeconds)}, "timestamp": ${timestampText(now)}, "type": "task-succeeded"}`,
    );
  }

  #start(now: number): string {
    const hours = utcoffset(now);
    if (hours !== this.#prefixOffset) {
      this.#prefixOffset = hours;
      this.#prefix = `{"hostname": ${pythonJsonString(this.hostname)}, "utcoffset": ${hours}, "pid": ${process.pid}, "clock": `;
    }
    return this.#prefix;
  }

  /** `json` is ASCII: pythonJsonValue and pythonJsonStringify escape as json.dumps does (ensure_ascii, as Celery's events). */
  #add(type: string, json: string): void {
    if (this.#batch.count === 0) this.#firstType = type;
    this.#batch.add(json);
    if (this.#batch.count >= batchLimit) this.#flushBatch();
    else if (!this.#flushTimer) {
      this.#flushTimer = setTimeout(() => this.#flushBatch(), batchWindowMs);
      this.#flushTimer.unref();
    }
  }

  /** Publishes what is batched and waits for every publish under way (before a worker closes its broker). */
  async flush(): Promise<void> {
    this.#flushBatch();
    await Promise.allSettled([...this.#pending]);
  }

  #flushBatch(): void {
    clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    const single = this.#batch.count === 1;
    const body = this.#batch.take();
    if (body) this.#publish(single ? routingKeyOf(this.#firstType) : 'task.multi', body);
  }

  #publish(routingKey: string, body: Uint8Array): void {
    const route: BroadcastRoute = { kind: 'topic', routingKey, headers: this.#headers };
    const sent = this.#bus!.broadcast(eventChannel, body, route).catch((error: unknown) => {
      if (!this.#warned) this.#logger.warn(`could not publish ${routingKey} events: ${(error as Error).message}`);
      this.#warned = true;
    });
    this.#pending.add(sent);
    void sent.finally(() => this.#pending.delete(sent));
  }
}

/** "task-succeeded" → "task.succeeded", as Celery's Dispatcher.publish. */
export function routingKeyOf(type: string): string {
  return type.replace(/-/g, '.');
}

/** The fields Celery's worker-online/heartbeat/offline events carry besides the common ones. */
export function workerEventFields(info: { freqSeconds: number; active: number; processed: number; swVersion: string }): Record<string, unknown> {
  return {
    freq: new PythonFloat(info.freqSeconds),
    active: info.active,
    processed: info.processed,
    loadavg: osLoadavg().map((n) => new PythonFloat(Math.round(n * 100) / 100)),
    sw_ident: 'tq',
    sw_ver: info.swVersion,
    sw_sys: process.platform === 'linux' ? 'Linux' : process.platform === 'darwin' ? 'Darwin' : process.platform === 'win32' ? 'Windows' : process.platform,
  };
}

/**
 * The events in one published body: a single event, or Celery's batch (a JSON array, routing
 * key "task.multi"). Anything that is not an event is skipped, never thrown.
 */
export function decodeEvents(bytes: Uint8Array): TaskEvent[] {
  let value: unknown;
  try {
    value = safeJsonParse(decoder.decode(bytes));
  } catch {
    return [];
  }
  const items = Array.isArray(value) ? value : [value];
  return items.filter(isEvent);
}

function isEvent(value: unknown): value is TaskEvent {
  if (!value || typeof value !== 'object') return false;
  const event = value as Record<string, unknown>;
  return typeof event['type'] === 'string' && typeof event['hostname'] === 'string' && typeof event['timestamp'] === 'number';
}

/**
 * Every event published on the bus from now until `signal` aborts, tq's and Python Celery's
 * alike, batches unpacked. `pattern` narrows by routing key ('worker.#', 'task.#'); default all.
 */
export async function* receiveEvents(bus: BroadcastBus, signal: AbortSignal, pattern: EventPattern = '#'): AsyncIterable<TaskEvent> {
  for await (const bytes of bus.subscribe(eventChannel, signal, { kind: 'topic', pattern })) {
    yield* decodeEvents(bytes);
  }
}
