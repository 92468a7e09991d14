import { describe, expect, it } from 'vitest';
import { ContentTypeForbiddenError, MessageDecodeError } from '../src/errors.js';
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
