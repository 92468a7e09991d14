import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { BroadcastRoute } from '../src/broker/broker.js';
import { topicMatches } from '../src/broker/topic-pattern.js';
import type { BroadcastBus } from '../src/control/broadcast-bus.js';
import { EventBatch } from '../src/events/event-batch.js';
import { decodeEvents, EventDispatcher, eventChannel, routingKeyOf, workerEventFields } from '../src/events/task-events.js';
import { createConsoleLogger } from '../src/logger.js';
import { exceptionRepr, valueRepr } from '../src/protocol/repr.js';
import { wireDir } from './celery-wire.js';

/** A bus that records what the dispatcher publishes (the dispatcher's own contract, no broker). */
function recordingBus(): BroadcastBus & { sent: { channel: string; body: unknown; text: string; route?: BroadcastRoute }[] } {
  const sent: { channel: string; body: unknown; text: string; route?: BroadcastRoute }[] = [];
  return {
    via: 'broker',
    sent,
    broadcast: async (channel, body, route) => {
      const text = new TextDecoder().decode(body);
      sent.push({ channel, body: JSON.parse(text), text, ...(route ? { route } : {}) });
    },
    subscribe: () => {
      throw new Error('not used');
    },
  };
}

const logger = createConsoleLogger('error');
const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('EventDispatcher publishes as Celery 5 does', () => {
  it('worker events at once on the celeryev topic channel, routing key from the type, hostname header', async () => {
    const bus = recordingBus();
    const events = new EventDispatcher(bus, { enabled: true, hostname: 'w@test', logger });
    events.send('worker-heartbeat', { freq: 2 });
    await tick();
    expect(bus.sent).toHaveLength(1);
    expect(bus.sent[0]).toMatchObject({
      channel: eventChannel,
      route: { kind: 'topic', routingKey: 'worker.heartbeat', headers: { hostname: 'w@test' } },
      body: { type: 'worker-heartbeat', hostname: 'w@test', freq: 2, pid: process.pid, clock: 1, utcoffset: expect.any(Number) },
    });
  });

  it("task events within 50 ms go out as one task.multi array (Celery's buffered task group); a lone one under its own key", async () => {
    const bus = recordingBus();
    const events = new EventDispatcher(bus, { enabled: true, hostname: 'w@test', logger });
    events.send('task-received', { uuid: 'a' });
    events.send('task-started', { uuid: 'a' });
    await tick();
    events.send('task-succeeded', () => ({ uuid: 'a', result: '1' }));
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(bus.sent).toHaveLength(1);
    events.send('task-failed', { uuid: 'b' });
    await events.flush();
    expect(bus.sent.map((s) => s.route?.routingKey)).toEqual(['task.multi', 'task.failed']);
    expect((bus.sent[0]!.body as { type: string }[]).map((e) => e.type)).toEqual(['task-received', 'task-started', 'task-succeeded']);
    expect((bus.sent[0]!.body as { clock: number }[]).map((e) => e.clock)).toEqual([1, 2, 3]);
  });

  it('a disabled dispatcher publishes nothing and never builds the fields', async () => {
    const bus = recordingBus();
    const events = new EventDispatcher(bus, { enabled: false, logger });
    events.send('task-received', () => {
      throw new Error('built');
    });
    await events.flush();
    expect(bus.sent).toEqual([]);
  });

  it('a failed publish is dropped, never thrown into the caller', async () => {
    const bus = { ...recordingBus(), broadcast: () => Promise.reject(new Error('down')) };
    const events = new EventDispatcher(bus, { enabled: true, logger });
    events.send('worker-online');
    await expect(events.flush()).resolves.toBeUndefined();
  });
});

describe('decodeEvents', () => {
  const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
  it('reads one event, a task.multi batch, and skips what is not an event', () => {
    const one = { type: 'worker-online', hostname: 'h', timestamp: 1 };
    expect(decodeEvents(encode(one))).toEqual([one]);
    expect(decodeEvents(encode([one, { nope: 1 }, { ...one, type: 'task-started' }]))).toHaveLength(2);
    expect(decodeEvents(new TextEncoder().encode('{"type": '))).toEqual([]);
    expect(decodeEvents(encode({ type: 'x', hostname: 'h', timestamp: 1, __proto__: { polluted: true } }))).toHaveLength(1);
  });
});

describe('Celery shapes', () => {
  it('routing keys, repr of results and exceptions as Python shows them', () => {
    expect(routingKeyOf('task-succeeded')).toBe('task.succeeded');
    expect(valueRepr({ a: [1, 'x'] })).toBe("{'a': [1, 'x']}");
    expect(valueRepr(null)).toBe('None');
    expect(valueRepr('y'.repeat(2000))).toHaveLength(1024);
    expect(exceptionRepr(new RangeError("it's gone"))).toBe("RangeError('it\\'s gone')");
  });

  it('topic patterns: * is one word, # is any number of words', () => {
    expect(topicMatches('#', 'task.succeeded')).toBe(true);
    expect(topicMatches('task.*', 'task.succeeded')).toBe(true);
    expect(topicMatches('task.*', 'task.multi.x')).toBe(false);
    expect(topicMatches('worker.#', 'worker')).toBe(true);
    expect(topicMatches('worker.#', 'task.x')).toBe(false);
    expect(topicMatches('*.x.#', 'a.x')).toBe(true);
    expect(topicMatches('a.#.z', 'a.b.c.z')).toBe(true);
    expect(topicMatches('a.#.z', 'a.b.c')).toBe(false);
  });
});

describe('EventDispatcher templates', () => {
  it('taskStarted and taskSucceeded write what build() + JSON would, field for field', async () => {
    const bus = recordingBus();
    const events = new EventDispatcher(bus, { enabled: true, hostname: 'w"@test', logger });
    events.taskStarted('id-"1');
    events.taskSucceeded('id-"1', "{'a': 1}", 0.25);
    await events.flush();
    const [started, succeeded] = bus.sent[0]!.body as Record<string, unknown>[];
    expect(started).toEqual({ hostname: 'w"@test', utcoffset: expect.any(Number), pid: process.pid, clock: 1, uuid: 'id-"1', timestamp: expect.any(Number), type: 'task-started' });
    expect(succeeded).toEqual({ hostname: 'w"@test', utcoffset: expect.any(Number), pid: process.pid, clock: 2, uuid: 'id-"1', result: "{'a': 1}", runtime: 0.25, timestamp: expect.any(Number), type: 'task-succeeded' });
    expect(Object.keys(started!)).toEqual(Object.keys(events.build('task-started', { uuid: 'x', pid: 1 })));
  });

  // JSON.parse keeps the last of two equal keys, so the comparisons above cannot see a key
  // written twice: the keys of the text itself, in order, against a Python worker's
  // (../shared/celery-wire/redis-result-link-callback-message.json, Celery 5.2).
  it('writes each key once, in the order a Celery 5.2 worker writes them', async () => {
    const bus = recordingBus();
    const events = new EventDispatcher(bus, { enabled: true, hostname: 'w@test', logger });
    events.taskReceived({ id: 'r1', task: 'tq.add', headers: { argsrepr: '(1, 2)', kwargsrepr: '{}' }, rootId: 'r1', parentId: null, retries: 0 });
    events.taskStarted('r1');
    events.taskSucceeded('r1', '3', 0.001);
    await events.flush();
    const keysOf = (text: string) => [...text.matchAll(/"([a-z_]+)": /g)].map((match) => match[1]);
    const common = ['hostname', 'utcoffset', 'pid', 'clock', 'uuid'];
    expect(bus.sent[0]!.text.slice(1, -1).split('}, {').map(keysOf)).toEqual([
      [...common, 'name', 'args', 'kwargs', 'root_id', 'parent_id', 'retries', 'eta', 'expires', 'timestamp', 'type'],
      [...common, 'timestamp', 'type'],
      [...common, 'result', 'runtime', 'timestamp', 'type'],
    ]);
  });

  it('taskReceived writes Celery\'s task-received fields from the request headers', async () => {
    const bus = recordingBus();
    const events = new EventDispatcher(bus, { enabled: true, hostname: 'w@test', logger });
    const headers = { argsrepr: "('a\\n', 1)", kwargsrepr: '{}', eta: '2026-12-03T10:00:00+00:00' };
    events.taskReceived({ id: 'r1', task: 'tq.add', headers, rootId: 'r0', parentId: null, retries: 2 });
    await events.flush();
    expect(bus.sent[0]!.route?.routingKey).toBe('task.received');
    expect(bus.sent[0]!.body).toEqual({
      hostname: 'w@test', utcoffset: expect.any(Number), pid: process.pid, clock: 1, uuid: 'r1', name: 'tq.add', args: "('a\\n', 1)", kwargs: '{}',
      root_id: 'r0', parent_id: null, retries: 2, eta: '2026-12-03T10:00:00+00:00', expires: null, timestamp: expect.any(Number), type: 'task-received',
    });
  });
});

describe("Celery 5.2's number types", () => {
  // A Celery 5.2.6 worker's events on Redis (fixtures/celery-wire/redis-events.json): the text
  // of each body, as the worker wrote it. Python writes a float with a point (2.0) and an int
  // without; JSON.parse cannot tell them apart, so the texts are compared token by token.
  const capture = JSON.parse(readFileSync(join(wireDir, 'redis-events.json'), 'utf8')) as { full_stream_default_variant: { envelope: { body: string } }[] };
  /** The texts of the events in one body: itself, or each object of a task.multi array. */
  const eventTexts = (body: string): string[] => {
    const texts: string[] = [];
    let depth = 0;
    let start = 0;
    let inString = false;
    for (let i = 0; i < body.length; i++) {
      const c = body[i];
      if (inString) {
        if (c === '\\') i++;
        else if (c === '"') inString = false;
      } else if (c === '"') inString = true;
      else if (c === '{' && depth++ === 0) start = i;
      else if (c === '}' && --depth === 0) texts.push(body.slice(start, i + 1));
    }
    return texts;
  };
  const celeryEvents = capture.full_stream_default_variant.flatMap((message) => eventTexts(Buffer.from(message.envelope.body, 'base64').toString('latin1')));
  const celeryText = (type: string): string => celeryEvents.find((text) => text.includes(`"type": "${type}"`))!;
  /** Each member's key and the kind of its value's text: int, float, string, null, bool, or a list of kinds. */
  const kinds = (text: string): [string, string][] => {
    const kindOf = (token: string): string =>
      token.startsWith('[') ? `[${token.slice(1, -1).split(', ').filter(Boolean).map(kindOf).join(', ')}]`
      : token.startsWith('"') ? 'string'
      : token === 'null' ? 'null'
      : token === 'true' || token === 'false' ? 'bool'
      : /^-?\d+$/.test(token) ? 'int'
      : 'float';
    return [...text.matchAll(/"([a-z_]+)": ("(?:[^"\\]|\\.)*"|\[[^\]]*\]|[^,}]+)/g)].map((match) => [match[1]!, kindOf(match[2]!)]);
  };

  it('worker-heartbeat: freq, loadavg and timestamp are floats, counters ints, as Celery writes them', async () => {
    const bus = recordingBus();
    const events = new EventDispatcher(bus, { enabled: true, hostname: 'w@test', logger });
    events.send('worker-heartbeat', workerEventFields({ freqSeconds: 2, active: 0, processed: 3, swVersion: '1.0.0' }));
    await tick();
    const celery = kinds(celeryText('worker-heartbeat'));
    expect(celery.find(([key]) => key === 'freq')).toEqual(['freq', 'float']);
    expect(kinds(bus.sent[0]!.text)).toEqual(celery);
  });

  it('task-succeeded (runtime, timestamp) and task-started from the templates, and task-revoked through send()', async () => {
    const bus = recordingBus();
    const events = new EventDispatcher(bus, { enabled: true, hostname: 'w@test', logger });
    events.taskStarted('a');
    events.taskSucceeded('a', '6', 2);
    events.send('task-revoked', { uuid: 'b', terminated: false, signum: null, expired: false });
    await events.flush();
    const [started, succeeded, revoked] = eventTexts(bus.sent[0]!.text);
    expect(kinds(started!)).toEqual(kinds(celeryText('task-started')));
    expect(kinds(succeeded!)).toEqual(kinds(celeryText('task-succeeded')));
    expect(succeeded).toContain('"runtime": 2.0, ');
    expect(kinds(revoked!)).toEqual(kinds(celeryText('task-revoked')));
  });
});

describe('EventDispatcher field text', () => {
  it("strings are written as Python's json.dumps writes them (ASCII, \\u escapes), with and without characters to escape", async () => {
    const texts: Uint8Array[] = [];
    const bus: BroadcastBus = { via: 'broker', broadcast: async (_channel, body) => void texts.push(body), subscribe: () => { throw new Error('not used'); } };
    const events = new EventDispatcher(bus, { enabled: true, hostname: 'w@test', logger });
    // Each value and json.dumps(value) as Python 3 prints it.
    const cases: [string, string][] = [
      ['plain-id', '"plain-id"'],
      ['quote"', '"quote\\""'],
      ['back\\slash', '"back\\\\slash"'],
      ['tab\t', '"tab\\t"'],
      ['\u0001', '"\\u0001"'],
      ['del\u007f', '"del\\u007f"'],
      ['é ü', '"\\u00e9 \\u00fc"'],
      ['\u2028', '"\\u2028"'],
      ['😀', '"\\ud83d\\ude00"'],
      ['lone \ud800', '"lone \\ud800"'],
      ['lone \udfff end', '"lone \\udfff end"'],
    ];
    for (const [value] of cases) events.taskSucceeded(value, value, 0.5);
    await events.flush();
    expect(texts).toHaveLength(1);
    expect(texts[0]!.every((byte) => byte < 0x80)).toBe(true);
    const text = new TextDecoder().decode(texts[0]);
    const parsed = JSON.parse(text) as { uuid: string; result: string; timestamp: number }[];
    expect(parsed.map((event) => event.uuid)).toEqual(cases.map(([value]) => JSON.parse(JSON.stringify(value)) as string));
    for (const [, python] of cases) expect(text).toContain(`"uuid": ${python}, "result": ${python}, `);
    // The timestamp is Date.now() / 1000 as JavaScript prints it (seconds with at most 3 decimals).
    for (const event of parsed) expect(Math.abs(event.timestamp * 1000 - Date.now())).toBeLessThan(5_000);
  });

  it('task-received with non-ASCII arguments, a failure with a non-ASCII traceback: ASCII bodies that read back', async () => {
    const texts: Uint8Array[] = [];
    const bus: BroadcastBus = { via: 'broker', broadcast: async (_channel, body) => void texts.push(body), subscribe: () => { throw new Error('not used'); } };
    const events = new EventDispatcher(bus, { enabled: true, hostname: 'wörker@test', logger });
    events.taskReceived({ id: 'id-1', task: 'tâche', headers: { argsrepr: "['naïve', '日本']", kwargsrepr: '{}' }, rootId: 'id-1', parentId: null, retries: 0 });
    events.send('task-failed', { uuid: 'id-1', exception: "ValueError('ñ')", traceback: 'Traceback …\nValueError: ñ' });
    await events.flush();
    const bytes = texts[0]!;
    expect(bytes.every((byte) => byte < 0x80)).toBe(true);
    const [received, failed] = JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>[];
    expect(received).toMatchObject({ hostname: 'wörker@test', name: 'tâche', args: "['naïve', '日本']", type: 'task-received' });
    expect(failed).toMatchObject({ hostname: 'wörker@test', exception: "ValueError('ñ')", traceback: 'Traceback …\nValueError: ñ', type: 'task-failed' });
  });
});

describe('EventDispatcher batches', () => {
  it('a full batch (100 task events) goes out at once, without waiting for the window', async () => {
    const bus = recordingBus();
    const events = new EventDispatcher(bus, { enabled: true, hostname: 'w@test', logger });
    for (let i = 0; i < 100; i++) events.send('task-started', { uuid: String(i) });
    await tick();
    expect(bus.sent).toHaveLength(1);
    expect(bus.sent[0]!.body).toHaveLength(100);
  });
});

describe('EventBatch', () => {
  it('keeps every event in order (a large batch too), a lone event as itself, and a body handed over is never written again', () => {
    const batch = new EventBatch();
    expect(batch.take()).toBeNull();
    const long = 'x'.repeat(3_000);
    const texts = Array.from({ length: 40 }, (_, i) => `{"n": ${i}, "pad": "${long}"}`); // ~120 KB
    for (const text of texts) batch.add(text);
    const first = batch.take()!;
    const firstText = Buffer.from(first).toString('latin1');
    expect(firstText).toBe(`[${texts.join(', ')}]`);
    batch.add('{"n": "next"}');
    expect(batch.count).toBe(1);
    const lone = batch.take()!;
    expect(Buffer.from(lone).toString('latin1')).toBe('{"n": "next"}');
    expect(Buffer.from(first).toString('latin1')).toBe(firstText);
    expect(batch.count).toBe(0);
  });
});
