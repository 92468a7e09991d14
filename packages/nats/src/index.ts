/**
 * @tq/nats — NATS JetStream broker and KV result backend for tq.
 *
 * URL:  nats://[user:pass@|token@]host[:4222][?param=…]   tls://… (TLS required)
 *   servers=h2:4222,h3:4222   more cluster seeds (a URL holds one authority)
 *   token=…  nkey=<seed>  creds=/path/user.creds   other auth methods (user:pass in the URL)
 *   tlsCa=/ca.pem  tlsCert=/cert.pem  tlsKey=/key.pem  tls=true   TLS material / TLS on nats://
 *   broker:  stream=TQ  subjectPrefix=tq.<stream>  replicas=1  ackWaitMs=30000  maxDeliver=5
 *            duplicateWindowMs=120000  maxMessageBytes=983040  pullExpiresMs=5000
 *   results: bucket=tq-results  bucketTtlMs=86400000  resultTtlMs=86400000  replicas=1
 *   Adapter options: { tls: {ca, cert, key, caFile, …}, connection: nats.js ConnectionOptions }.
 *
 * Capabilities: broadcast (core NATS subjects), dead letters (stream <stream>_DLQ), purge,
 * redelivery of unacked messages after AckWait (redeliveryWindowMs = ackWaitMs; extend() sends
 * "in progress"), FIFO per queue, delayed delivery (delayed nak on a Tq-Not-Before header,
 * delayed-nak.ts). No priorities.
 *
 * Layout: one work-queue stream captures tq.<stream>.q.>; each queue is one subject with one
 * durable pull consumer shared by every worker (competing consumers). Celery headers and
 * properties travel as two NATS headers, Celery-Headers and Celery-Properties, each a JSON
 * object (see headers.ts, docs/brokers/nats.md).
 *
 * Guarantees: at-least-once. publish resolves on the stream's PubAck (persisted, replicated).
 * ack resolves once the server has received the ack (a PING/PONG shared by the acks of the
 * moment). A message unacked after AckWait, nak'ed, or held by a crashed worker is redelivered
 * (close() naks what it holds); after maxDeliver deliveries it moves to "<queue>.dead" in
 * <stream>_DLQ with a Tq-Dead-Reason header. A publish retried after a lost PubAck keeps its
 * Nats-Msg-Id and is dropped as a duplicate within duplicateWindowMs. Results: KV bucket, key = task id,
 * history 1, bucket max age + per-record Tq-Expires-At, pushed to waiting clients by a KV watch,
 * records over max_payload chunked; chord join by compare-and-set on the KV entry tq-chord.<gid>.
 */
import type { TqAdapter } from '@tq/core/adapter';
import { KvResultBackend } from './kv-result-backend.js';
import { NatsBroker } from './nats-broker.js';
import { parseBrokerOptions, parseResultBackendOptions } from './options.js';

export { NatsBroker } from './nats-broker.js';
export { KvResultBackend, expiresAtHeader } from './kv-result-backend.js';
export { parseBrokerOptions, parseResultBackendOptions } from './options.js';
export type { NatsBrokerOptions, NatsResultBackendOptions, NatsTlsOptions, NatsAuth, NatsConnectionSettings } from './options.js';
export { encodeHeaders, decodeHeaders, celeryHeadersHeader, celeryPropertiesHeader } from './headers.js';
export { Subjects, escapeToken, unescapeToken, resultKey } from './subjects.js';
export { deadReasonHeader, deadQueueHeader, deadSequenceHeader } from './dead-letter.js';

const natsAdapter: TqAdapter = {
  name: 'nats',
  schemes: ['nats', 'tls'],
  createBroker: (url, options) => new NatsBroker(parseBrokerOptions(url, options), options),
  createResultBackend: (url, options) => new KvResultBackend(parseResultBackendOptions(url, options), options),
};

export default natsAdapter;
