/** encodeEnvelope (the publish path) writes exactly what pythonJsonStringify writes for kombu's envelope object. */
import { pythonJsonStringify } from '@tq/core/adapter';
import { describe, expect, it } from 'vitest';
import { decodeEnvelope, encodeEnvelope, encodeEnvelopeBytes, serializeEnvelope } from '../src/envelope.js';

const body = new TextEncoder().encode('[[1, "é"], {}, {"callbacks": null}]');
const headers = { lang: 'py', task: 'tâche.ünïcode', id: 'id-1', timelimit: [null, 5], argsrepr: "(1, 'é')", ignore_result: false };

describe('encodeEnvelope', () => {
  const cases = [
    { name: 'every optional field', properties: { contentType: 'application/json', contentEncoding: 'utf-8', correlationId: 'id-1', replyTo: 'r-1', deliveryMode: 2 as const }, wirePriority: 3 },
    { name: 'no optional field', properties: { contentType: 'application/x-custom', contentEncoding: 'binary' }, wirePriority: undefined },
  ];
  for (const { name, properties, wirePriority } of cases) {
    it(`${name}: byte for byte the generic serialization of kombu's envelope object`, () => {
      const address = { exchange: '', routingKey: 'queue:ß', deliveryTag: 'tag-1', wirePriority };
      const text = encodeEnvelope({ body, headers, properties }, address);
      const p = properties as { correlationId?: string; replyTo?: string; deliveryMode?: number };
      const expected = pythonJsonStringify({
        body: Buffer.from(body).toString('base64'),
        'content-encoding': properties.contentEncoding,
        'content-type': properties.contentType,
        headers,
        properties: {
          ...(p.correlationId !== undefined ? { correlation_id: p.correlationId } : {}),
          ...(p.replyTo !== undefined ? { reply_to: p.replyTo } : {}),
          ...(p.deliveryMode !== undefined ? { delivery_mode: p.deliveryMode } : {}),
          delivery_info: { exchange: '', routing_key: 'queue:ß' },
          ...(wirePriority !== undefined ? { priority: wirePriority } : {}),
          body_encoding: 'base64',
          delivery_tag: 'tag-1',
        },
      });
      expect(text).toBe(expected);
      // The bytes PUBLISHed for broadcasts: the same text, ASCII, so its UTF-8 is its Latin-1.
      const bytes = encodeEnvelopeBytes({ body, headers, properties }, address);
      expect(bytes.every((byte) => byte < 0x80)).toBe(true);
      expect(bytes.toString('utf8')).toBe(expected);
      expect(serializeEnvelope(decodeEnvelope(text).envelope)).toBe(expected);
      expect(decodeEnvelope(text).message.body).toEqual(new Uint8Array(body));
    });
  }
});

describe('decodeEnvelope', () => {
  const envelopeWith = (base64: string) =>
    JSON.stringify({ body: base64, 'content-encoding': 'utf-8', 'content-type': 'application/json', headers: {}, properties: { body_encoding: 'base64', delivery_tag: 't', delivery_info: { exchange: '', routing_key: 'q' } } });

  it('decodes a base64 body into memory of its own (not a slice of a shared pool), every size and padding', () => {
    for (const size of [0, 1, 2, 3, 4, 100, 399, 4096, 70_000]) {
      const original = Uint8Array.from({ length: size }, (_, i) => (i * 31 + 7) % 256);
      const { body: decoded } = decodeEnvelope(envelopeWith(Buffer.from(original).toString('base64'))).message;
      expect(decoded).toEqual(original);
      expect(decoded.byteOffset).toBe(0);
      expect(decoded.buffer.byteLength).toBe(size);
    }
  });

  it('a body with stray characters (a line break, as base64 tools insert) decodes as Python does, and its buffer holds only those bytes', () => {
    const original = new TextEncoder().encode('[[1, 2], {}, {}]'.repeat(10));
    const wrapped = Buffer.from(original).toString('base64').replace(/(.{76})/g, '$1\n');
    const { body: decoded } = decodeEnvelope(envelopeWith(wrapped)).message;
    expect(decoded).toEqual(original);
    expect(decoded.buffer.byteLength).toBe(original.length);
  });
});
