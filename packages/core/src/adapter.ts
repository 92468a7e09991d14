/**
 * @tq/core/adapter — the implementor surface: what an adapter package (and the conformance
 * kit) builds on. Users import from '@tq/core' instead. See docs/writing-an-adapter.md.
 */
export type { TqAdapter, AdapterOptions } from './adapters/descriptor.js';
export { loggerOf } from './adapters/descriptor.js';
export type { Broker, BrokerMessage, Consumer, Delivery, ConsumeOptions, MessageProperties, MessageHeaders, HeaderValue, BroadcastKind, BroadcastRoute, BroadcastBinding, QueueStats, DelayedMessage, ListDelayedOptions } from './broker/broker.js';
export { topicMatches } from './broker/topic-pattern.js';
export { brokerCapabilities, defaultBrokerCapabilities, type BrokerCapabilities } from './broker/capabilities.js';
export { DeliveryBuffer, type DeliveryBufferOptions } from './broker/delivery-buffer.js';
export { MomentBatch } from './broker/moment-batch.js';
export { InFlightMap, InFlightSet } from './broker/in-flight.js';
export { RuntimeBroker } from './broker/runtime-broker.js';
export { isTransactionalPublisher, type Outbox, type TransactionalPublisher } from './producer/transactional.js';
export type { ChordPart, ResultBackend, ResultBackendCapabilities, StoreOptions, StoredTaskInfo, VersionedValue } from './backend/result-backend.js';
export { RuntimeBackend } from './backend/runtime-backend.js';
export { Lifecycle } from './adapters/lifecycle.js';
export { withDeadline, withIdleDeadline, setLongTimeout, sleepUnlessAborted, MAX_TIMER_MS, type LongTimeout } from './adapters/timers.js';
export { withRetry, isConnectionError, isTlsFailureCode, defaultRetryPolicy, type RetryPolicy } from './adapters/retry-policy.js';
export { redactUrl, redactText, parseUrl, schemeOf } from './adapters/url.js';
export { unknownUrlParameters } from './adapters/url-parameters.js';
export { pythonJsonStringify, pythonJsonString, safeJsonParse, jsonSerializer } from './serializer/json.js';
export { encodeRecord, decodeRecord, celeryDate, type ResultRecord } from './result/record.js';
export { taskRow, recordFromColumns, recordOfRow, type FetchedTaskRow, type TaskRow } from './result/task-row.js';
export { encodeTaskMessage } from './protocol/encode.js';
export { pythonHeadersJson } from './protocol/task-headers.js';
export { createMemoryAdapter, MemoryBroker, MemoryResultBackend, MemoryHub, MemoryResultStore } from './memory/index.js';
export type { Logger } from './logger.js';
export * from './errors.js';
