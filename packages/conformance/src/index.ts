/**
 * @tq/conformance — the test kit every tq adapter proves itself with. It registers Vitest
 * tests from factories: one line per adapter.
 *
 * ```ts
 * import { describeAdapter } from '@tq/conformance';
 * import redis from '@tq/redis';
 * describeAdapter(redis, { url: process.env.TQ_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/15' });
 * ```
 *
 * Tests the adapter's capabilities rule out are skipped with the capability in their title;
 * a capability the adapter claims must pass. See docs/writing-an-adapter.md.
 */
export { describeAdapter } from './describe-adapter.js';
export type { BrokerFactory, BackendFactory, ConformanceOptions, ConformanceLiveness, ConformanceTimeouts, ConformanceScale, KitTransaction } from './options.js';
export * from './broker/index.js';
export * from './backend/index.js';
export * from './app/index.js';
export { describeDeadLetters } from './app/dead-letters.js';
export { FaultProxy, type FaultMode, type FaultProxyTarget } from './support/fault-proxy.js';
export { uniqueName } from './support/unique-name.js';
export { eventually, sleep, withTimeout } from './support/timing.js';
export { collect } from './support/collect.js';
export { kitMessage, celeryTaskMessage, expectSameMessage, idOf, type KitMessageOptions } from './support/messages.js';
// For adapters that write their own tests beside the kit (fixtures the kit's groups cannot
// wire): the same harnesses, consumers and records the kit's groups use.
export { BrokerHarness, type CuttableBroker, type RestartableBrokers } from './support/broker-harness.js';
export { BackendHarness } from './support/backend-harness.js';
export { TestConsumer } from './support/test-consumer.js';
export { ContinuousReader } from './support/continuous-reader.js';
export { recordFor, recordBytes, sameBytes } from './support/records.js';
export { checkFanOut, checkAbortEnds, checkTopicRouting, checkDirectRouting, kitChannels, type BroadcastCarrier } from './support/broadcast-checks.js';
export { resolveOptions, proxyTarget, type ResolvedConformanceOptions } from './options.js';
