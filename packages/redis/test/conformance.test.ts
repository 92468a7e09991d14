/**
 * The whole conformance kit on a real Redis. Keys live under a prefix unique to this run
 * (kombu's global_keyprefix), so the kit's short visibility timeout only ever restores this
 * run's deliveries, never those of other tests sharing the server; they are deleted afterwards.
 */
import { describeAdapter } from '@tq/conformance';
import { Redis } from 'ioredis';
import { afterAll } from 'vitest';
import redisAdapter from '../src/index.js';

const base = new URL(process.env.TQ_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/15');
const prefix = `tqc-${process.pid}-${Date.now().toString(36)}:`;
const url = new URL(base.href);
url.searchParams.set('global_keyprefix', prefix);
// Short enough for the kit's "a dead consumer's deliveries come back" tests to finish quickly.
url.searchParams.set('visibility_timeout', '3');

describeAdapter(redisAdapter, { url: url.href });

afterAll(async () => {
  const client = new Redis(base.href);
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
});
