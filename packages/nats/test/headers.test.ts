import { describe, expect, it } from 'vitest';
import { MessageDecodeError, type MessageHeaders, type MessageProperties } from '@tq/core/adapter';
import { MsgHdrsImpl, headers as natsHeaders } from '@nats-io/transport-node';
import { decodeHeaders, encodeHeaders } from '../src/index.js';

/** Through the real wire encoding: nats.js serializes the headers and parses them back. */
function roundTrip(headers: MessageHeaders, properties: MessageProperties) {
  const wire = (encodeHeaders(headers, properties) as MsgHdrsImpl).encode();
  const decoded = MsgHdrsImpl.decode(wire);
  return { wire: new TextDecoder().decode(wire), ...decodeHeaders(decoded) };
}

describe('Celery headers ↔ NATS headers', () => {
  it('round-trips every JSON type, unicode and odd header names exactly', () => {
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
      'Mixed-Case': 'kept',
      'odd:key %é': 'escaped name',
      '  spaced  ': '  value with spaces  ',
      multi: 'line\r\nbreak',
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
    // The wire is ASCII only: no byte can be mangled by a proxy or a tool.
    expect(/^[\x20-\x7e\r\n]*$/.test(out.wire)).toBe(true);
    expect(out.wire).toContain('Celery-retries: 0\r\n');
    expect(out.wire).toContain('Celery-zero_string: "0"\r\n');
    expect(out.wire).toContain('Content-Type: application/json\r\n');
  });

  it('leaves out absent properties, and reads a foreign message as application/octet-stream', () => {
    const out = roundTrip({ id: 'x' }, { contentType: 'application/json', contentEncoding: 'utf-8' });
    expect(out.properties).toEqual({ contentType: 'application/json', contentEncoding: 'utf-8' });
    expect(decodeHeaders(undefined).properties.contentType).toBe('application/octet-stream');
  });

  it('refuses invalid JSON and prototype-polluting keys with MessageDecodeError', () => {
    const h = natsHeaders();
    h.set('Celery-id', 'not json');
    expect(() => decodeHeaders(h)).toThrow(MessageDecodeError);
    const p = natsHeaders();
    p.set('Celery-stamps', '{"__proto__": {"polluted": true}}');
    expect(() => decodeHeaders(p)).toThrow(MessageDecodeError);
  });
});
