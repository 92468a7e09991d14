/**
 * The kit on Redis. Keys live under a prefix unique to this run (kombu's global_keyprefix) so a
 * short visibility timeout only restores this run's deliveries; they are deleted afterwards.
 */
import { Redis } from 'ioredis';
import { runConformance } from '../harness/run-conformance.js';

const prefix = `tqc-int-${process.pid}-${Date.now().toString(36)}:`;

await runConformance({
  broker: 'redis',
  packageName: '@tq/redis',
  load: () => import('@tq/redis'),
  configure: ({ url }) => {
    const withParams = new URL(url);
    withParams.searchParams.set('global_keyprefix', prefix);
    withParams.searchParams.set('visibility_timeout', '3');
    return { url: withParams.href, liveness: { query: { socket_timeout: '1' }, detectionMs: 7_000 } };
  },
  cleanup: async ({ url }) => {
    const client = new Redis(url);
    try {
      let cursor = '0';
      do {
        const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length) await client.del(...keys);
      } while (cursor !== '0');
    } finally {
      client.disconnect();
    }
  },
});
