import { defineConfig, mergeConfig } from 'vitest/config';
import base, { reporters } from '../vitest.config.base.js';

// One file per broker; each resolves its own endpoint (env → Testcontainers → local ports).
// The summary reporter prints the broker × suite table at the end.
const config = mergeConfig(
  base,
  defineConfig({
    test: {
      include: ['test/**/*.test.ts'],
      testTimeout: 60_000,
      hookTimeout: 120_000,
      // Brokers are shared with other test runs: keep one file at a time on a 2-core machine.
      fileParallelism: false,
    },
  }),
);
// Set after the merge: mergeConfig would append to the base's reporter list instead.
config.test!.reporters = [...reporters, './harness/summary-reporter.ts'];
// The Celery interop suites keep their own configs; one run covers them all.
config.test!.projects = [
  { extends: true, test: { name: 'brokers', include: ['test/**/*.test.ts'] } },
  // Fault tests: outages (FaultProxy), shutdowns and killed workers against the real brokers.
  // (extends: true appends to the root's include list, so the broker files are excluded here.)
  // at-least-once.test.ts runs its brokers side by side: at most 3 at a time on 2 cores.
  { extends: true, test: { name: 'faults', include: ['faults/**/*.test.ts'], exclude: ['test/**'], maxConcurrency: 3 } },
  // The soak (faults/soak.soak.ts): only through `npm run soak`, which sets TQ_SOAK=1.
  ...(process.env['TQ_SOAK'] === '1' ? [{ extends: true, test: { name: 'soak', include: ['faults/soak.soak.ts'], exclude: ['test/**'] } }] : []),
  { extends: './celery-interop/redis/vitest.config.ts', test: { name: 'celery-interop-redis', root: './celery-interop/redis' } },
  { extends: './celery-interop/amqp/vitest.config.ts', test: { name: 'celery-interop-amqp', root: './celery-interop/amqp' } },
  { extends: './celery-interop/monitoring/vitest.config.ts', test: { name: 'celery-interop-monitoring', root: './celery-interop/monitoring' } },
];
export default config;
