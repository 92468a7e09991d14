/** Workflows on NATS JetStream with the NATS KV result backend (chord join by compare-and-set). */
import { randomBytes } from 'node:crypto';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { createApp } from '@tq/core';
import natsAdapter from '@tq/nats';
import { afterAll, describe, expect, it } from 'vitest';
import { brokersRequired, resolveBroker } from '../harness/brokers.js';
import { describeCanvasScenarios } from '../harness/canvas-scenarios.js';

const nats = await resolveBroker('nats');
const run = randomBytes(4).toString('hex').toUpperCase();
const stream = `TQCANVAS${run}`;
const bucket = `tqcanvas-${run.toLowerCase()}`;

afterAll(async () => {
  if (nats.url) {
    const nc = await connect({ servers: new URL(nats.url).host });
    try {
      const jsm = await jetstreamManager(nc);
      for (const name of [stream, `${stream}_DLQ`, `KV_${bucket}`]) await jsm.streams.delete(name).catch(() => undefined);
    } finally {
      await nc.close();
    }
  }
  await nats.stop();
}, 60_000);

if (!nats.url) {
  describe('workflows on nats', () => {
    if (brokersRequired()) it('broker', () => expect.fail(`required under CI=true: ${nats.detail}`));
    else it.skip(`broker missing: ${nats.detail}`, () => undefined);
  });
} else {
  const brokerUrl = new URL(nats.url);
  brokerUrl.searchParams.set('stream', stream);
  const backendUrl = new URL(nats.url);
  backendUrl.searchParams.set('bucket', bucket);
  describeCanvasScenarios('nats + kv backend', (queue) =>
    createApp({ broker: brokerUrl.href, resultBackend: backendUrl.href, adapters: [natsAdapter], defaultQueue: queue, logLevel: 'silent' }),
  );
}
