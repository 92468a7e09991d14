import { randomUUID } from 'node:crypto';
import type { RuntimeBackend } from '../backend/runtime-backend.js';
import type { MessageHeaders } from '../broker/broker.js';
import { InvalidOptionError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { TaskRequest } from '../protocol/message.js';

/**
 * `runOnce` sends (SendOptions.runOnce): deduplication where the task is run, for brokers that
 * cannot drop a repeated publish themselves (RabbitMQ, Kafka). Each send carries a fresh nonce in
 * this header; before running, a tq worker claims "run:<task id>" in the result backend with the
 * message's nonce. A message of the same id with another nonce is a second publish: acked and
 * dropped. A redelivery of the first message carries the same nonce and runs (a worker that died
 * mid-run is not a reason to lose the task). The header rides along untouched on retries and ETA
 * hand-backs, so those run too. Python Celery workers ignore the header and run every copy.
 */
export const runOnceHeader = 'tq_run_once';

/** The headers of a runOnce send: a nonce of this publish alone. */
export function runOnceHeaders(headers: MessageHeaders | undefined, taskId: string | undefined): MessageHeaders {
  if (taskId === undefined) throw new InvalidOptionError([{ path: 'runOnce', message: 'needs taskId: the id workers run once' }]);
  return { ...headers, [runOnceHeader]: randomUUID() };
}

/** The nonce of a runOnce message; undefined for every other. */
export function runOnceNonce(request: TaskRequest): string | undefined {
  const nonce = request.headers[runOnceHeader];
  return typeof nonce === 'string' ? nonce : undefined;
}

/**
 * The worker's side: whether this delivery may run. True for messages without the header, and
 * where the backend cannot claim (warned once: runOnce then degrades to at-least-once).
 */
export class RunOnceGate {
  readonly #backend: RuntimeBackend | null;
  readonly #ttlMs: number;
  readonly #logger: Logger;
  #warned = false;

  constructor(backend: RuntimeBackend | null, ttlMs: number, logger: Logger) {
    this.#backend = backend;
    this.#ttlMs = ttlMs;
    this.#logger = logger;
  }

  async admits(request: TaskRequest): Promise<boolean> {
    const nonce = runOnceNonce(request);
    if (nonce === undefined) return true;
    const claim = this.#backend?.claim;
    if (!claim) {
      if (!this.#warned) this.#logger.warn(`${request.task}[${request.id}] was sent with runOnce, but this worker's result backend cannot claim keys (capabilities.claim): copies of it all run`);
      this.#warned = true;
      return true;
    }
    const holder = await claim(`run:${request.id}`, nonce, this.#ttlMs);
    if (holder === null || holder === nonce) return true;
    this.#logger.info(`${request.task}[${request.id}]: a second publish of a runOnce task, dropped (the first one runs)`);
    return false;
  }
}
