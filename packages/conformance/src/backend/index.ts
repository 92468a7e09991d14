import { describe } from 'vitest';
import type { BackendFactory, ConformanceOptions } from '../options.js';
import { describeBackendBroadcast } from './broadcast.js';
import { describeClaim } from './claim.js';
import { describeRetain } from './retain.js';
import { describeCompareAndSet } from './compare-and-set.js';
import { describeChordJoin } from './chord-join.js';
import { describeConcurrentWriters } from './concurrent-writers.js';
import { describeExpiry } from './expiry.js';
import { describeForget } from './forget.js';
import { describeRateLimitBuckets } from './rate-limit.js';
import { describeBackendOutage } from './outage.js';
import { describeStoreFetch } from './store-fetch.js';
import { describeWatch } from './watch.js';

export { describeBackendBroadcast, describeBackendOutage, describeClaim, describeRetain, describeRateLimitBuckets, describeCompareAndSet, describeChordJoin, describeConcurrentWriters, describeExpiry, describeForget, describeStoreFetch, describeWatch };

export const backendGroups = [describeStoreFetch, describeWatch, describeForget, describeExpiry, describeConcurrentWriters, describeChordJoin, describeBackendBroadcast, describeClaim, describeRetain, describeRateLimitBuckets, describeCompareAndSet, describeBackendOutage] as const;


/**
 * Registers the whole result backend suite. `factory` is called for every test (and every
 * extra client a test needs) and must return a fresh, unconnected ResultBackend.
 */
export function describeResultBackend(factory: BackendFactory, options: ConformanceOptions): void {
  describe('result backend', () => {
    for (const group of backendGroups) group(factory, options);
  });
}
