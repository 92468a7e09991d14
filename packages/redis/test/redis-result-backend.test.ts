/** Celery's Redis result layout: key, expiry, and the PUBLISH that wakes waiting clients. */
import { randomUUID } from 'node:crypto';
import { celeryDate, decodeRecord, encodeRecord } from '@tq/core/adapter';
import { afterAll, describe, expect, it } from 'vitest';
import type { RedisResultBackend } from '../src/redis-result-backend.js';
import { openBackend, rawClient, urlWith } from './support/test-redis.js';

const client = rawClient();
const backends: RedisResultBackend[] = [];
const ids: string[] = [];

async function backend(params: Record<string, string> = {}): Promise<RedisResultBackend> {
  const b = await openBackend(urlWith('', params));
  backends.push(b);
  return b;
}

function record(taskId: string, status: 'SUCCESS' | 'PROGRESS', result: unknown): Uint8Array {
  return encodeRecord({ status, result, traceback: null, children: [], date_done: status === 'SUCCESS' ? celeryDate() : null, task_id: taskId });
}

function newId(): string {
  const id = randomUUID();
  ids.push(id);
  return id;
}

afterAll(async () => {
  for (const b of backends) await b.close();
  if (ids.length) await client.del(...ids.map((id) => `celery-task-meta-${id}`));
  client.disconnect();
});

describe('RedisResultBackend', () => {
  it('stores the record at celery-task-meta-<id> with the 1-day default expiry', async () => {
    const b = await backend();
    const id = newId();
    const bytes = record(id, 'SUCCESS', 5);
    await b.store(id, bytes, {});
    expect(await client.get(`celery-task-meta-${id}`)).toBe(Buffer.from(bytes).toString());
    const ttl = await client.ttl(`celery-task-meta-${id}`);
    expect(ttl).toBeGreaterThan(86_400 - 5);
    expect(ttl).toBeLessThanOrEqual(86_400);
  });

  it('concurrent stores (one script call per moment and expiry) each land with their own expiry and wake their watchers', async () => {
    const b = await backend();
    const batch = Array.from({ length: 120 }, (_, i) => ({ id: newId(), ttlMs: i % 3 === 0 ? 0 : i % 3 === 1 ? 5_000 : undefined }));
    const watched = batch[7]!.id;
    const controller = new AbortController();
    const woken = b.watch(watched, controller.signal)[Symbol.asyncIterator]().next();
    await new Promise((resolve) => setTimeout(resolve, 50)); // the watch subscribes first
    await Promise.all(batch.map(({ id, ttlMs }, i) => b.store(id, record(id, 'SUCCESS', i), ttlMs === undefined ? {} : { ttlMs })));
    for (const [i, { id, ttlMs }] of batch.entries()) {
      expect(decodeRecord(new Uint8Array(await client.getBuffer(`celery-task-meta-${id}`) ?? Buffer.alloc(0))).result).toBe(i);
      const pttl = await client.pttl(`celery-task-meta-${id}`);
      if (ttlMs === 0) expect(pttl).toBe(-1);
      else if (ttlMs === 5_000) expect(pttl).toBeLessThanOrEqual(5_000);
      else expect(pttl).toBeGreaterThan(5_000);
    }
    expect(decodeRecord((await woken).value!).result).toBe(7);
    controller.abort();
  });

  it('concurrent fetches (one MGET per moment) each get their own record, or null', async () => {
    const b = await backend();
    const stored = Array.from({ length: 50 }, () => newId());
    await Promise.all(stored.map((id, i) => b.store(id, record(id, 'SUCCESS', i), {})));
    const missing = randomUUID();
    const fetched = await Promise.all([...stored, missing].map((id) => b.fetch(id)));
    expect(fetched.slice(0, -1).map((bytes) => decodeRecord(bytes!).result)).toEqual(stored.map((_, i) => i));
    expect(fetched.at(-1)).toBeNull();
  });

  it('honours ?result_expires= and a per-store ttlMs; ttlMs 0 means no expiry', async () => {
    const b = await backend({ result_expires: '120' });
    const [a, c, d] = [newId(), newId(), newId()];
    await b.store(a, record(a, 'SUCCESS', 1), {});
    await b.store(c, record(c, 'SUCCESS', 1), { ttlMs: 5_000 });
    await b.store(d, record(d, 'SUCCESS', 1), { ttlMs: 0 });
    expect(await client.ttl(`celery-task-meta-${a}`)).toBeGreaterThan(110);
    expect(await client.pttl(`celery-task-meta-${c}`)).toBeLessThanOrEqual(5_000);
    expect(await client.ttl(`celery-task-meta-${d}`)).toBe(-1);
  });

  it('PUBLISHes each record on a channel named like the key, as Celery\'s backend does', async () => {
    const b = await backend();
    const id = newId();
    const subscriber = client.duplicate();
    const received = new Promise<string>((resolve) => subscriber.on('message', (_channel: string, message: string) => resolve(message)));
    await subscriber.subscribe(`celery-task-meta-${id}`);
    const bytes = record(id, 'PROGRESS', { done: 3, total: 10 });
    await b.store(id, bytes, {});
    expect(await received).toBe(Buffer.from(bytes).toString());
    subscriber.disconnect();
  });

  it('watch() yields the current record, then progress updates and the final record as they are stored', async () => {
    const writer = await backend();
    const watcher = await backend();
    const id = newId();
    await writer.store(id, record(id, 'PROGRESS', { done: 1 }), {});
    const controller = new AbortController();
    const seen: unknown[] = [];
    const watching = (async () => {
      for await (const bytes of watcher.watch(id, controller.signal)) {
        const r = decodeRecord(bytes);
        seen.push(r.result);
        if (r.status === 'SUCCESS') controller.abort();
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 100));
    await writer.store(id, record(id, 'PROGRESS', { done: 2 }), {});
    await writer.store(id, record(id, 'SUCCESS', 42), {});
    await watching;
    expect(seen).toEqual([{ done: 1 }, { done: 2 }, 42]);
  });

  it('forget() deletes the key', async () => {
    const b = await backend();
    const id = newId();
    await b.store(id, record(id, 'SUCCESS', 1), {});
    await b.forget(id);
    expect(await client.exists(`celery-task-meta-${id}`)).toBe(0);
    expect(await b.fetch(id)).toBeNull();
  });
});
