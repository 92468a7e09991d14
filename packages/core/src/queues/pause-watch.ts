import type { ResultBackend } from '../backend/result-backend.js';
import type { Logger } from '../logger.js';
import { readPause } from './pause-state.js';

/** What the watch needs of a worker: start and stop consuming one queue. */
export interface PausableConsumer {
  addQueue(queue: string): boolean;
  cancelQueue(queue: string): boolean;
}

/**
 * Keeps a worker's consumers in step with the queues' pause state: a paused queue's consumer
 * is cancelled (prefetched messages go back, running tasks finish) and started again on
 * resume. Reads the state every `intervalMs` and whenever `check()` is called (a broadcast).
 * Only queues this watch paused are resumed: a queue cancelled by remote control stays so.
 */
export class PauseWatch {
  readonly #backend: ResultBackend;
  readonly #queues: readonly string[];
  readonly #worker: PausableConsumer;
  readonly #logger: Logger;
  readonly #paused = new Set<string>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #checking: Promise<void> | undefined;
  #again = false;
  #stopped = false;

  constructor(backend: ResultBackend, queues: readonly string[], worker: PausableConsumer, logger: Logger) {
    this.#backend = backend;
    this.#queues = queues;
    this.#worker = worker;
    this.#logger = logger;
  }

  /** The queues paused now, as last read. */
  get paused(): ReadonlySet<string> {
    return this.#paused;
  }

  /** Reads the state once, starts the consumers of the queues not paused, then keeps watching. */
  async start(intervalMs: number): Promise<void> {
    const states = await Promise.all(this.#queues.map((queue) => this.#read(queue)));
    this.#queues.forEach((queue, i) => {
      if (states[i]) {
        this.#paused.add(queue);
        this.#logger.info(`queue ${queue} is paused: not consuming it until it is resumed`);
      } else this.#worker.addQueue(queue);
    });
    this.#timer = setInterval(() => void this.check(), intervalMs);
    this.#timer.unref();
  }

  /** Reads the pause state now (coalesced with a read already running). */
  check(): Promise<void> {
    if (this.#checking) {
      this.#again = true;
      return this.#checking;
    }
    this.#checking = (async () => {
      do {
        this.#again = false;
        await Promise.all(this.#queues.map((queue) => this.#apply(queue)));
      } while (this.#again && !this.#stopped);
    })().finally(() => (this.#checking = undefined));
    return this.#checking;
  }

  stop(): void {
    this.#stopped = true;
    clearInterval(this.#timer);
  }

  async #read(queue: string): Promise<boolean> {
    try {
      return (await readPause(this.#backend, queue)) !== null;
    } catch (error) {
      // Unreadable state: keep doing what we do (a backend outage must not pause or resume anything).
      this.#logger.warn(`could not read the pause state of queue ${queue}: ${(error as Error).message}`);
      return this.#paused.has(queue);
    }
  }

  async #apply(queue: string): Promise<void> {
    const paused = await this.#read(queue);
    if (this.#stopped) return;
    if (paused && !this.#paused.has(queue)) {
      this.#paused.add(queue);
      this.#worker.cancelQueue(queue);
      this.#logger.info(`queue ${queue} paused: stopped consuming it`);
    } else if (!paused && this.#paused.has(queue)) {
      this.#paused.delete(queue);
      this.#worker.addQueue(queue);
      this.#logger.info(`queue ${queue} resumed: consuming it again`);
    }
  }
}
