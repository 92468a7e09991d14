import type { AdapterOptions } from '@tq/core/adapter';
import { jetstreamManager, type JsMsg } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { BrokerMessage, Delivery } from '@tq/core/adapter';
import natsAdapter, { NatsBroker } from '../../src/index.js';
import { sharedNatsUrl, uniqueName } from './names.js';

const encoder = new TextEncoder();

/** A task-like message with Celery headers and a JSON body. */
export function taskMessage(id: string, extra: Record<string, unknown> = {}): BrokerMessage {
  return {
    body: encoder.encode(JSON.stringify([[id], {}, { callbacks: null, errbacks: null, chain: null, chord: null }])),
    headers: { lang: 'py', task: 'tq.test', id, root_id: id, parent_id: null, retries: 0, eta: null, ...extra } as BrokerMessage['headers'],
    properties: { contentType: 'application/json', contentEncoding: 'utf-8', correlationId: id, deliveryMode: 2, priority: 0 },
  };
}

export function bodyText(delivery: Delivery): string {
  return new TextDecoder().decode(delivery.message.body);
}

/** A broker on a fresh stream of the shared server; `params` are extra URL parameters. */
export function createTestBroker(stream: string, params = '', base = sharedNatsUrl, options: AdapterOptions = {}): NatsBroker {
  const url = new URL(`${base}${base.includes('?') ? '&' : '?'}stream=${stream}${params ? `&${params}` : ''}`);
  return natsAdapter.createBroker!(url, options) as NatsBroker;
}

/** Deletes a stream and its dead-letter stream (test cleanup). */
export async function deleteStreams(stream: string, url = sharedNatsUrl): Promise<void> {
  const nc = await connect({ servers: new URL(url).host });
  try {
    const jsm = await jetstreamManager(nc);
    for (const name of [stream, `${stream}_DLQ`]) await jsm.streams.delete(name).catch(() => undefined);
  } finally {
    await nc.close();
  }
}

export function newStreamName(): string {
  return uniqueName('TQTEST');
}

/** Reads the next `count` deliveries from an iterator, failing after `timeoutMs`. */
export async function take(iterator: AsyncIterator<Delivery>, count: number, timeoutMs = 10_000): Promise<Delivery[]> {
  const out: Delivery[] = [];
  const deadline = Date.now() + timeoutMs;
  while (out.length < count) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) throw new Error(`timed out after ${out.length}/${count} deliveries`);
    const next = await Promise.race([
      iterator.next(),
      new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), remaining)),
    ]);
    if (next === 'timeout') throw new Error(`timed out after ${out.length}/${count} deliveries`);
    if (next.done) throw new Error(`iteration ended after ${out.length}/${count} deliveries`);
    out.push(next.value);
  }
  return out;
}

/** Resolves to the next delivery, or 'none' if nothing arrives within `ms`. */
export async function nextWithin(iterator: AsyncIterator<Delivery>, ms: number): Promise<Delivery | 'none'> {
  const next = await Promise.race([iterator.next(), new Promise<'none'>((resolve) => setTimeout(() => resolve('none'), ms))]);
  if (next === 'none') return 'none';
  if (next.done) throw new Error('iteration ended');
  return next.value;
}

export async function rawConnection(url = sharedNatsUrl): Promise<NatsConnection> {
  return connect({ servers: new URL(url).host });
}

export type { JsMsg };
