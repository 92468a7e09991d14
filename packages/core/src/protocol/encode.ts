import type { BrokerMessage, MessageHeaders, MessageProperties } from '../broker/broker.js';
import type { Serializer } from '../serializer/serializer.js';
import { emptyEmbed, type TaskCall, type TaskRequest } from './message.js';
import { TaskHeaders } from './task-headers.js';

/**
 * A time as Celery writes it: ISO 8601 with microseconds and an explicit UTC offset
 * ("2026-11-26T02:10:26.970000+00:00"). Celery 5.2 reads fraction digits as microseconds, so
 * JavaScript's ".970Z" would mean 970 µs to it: a countdown would run up to a second early.
 */
export function celeryIsoTime(date: Date): string {
  return date.toISOString().replace('Z', '000+00:00');
}

function isoOrNull(value: Date | string | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  return typeof value === 'string' ? value : celeryIsoTime(value);
}

/** Builds the protocol v2 message for a task call: Celery's headers, properties and body. */
export function encodeTaskMessage(call: TaskCall, serializer: Serializer): BrokerMessage {
  const known = new TaskHeaders(call, isoOrNull(call.eta), isoOrNull(call.expires));
  // Unknown headers pass through; the known ones are written from the call.
  const headers: MessageHeaders = call.headers ? { ...call.headers, ...known } : known;
  const properties: { -readonly [K in keyof MessageProperties]: MessageProperties[K] } = {
    contentType: serializer.contentType,
    contentEncoding: serializer.contentEncoding,
    correlationId: call.correlationId ?? call.id,
    deliveryMode: 2,
  };
  if (call.priority !== undefined) properties.priority = call.priority;
  if (call.replyTo !== undefined) properties.replyTo = call.replyTo;
  const body = serializer.encode([call.args, call.kwargs, call.embed ?? emptyEmbed]);
  return { body, headers, properties };
}

/** The call that re-sends a request unchanged except for `changes` (retries, ETA, …). */
export function requestToCall(request: TaskRequest, changes: Partial<TaskCall> = {}): TaskCall {
  const raw = request.headers;
  const keepString = (name: string): string | undefined => (typeof raw[name] === 'string' ? (raw[name] as string) : undefined);
  const argsrepr = keepString('argsrepr');
  const kwargsrepr = keepString('kwargsrepr');
  return {
    id: request.id,
    task: request.task,
    args: request.args,
    kwargs: request.kwargs,
    embed: request.embed,
    retries: request.retries,
    // Keep the wire strings of eta/expires so an unchanged request re-encodes byte for byte.
    eta: typeof raw['eta'] === 'string' ? raw['eta'] : request.eta,
    expires: typeof raw['expires'] === 'string' ? raw['expires'] : request.expires,
    timeLimit: request.timeLimit,
    rootId: request.rootId,
    parentId: request.parentId,
    group: request.group,
    groupIndex: request.groupIndex,
    origin: request.origin,
    ignoreResult: request.ignoreResult,
    shadow: request.shadow,
    ...(argsrepr !== undefined ? { argsrepr } : {}),
    ...(kwargsrepr !== undefined ? { kwargsrepr } : {}),
    headers: raw,
    ...(request.properties.replyTo !== undefined ? { replyTo: request.properties.replyTo } : {}),
    ...(request.properties.correlationId !== undefined ? { correlationId: request.properties.correlationId } : {}),
    ...(request.properties.priority !== undefined ? { priority: request.properties.priority } : {}),
    ...changes,
  };
}
