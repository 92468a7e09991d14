import { UnsupportedError, type HeaderValue, type MessageHeaders } from '@tq/core/adapter';

/**
 * Celery headers ↔ AMQP field tables, with the value types py-amqp writes: str → 'S',
 * int → 'I' (signed 32) or 'l' (signed 64), float → 'd', bool → 't', None → 'V',
 * list → 'A', dict → 'F'. amqplib alone would squeeze small integers into 'b'/'s', which
 * RabbitMQ and py-amqp accept but which differs from Celery's own messages.
 */
type Typed = { readonly '!': string; readonly value: unknown };
type AmqpFieldValue = string | boolean | null | Typed | AmqpFieldValue[] | { [key: string]: AmqpFieldValue };

function isInt32(n: number): boolean {
  return Number.isInteger(n) && n >= -0x8000_0000 && n <= 0x7fff_ffff;
}

function toField(value: HeaderValue | undefined): AmqpFieldValue | undefined {
  if (value === undefined) return undefined;
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    if (isInt32(value)) return { '!': 'int', value };
    if (Number.isSafeInteger(value)) return { '!': 'long', value };
    return { '!': 'double', value };
  }
  if (Array.isArray(value)) return (value as readonly HeaderValue[]).map((v) => toField(v) ?? null);
  return toTable(value as Readonly<Record<string, HeaderValue>>, true);
}

function toTable(record: Readonly<Record<string, HeaderValue>>, nested: boolean): { [key: string]: AmqpFieldValue } {
  const table: { [key: string]: AmqpFieldValue } = {};
  for (const [key, value] of Object.entries(record)) {
    // amqplib reads a "!" member of a table *value* as its type trapdoor ({'!': type, value}), so
    // a nested table cannot have that key. The headers table itself is written key by key: a
    // message that arrived with a "!" header can be sent on (dead-lettered, handed back) as it is.
    if (nested && key === '!') throw new UnsupportedError('the AMQP adapter cannot send a nested header table with a key named "!"');
    const field = toField(value);
    if (field !== undefined) table[key] = field;
  }
  return table;
}

/** Headers to the table amqplib encodes, typed as Celery's messages are. */
export function toAmqpHeaders(headers: MessageHeaders): Record<string, unknown> {
  return toTable(headers, false);
}

function fromField(value: unknown): HeaderValue {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  if (typeof value === 'bigint') return Number(value);
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return Buffer.from(value).toString('utf8');
  if (Array.isArray(value)) return value.map(fromField);
  if (typeof value === 'object') {
    const typed = value as Partial<Typed>;
    // amqplib decodes timestamps and decimals to {'!': type, value}.
    if (typed['!'] === 'timestamp' && typeof typed.value === 'number') return typed.value;
    if (typed['!'] === 'decimal' && typed.value && typeof typed.value === 'object') {
      const { places, digits } = typed.value as { places: number; digits: number };
      return digits / 10 ** places;
    }
    const out: Record<string, HeaderValue> = {};
    for (const [key, v] of Object.entries(value)) out[key] = fromField(v);
    return out;
  }
  return String(value);
}

/** A received field table as JSON-compatible header values (bytes as UTF-8, timestamps as seconds). */
export function fromAmqpHeaders(table: Record<string, unknown> | undefined, omit?: RegExp): MessageHeaders {
  const headers: Record<string, HeaderValue> = {};
  for (const [key, value] of Object.entries(table ?? {})) {
    if (!omit?.test(key)) headers[key] = fromField(value);
  }
  return headers;
}
