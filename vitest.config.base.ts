import { defineConfig } from 'vitest/config';

// Shared test defaults. Tests resolve workspace packages to their TypeScript sources
// (the "@tq/source" export condition), so a change in core is seen without a rebuild.
// No retries: a flaky test hides a race.
// TQ_TEST_REPORT=1 (set by scripts/test-all.mjs) adds a JSON report per project for the totals.
export const reporters: (string | [string, Record<string, unknown>])[] = process.env['TQ_TEST_REPORT']
  ? ['default', ['json', { outputFile: 'reports/vitest.json' }]]
  : ['default'];

export default defineConfig({
  resolve: { conditions: ['@tq/source'] },
  ssr: { resolve: { conditions: ['@tq/source'] } },
  test: {
    environment: 'node',
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    retry: 0,
    reporters,
  },
});
