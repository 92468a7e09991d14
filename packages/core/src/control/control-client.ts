import { randomUUID } from 'node:crypto';
import type { App } from '../app.js';
import { UnsupportedError } from '../errors.js';
import { celeryDate, encodeRecord } from '../result/record.js';
import { TaskState } from '../result/states.js';
import { controlChannel, decodeControl, encodeControl, type ControlMethod, type ControlReply, type InspectWhat } from './control-message.js';

/** app.control: revoke tasks and question workers, as Celery's app.control. */
export class Control {
  readonly #app: App;

  constructor(app: App) {
    this.#app = app;
  }

  /**
   * Revoke tasks: workers skip them when they arrive; with terminate, running ones are aborted
   * (their executor is terminated in the thread and process pools). Also records REVOKED in the
   * result backend, which workers without a broadcast bus check before running a task.
   */
  async revoke(taskIds: string | readonly string[], options: { terminate?: boolean } = {}): Promise<void> {
    const ids = typeof taskIds === 'string' ? [taskIds] : [...taskIds];
    const bus = await this.#app.broadcastBus();
    if (bus) {
      await bus.broadcast(controlChannel, encodeControl({ id: randomUUID(), method: 'revoke', arguments: { taskIds: ids, terminate: options.terminate ?? false } }));
    }
    const backend = await this.#app.backend();
    if (backend) {
      for (const id of ids) {
        const record = { status: TaskState.REVOKED, result: { exc_type: 'TaskRevokedError', exc_message: ['revoked'], exc_module: 'celery.exceptions' }, traceback: null, children: [], date_done: celeryDate(), task_id: id };
        await backend.store(id, encodeRecord(record), { ttlMs: this.#app.config.resultTtlMs });
      }
    }
  }

  /** Replies from every worker that answers within `timeoutMs`. */
  async broadcast(method: ControlMethod, args: Record<string, unknown> = {}, options: { timeoutMs?: number; destination?: readonly string[]; limit?: number } = {}): Promise<ControlReply[]> {
    const bus = await this.#app.broadcastBus();
    if (!bus) {
      throw new UnsupportedError(
        'neither the broker nor the result backend has a broadcast channel: remote control needs a redis, amqp, nats or memory broker, or a redis result backend',
      );
    }
    const replyTo = `${controlChannel}.reply.${randomUUID()}`;
    const controller = new AbortController();
    const replies: ControlReply[] = [];
    const timer = setTimeout(() => controller.abort(), options.timeoutMs ?? 1000);
    const subscription = bus.subscribe(replyTo, controller.signal);
    const iterator = subscription[Symbol.asyncIterator]();
    const first = iterator.next(); // subscribe before asking
    await new Promise((resolve) => setTimeout(resolve, 20));
    const id = randomUUID();
    await bus.broadcast(controlChannel, encodeControl({ id, method, arguments: args, replyTo, ...(options.destination ? { destination: options.destination } : {}) }));
    try {
      for (let next = await first; !next.done; next = await iterator.next()) {
        const reply = decodeControl<ControlReply>(next.value);
        if (reply?.id === id) replies.push(reply);
        if (options.limit !== undefined && replies.length >= options.limit) break;
      }
    } finally {
      clearTimeout(timer);
      controller.abort();
    }
    return replies;
  }

  ping(options: { timeoutMs?: number } = {}): Promise<ControlReply[]> {
    return this.broadcast('ping', {}, options);
  }

  inspect(what: InspectWhat, options: { timeoutMs?: number } = {}): Promise<ControlReply[]> {
    return this.broadcast('inspect', { what }, options);
  }
}
