import type { Redis } from './connection.js';
import { script } from './scripts.js';

/**
 * How long a BrokerMessage.deduplicationId is remembered: one small key per such publish
 * (`<prefix>_tq.published.<id>`, expiring). Beat re-sends a tick whose leader died within a
 * lease (10 s by default), and a beat that was down for longer than this may send a tick twice.
 */
export const PUBLISH_DEDUPLICATION_MS = 3_600_000;

/**
 * Publish at most once per id: the id's key is set (NX, with expiry) and the message pushed in
 * the same script, so no crash can fall between "seen" and "enqueued".
 * KEYS: the id's key, then the list (ARGV[2] = 'list') or the delayed registry set and the
 * delayed sorted set (ARGV[2] = 'delayed'). ARGV: window ms, mode, payload or member, due time,
 * queue name. Returns 1 when enqueued, 0 for a repeat.
 */
const PUBLISH_ONCE = `
if not redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then return 0 end
if ARGV[2] == 'list' then
  redis.call('LPUSH', KEYS[2], ARGV[3])
else
  redis.call('ZADD', KEYS[3], ARGV[4], ARGV[3])
  redis.call('SADD', KEYS[2], ARGV[5])
end
return 1
`;

export type OnceTarget = { readonly list: string; readonly payload: string } | { readonly registry: string; readonly delayedSet: string; readonly member: string; readonly notBefore: number; readonly queue: string };

export function publishedKey(prefix: string, id: string): string {
  return `${prefix}_tq.published.${id}`;
}

/** Resolves to true when the message was enqueued, false when `key` was already taken. */
export async function publishOnce(client: Redis, key: string, target: OnceTarget): Promise<boolean> {
  const run = script(client, 'tqPublishOnce', PUBLISH_ONCE, 3);
  const moved =
    'list' in target
      ? await run(key, target.list, target.list, PUBLISH_DEDUPLICATION_MS, 'list', target.payload, 0, '')
      : await run(key, target.registry, target.delayedSet, PUBLISH_DEDUPLICATION_MS, 'delayed', target.member, target.notBefore, target.queue);
  return moved === 1;
}
