/** @tq/core — the user surface. Adapter authors: see '@tq/core/adapter'. */
export * from './errors.js';
export { redactUrl } from './adapters/url.js';
export type { TqAdapter, AdapterOptions } from './adapters/descriptor.js';
export type { Broker, BrokerMessage, Delivery } from './broker/broker.js';
export type { ResultBackend } from './backend/result-backend.js';
export type { Serializer } from './serializer/serializer.js';
export { jsonSerializer } from './serializer/json.js';
export { TaskState, type TaskStateName } from './result/states.js';
export type { ResultRecord } from './result/record.js';
export type { TaskRequest, TaskCall, EmbeddedOptions, TimeLimit } from './protocol/message.js';
export { encodeTaskMessage, requestToCall } from './protocol/encode.js';
export { decodeTaskMessage } from './protocol/decode.js';
export { SerializerRegistry } from './serializer/serializer.js';
export { default as memoryAdapter, createMemoryAdapter } from './memory/index.js';
