import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import natsAdapter, { type KvResultBackend } from '../src/index.js';
import { retryCreateRace } from '../src/kv-result-backend.js';
import { rawConnection } from './support/broker.js';
import { sharedNatsUrl, uniqueName } from './support/names.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const buckets = new Set<string>();
const backends: KvResultBackend[] = [];

function backend(bucket: string, params = ''): KvResultBackend {
  buckets.add(bucket);
  const b = natsAdapter.createResultBackend!(new URL(`${sharedNatsUrl}?bucket=${bucket}${params ? `&${params}` : ''}`), {}) as KvResultBackend;
  backends.push(b);
  return b;
}

function record(state: string, id: string): Uint8Array {
  return encoder.encode(JSON.stringify({ status: state, result: 5, traceback: null, children: [], date_done: null, task_id: id }));
}

afterEach(async () => {
  await Promise.all(backends.splice(0).map((b) => b.close()));
});

afterAll(async () => {
  const nc = await rawConnection();
  try {
    const kvm = new Kvm(nc);
    for (const bucket of buckets) await (await kvm.open(bucket)).destroy().catch(() => undefined);
  } finally {
    await nc.close();
  }
});

describe('KvResultBackend', () => {
  it('a bucket create that loses a race to a concurrent create is tried again; any other failure is not', async () => {
    const overlap = Object.assign(new Error('subjects overlap with an existing stream'), { api_error: { err_code: 10065 } });
    let calls = 0;
    expect(await retryCreateRace(async () => (++calls < 3 ? Promise.reject(overlap) : 'bucket'))).toBe('bucket');
    expect(calls).toBe(3);
    calls = 0;
    await expect(retryCreateRace(async () => (++calls, Promise.reject(new Error('insufficient resources'))))).rejects.toThrow('insufficient resources');
    expect(calls).toBe(1);
    calls = 0;
    await expect(retryCreateRace(async () => (++calls, Promise.reject(overlap)))).rejects.toThrow('subjects overlap');
    expect(calls).toBe(5);
  });

  it('backends opening a new bucket at once all open it (workers starting together race to make it)', async () => {
    for (let round = 0; round < 5; round++) {
      const bucket = uniqueName('tqrace');
      const opened = Array.from({ length: 6 }, () => backend(bucket));
      await Promise.all(opened.map((b) => b.connect()));
      await opened[0]!.store('r1', record('SUCCESS', 'r1'), {});
      expect(decoder.decode((await opened[5]!.fetch('r1'))!)).toContain('SUCCESS');
      // The coordination bucket (chords, claims) is made on first use, by whichever backend comes
      // first; each write expects the key absent, so exactly one wins.
      const written = await Promise.all(opened.map((b) => b.compareAndSet(`k${round}`, encoder.encode('x'), null)));
      expect(written.filter((version) => version !== null)).toHaveLength(1);
    }
  });

  it('stores, fetches and forgets a record under the task id', async () => {
    const b = backend(uniqueName('tqtest'));
    await b.connect();
    expect(await b.fetch('missing')).toBeNull();
    await b.store('a1b2c3d4-0000-4000-8000-000000000001', record('SUCCESS', 'x'), {});
    expect(decoder.decode((await b.fetch('a1b2c3d4-0000-4000-8000-000000000001'))!)).toContain('SUCCESS');
    await b.store('a1b2c3d4-0000-4000-8000-000000000001', record('FAILURE', 'x'), {});
    expect(decoder.decode((await b.fetch('a1b2c3d4-0000-4000-8000-000000000001'))!)).toContain('FAILURE');
    await b.forget('a1b2c3d4-0000-4000-8000-000000000001');
    expect(await b.fetch('a1b2c3d4-0000-4000-8000-000000000001')).toBeNull();
  });

  it('escapes task ids that are not valid KV keys, without collisions', async () => {
    const b = backend(uniqueName('tqtest'));
    await b.connect();
    const ids = ['a.b', 'a=2Eb', 'ü id/*>', ''];
    for (const [i, id] of ids.entries()) await b.store(id, encoder.encode(String(i)), {});
    for (const [i, id] of ids.entries()) expect(decoder.decode((await b.fetch(id))!)).toBe(String(i));
  });

  it('creates the bucket with history 1 and the bucket TTL', async () => {
    const bucket = uniqueName('tqtest');
    const b = backend(bucket, 'bucketTtlMs=3600000');
    await b.connect();
    const nc = await rawConnection();
    try {
      const status = await (await new Kvm(nc).open(bucket)).status();
      expect(status.history).toBe(1);
      expect(status.ttl).toBe(3_600_000);
    } finally {
      await nc.close();
    }
  });

  it('a record reads as absent after its ttlMs, and the bucket TTL removes it from the server', async () => {
    const bucket = uniqueName('tqtest');
    const b = backend(bucket, 'bucketTtlMs=1500');
    await b.connect();
    await b.store('short', record('SUCCESS', 'short'), { ttlMs: 300 });
    await b.store('long', record('SUCCESS', 'long'), {});
    expect(await b.fetch('short')).not.toBeNull();
    await new Promise((r) => setTimeout(r, 500));
    expect(await b.fetch('short')).toBeNull();
    expect(await b.fetch('long')).not.toBeNull();
    // The server's max age: the stream is empty once the bucket TTL has passed.
    const nc = await rawConnection();
    try {
      const jsm = await jetstreamManager(nc);
      const deadline = Date.now() + 5_000;
      let messages = -1;
      while (Date.now() < deadline) {
        messages = (await jsm.streams.info(`KV_${bucket}`)).state.messages;
        if (messages === 0) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(messages).toBe(0);
    } finally {
      await nc.close();
    }
    expect(await b.fetch('long')).toBeNull();
  });

  it('watch yields the current record, then each new one, pushed by the server', async () => {
    const bucket = uniqueName('tqtest');
    const writer = backend(bucket);
    const watcher = backend(bucket);
    await Promise.all([writer.connect(), watcher.connect()]);
    await writer.store('w1', record('STARTED', 'w1'), {});
    const controller = new AbortController();
    const it = watcher.watch('w1', controller.signal)[Symbol.asyncIterator]();
    expect(decoder.decode((await it.next()).value!)).toContain('STARTED');
    const next = it.next();
    await writer.store('other', record('SUCCESS', 'other'), {});
    await writer.store('w1', record('SUCCESS', 'w1'), {});
    expect(decoder.decode((await next).value!)).toContain('SUCCESS');
    controller.abort();
    expect((await it.next()).done).toBe(true);
  });

  it('watch on a key with no record waits for the first store', async () => {
    const bucket = uniqueName('tqtest');
    const b = backend(bucket);
    await b.connect();
    const controller = new AbortController();
    const it = b.watch('later', controller.signal)[Symbol.asyncIterator]();
    const first = it.next();
    await new Promise((r) => setTimeout(r, 200));
    await b.store('later', record('SUCCESS', 'later'), {});
    expect(decoder.decode((await first).value!)).toContain('SUCCESS');
    controller.abort();
  });

  it('close() ends open watches', async () => {
    const b = backend(uniqueName('tqtest'));
    await b.connect();
    const it = b.watch('never', new AbortController().signal)[Symbol.asyncIterator]();
    const pending = it.next();
    await b.close();
    expect((await pending).done).toBe(true);
  });

  it('splits a record larger than max_payload into chunks, joins them on fetch and watch, and forget removes them', async () => {
    const bucket = uniqueName('tqtest');
    const b = backend(bucket);
    await b.connect();
    const big = new Uint8Array(2.5 * 1024 * 1024 + 7).map((_, i) => (i * 31) % 251);
    await b.store('big', big, {});
    expect(Buffer.from((await b.fetch('big'))!).equals(Buffer.from(big))).toBe(true);
    const controller = new AbortController();
    const first = await b.watch('big', controller.signal)[Symbol.asyncIterator]().next();
    controller.abort();
    expect(Buffer.from(first.value!).equals(Buffer.from(big))).toBe(true);
    await b.store('big', encoder.encode('small again'), {});
    expect(decoder.decode((await b.fetch('big'))!)).toBe('small again');
    await b.store('big', big, {});
    await b.forget('big');
    expect(await b.fetch('big')).toBeNull();
    const nc = await rawConnection();
    try {
      const info = await (await jetstreamManager(nc)).streams.info(`KV_${bucket}`, { subjects_filter: '$KV.>' });
      // Only the purge marker of "big" is left.
      expect(Object.keys(info.state.subjects ?? {})).toEqual([`$KV.${bucket}.big`]);
    } finally {
      await nc.close();
    }
  });
});
