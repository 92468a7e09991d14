import { describe, expect, it } from 'vitest';
import type { BackendFactory, ConformanceOptions } from '../options.js';
import { BackendHarness } from '../support/backend-harness.js';
import { needs } from '../support/titles.js';

/**
 * reserveToken(key, perMs): the cluster-wide token bucket behind rateLimitScope 'cluster'.
 * Capacity 1: the first call takes the token, the next one is told how long to wait, and two
 * clients share one bucket.
 */
export function describeRateLimitBuckets(factory: BackendFactory, options: ConformanceOptions): void {
  describe('rate-limit buckets', () => {
    const h = new BackendHarness(factory, options);
    const claimed = h.capabilities.rateLimit === true;

    it.skipIf(!claimed)(`a bucket of one token per key, shared by every client ${needs.capability('rateLimit')}`, async () => {
      const one = h.backend();
      const other = h.backend();
      const key = `kit-rate-${h.taskId()}`;
      const perMs = 1 / 1000; // 1/s
      expect(await one.reserveToken!(key, perMs), 'the first call takes the token').toBe(0);
      const wait = await other.reserveToken!(key, perMs);
      expect(wait, 'another client finds the bucket empty').toBeGreaterThan(500);
      expect(wait).toBeLessThanOrEqual(1000);
      expect(await one.reserveToken!(`${key}-other`, perMs), 'another key has its own bucket').toBe(0);
      await new Promise((resolve) => setTimeout(resolve, wait + 20));
      expect(await other.reserveToken!(key, perMs), 'refilled after the wait').toBe(0);
    });
  });
}
