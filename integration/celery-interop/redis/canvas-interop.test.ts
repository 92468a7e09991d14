/** Canvas interop with Python Celery on a Redis broker and Redis result backend (see canvas-interop-suite.ts). */
import redisAdapter from '@tq/redis';
import { Redis } from 'ioredis';
import { describeCanvasInterop } from './canvas-interop-suite.js';

const url = process.env.TQ_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/15';
const SEP = '\x06\x16';

describeCanvasInterop({
  label: 'Redis',
  redisUrl: url,
  adapters: [redisAdapter],
  deleteQueues: async (queues) => {
    const client = new Redis(url);
    try {
      await client.del(...queues.flatMap((q) => [q, `${q}${SEP}3`, `${q}${SEP}6`, `${q}${SEP}9`, `_kombu.binding.${q}`, `${q}.dead`]));
    } finally {
      client.disconnect();
    }
  },
});
