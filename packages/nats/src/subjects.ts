/**
 * Every JetStream name tq uses, in one place: streams, subjects, durable consumers, KV keys.
 *
 * Layout for stream "TQ" (the default) and queue "celery":
 *   work stream   TQ        subjects tq.TQ.q.>    retention work-queue
 *   task subject  tq.TQ.q.celery                  one per queue
 *   consumer      TQ / q-celery                   durable pull consumer shared by all workers
 *   dead letters  TQ_DLQ    subjects tq.TQ.dlq.>  retention limits (kept for inspection)
 *   queue "celery.dead" = tq.TQ.dlq.celery in TQ_DLQ, consumer TQ_DLQ / d-celery
 *   broadcast     tq.TQ.b.<channel>               core NATS, not stored
 * The stream name is part of every subject so two streams never claim overlapping subjects
 * (JetStream refuses that), which lets tests and tenants share one server.
 */
import { topicMatches } from '@tq/core/adapter';

// NATS subject tokens and consumer names cannot hold '.', '*', '>', whitespace or slashes; a
// queue name such as "celery.pidbox" must still map to exactly one token.
const safeToken = /^[A-Za-z0-9_-]$/;
const encoder = new TextEncoder();

/** Escapes a name into one subject token: bytes outside [A-Za-z0-9_-] become "=XX" (uppercase hex). */
export function escapeToken(name: string): string {
  if (name.length === 0) return '=';
  let out = '';
  for (const ch of name) {
    if (safeToken.test(ch)) out += ch;
    else for (const byte of encoder.encode(ch)) out += `=${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** Inverse of escapeToken. */
export function unescapeToken(token: string): string {
  if (token === '=') return '';
  const bytes: number[] = [];
  for (let i = 0; i < token.length; ) {
    if (token[i] === '=') {
      bytes.push(parseInt(token.slice(i + 1, i + 3), 16));
      i += 3;
    } else {
      bytes.push(token.charCodeAt(i));
      i++;
    }
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}

/** Stream names: no whitespace, '.', '*', '>', slashes; tq keeps them to a portable subset. */
export const streamNamePattern = /^[A-Za-z0-9_-]{1,64}$/;

/** Where one queue lives: its stream, subject and durable consumer. */
export interface QueueRoute {
  readonly stream: string;
  readonly subject: string;
  readonly consumer: string;
}

export class Subjects {
  readonly stream: string;
  readonly deadLetterStream: string;
  readonly deadLetterSuffix: string;
  readonly #prefix: string;

  constructor(stream: string, prefix = `tq.${stream}`, deadLetterSuffix = '.dead') {
    this.stream = stream;
    this.deadLetterStream = `${stream}_DLQ`;
    this.deadLetterSuffix = deadLetterSuffix;
    this.#prefix = prefix;
  }

  /** The wildcard the work stream captures. */
  get queueWildcard(): string {
    return `${this.#prefix}.q.>`;
  }

  get deadLetterWildcard(): string {
    return `${this.#prefix}.dlq.>`;
  }

  /** The dead-letter queue of `queue`: `<queue>.dead`, consumable like any queue. */
  deadLetterQueue(queue: string): string {
    return `${queue}${this.deadLetterSuffix}`;
  }

  /**
   * "x.dead" lives in the dead-letter stream (limits retention: kept for inspection, several
   * readers allowed); every other queue in the work-queue stream.
   */
  route(queue: string): QueueRoute {
    const suffix = this.deadLetterSuffix;
    if (queue.length > suffix.length && queue.endsWith(suffix)) {
      const base = escapeToken(queue.slice(0, -suffix.length));
      return { stream: this.deadLetterStream, subject: `${this.#prefix}.dlq.${base}`, consumer: `d-${base}` };
    }
    const token = escapeToken(queue);
    // One durable per queue: a work-queue stream allows one consumer per subject filter.
    return { stream: this.stream, subject: `${this.#prefix}.q.${token}`, consumer: `q-${token}` };
  }

  /** The subject of `queue` (in whichever stream holds it). */
  queue(queue: string): string {
    return this.route(queue).subject;
  }

  /** The subject dead letters of `queue` go to. */
  deadLetter(queue: string): string {
    return this.route(this.deadLetterQueue(queue)).subject;
  }

  broadcast(channel: string): string {
    return `${this.#prefix}.b.${escapeToken(channel)}`;
  }

  /** A topic broadcast: the channel's subject, then one token per routing-key word ("….celeryev.task.succeeded"). */
  topicBroadcast(channel: string, routingKey: string): string {
    return `${this.broadcast(channel)}.${routingKey.split('.').map(escapeToken).join('.')}`;
  }

  /**
   * What a subscriber of a topic channel subscribes to: the AMQP pattern in NATS wildcards
   * ('*' is '*', a final '#' is '>'). A '#' elsewhere has no NATS form: then every subject of
   * the channel, and `filter` keeps the matching ones. A final '#' needs at least one word
   * here, where AMQP also matches none; Celery's routing keys always have two.
   */
  topicSubscription(channel: string, pattern: string): { subject: string; filter?: (subject: string) => boolean } {
    const base = this.broadcast(channel);
    const words = pattern.split('.');
    const hashAt = words.indexOf('#');
    if (hashAt === -1 || hashAt === words.length - 1) {
      return { subject: `${base}.${words.map((w) => (w === '#' ? '>' : w === '*' ? '*' : escapeToken(w))).join('.')}` };
    }
    const routingKeyOf = (subject: string) => subject.slice(base.length + 1).split('.').map(unescapeToken).join('.');
    return { subject: `${base}.>`, filter: (subject) => topicMatches(pattern, routingKeyOf(subject)) };
  }

  consumer(queue: string): string {
    return this.route(queue).consumer;
  }
}

/**
 * KV key for a task id. KV keys allow [-/_=.a-zA-Z0-9]; UUID task ids pass unchanged, anything
 * else is escaped like a subject token ('.' too: it separates tokens on the wire).
 */
export function resultKey(taskId: string): string {
  return escapeToken(taskId);
}
