import { AckPolicy, jetstream, jetstreamManager, StorageType, type JetStreamClient, type JsMsg } from '@nats-io/jetstream';
import { MsgHdrsImpl, headers as natsHeaders } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { MessageDecodeError, type MessageHeaders, type MessageProperties } from '@tq/core/adapter';
import { decodeHeaders, encodeHeaders } from '../src/index.js';
import { decodeDeliveredHeaders, rawHeaderBlock } from '../src/headers.js';
import { notBeforeHeader, notBeforeOf } from '../src/delayed-nak.js';
import { newStreamName, rawConnection, taskMessage } from './support/broker.js';

/** Through the real wire encoding: nats.js serializes the headers and parses them back. */
function roundTrip(headers: MessageHeaders, properties: MessageProperties) {
  const wire = (encodeHeaders(headers, properties) as MsgHdrsImpl).encode();
  return { wire: new TextDecoder().decode(wire), ...decodeHeaders(MsgHdrsImpl.decode(wire)) };
}

describe('Celery headers ↔ NATS headers', () => {
  it('round-trips every JSON type, unicode, odd keys and odd property values exactly', () => {
    const headers: MessageHeaders = {
      task: 'proj.add',
      id: '0b6c4e4a-1f2d-4c4e-9a57-3c1e5f6a7b8c',
      retries: 0,
      eta: null,
      ignore_result: false,
      timelimit: [null, 30.5],
      stamps: { groups: ['a', 'b'], nested: { deep: [1, { x: 'y' }] } },
      argsrepr: '("żółw 🐢", \'\\n\')',
      zero_string: '0',
      'odd:key %é\r\n': '  value with spaces  ',
      multi: 'line\r\nbreak\u0000',
    };
    const properties: MessageProperties = {
      contentType: 'application/json',
      contentEncoding: 'utf-8',
      correlationId: ' leading space',
      replyTo: '"quoted"',
      priority: 9,
      deliveryMode: 1,
    };
    const out = roundTrip(headers, properties);
    expect(out.headers).toEqual(headers);
    expect(out.properties).toEqual(properties);
    // Two header lines, ASCII only: no byte can be mangled by a proxy or a tool.
    expect(/^[\x20-\x7e\r\n]*$/.test(out.wire)).toBe(true);
    expect(out.wire.split('\r\n').filter((line) => line.includes(':')).map((line) => line.slice(0, line.indexOf(':')))).toEqual([
      'Celery-Headers',
      'Celery-Properties',
    ]);
    expect(out.wire).toContain('"retries":0,');
    expect(out.wire).toContain('"zero_string":"0"');
  });

  it('leaves out absent properties, and reads a foreign message as application/octet-stream', () => {
    const out = roundTrip({ id: 'x' }, { contentType: 'application/json', contentEncoding: 'utf-8' });
    expect(out.properties).toEqual({ contentType: 'application/json', contentEncoding: 'utf-8' });
    expect(out.wire).toContain('Celery-Properties: {"content_type":"application/json","content_encoding":"utf-8"}');
    expect(decodeHeaders(undefined)).toEqual({ headers: {}, properties: { contentType: 'application/octet-stream', contentEncoding: 'binary' } });
  });

  it('refuses invalid JSON, non-objects, mistyped properties and prototype-polluting keys with MessageDecodeError', () => {
    for (const [name, value] of [
      ['Celery-Headers', 'not json'],
      ['Celery-Headers', '[1, 2]'],
      ['Celery-Headers', '{"__proto__": {"polluted": true}}'],
      ['Celery-Headers', '{"constructor": {"prototype": {"polluted": true}}}'],
      ['Celery-Properties', '{"priority": "high"}'],
      ['Celery-Properties', '{"content_type": 5}'],
    ] as const) {
      const h = natsHeaders();
      h.set(name, value);
      expect(() => decodeHeaders(h), `${name}: ${value}`).toThrow(MessageDecodeError);
    }
  });
});

describe('prototype-polluting keys hidden behind escapes', () => {
  it('are refused too', () => {
    const h = natsHeaders();
    h.set('Celery-Headers', '{"\\u005f_proto__": {"polluted": true}}');
    expect(() => decodeHeaders(h)).toThrow(MessageDecodeError);
  });
});

describe('headers of a delivered JetStream message', () => {
  // decodeDeliveredHeaders reads the raw header block nats.js keeps; these messages come from a
  // real server, so a nats.js that keeps it elsewhere shows here (the fast path not taken).
  async function delivered(publish: (js: JetStreamClient, subject: string) => Promise<unknown>): Promise<JsMsg> {
    const nc = await rawConnection();
    const stream = newStreamName();
    const jsm = await jetstreamManager(nc);
    try {
      await jsm.streams.add({ name: stream, subjects: [`${stream}.>`], storage: StorageType.Memory });
      await jsm.consumers.add(stream, { durable_name: 'c', ack_policy: AckPolicy.Explicit });
      const js = jetstream(nc);
      await publish(js, `${stream}.q`);
      const [msg] = await (await js.consumers.get(stream, 'c')).fetch({ max_messages: 1, expires: 2000 }).then(async (batch) => {
        const all: JsMsg[] = [];
        for await (const m of batch) all.push(m);
        return all;
      });
      return msg!;
    } finally {
      await jsm.streams.delete(stream).catch(() => undefined);
      await nc.close();
    }
  }

  it('reads what tq publishes from the raw header block, as decodeHeaders does, without nats.js parsing it', async () => {
    const message = taskMessage('id-1', { argsrepr: "('żółw', 1)" });
    const msg = await delivered((js, subject) => js.publish(subject, message.body, { headers: encodeHeaders(message.headers, message.properties), msgID: 'm1' }));
    expect(decodeDeliveredHeaders(msg)).toEqual({ headers: message.headers, properties: message.properties });
    // nats.js caches its parse on first access to .headers: still absent, so the fast path ran.
    expect((msg as unknown as { msg: { _headers?: unknown } }).msg._headers).toBeUndefined();
    expect(decodeDeliveredHeaders(msg)).toEqual(decodeHeaders(msg.headers));
  });

  it("reads a delayed message's Tq-Not-Before from the same block", async () => {
    const message = taskMessage('id-2');
    const msg = await delivered((js, subject) => {
      const h = encodeHeaders(message.headers, message.properties);
      h.append(notBeforeHeader, '1795541369880');
      return js.publish(subject, message.body, { headers: h });
    });
    const block = rawHeaderBlock(msg);
    expect(block).toBeDefined();
    expect(notBeforeOf(msg, block)).toBe(1795541369880);
    expect((msg as unknown as { msg: { _headers?: unknown } }).msg._headers).toBeUndefined();
    expect(notBeforeOf(msg)).toBe(1795541369880);
  });

  it('reads a block without Celery-Properties, and a message without headers, as decodeHeaders does', async () => {
    const headersOnly = await delivered((js, subject) => {
      const h = natsHeaders();
      h.append('Celery-Headers', '{"task": "x.y", "id": "1"}');
      return js.publish(subject, new Uint8Array([1]), { headers: h });
    });
    expect(decodeDeliveredHeaders(headersOnly)).toEqual({ headers: { task: 'x.y', id: '1' }, properties: { contentType: 'application/octet-stream', contentEncoding: 'binary' } });
    expect(decodeDeliveredHeaders(headersOnly)).toEqual(decodeHeaders(headersOnly.headers));
    const bare = await delivered((js, subject) => js.publish(subject, new Uint8Array([1])));
    expect(decodeDeliveredHeaders(bare)).toEqual({ headers: {}, properties: { contentType: 'application/octet-stream', contentEncoding: 'binary' } });
  });
});
