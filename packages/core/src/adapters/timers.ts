/**
 * Timers every adapter and core need for liveness: a deadline on a promise that may never
 * settle (a request on a silent connection), and a timeout that may be longer than Node allows.
 */

/**
 * The longest delay setTimeout honours: 2^31 - 1 ms (about 24.8 days). A longer one is clamped
 * to 1 ms, with a TimeoutOverflowWarning: a far ETA would fire at once, over and over.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** A timer made by setLongTimeout. */
export interface LongTimeout {
  /** Cancels the timer; idempotent. */
  clear(): void;
}

/**
 * setTimeout for any delay: a delay beyond MAX_TIMER_MS waits in chunks of at most MAX_TIMER_MS,
 * re-armed until the due time (measured on the wall clock, so a chunk that fires early or late
 * does not shift it). `unref`: the timer does not keep the process alive.
 */
export function setLongTimeout(callback: () => void, delayMs: number, options: { unref?: boolean } = {}): LongTimeout {
  const due = Date.now() + Math.max(0, delayMs);
  let timer: NodeJS.Timeout | undefined;
  let cleared = false;
  const arm = (): void => {
    const left = due - Date.now();
    if (left > MAX_TIMER_MS) {
      timer = setTimeout(arm, MAX_TIMER_MS);
    } else {
      timer = setTimeout(() => {
        if (!cleared) callback();
      }, Math.max(0, left));
    }
    if (options.unref) timer.unref();
  };
  arm();
  return {
    clear: () => {
      cleared = true;
      clearTimeout(timer);
    },
  };
}

/**
 * `promise`, or a rejection with `onTimeout()` once `ms` have passed without it settling. The
 * timer does not keep the process alive and is cleared when the promise settles. For a request
 * whose answer may never come (a silent connection): adapters reject with a
 * BrokerConnectionError so core's retry policy decides. `ms` <= 0 or Infinity: no deadline.
 */
export function withDeadline<T>(promise: Promise<T>, ms: number, onTimeout: () => unknown): Promise<T> {
  if (!(ms > 0) || ms === Number.POSITIVE_INFINITY) return promise;
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(onTimeout()), Math.min(ms, MAX_TIMER_MS));
    timer.unref();
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/**
 * Like withDeadline, but the deadline is on silence, not on the whole: `promise` fails only when
 * `progress()` has not moved for `ms` (a long series of round trips, or a long line of
 * publishes, that keep being answered goes on; a broker that stops answering is noticed
 * within `ms` and a quarter).
 */
export function withIdleDeadline<T>(promise: Promise<T>, ms: number, progress: () => number, onTimeout: () => unknown): Promise<T> {
  if (!(ms > 0) || ms === Number.POSITIVE_INFINITY) return promise;
  return new Promise<T>((resolve, reject) => {
    let seen = progress();
    let movedAt = Date.now();
    const timer = setInterval(
      () => {
        const now = progress();
        if (now !== seen) {
          seen = now;
          movedAt = Date.now();
        } else if (Date.now() - movedAt >= ms) {
          clearInterval(timer);
          reject(onTimeout());
        }
      },
      Math.min(Math.max(10, Math.ceil(ms / 4)), MAX_TIMER_MS),
    );
    timer.unref();
    promise.then(
      (value) => {
        clearInterval(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearInterval(timer);
        reject(error);
      },
    );
  });
}

/** Resolves after `ms`, or at once when `signal` aborts (never rejects): a back-off a close can cut short. */
export function sleepUnlessAborted(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
