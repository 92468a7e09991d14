// Timing helpers shared by every system under test: bounded in-flight publishing, a steady-rate
// sender, a completion counter and percentiles. Figures only; nothing here asserts a timing.
import { randomBytes } from 'node:crypto';

/** A name no other run (or other engineer's test) uses: bench resources never collide. */
export function uniqueName(prefix) {
  return `${prefix}${randomBytes(5).toString('hex')}`;
}

/** Runs `one(i)` for i < count with at most `window` calls awaiting at once; returns elapsed ms. */
export async function runInFlight(count, window, one) {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(window, count) }, async () => {
      while (next < count) await one(next++);
    }),
  );
  return performance.now() - started;
}

/**
 * Calls `send(i, scheduledAt)` at `ratePerSecond` for `durationMs`, on schedule even when a send
 * is slow (sends are not awaited one by one: a slow broker shows up as latency, not as a lower rate).
 * Resolves with the count sent once every send has settled.
 */
export async function sendAtSteadyRate(ratePerSecond, durationMs, send) {
  const total = Math.round((ratePerSecond * durationMs) / 1000);
  const intervalMs = 1000 / ratePerSecond;
  const started = performance.now();
  const pending = [];
  let sent = 0;
  while (sent < total) {
    const due = Math.min(total, Math.floor((performance.now() - started) / intervalMs) + 1);
    while (sent < due) {
      pending.push(send(sent, started + sent * intervalMs));
      sent++;
    }
    await new Promise((resolve) => setTimeout(resolve, Math.max(1, started + sent * intervalMs - performance.now())));
  }
  await Promise.all(pending);
  return total;
}

/**
 * Tasks a run handles in all: the `tasks` it times and the `warmup` before them. A fill enqueues
 * this many; a drain's counter waits for them all but times only the last `tasks`.
 */
export function runTotal({ tasks, warmup = 0 }) {
  return tasks + warmup;
}

/**
 * Starts the measured `phase` of a run that handled `warmup` untimed tasks first: after a GC
 * only without a warm-up (proc.mjs, `collect`: one forced after a warm-up slows what follows).
 */
export function startPhase(phase, warmup) {
  phase?.start({ collect: !warmup });
}

/** Runs the untimed warm-up of a send scenario, `warm(count)`, then starts its measured `phase`. */
export async function warmThenStart(phase, warmup, warm) {
  if (warmup > 0) await warm(warmup);
  startPhase(phase, warmup);
}

/**
 * Counts completions and remembers when the warm-up ended and when the last one happened. The
 * first `warmup` completions are not timed: V8 compiles a worker's hot code during its first
 * thousands of tasks, and a drain's rate doubles over its first 5,000–7,000 tasks at c=1, for tq
 * and BullMQ alike (docs/benchmarks.md, "Warm-up"). start() begins the measured `phase` at once
 * without a warm-up, else at the warm-up's last completion. `done` resolves when every task
 * (warm-up included) completed, or after `timeoutMs` with what was done by then (the run is then
 * reported as partial rather than hanging the whole bench).
 */
export function completionCounter(tasks, timeoutMs, { warmup = 0, phase } = {}) {
  const expected = tasks + warmup;
  let count = 0;
  let coldFirst = 0;
  let warmAt = 0;
  let last = 0;
  let finish;
  const done = new Promise((resolve) => (finish = resolve));
  const timer = setTimeout(() => finish(), timeoutMs);
  timer.unref();
  // Without a warm-up the clock starts at the first completion, as it always did.
  const timedFrom = Math.max(1, warmup);
  return {
    done,
    get count() {
      return count;
    },
    start() {
      if (warmup === 0) startPhase(phase, 0);
    },
    /**
     * The figures of a drain: steady rate after the warm-up, the rate over every completion
     * (`coldRate`, start-up included), time from start to the last completion, and how many
     * timed tasks completed.
     */
    figures(startedAt) {
      return { rate: this.rate(), coldRate: count > 1 ? ((count - 1) * 1000) / (last - coldFirst) : 0, totalMs: last - startedAt, completed: Math.max(0, count - warmup), expected: tasks, warmup };
    },
    complete() {
      let now = performance.now();
      if (count === 0) coldFirst = now;
      if (++count === timedFrom) {
        if (warmup > 0) {
          startPhase(phase, warmup);
          now = performance.now();
        }
        warmAt = now;
      }
      last = now;
      if (count === expected) {
        clearTimeout(timer);
        finish();
      }
    },
    /** The steady drain rate: completions after the warm-up (or the first), over the time they took. */
    rate() {
      return count > timedFrom ? ((count - timedFrom) * 1000) / (last - warmAt) : 0;
    },
  };
}

/** Nearest-rank percentile of unsorted samples (ms). */
export function percentile(samples, p) {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** Latency summary of samples in ms. */
export function latencySummary(samples, expected) {
  return { p50: percentile(samples, 50), p99: percentile(samples, 99), max: percentile(samples, 100), samples: samples.length, expected };
}

/** Bounds concurrent handlers in push-style consumers (amqplib, nats.js, kafkajs). */
export class Slots {
  #free;
  #waiting = [];
  constructor(size) {
    this.#free = size;
  }
  acquire() {
    if (this.#free > 0) {
      this.#free--;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#waiting.push(resolve));
  }
  release() {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#free++;
  }
}
