import type { BrokerMessage } from '@tq/core/adapter';
import { describe, expect, it } from 'vitest';
import { decodeHeaders, encodeHeaders, envelopeHeader } from '../src/headers.js';

const message: BrokerMessage = {
  body: new Uint8Array([1, 2]),
  headers: {
    lang: 'py',
    task: 'proj.add',
    id: '5f9c',
    eta: null,
    retries: 3,
    timelimit: [null, 30.5],
    argsrepr: '(1, 2)',
    nested: { ü: ['∑', { deep: true }], empty: {} },
  },
  properties: { contentType: 'application/json', contentEncoding: 'utf-8', correlationId: '5f9c', replyTo: 'r', priority: 0, deliveryMode: 2 },
};

describe('Celery headers ↔ Kafka headers', () => {
  it('travel as one JSON header and round-trip exactly', () => {
    const kafkaHeaders = encodeHeaders(message);
    expect(Object.keys(kafkaHeaders)).toEqual([envelopeHeader]);
    const back = decodeHeaders(kafkaHeaders);
    expect(back.headers).toStrictEqual(message.headers);
    expect(back.properties).toStrictEqual(message.properties);
    // And the bytes are stable: encoding the decoded form gives the same header.
    expect(encodeHeaders({ ...message, ...back })[envelopeHeader]!.equals(kafkaHeaders[envelopeHeader]!)).toBe(true);
  });

  it('accepts string values (kafkajs gives Buffers, other clients may not)', () => {
    const text = encodeHeaders(message)[envelopeHeader]!.toString('utf8');
    expect(decodeHeaders({ [envelopeHeader]: text }).headers).toStrictEqual(message.headers);
  });

  it('turns a foreign message into an opaque one core will reject, instead of failing the consumer', () => {
    expect(decodeHeaders(undefined)).toEqual({ headers: {}, properties: { contentType: 'application/octet-stream', contentEncoding: 'binary' } });
    expect(decodeHeaders({ [envelopeHeader]: Buffer.from('{not json') }).headers).toEqual({});
    expect(decodeHeaders({ [envelopeHeader]: Buffer.from('{"headers":{"__proto__":{}},"properties":{"contentType":"x"}}') }).headers).toEqual({});
    expect(decodeHeaders({ 'content-type': Buffer.from('text/plain') }).properties.contentType).toBe('text/plain');
  });
});
