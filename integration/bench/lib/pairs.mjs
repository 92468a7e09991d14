// Interleaved pairs: tq (A) and its anchor (B) run alternately, A B A B …, so slow drifts of the
// shared machine hit both; each pair gives one ratio A/B, reported as the median and its range.

/** Median of numbers (the mean of the middle two for an even count). */
export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** { median, min, max } of the ratios a[i].rate / b[i].rate over pairs where both ran. */
export function pairRatios(pairs) {
  const ratios = pairs.filter(({ a, b }) => a.ok && b.ok && b.rate > 0).map(({ a, b }) => a.rate / b.rate);
  if (ratios.length === 0) return undefined;
  return { median: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios), count: ratios.length };
}

/** Median of one figure over the runs that have it. */
export function medianOf(runs, key) {
  const values = runs.filter((r) => r.ok && Number.isFinite(r[key])).map((r) => r[key]);
  return values.length ? median(values) : undefined;
}

/** Untimed tasks after which tq's rates stop climbing here (80,000 and 160,000 give the same). */
const steadyWarmup = 80_000;

/**
 * The pair cases of a --pairs run on `brokers`: each { name, broker, a, b, anchor, target } with
 * the specs of tq (a) and its anchor (b) and the ratio tq/anchor the issue asks for.
 */
export function pairCases(brokers, { tasks, serialTasks, warmup = 0, payloadBytes, concurrencies, timeoutMs }) {
  const cases = [];
  const both = (spec, anchorSystem) => ({ a: { ...spec, system: 'tq', payloadBytes }, b: { ...spec, system: anchorSystem, payloadBytes } });
  if (brokers.includes('redis')) {
    for (const results of ['stored', 'ignored']) {
      for (const concurrency of concurrencies) {
        const n = concurrency === 1 ? serialTasks : tasks;
        const spec = { broker: 'redis', kind: 'drain', tasks: n, warmup, window: 500, concurrency, results, timeoutMs: timeoutMs(n + warmup) };
        cases.push({ name: `redis drain c=${concurrency} results ${results}`, anchor: 'BullMQ Worker', target: 1.5, ...both(spec, 'bullmq') });
      }
    }
    cases.push({ name: 'redis enqueue, 100 in flight', anchor: 'BullMQ add', target: 1.3, ...both({ broker: 'redis', kind: 'enqueue', tasks, warmup, window: 100 }, 'bullmq') });
    // tq publishes a moment's sends with one LPUSH, so the code per LPUSH (ioredis's command,
    // the socket write, its timers) runs once per ~50 sends and V8 compiles it ~50× later than
    // the per-send code: 8,000 untimed sends leave it cold. With a shorter warm-up than that, the
    // same case once both are warm too, as a long-lived producer is (docs/benchmarks.md,
    // "Enqueue warm-up").
    if (warmup < steadyWarmup) {
      cases.push({ name: `redis enqueue, 100 in flight, after ${steadyWarmup} untimed`, anchor: 'BullMQ add', target: 1.3, ...both({ broker: 'redis', kind: 'enqueue', tasks, warmup: steadyWarmup, window: 100 }, 'bullmq') });
    }
    cases.push({ name: 'redis bulk enqueue, batches of 1000', anchor: 'BullMQ addBulk', target: 1.5, ...both({ broker: 'redis', kind: 'bulk', tasks, warmup, batch: 1000 }, 'bullmq') });
  }
  if (brokers.includes('nats')) {
    for (const concurrency of concurrencies.filter((c) => c > 1)) {
      const spec = { broker: 'nats', kind: 'drain', tasks, warmup, window: 500, concurrency, results: 'ignored', timeoutMs: timeoutMs(tasks + warmup) };
      cases.push({ name: `nats drain c=${concurrency} results ignored`, anchor: 'raw JetStream pull', target: 0.6, ...both(spec, 'raw') });
    }
  }
  return cases;
}
