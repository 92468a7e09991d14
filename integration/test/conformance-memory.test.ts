/** The kit on memory://, the reference adapter: always runs, needs no broker. */
import { describeAdapter } from '@tq/conformance';
import { createMemoryAdapter } from '@tq/core/adapter';
import { describe, it } from 'vitest';

describe('harness', () => {
  it('endpoint: in-process memory://', () => undefined);
});

describeAdapter(createMemoryAdapter(), {
  url: 'memory://integration',
  // Closing a MemoryBroker is its connection dying: unacked deliveries return.
  cutConnection: (broker) => broker.close(),
});
