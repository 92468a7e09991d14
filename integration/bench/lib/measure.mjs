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
 * Counts completions and remembers when the first and the last happened. `done` resolves when
 * `expected` completions were seen, or after `timeoutMs` with what was done by then (the run is
 * then reported as partial rather than hanging the whole bench).
 */
export function completionCounter(expected, timeoutMs) {
  let count = 0;
  let first = 0;
  let last = 0;
  let finish;
  const done = new Promise((resolve) => (finish = resolve));
  const timer = setTimeout(() => finish(), timeoutMs);
  timer.unref();
  return {
    done,
    get count() {
      return count;
    },
    /** The figures of a drain: steady rate, time from start to the last completion, how many completed. */
    figures(startedAt) {
      return { rate: this.rate(), totalMs: last - startedAt, completed: count, expected };
    },
    complete() {
      const now = performance.now();
      if (count === 0) first = now;
      last = now;
      if (++count === expected) {
        clearTimeout(timer);
        finish();
      }
    },
    /** The steady drain rate: completions after the first, over the time they took. */
    rate() {
      return count > 1 ? ((count - 1) * 1000) / (last - first) : 0;
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
