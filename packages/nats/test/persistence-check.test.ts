import { jetstreamManager, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { afterAll, describe, expect, it } from 'vitest';
import { Subjects, type NatsBroker } from '../src/index.js';
import { createTestBroker, deleteStreams, newStreamName } from './support/broker.js';
import { sharedNatsUrl } from './support/names.js';

const streams: string[] = [];
const brokers: NatsBroker[] = [];
afterAll(async () => {
  await Promise.all(brokers.map((b) => b.close()));
  for (const stream of streams) await deleteStreams(stream);
});

function withWarnings(stream: string): { broker: NatsBroker; warnings: string[] } {
  const warnings: string[] = [];
  const logger = { debug: () => undefined, info: () => undefined, warn: (m: string) => void warnings.push(m), error: () => undefined };
  const broker = createTestBroker(stream, '', sharedNatsUrl, { logger });
  brokers.push(broker);
  return { broker, warnings };
}

describe('persistence warning', () => {
  it('says once at connect when the work stream keeps messages in memory only (created beforehand with storage: memory)', async () => {
    const stream = newStreamName();
    streams.push(stream);
    const nc = await connect({ servers: new URL(sharedNatsUrl).host });
    try {
      const jsm = await jetstreamManager(nc);
      await jsm.streams.add({ name: stream, subjects: [new Subjects(stream).queueWildcard], retention: RetentionPolicy.Workqueue, storage: StorageType.Memory });
    } finally {
      await nc.close();
    }
    const { broker, warnings } = withWarnings(stream);
    await broker.connect();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(new RegExp(`stream ${stream} .* in memory only .*file storage`));
  });

  it('says nothing for the file streams tq creates', async () => {
    const stream = newStreamName();
    streams.push(stream);
    const { broker, warnings } = withWarnings(stream);
    await broker.connect();
    // A second broker finds the streams already there (the branch that reads their config).
    const again = withWarnings(stream);
    await again.broker.connect();
    expect([...warnings, ...again.warnings]).toEqual([]);
  });
});
