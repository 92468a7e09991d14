import { hostname as osHostname } from 'node:os';
import type { BroadcastBus } from '../control/broadcast-bus.js';
import type { Logger } from '../logger.js';

/** Broadcast channel events are published on (Celery publishes to its "celeryev" exchange). */
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
export type TaskEvent = Readonly<Record<string, unknown>> & { readonly type: TaskEventType; readonly hostname: string; readonly timestamp: number };

/**
 * Publishes events in Celery's body format on the broadcast bus (see BroadcastBus) when enabled
 * (worker option `events: true`, `tq worker -E`). Best effort, like Celery's: an event that
 * cannot be published is logged and dropped, never failing a task.
 */
export class EventDispatcher {
  readonly enabled: boolean;
  readonly #bus: BroadcastBus | null;
  readonly #hostname: string;
  readonly #logger: Logger;
  #clock = 0;
  #warned = false;

  constructor(bus: BroadcastBus | null, options: { enabled: boolean; hostname?: string; logger: Logger }) {
    this.#bus = bus;
    this.enabled = options.enabled && bus !== null;
    this.#hostname = options.hostname ?? `${process.pid}@${osHostname()}`;
    this.#logger = options.logger;
    if (options.enabled && !this.enabled) this.#logger.warn('events are enabled but neither the broker nor the result backend has a broadcast channel; no events will be sent');
  }

  build(type: TaskEventType, fields: Readonly<Record<string, unknown>> = {}): TaskEvent {
    return { hostname: this.#hostname, utcoffset: 0, pid: process.pid, clock: ++this.#clock, ...fields, timestamp: Date.now() / 1000, type };
  }

  /** `fields` may be a function, so a disabled dispatcher costs nothing per task. */
  send(type: TaskEventType, fields: Readonly<Record<string, unknown>> | (() => Readonly<Record<string, unknown>>) = {}): void {
    if (!this.enabled) return;
    const event = this.build(type, typeof fields === 'function' ? fields() : fields);
    this.#bus!.broadcast(eventChannel, new TextEncoder().encode(JSON.stringify(event))).catch((error: unknown) => {
      if (!this.#warned) this.#logger.warn(`could not publish a ${type} event: ${(error as Error).message}`);
      this.#warned = true;
    });
  }
}

export function decodeEvent(bytes: Uint8Array): TaskEvent | null {
  try {
    const value = JSON.parse(new TextDecoder().decode(bytes)) as TaskEvent;
    return value && typeof value.type === 'string' ? value : null;
  } catch {
    return null;
  }
}
