/**
 * Quorum queues, an AMQP-only declaration variant. The whole kit on RabbitMQ (Celery's default
 * declarations, and with maxPriority/deadLetter) runs in integration/test/conformance-amqp*.test.ts.
 */
import { describeAckReject, describePublishConsume, describeRedelivery, type BrokerFactory } from '@tq/conformance';
import { describe } from 'vitest';
import amqp from '../src/index.js';
import { amqpUrl, deleteQueues } from './support/env.js';

function withParams(url: string, params: Record<string, string>): string {
  const parsed = new URL(url);
  for (const [key, value] of Object.entries(params)) parsed.searchParams.set(key, value);
  return parsed.toString();
}

const createBroker: BrokerFactory = (url) => amqp.createBroker!(url, {});

describe('declared as quorum queues with deadLetter=1', () => {
  const options = { url: withParams(amqpUrl, { queueType: 'quorum', deadLetter: '1' }), deleteQueues };
  describePublishConsume(createBroker, options);
  describeAckReject(createBroker, options);
  describeRedelivery(createBroker, options);
});
