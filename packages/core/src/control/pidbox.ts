import type { BroadcastRoute } from '../broker/broker.js';
import { pythonJsonStringify, safeJsonParse } from '../serializer/json.js';

/**
 * Celery's remote control, kombu's "pidbox" mailbox, as Celery 5 speaks it: requests go to the
 * fanout exchange `celery.pidbox` (every worker hears them), and each worker answers
 * `{"<hostname>": <reply>}` on the direct exchange `reply.celery.pidbox` under the routing key
 * the caller named in `reply_to`, where the caller's queue "<key>.reply.celery.pidbox" waits.
 */
export const mailboxChannel = 'celery.pidbox';
export const replyChannel = 'reply.celery.pidbox';

/** A remote-control request, as kombu's Mailbox._publish writes it. */
export interface PidboxRequest {
  readonly method: string;
  readonly arguments: Readonly<Record<string, unknown>>;
  /** Worker hostnames to address; null = every worker (or those `pattern` matches). */
  readonly destination: readonly string[] | null;
  /** With `matcher` ('glob' or 'pcre'): the workers whose hostname matches answer. */
  readonly pattern: string | null;
  readonly matcher: string | null;
  /** Present when the caller waits for replies. */
  readonly ticket?: string;
  readonly reply_to?: { readonly exchange: string; readonly routing_key: string };
}

/** One worker's answer. */
export interface ControlReply {
  readonly hostname: string;
  readonly result: unknown;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodePidbox(value: PidboxRequest | Readonly<Record<string, unknown>>): Uint8Array {
  return encoder.encode(pythonJsonStringify(value));
}

/** The route of a request: kombu's headers (a Lamport clock, and when the request expires). */
export function requestRoute(clock: number, timeoutMs: number | undefined): BroadcastRoute {
  return { kind: 'fanout', headers: { clock, expires: timeoutMs ? Date.now() / 1000 + timeoutMs / 1000 : 0 } };
}

/** The route of a reply to `request`. */
export function replyRoute(request: PidboxRequest, clock: number): BroadcastRoute {
  return { kind: 'direct', routingKey: request.reply_to!.routing_key, headers: { ticket: request.ticket ?? null, clock } };
}

/** A request, or null for anything that is not one (never throws into the worker). */
export function decodePidboxRequest(bytes: Uint8Array): PidboxRequest | null {
  try {
    const value = safeJsonParse(decoder.decode(bytes)) as Partial<PidboxRequest> | null;
    if (!value || typeof value !== 'object' || typeof value.method !== 'string') return null;
    return {
      method: value.method,
      arguments: value.arguments && typeof value.arguments === 'object' ? value.arguments : {},
      destination: Array.isArray(value.destination) ? value.destination : typeof value.destination === 'string' ? [value.destination] : null,
      pattern: typeof value.pattern === 'string' ? value.pattern : null,
      matcher: typeof value.matcher === 'string' ? value.matcher : null,
      ...(typeof value.ticket === 'string' ? { ticket: value.ticket } : {}),
      ...(value.reply_to && typeof value.reply_to.routing_key === 'string' ? { reply_to: value.reply_to } : {}),
    };
  } catch {
    return null;
  }
}

/** The answers in one reply body `{"<hostname>": <reply>, …}`; none for anything else. */
export function decodePidboxReply(bytes: Uint8Array): ControlReply[] {
  try {
    const value = safeJsonParse(decoder.decode(bytes));
    if (!value || typeof value !== 'object' || Array.isArray(value)) return [];
    return Object.entries(value).map(([hostname, result]) => ({ hostname, result }));
  } catch {
    return [];
  }
}

/** Whether the worker `hostname` is addressed by `request`, as kombu's Node.handle_message decides. */
export function isAddressedTo(request: PidboxRequest, hostname: string): boolean {
  if (request.destination && request.destination.length > 0) return request.destination.includes(hostname);
  if (request.pattern && request.matcher) return matches(hostname, request.pattern, request.matcher);
  return true;
}

function matches(hostname: string, pattern: string, matcher: string): boolean {
  try {
    if (matcher === 'pcre') return new RegExp(pattern).test(hostname);
    if (matcher === 'glob') {
      const source = pattern.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.').replace(/\[!/g, '[^');
      return new RegExp(`^${source}$`).test(hostname);
    }
  } catch {
    // an invalid pattern addresses nobody
  }
  return false;
}
