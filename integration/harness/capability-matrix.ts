import type { BrokerCapabilities, TqAdapter } from '@tq/core/adapter';

/** One row per capability, one column per adapter: the table in docs/choosing-a-broker.md. */
export interface MatrixColumn {
  readonly title: string;
  readonly adapter: TqAdapter;
  /** A URL with the adapter's default options; no connection is made. */
  readonly url: string;
}

const rows: { key: keyof BrokerCapabilities; label: string; show: (value: BrokerCapabilities[keyof BrokerCapabilities]) => string }[] = [
  { key: 'delayedDelivery', label: 'broker-side countdown/ETA (else the worker holds them)', show: yesNo },
  { key: 'maxPriority', label: 'priorities (highest level; 0 = none)', show: (v) => (v ? `0..${v}` : 'no') },
  { key: 'broadcast', label: 'broadcast: revoke, inspect, ping, events', show: yesNo },
  { key: 'redeliversUnacked', label: 'unacked messages return when a consumer dies', show: yesNo },
  { key: 'flagsRedeliveryAfterCut', label: '`redelivered` flag after a consumer died', show: (v) => (v ? 'yes' : 'best effort') },
  { key: 'redeliveryWindowMs', label: 'redelivery window (lease extended by the worker)', show: (v) => (v === null ? 'none' : `${Number(v) / 1000} s`) },
  { key: 'deadLetter', label: 'native dead-lettering on reject', show: yesNo },
  { key: 'fifo', label: 'FIFO per queue (one consumer, no priorities)', show: yesNo },
  { key: 'maxMessageBytes', label: 'largest message body', show: (v) => (v === null ? 'no limit' : bytes(Number(v))) },
  { key: 'purge', label: 'purge a queue', show: yesNo },
  { key: 'purgeDelayed', label: "purge also removes the queue's delayed messages", show: yesNo },
  { key: 'listDelayed', label: 'list delayed messages (`tq queue scheduled`)', show: yesNo },
  { key: 'queueStats', label: 'queue counts (`tq queues`)', show: yesNo },
  { key: 'requeueInPlace', label: 'requeue in place (`tq dead` list/replay/purge)', show: yesNo },
  { key: 'transactionalPublish', label: 'enqueue in your database transaction (without an outbox)', show: yesNo },
  { key: 'publishDeduplicationMs', label: 'broker drops a repeated publish (beat ticks exactly once), window', show: (v) => (v === null ? 'no' : duration(Number(v))) },
];

function duration(ms: number): string {
  return ms >= 3_600_000 ? `${ms / 3_600_000} h` : ms >= 60_000 ? `${ms / 60_000} min` : `${ms / 1000} s`;
}

function yesNo(value: unknown): string {
  return value ? 'yes' : 'no';
}

function bytes(n: number): string {
  if (n >= 1024 * 1024) return `${Math.round((n / 1024 / 1024) * 10) / 10} MiB`;
  if (n >= 1024) return `${Math.round(n / 1024)} KiB`;
  return `${n} B`;
}

/** The markdown table, read from each adapter's declared capabilities. */
export function capabilityMatrix(columns: readonly MatrixColumn[]): string {
  const capabilities = columns.map((c) => c.adapter.createBroker!(new URL(c.url), {}).capabilities);
  const header = `| capability | ${columns.map((c) => c.title).join(' | ')} |`;
  const rule = `| --- | ${columns.map(() => '---').join(' | ')} |`;
  const body = rows.map((row) => `| ${row.label} | ${capabilities.map((caps) => row.show(caps[row.key])).join(' | ')} |`);
  const backends = `| result backend | ${columns.map((c) => (c.adapter.createResultBackend ? 'yes' : 'no (use another)')).join(' | ')} |`;
  return [header, rule, ...body, backends].join('\n');
}
