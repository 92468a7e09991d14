import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { brotliCompressSync, deflateSync } from 'node:zlib';
import { ContentTypeForbiddenError, MessageDecodeError, PayloadTooLargeError } from '../src/errors.js';
import { decodeTaskMessage } from '../src/protocol/decode.js';
import { encodeTaskMessage, requestToCall } from '../src/protocol/encode.js';
import { jsonSerializer } from '../src/serializer/json.js';
import { SerializerRegistry } from '../src/serializer/serializer.js';
import type { BrokerMessage } from '../src/adapter.js';
import { capturedTaskMessages } from './celery-wire.js';

const registry = new SerializerRegistry([jsonSerializer], ['json']);
const captures = capturedTaskMessages();
const jsonCaptures = captures.filter((c) => c.message.properties.contentType === 'application/json');

describe('Celery protocol v2 captures', () => {
  it('covers every scenario that put a task on the wire (all but exchange-no-binding)', () => {
    expect(new Set(captures.map((c) => c.file)).size).toBe(44);
    expect(jsonCaptures.length).toBeGreaterThan(50);
  });

  it.each(jsonCaptures.map((c, i) => [`${c.file} #${i}`, c] as const))('%s: parse, re-encode, equal', (_, capture) => {
    const request = decodeTaskMessage(capture.message, registry);
    expect(request.id).toBe(capture.message.headers['id']);
    expect(request.task).toBe(capture.message.headers['task']);
    const again = encodeTaskMessage(requestToCall(request), jsonSerializer);
    expect(Buffer.from(again.body).toString('utf8')).toBe(Buffer.from(capture.message.body).toString('utf8'));
    expect(again.headers).toEqual(capture.message.headers);
    for (const key of ['contentType', 'contentEncoding', 'correlationId', 'replyTo', 'priority'] as const) {
      expect(again.properties[key], key).toBe(capture.message.properties[key]);
    }
  });

  it('reads countdown, eta, expires, retries, time limits and canvas fields', () => {
    const byScenario = (broker: string, scenario: string) => {
      const c = jsonCaptures.find((x) => x.file === `${broker}-send-${scenario}.json`);
      if (!c) throw new Error(`no capture ${broker}-${scenario}`);
      return decodeTaskMessage(c.message, registry);
    };
    for (const broker of ['redis', 'amqp']) {
      expect(byScenario(broker, 'eta').eta?.toISOString()).toBe('2030-01-02T03:04:05.000Z');
      expect(byScenario(broker, 'countdown').eta).toBeInstanceOf(Date);
      expect(byScenario(broker, 'expires').expires).toBeInstanceOf(Date);
      expect(byScenario(broker, 'time-limit').timeLimit).toEqual({ hard: 30, soft: 20 });
      expect(byScenario(broker, 'plain')).toMatchObject({ args: [2, 3], kwargs: { z: 1 } });
      expect(byScenario(broker, 'unicode-and-types').args).toEqual(['héllo 世界', 1.5, null, true, [1, { a: [2] }]]);
      expect(byScenario(broker, 'chain').embed.chain?.length).toBeGreaterThan(0);
      expect(byScenario(broker, 'link-link-error').embed.callbacks?.length).toBe(1);
      expect(byScenario(broker, 'link-link-error').embed.errbacks?.length).toBe(1);
      expect(byScenario(broker, 'shadow').shadow).toBeTypeOf('string');
      expect(byScenario(broker, 'ignore-result').ignoreResult).toBe(true);
    }
  });

  it('refuses pickle and yaml messages before decoding them', () => {
    const foreign = captures.filter((c) => c.message.properties.contentType !== 'application/json');
    expect(foreign.map((c) => c.message.properties.contentType).sort()).toEqual([
      'application/x-python-serialize',
      'application/x-python-serialize',
      'application/x-yaml',
      'application/x-yaml',
    ]);
    for (const c of foreign) expect(() => decodeTaskMessage(c.message, registry)).toThrow(ContentTypeForbiddenError);
  });
});

describe('times', () => {
  it('writes eta and expires as Celery does (microseconds, +00:00) and reads them back', () => {
    const eta = new Date('2026-11-26T02:10:26.970Z');
    const message = encodeTaskMessage({ id: 'x', task: 't', args: [], kwargs: {}, eta, expires: eta }, jsonSerializer);
    expect(message.headers['eta']).toBe('2026-11-26T02:10:26.970000+00:00');
    expect(message.headers['expires']).toBe('2026-11-26T02:10:26.970000+00:00');
    expect(decodeTaskMessage(message, registry).eta?.getTime()).toBe(eta.getTime());
  });

  it('writes no priority unless one is given (Celery default lists)', () => {
    const message = encodeTaskMessage({ id: 'x', task: 't', args: [], kwargs: {} }, jsonSerializer);
    expect(message.properties.priority).toBeUndefined();
  });
});

describe('decoding bad input names the field', () => {
  const good = jsonCaptures.find((c) => c.file === 'redis-send-plain.json')!.message;
  const withHeaders = (headers: Record<string, unknown>): BrokerMessage => ({ ...good, headers: { ...good.headers, ...headers } as BrokerMessage['headers'] });
  const withBody = (text: string): BrokerMessage => ({ ...good, body: new TextEncoder().encode(text) });
  const cases: [string, BrokerMessage, string][] = [
    ['missing task', withHeaders({ task: undefined }), 'headers.task'],
    ['numeric id', withHeaders({ id: 7 }), 'headers.id'],
    ['bad eta', withHeaders({ eta: 'tomorrow' }), 'headers.eta'],
    ['negative retries', withHeaders({ retries: -1 }), 'headers.retries'],
    ['bad timelimit', withHeaders({ timelimit: [1] }), 'headers.timelimit'],
    ['string ignore_result', withHeaders({ ignore_result: 'yes' }), 'headers.ignore_result'],
    ['not JSON', withBody('[[1], {}'), 'body'],
    ['not an array', withBody('{"a": 1}'), 'body'],
    ['args not a list', withBody('[1, {}, null]'), 'body[0]'],
    ['kwargs not an object', withBody('[[], [], null]'), 'body[1]'],
    ['embed not an object', withBody('[[], {}, 3]'), 'body[2]'],
    ['a callback that is not a signature', withBody('[[], {}, {"callbacks": [null]}]'), 'body[2].callbacks[0]'],
    ['a chain entry that is not a signature', withBody('[[], {}, {"chain": [{"task": "ok"}, 5]}]'), 'body[2].chain[1]'],
    ['an errback without a task name', withBody('[[], {}, {"errbacks": [{"task": 42}]}]'), 'body[2].errbacks[0]'],
    ['a chord that is not a signature', withBody('[[], {}, {"chord": "garbage"}]'), 'body[2].chord'],
    ['__proto__ key', withBody('[[], {"__proto__": {"polluted": true}}, null]'), 'body'],
    ['__proto__ key spelled with escapes', withBody('[[], {"\\u005f_proto__": {"polluted": true}}, null]'), 'body'],
    ['constructor.prototype key', withBody('[[], {"constructor": {"prototype": {"polluted": true}}}, null]'), 'body'],
    ['constructor.prototype key spelled with escapes', withBody('[[], {"\\u0063onstructor": {"\\u0070rototype": {"polluted": true}}}, null]'), 'body'],
    ['invalid UTF-8', { ...good, body: new Uint8Array([0x5b, 0xff, 0x5d]) }, 'body'],
  ];
  it.each(cases)('%s', (_, message, field) => {
    let error: unknown;
    try {
      decodeTaskMessage(message, registry);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(MessageDecodeError);
    expect((error as MessageDecodeError).field).toBe(field);
    expect((error as MessageDecodeError).code).toBe('TQ_MESSAGE_MALFORMED');
  });

  it('reads keys that only look like the dangerous ones', () => {
    const message = withBody('[["protocol", "constructor"], {"constructor": "x", "protocols": {"prototypes": 1}}, null]');
    expect(decodeTaskMessage(message, registry)).toMatchObject({ args: ['protocol', 'constructor'], kwargs: { constructor: 'x', protocols: { prototypes: 1 } } });
  });

  it('never pollutes Object.prototype', () => {
    expect(() => decodeTaskMessage(withBody('[[], {"__proto__": {"polluted": true}}, null]'), registry)).toThrow();
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });
});

describe('compressed bodies (kombu\'s compression header)', () => {
  const good = jsonCaptures.find((c) => c.file === 'redis-send-plain.json')!.message;
  const text = '[[2, 3], {"z": "\\u00fc"}, {"callbacks": null, "errbacks": null, "chain": null, "chord": null}]';
  const compressed = (compression: string, body: Uint8Array): BrokerMessage => ({ ...good, body, headers: { ...good.headers, compression } });

  it("reads kombu's gzip (zlib.compress, as Python writes it) and brotli; the request no longer names a compression", () => {
    // Python's own zlib.compress, through kombu.compression: what a Celery producer with task_compression='gzip' sends.
    const kombu = execFileSync('/usr/bin/python3', ['-c', 'import sys; from kombu.compression import compress; b, t = compress(sys.stdin.buffer.read(), "gzip"); sys.stdout.write(t + "\\n" + b.hex())'], {
      input: text,
      encoding: 'utf8',
    });
    const [type, hex] = kombu.trim().split('\n') as [string, string];
    expect(type).toBe('application/x-gzip');
    for (const message of [compressed(type, Buffer.from(hex, 'hex')), compressed('gzip', deflateSync(text)), compressed('application/x-brotli', brotliCompressSync(text))]) {
      const request = decodeTaskMessage(message, registry);
      expect(request).toMatchObject({ args: [2, 3], kwargs: { z: 'ü' } });
      expect(request.headers['compression']).toBeUndefined();
      // A retry re-sends the request as it was read: uncompressed, and it reads back.
      const again = encodeTaskMessage(requestToCall(request), jsonSerializer);
      expect(again.headers['compression']).toBeUndefined();
      expect(decodeTaskMessage(again, registry)).toMatchObject({ args: [2, 3], kwargs: { z: 'ü' } });
    }
  });

  it('refuses what it cannot read with a typed error naming the field: bzip2, a non-string header, corrupt data', () => {
    const field = (message: BrokerMessage) => {
      try {
        decodeTaskMessage(message, registry);
      } catch (error) {
        expect(error).toBeInstanceOf(MessageDecodeError);
        return (error as MessageDecodeError).field;
      }
      return 'decoded';
    };
    expect(field(compressed('application/x-bz2', new TextEncoder().encode('BZh9')))).toBe('headers.compression');
    expect(field({ ...good, headers: { ...good.headers, compression: 7 } })).toBe('headers.compression');
    expect(field(compressed('application/x-gzip', new TextEncoder().encode('not zlib at all')))).toBe('body');
  });

  it('stops inflating at the size limit: a small message cannot expand into gigabytes', () => {
    const bomb = compressed('application/x-gzip', deflateSync(Buffer.alloc(20 * 1024 * 1024, 0x20)));
    expect(bomb.body.byteLength).toBeLessThan(64 * 1024);
    expect(() => decodeTaskMessage(bomb, registry, { maxBodyBytes: 1024 * 1024 })).toThrow(PayloadTooLargeError);
    expect(() => decodeTaskMessage(bomb, registry)).toThrow(PayloadTooLargeError); // the default limit, 10 MiB
  });
});
