import { encodeTaskMessage, jsonSerializer, type BrokerMessage, type MessageHeaders } from '@tq/core/adapter';
import { expect } from 'vitest';

const encoder = new TextEncoder();

export interface KitMessageOptions {
  readonly body?: Uint8Array;
  readonly headers?: MessageHeaders;
  readonly priority?: number;
  readonly notBefore?: number;
}

/** A small message identified by `headers.id` (and by its body, `"<id>"` as JSON). */
export function kitMessage(id: string, options: KitMessageOptions = {}): BrokerMessage {
  return {
    body: options.body ?? encoder.encode(JSON.stringify(id)),
    headers: { lang: 'py', task: 'tq.conformance', id, ...options.headers },
    properties: {
      contentType: 'application/json',
      contentEncoding: 'utf-8',
      correlationId: id,
      deliveryMode: 2,
      ...(options.priority !== undefined ? { priority: options.priority } : {}),
    },
    ...(options.notBefore !== undefined ? { notBefore: options.notBefore } : {}),
  };
}

/** A complete Celery protocol v2 task message, as core builds it, with every kind of header value. */
export function celeryTaskMessage(id: string): BrokerMessage {
  const message = encodeTaskMessage(
    {
      id,
      task: 'proj.tasks.add',
      args: [2, 3.5, 'two', null, true, [1, [2]], { nested: { deep: [0] } }],
      kwargs: { unicode: 'żółw 🐢 café', empty: '', zero: 0, negative: -17 },
      headers: { 'x-custom': 'kept', 'x-list': [1, 'a', null, false], 'x-object': { a: 1, b: [true] } },
      timeLimit: { hard: 60, soft: 30 },
      replyTo: 'e3b0c442-98fc-1c14-9afb-f4c8996fb924',
    },
    jsonSerializer,
  );
  return { ...message, properties: { ...message.properties, priority: 0 } };
}

/** The message's id header (every message the kit sends has one). */
export function idOf(message: BrokerMessage): string {
  const id = message.headers['id'];
  if (typeof id !== 'string') throw new Error(`delivery without a string "id" header: ${JSON.stringify(message.headers)}`);
  return id;
}

/** Exact bytes of the body, exact headers, exact properties (notBefore is the broker's business). */
export function expectSameMessage(received: BrokerMessage, sent: BrokerMessage): void {
  expect(received.body).toBeInstanceOf(Uint8Array);
  expect(received.body.byteLength, 'body length').toBe(sent.body.byteLength);
  expect(Buffer.from(received.body.buffer, received.body.byteOffset, received.body.byteLength).equals(Buffer.from(sent.body)), 'body bytes').toBe(
    true,
  );
  expect(received.headers, 'headers').toEqual(sent.headers);
  expect(received.properties, 'properties').toEqual(sent.properties);
}
