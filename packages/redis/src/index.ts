/**
 * @tq/redis — Redis broker and result backend, in kombu's Redis transport layout so Python
 * Celery producers and workers share queues and results with tq.
 *
 * URL:
 *   redis://[[username]:password@]host[:port][/db][?visibility_timeout=30&priority_steps=0,3,6,9&global_keyprefix=…]
 *   rediss://…  TLS; ?ssl_cert_reqs=required|optional|none&ssl_ca_certs=&ssl_certfile=&ssl_keyfile= (paths),
 *               or `brokerOptions: { tls: {...} }` for in-memory material
 *   redis+sentinel://[:password@]sentinel:26379[/db]?master_name=mymaster[&sentinels=host:port,…][&ssl=true]
 *
 * Capabilities (broker): priority 0..9 (4 kombu steps by default; 9 = most urgent, stored as
 * kombu's 9-p, see priority.ts), broadcast (pub/sub), redelivery of unacked deliveries after the
 * visibility timeout (default 30 s; the worker extends leases while it runs or holds a task) or
 * when the broker is closed, lease extension
 * (Delivery.extend), dead-lettering to the list "<queue>.dead", purge, delayed delivery (a sorted
 * set per queue moved into the list when due by every tq process: delayed-set.ts; off with
 * ?delayed_delivery=false). Deliveries other clients took are restored after
 * foreign_visibility_timeout (default 3600 s). Bodies up to 256 MiB.
 * Capabilities (result backend): celery-task-meta-<id> records with expiry (default 1 day),
 * watch via pub/sub on the key's name, atomic chord join on Celery's celery-taskset-meta-<gid>.j/.s/.t keys
 * (a chord split across Python and tq workers completes), GroupResult save/restore.
 *
 * Layout (shared with kombu): a list per queue and priority step ("celery", "celery\x06\x163", …),
 * LPUSH to publish and BRPOP to consume (FIFO per step); the JSON envelope with a base64 body;
 * "_kombu.binding.<queue>" sets; the "unacked" hash and "unacked_index" sorted set.
 *
 * Guarantees: at-least-once. Waiting messages are popped and recorded as unacked atomically (a
 * Lua script, in batches up to the free prefetch room); on an empty queue the consumer blocks in
 * BRPOP, and a message BRPOP returns is recorded in the next round trip, as kombu does: a process
 * killed between the two loses that one message. An unacked delivery is redelivered after the
 * visibility timeout unless acked or extended, so a task may run twice if it outlives its lease
 * without extension.
 * Publish resolves once Redis has the message in memory (durability is Redis's AOF/RDB setting).
 */
import type { AdapterOptions, TqAdapter } from '@tq/core/adapter';
import { parseRedisOptions } from './options.js';
import { RedisBroker } from './redis-broker.js';
import { RedisResultBackend } from './redis-result-backend.js';

export { RedisBroker } from './redis-broker.js';
export { RedisResultBackend } from './redis-result-backend.js';
export { parseRedisOptions, type RedisOptions, type RedisAdapterOptions, type SentinelOptions } from './options.js';
export { RedisKeys, SEP, DEFAULT_PRIORITY_STEPS, priorityStep } from './keys.js';
export { toWirePriority, fromWirePriority } from './priority.js';
export { isTransientRedisError } from './errors.js';

export const redisAdapter: TqAdapter = {
  name: 'redis',
  schemes: ['redis', 'rediss', 'redis+sentinel'],
  createBroker(url: URL, options: AdapterOptions) {
    return new RedisBroker(parseRedisOptions(url, options));
  },
  createResultBackend(url: URL, options: AdapterOptions) {
    return new RedisResultBackend(parseRedisOptions(url, options));
  },
};

export default redisAdapter;
