import type { BrokerMessage, HeaderValue } from '../broker/broker.js';
import { MessageDecodeError } from '../errors.js';
import type { SerializerRegistry } from '../serializer/serializer.js';
import { defaultMaxPayloadBytes } from '../config.js';
import { decompressBody } from './compression.js';
import type { EmbeddedOptions, TaskRequest, TimeLimit } from './message.js';

type Headers = BrokerMessage['headers'];

function optionalString(headers: Headers, name: string): string | null {
  const value = headers[name];
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') throw new MessageDecodeError(`headers.${name}`, `expected a string or null, got ${typeName(value)}`);
  return value;
}

function requiredString(headers: Headers, name: string, hint = ''): string {
  const value = optionalString(headers, name);
  if (value === null || value === '') throw new MessageDecodeError(`headers.${name}`, `missing${hint}`);
  return value;
}

function optionalDate(headers: Headers, name: string): Date | null {
  const value = optionalString(headers, name);
  if (value === null) return null;
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) throw new MessageDecodeError(`headers.${name}`, `not an ISO 8601 date: ${JSON.stringify(value)}`);
  return date;
}

function optionalNumber(value: HeaderValue | undefined, field: string): number | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new MessageDecodeError(field, `expected a number or null, got ${typeName(value)}`);
  return value;
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

function decodeTimeLimit(value: HeaderValue | undefined): TimeLimit {
  if (value === undefined || value === null) return { soft: null, hard: null };
  if (!Array.isArray(value) || value.length !== 2) throw new MessageDecodeError('headers.timelimit', 'expected [hard, soft]');
  // Celery writes (time_limit, soft_time_limit): hard first.
  return { hard: limitSeconds(value[0], 'headers.timelimit[0]'), soft: limitSeconds(value[1], 'headers.timelimit[1]') };
}

/** A limit in seconds: 0 means none, as Celery reads a falsy limit; a negative one is malformed. */
function limitSeconds(value: HeaderValue | undefined, field: string): number | null {
  const seconds = optionalNumber(value, field);
  if (seconds !== null && (seconds < 0 || !Number.isFinite(seconds))) throw new MessageDecodeError(field, `expected seconds ≥ 0 or null, got ${seconds}`);
  return seconds === 0 ? null : seconds;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function decodeEmbed(value: unknown): EmbeddedOptions {
  if (value === null || value === undefined) return { callbacks: null, errbacks: null, chain: null, chord: null };
  if (!isPlainObject(value)) throw new MessageDecodeError('body[2]', `expected an object, got ${typeName(value)}`);
  // Every entry must be a signature dict: checked here, so a malformed one dead-letters the
  // message before the task runs rather than failing it after its work is done.
  const signature = (item: unknown, field: string): HeaderValue => {
    if (!isPlainObject(item) || typeof item['task'] !== 'string') throw new MessageDecodeError(field, `expected a Celery signature dict ({"task": …}), got ${typeName(item)}`);
    return item as HeaderValue;
  };
  const list = (name: string): readonly HeaderValue[] | null => {
    const v = value[name];
    if (v === undefined || v === null) return null;
    if (!Array.isArray(v)) throw new MessageDecodeError(`body[2].${name}`, `expected an array or null, got ${typeName(v)}`);
    return v.map((item, i) => signature(item, `body[2].${name}[${i}]`));
  };
  const chord = value['chord'];
  return { callbacks: list('callbacks'), errbacks: list('errbacks'), chain: list('chain'), chord: chord === undefined || chord === null ? null : signature(chord, 'body[2].chord') };
}

/**
 * Decodes a protocol v2 message. The accept list is checked before the body is decoded;
 * every failure is a typed error naming the field (MessageDecodeError, ContentTypeForbiddenError,
 * PayloadTooLargeError for a compressed body that inflates past `maxBodyBytes`).
 */
export function decodeTaskMessage(message: BrokerMessage, serializers: SerializerRegistry, options: { maxBodyBytes?: number } = {}): TaskRequest {
  const { properties } = message;
  let { headers } = message;
  if (!isPlainObject(headers)) throw new MessageDecodeError('headers', 'missing');
  const task = requiredString(headers, 'task', headers['task'] === undefined ? ' (not a protocol v2 message; tq reads Celery protocol v2 only)' : '');
  const id = requiredString(headers, 'id');
  let raw = message.body;
  if (headers['compression'] !== undefined) {
    raw = decompressBody(headers['compression'], raw, options.maxBodyBytes ?? defaultMaxPayloadBytes);
    // The request holds the decompressed body: a retry re-sends it uncompressed, so without the header.
    const { compression: _, ...rest } = headers;
    headers = rest;
  }
  const body = serializers.decode(properties?.contentType, raw);
  if (!Array.isArray(body) || body.length < 2 || body.length > 3) {
    throw new MessageDecodeError('body', 'expected [args, kwargs, embed]');
  }
  const [args, kwargs, embed] = body as unknown[];
  if (!Array.isArray(args)) throw new MessageDecodeError('body[0]', `args: expected an array, got ${typeName(args)}`);
  if (!isPlainObject(kwargs)) throw new MessageDecodeError('body[1]', `kwargs: expected an object, got ${typeName(kwargs)}`);
  const retries = optionalNumber(headers['retries'], 'headers.retries') ?? 0;
  if (!Number.isInteger(retries) || retries < 0) throw new MessageDecodeError('headers.retries', 'expected a non-negative integer');
  const groupIndex = optionalNumber(headers['group_index'], 'headers.group_index');
  const ignoreResult = headers['ignore_result'];
  if (ignoreResult !== undefined && ignoreResult !== null && typeof ignoreResult !== 'boolean') {
    throw new MessageDecodeError('headers.ignore_result', `expected a boolean, got ${typeName(ignoreResult)}`);
  }
  return {
    id,
    task,
    args,
    kwargs,
    embed: decodeEmbed(embed),
    retries,
    eta: optionalDate(headers, 'eta'),
    expires: optionalDate(headers, 'expires'),
    timeLimit: decodeTimeLimit(headers['timelimit']),
    rootId: optionalString(headers, 'root_id'),
    parentId: optionalString(headers, 'parent_id'),
    group: optionalString(headers, 'group'),
    groupIndex,
    origin: optionalString(headers, 'origin'),
    ignoreResult: ignoreResult === true,
    shadow: optionalString(headers, 'shadow'),
    headers,
    properties,
  };
}
