import type { App } from '../app.js';
import type { ResultBackend } from '../backend/result-backend.js';
import { UnsupportedError } from '../errors.js';
import { clearPause, readPause, writePause, type PauseRecord } from './pause-state.js';
import { listScheduled, type ScheduledMessage } from './scheduled.js';

/** Remote-control command that tells every worker to look at the pause state now. */
export const pauseChangedCommand = 'tq_queue_pause_changed';

/**
 * Cluster-wide queue administration (app.queues): pause and resume, and the countdown/ETA tasks
 * the broker holds for a queue. The pause state is stored in the
 * result backend, so it survives worker restarts; every worker reads it at start and every
 * second, and a broadcast (where there is a bus) makes them read it at once.
 */
export class QueueAdmin {
  readonly #app: App;

  constructor(app: App) {
    this.#app = app;
  }

  /** Pause `queue`: every worker stops taking its messages (running tasks finish). Idempotent. */
  async pause(queue: string): Promise<void> {
    await writePause(await this.#backend(), queue, 'api');
    await this.#announce(queue);
  }

  /** Resume `queue`: workers that consume it take messages again. Idempotent. */
  async resume(queue: string): Promise<void> {
    await clearPause(await this.#backend(), queue);
    await this.#announce(queue);
  }

  /** The pause record of `queue` (when, by whom), or null when it is not paused. */
  async paused(queue: string): Promise<PauseRecord | null> {
    return readPause(await this.#backend(), queue);
  }

  /**
   * The countdown/ETA tasks waiting in the broker's delay store for `queue`, soonest first (at
   * most `limit`, default 100), read without consuming them. Tasks a worker already holds (due
   * within its ETA horizon) are not here: `app.control.inspect('scheduled')` lists those.
   * Throws UnsupportedError where the broker cannot list them (capabilities.listDelayed).
   */
  async scheduled(queue = this.#app.config.defaultQueue, options: { limit?: number } = {}): Promise<ScheduledMessage[]> {
    return listScheduled(await this.#app.broker(), queue, options.limit);
  }

  async #backend(): Promise<ResultBackend> {
    const backend = await this.#app.backend();
    if (!backend) throw new UnsupportedError('pausing a queue needs a result backend: its state is stored there so it survives worker restarts');
    return backend;
  }

  async #announce(queue: string): Promise<void> {
    // Only for speed: workers also read the state every second.
    if (!(await this.#app.broadcastBus())) return;
    await this.#app.control.broadcast(pauseChangedCommand, { queue }, { reply: false }).catch(() => undefined);
  }
}
