import { InFlightSet } from '../broker/in-flight.js';

/** How often overdue work is looked for: the precision of the deadlines. */
const sweepMs = 250;

interface Watched {
  readonly deadline: number;
  readonly reject: (error: Error) => void;
}

/**
 * Races many promises against their own deadlines with one interval timer and one abort
 * listener, instead of a timer and a listener per promise: the worker races every outcome
 * record against its retry limit, one per task, and per-task timers and listeners cost CPU (and
 * trip Node's listener-leak warning at concurrency above 10). Deadlines are kept within sweepMs.
 */
export class DeadlineWatch {
  readonly #pending = new InFlightSet<Watched>();
  readonly #signal: AbortSignal;
  #timer: NodeJS.Timeout | undefined;

  constructor(signal: AbortSignal) {
    this.#signal = signal;
    signal.addEventListener('abort', () => this.#rejectWhere(() => true, 'abandoned by a forced stop'), { once: true });
  }

  /** `work`, or a rejection once `deadline` (epoch ms) passes or the signal aborts. */
  race<T>(work: Promise<T>, deadline: number): Promise<T> {
    if (this.#signal.aborted) {
      // `work` is already under way: its later failure is abandoned too, not an unhandled rejection.
      work.catch(() => undefined);
      return Promise.reject(new Error('abandoned by a forced stop'));
    }
    return new Promise<T>((resolve, reject) => {
      const entry: Watched = { deadline, reject };
      this.#pending.add(entry);
      this.#timer ??= setInterval(() => this.#sweep(), sweepMs).unref();
      work.then(
        (value) => {
          if (this.#pending.delete(entry)) resolve(value);
        },
        (error: unknown) => {
          if (this.#pending.delete(entry)) reject(error);
        },
      );
    });
  }

  #sweep(): void {
    const now = Date.now();
    this.#rejectWhere((entry) => entry.deadline <= now, 'no answer from the result backend within the retry limit');
    if (this.#pending.size === 0) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  #rejectWhere(overdue: (entry: Watched) => boolean, message: string): void {
    for (const entry of this.#pending) {
      if (!overdue(entry)) continue;
      this.#pending.delete(entry);
      entry.reject(new Error(message));
    }
  }
}
